//! Save and load the model as safetensors, with nanoGPT's `GPT` state_dict names and layouts.
//!
//! The file holds every tensor of [`ParamLayout`](super::params::ParamLayout) in float32 under its nanoGPT
//! name, plus `lm_head.weight`, a copy of `transformer.wte.weight` (the head is tied, as in nanoGPT, whose
//! state_dict lists both keys). The metadata holds `format: "pt"`, `model_config` (the [`ModelConfig`] JSON)
//! and, when given, `tokenizer` (the tokenizer's JSON, or a reference to it). docs/model.md has the table.
//!
//! Loading validates everything before a model exists: that the bytes are safetensors, that the config is
//! there and valid, then every name (missing, unexpected), shape, dtype, the tie, and that values are
//! finite. Each kind of mismatch is its own message.

use super::config::ModelConfig;
use super::gpt::Gpt;
use crate::{Error, Result};

/// Metadata key of the model config JSON.
pub const META_CONFIG: &str = "model_config";
/// Metadata key of the tokenizer JSON (or reference).
pub const META_TOKENIZER: &str = "tokenizer";
/// The tied head's key.
pub const LM_HEAD: &str = "lm_head.weight";

fn format_error(message: String) -> Error {
    Error::Format(message)
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The model as safetensors bytes; `tokenizer` is stored in the metadata when given.
pub fn save_safetensors(model: &Gpt<f32>, tokenizer: Option<&str>) -> Result<Vec<u8>> {
    let layout = &model.layout;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = layout
        .specs
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.shape.clone(),
                to_bytes(&model.params[s.offset..s.offset + s.len]),
            )
        })
        .collect();
    let wte = &layout.specs[layout.wte];
    tensors.push((
        LM_HEAD.to_string(),
        wte.shape.clone(),
        to_bytes(layout.get(&model.params, layout.wte)),
    ));
    let views = tensors
        .iter()
        .map(|(name, shape, data)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|e| format_error(format!("cannot describe tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut metadata = vec![
        ("format".to_string(), "pt".to_string()),
        (META_CONFIG.to_string(), model.config.to_json()),
    ];
    if let Some(tokenizer) = tokenizer {
        metadata.push((META_TOKENIZER.to_string(), tokenizer.to_string()));
    }
    let bytes = safetensors::serialize(views, Some(metadata.into_iter().collect()))
        .map_err(|e| format_error(format!("cannot write safetensors: {e}")))?;
    Ok(with_sorted_header(bytes))
}

/// The same file with its JSON header's keys in sorted order, so that saving the same model twice gives the same
/// bytes (the safetensors crate writes the metadata from a `HashMap`, whose order changes from map to map).
/// Reordering keys keeps the header's length, so the tensor data and its offsets stay where they are.
pub(crate) fn with_sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    else {
        return bytes;
    };
    let Some(header) = bytes.get(8..8 + len) else {
        return bytes;
    };
    // serde_json's Value keeps object keys in a BTreeMap: parsing and writing again sorts them.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header.trim_ascii_end()) else {
        return bytes;
    };
    let mut sorted = value.to_string().into_bytes();
    if sorted.len() > len {
        return bytes;
    }
    sorted.resize(len, b' '); // the header's padding to an 8-byte boundary, as the crate writes it
    bytes[8..8 + len].copy_from_slice(&sorted);
    bytes
}

/// What a safetensors file holds, validated.
pub struct LoadedModel {
    pub model: Gpt<f32>,
    /// The tokenizer metadata, when the file has one.
    pub tokenizer: Option<String>,
}

/// Reads and validates a model from safetensors bytes (see the module docs for the checks).
pub fn load_safetensors(bytes: &[u8]) -> Result<LoadedModel> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| format_error(format!("this is not a safetensors file ({e})")))?;
    let meta = metadata.metadata().as_ref();
    let config_json = meta.and_then(|m| m.get(META_CONFIG)).ok_or_else(|| {
        format_error(format!(
            "the safetensors metadata has no `{META_CONFIG}`: this file was not saved by transformer-playground, so the model's shape is unknown"
        ))
    })?;
    let config = ModelConfig::from_json(config_json)
        .map_err(|e| format_error(format!("the model config in the file is not usable: {e}")))?;
    let tokenizer = meta.and_then(|m| m.get(META_TOKENIZER)).cloned();
    let params = read_params(bytes, &config)?;
    let model = Gpt::from_params(config, params)?;
    Ok(LoadedModel { model, tokenizer })
}

/// Checks names, dtypes, shapes and values against `config` and returns the flat parameters.
fn read_params(bytes: &[u8], config: &ModelConfig) -> Result<Vec<f32>> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| format_error(format!("this is not a valid safetensors file ({e})")))?;
    let layout = super::params::ParamLayout::new(config);
    // nanoGPT without flash attention also saves its causal-mask buffers; they carry no weights.
    let is_mask_buffer =
        |name: &str| name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias");
    let mut unexpected: Vec<String> = file
        .names()
        .into_iter()
        .filter(|n| *n != LM_HEAD && layout.find(n).is_none() && !is_mask_buffer(n))
        .map(str::to_string)
        .collect();
    if !unexpected.is_empty() {
        crate::sort::sort(&mut unexpected);
        return Err(format_error(format!(
            "the file has tensors this model does not have: {} (is the config in the file right?)",
            unexpected.join(", ")
        )));
    }
    // The config comes from the file: do not allocate a model the file cannot hold.
    let need = layout.total.saturating_mul(4);
    if need > bytes.len() {
        return Err(format_error(format!(
            "the file has {} bytes, but its config needs {need} bytes of float32 weights: the file is truncated or its config is wrong",
            bytes.len()
        )));
    }
    let mut params = vec![0.0f32; layout.total];
    // (name, shape, where in the flat buffer; None for the tied head, which is compared instead)
    type Expected<'a> = (&'a str, Vec<usize>, Option<std::ops::Range<usize>>);
    let mut names: Vec<Expected> = layout
        .specs
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.shape.clone(),
                Some(s.offset..s.offset + s.len),
            )
        })
        .collect();
    names.push((LM_HEAD, layout.specs[layout.wte].shape.clone(), None));
    for (name, shape, range) in names {
        let view = file.tensor(name).map_err(|_| {
            format_error(format!(
                "the file has no tensor `{name}`, which a model of this config needs"
            ))
        })?;
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(format_error(format!(
                "tensor `{name}` is {:?}; this model loads float32 (F32) only: convert the file to float32",
                view.dtype()
            )));
        }
        if view.shape() != shape.as_slice() {
            return Err(format_error(format!(
                "tensor `{name}` has shape {:?}, the config needs {shape:?}",
                view.shape()
            )));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        match range {
            Some(range) => {
                for (dst, v) in params[range].iter_mut().zip(values) {
                    if !v.is_finite() {
                        return Err(format_error(format!(
                            "tensor `{name}` holds a non-finite value ({v})"
                        )));
                    }
                    *dst = v;
                }
            }
            None => {
                let wte = layout.get(&params, layout.wte);
                if !values.zip(wte).all(|(a, &b)| a.to_bits() == b.to_bits()) {
                    return Err(format_error(format!(
                        "`{LM_HEAD}` differs from `transformer.wte.weight`: this model ties the LM head to the token embedding and cannot load an untied head"
                    )));
                }
            }
        }
    }
    Ok(params)
}

impl Gpt<f32> {
    /// Replaces this model's weights with the file's, only when the file's config equals this model's
    /// and every tensor checks out; on any error the model is untouched.
    pub fn import_safetensors(&mut self, bytes: &[u8]) -> Result<Option<String>> {
        let loaded = load_safetensors(bytes)?;
        if loaded.model.config != self.config {
            return Err(format_error(format!(
                "the file's model config {} does not match this model's {}",
                loaded.model.config.to_json(),
                self.config.to_json()
            )));
        }
        self.params = loaded.model.params;
        Ok(loaded.tokenizer)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::config::Positional;

    fn config() -> ModelConfig {
        ModelConfig {
            n_layer: 2,
            n_head: 3,
            n_embd: 12,
            block_size: 8,
            ..ModelConfig::reference(37)
        }
    }

    fn logits(model: &mut Gpt<f32>) -> Vec<f32> {
        let inputs: Vec<u32> = (0..14).map(|i| (i * 5 % 37) as u32).collect();
        model.forward(&inputs, None, 2, 7, None).unwrap();
        model.act(model.acts().logits).to_vec()
    }

    /// A file with the tensors of `model` edited by `edit` (name, shape, dtype, bytes) and metadata `meta`.
    fn rewrite(
        model: &Gpt<f32>,
        meta: Vec<(String, String)>,
        mut edit: impl FnMut(&mut Vec<(String, Vec<usize>, safetensors::Dtype, Vec<u8>)>),
    ) -> Vec<u8> {
        let bytes = save_safetensors(model, None).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut tensors: Vec<_> = file
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.shape().to_vec(), v.dtype(), v.data().to_vec()))
            .collect();
        edit(&mut tensors);
        let views: Vec<_> = tensors
            .iter()
            .map(|(n, s, d, b)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, Some(meta.into_iter().collect())).unwrap()
    }

    fn meta(model: &Gpt<f32>) -> Vec<(String, String)> {
        vec![(META_CONFIG.to_string(), model.config.to_json())]
    }

    #[test]
    fn save_load_gives_identical_logits_bit_for_bit() {
        for positional in [
            Positional::Learned,
            Positional::Sinusoidal,
            Positional::Rope,
        ] {
            let mut model = Gpt::<f32>::new(
                ModelConfig {
                    positional,
                    ..config()
                },
                9,
            )
            .unwrap();
            let bytes = save_safetensors(&model, Some(r#"{"kind":"char"}"#)).unwrap();
            let mut loaded = load_safetensors(&bytes).unwrap();
            assert_eq!(loaded.tokenizer.as_deref(), Some(r#"{"kind":"char"}"#));
            assert_eq!(loaded.model.config, model.config);
            let (a, b) = (logits(&mut model), logits(&mut loaded.model));
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{positional:?}"
            );
        }
    }

    #[test]
    fn file_has_nanogpt_names_and_shapes() {
        let model = Gpt::<f32>::new(config(), 9).unwrap();
        let bytes = save_safetensors(&model, None).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let shape = |n: &str| file.tensor(n).unwrap().shape().to_vec();
        assert_eq!(shape("transformer.wte.weight"), [37, 12]);
        assert_eq!(shape("transformer.wpe.weight"), [8, 12]);
        assert_eq!(shape("transformer.h.1.attn.c_attn.weight"), [36, 12]);
        assert_eq!(shape("transformer.h.1.attn.c_attn.bias"), [36]);
        assert_eq!(shape("transformer.h.0.attn.c_proj.weight"), [12, 12]);
        assert_eq!(shape("transformer.h.0.mlp.c_fc.weight"), [48, 12]);
        assert_eq!(shape("transformer.h.0.mlp.c_proj.weight"), [12, 48]);
        assert_eq!(shape("transformer.ln_f.bias"), [12]);
        assert_eq!(shape("lm_head.weight"), [37, 12]);
        assert_eq!(file.names().len(), 2 + 2 * 12 + 2 + 1);
    }

    #[test]
    fn each_kind_of_mismatch_is_a_clear_error() {
        let model = Gpt::<f32>::new(config(), 9).unwrap();
        let err = |bytes: Vec<u8>| {
            load_safetensors(&bytes)
                .err()
                .expect("must fail")
                .to_string()
        };
        assert!(err(b"not a file".to_vec()).contains("not a safetensors file"));
        let e = err(rewrite(&model, vec![], |_| {}));
        assert!(e.contains("no `model_config`"), "{e}");
        let e = err(rewrite(
            &model,
            vec![(META_CONFIG.into(), "{\"vocab_size\": 3}".into())],
            |_| {},
        ));
        assert!(e.contains("config in the file is not usable"), "{e}");
        let e = err(rewrite(&model, meta(&model), |t| {
            t.retain(|x| x.0 != "transformer.h.1.ln_2.bias")
        }));
        assert!(e.contains("no tensor `transformer.h.1.ln_2.bias`"), "{e}");
        let e = err(rewrite(&model, meta(&model), |t| {
            t.push((
                "extra.weight".into(),
                vec![1],
                safetensors::Dtype::F32,
                vec![0; 4],
            ))
        }));
        assert!(
            e.contains("tensors this model does not have: extra.weight"),
            "{e}"
        );
        let e = err(rewrite(&model, meta(&model), |t| {
            let x = t
                .iter_mut()
                .find(|x| x.0 == "transformer.wpe.weight")
                .unwrap();
            x.1 = vec![12, 8];
        }));
        assert!(
            e.contains("has shape [12, 8], the config needs [8, 12]"),
            "{e}"
        );
        let e = err(rewrite(&model, meta(&model), |t| {
            let x = t
                .iter_mut()
                .find(|x| x.0 == "transformer.ln_f.weight")
                .unwrap();
            x.2 = safetensors::Dtype::F16;
            x.3.truncate(x.3.len() / 2);
        }));
        assert!(e.contains("is F16") && e.contains("float32"), "{e}");
        let e = err(rewrite(&model, meta(&model), |t| {
            let x = t.iter_mut().find(|x| x.0 == "lm_head.weight").unwrap();
            x.3[0] ^= 1;
        }));
        assert!(e.contains("differs from `transformer.wte.weight`"), "{e}");
        let e = err(rewrite(&model, meta(&model), |t| {
            let x = t
                .iter_mut()
                .find(|x| x.0 == "transformer.h.0.ln_1.weight")
                .unwrap();
            x.3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        }));
        assert!(e.contains("non-finite"), "{e}");
        // nanoGPT's causal-mask buffers are accepted and ignored.
        let ok = rewrite(&model, meta(&model), |t| {
            t.push((
                "transformer.h.0.attn.bias".into(),
                vec![1, 1, 8, 8],
                safetensors::Dtype::F32,
                vec![0; 256],
            ))
        });
        assert!(load_safetensors(&ok).is_ok());
    }

    #[test]
    fn import_into_a_model_of_another_config_leaves_it_untouched() {
        let mut model = Gpt::<f32>::new(config(), 1).unwrap();
        let other = Gpt::<f32>::new(
            ModelConfig {
                n_layer: 1,
                ..config()
            },
            2,
        )
        .unwrap();
        let before = model.params.clone();
        let e = model
            .import_safetensors(&save_safetensors(&other, None).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not match this model's"), "{e}");
        assert_eq!(model.params, before);
        let same = Gpt::<f32>::new(config(), 2).unwrap();
        model
            .import_safetensors(&save_safetensors(&same, None).unwrap())
            .unwrap();
        assert_eq!(model.params, same.params);
    }

    #[test]
    fn saving_twice_gives_the_same_bytes() {
        let model = Gpt::<f32>::new(tiny_config_for_determinism(), 3).unwrap();
        let first = save_safetensors(&model, Some("{\"tokenizer\": 1}")).unwrap();
        for _ in 0..5 {
            assert_eq!(
                save_safetensors(&model, Some("{\"tokenizer\": 1}")).unwrap(),
                first
            );
        }
        let loaded = load_safetensors(&first).unwrap();
        assert_eq!(loaded.model.params, model.params);
    }

    fn tiny_config_for_determinism() -> crate::model::ModelConfig {
        crate::model::ModelConfig {
            n_layer: 1,
            n_head: 2,
            n_embd: 8,
            block_size: 4,
            ..crate::model::ModelConfig::reference(11)
        }
    }
}
