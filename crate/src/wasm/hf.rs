//! Hugging Face directories and LoRA adapters from JavaScript (see docs/huggingface.md): a directory crosses the
//! boundary as a plain object of file name -> `Uint8Array` (what a person picked or dropped, or what to save).

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::model::CpuModel;
use super::{options, to_js};
use crate::io::{Files, export_hf, export_peft, import_hf, import_peft};
use crate::model::lora::LoraConfig;
use crate::tokenizer::Tokenizer;

/// `{ "config.json": Uint8Array, .. }` -> file map; names are taken without folders.
fn files_from_js(value: &JsValue, what: &str) -> Result<Files, JsError> {
    let object = value.dyn_ref::<Object>().ok_or_else(|| {
        JsError::new(&format!(
            "{what}: give the files as an object of file name -> Uint8Array"
        ))
    })?;
    let mut files = Files::new();
    for entry in Object::entries(object).iter() {
        let pair = js_sys::Array::from(&entry);
        let name = pair.get(0).as_string().unwrap_or_default();
        let name = name.rsplit(['/', '\\']).next().unwrap_or("").to_string();
        let bytes = pair.get(1).dyn_into::<Uint8Array>().map_err(|_| {
            JsError::new(&format!(
                "{what}: {name} must be a Uint8Array of the file's bytes"
            ))
        })?;
        files.insert(name, bytes.to_vec());
    }
    Ok(files)
}

fn files_to_js(files: &Files) -> Result<JsValue, JsError> {
    let object = Object::new();
    for (name, bytes) in files {
        Reflect::set(&object, &name.into(), &Uint8Array::from(bytes.as_slice()))
            .map_err(|_| JsError::new("could not build the files object"))?;
    }
    Ok(object.into())
}

#[wasm_bindgen]
impl CpuModel {
    /// A model from a Hugging Face GPT-2 directory's files (config.json, model.safetensors, tokenizer.json);
    /// throws with the reason when a file is missing or does not fit (a pickle, another architecture, a shape).
    #[wasm_bindgen(js_name = importHuggingFace)]
    pub fn import_hugging_face(files: JsValue) -> Result<CpuModel, JsError> {
        let hf = import_hf(&files_from_js(&files, "Hugging Face directory")?).map_err(to_js)?;
        Ok(CpuModel {
            model: Some(hf.model),
            trainer: None,
            tokenizer: Some(hf.tokenizer.to_json()),
        })
    }

    /// The model as a Hugging Face GPT-2 directory (file name -> bytes), adapters merged; `tokenizerJson` (or the
    /// tokenizer loaded with the model) gives tokenizer.json. Throws naming what GPT-2 cannot express.
    #[wasm_bindgen(js_name = exportHuggingFace)]
    pub fn export_hugging_face(&self, tokenizer_json: Option<String>) -> Result<JsValue, JsError> {
        let tokenizer = match tokenizer_json.or_else(|| self.tokenizer.clone()) {
            Some(json) => Some(Tokenizer::from_json(&json).map_err(to_js)?),
            None => None,
        };
        files_to_js(&export_hf(self.model(), tokenizer.as_ref()).map_err(to_js)?)
    }

    /// Adds LoRA adapters (`{r, alpha, dropout, targets}`; PEFT's initialisation from `seed`): from now on only
    /// they train. Training data must be set again afterwards.
    #[wasm_bindgen(js_name = addLora)]
    pub fn add_lora(&mut self, lora: JsValue, seed: u32) -> Result<(), JsError> {
        let lora: LoraConfig = options(lora, "LoRA options")?;
        let adapted = self
            .model()
            .with_lora(lora, u64::from(seed))
            .map_err(to_js)?;
        self.replace(adapted);
        Ok(())
    }

    /// Merges the adapters into the weights (W += alpha / r B A): a plain model again, every weight trainable.
    #[wasm_bindgen(js_name = mergeLora)]
    pub fn merge_lora(&mut self) -> Result<(), JsError> {
        let merged = self.model().merge_lora().map_err(to_js)?;
        self.replace(merged);
        Ok(())
    }

    /// Parameters that train: all, or with LoRA the adapters'.
    #[wasm_bindgen(getter, js_name = trainableCount)]
    pub fn trainable_count(&self) -> usize {
        self.model().config.trainable_count()
    }

    /// The adapters alone as a PEFT directory (adapter_config.json, adapter_model.safetensors).
    #[wasm_bindgen(js_name = exportAdapter)]
    pub fn export_adapter(&self) -> Result<JsValue, JsError> {
        files_to_js(&export_peft(self.model()).map_err(to_js)?)
    }

    /// Attaches a PEFT LoRA adapter directory's files to this (adapter-free) model.
    #[wasm_bindgen(js_name = importAdapter)]
    pub fn import_adapter(&mut self, files: JsValue) -> Result<(), JsError> {
        let files = files_from_js(&files, "adapter directory")?;
        let adapted = import_peft(self.model(), &files).map_err(to_js)?;
        self.replace(adapted);
        Ok(())
    }
}

impl CpuModel {
    /// A model of another config in place of this one; a trainer (and its data) is dropped with the old model.
    fn replace(&mut self, model: crate::model::Gpt<f32>) {
        self.trainer = None;
        self.model = Some(model);
    }
}
