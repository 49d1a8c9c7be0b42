//! LoRA adapters alone, in PEFT's format: `adapter_config.json` + `adapter_model.safetensors`, so that
//! `PeftModel.from_pretrained(base, dir)` reproduces our adapted model and an adapter trained with `peft` on a
//! GPT-2 loads here.
//!
//! | key in adapter_model.safetensors | shape |
//! |---|---|
//! | `base_model.model.transformer.h.{l}.attn.c_attn.lora_A.weight` | (r, C) |
//! | `base_model.model.transformer.h.{l}.attn.c_attn.lora_B.weight` | (3C, r) |
//! | ... the same for `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj` | (r, IN), (OC, r) |
//!
//! A and B are `nn.Linear` weights, (out, in), in both PEFT and here, for GPT-2's Conv1D layers too: only merging
//! needs `fan_in_fan_out: true` (PEFT transposes the update before adding it to a Conv1D weight).

use serde_json::{Value, json};

use super::Files;
use super::safetensors_io::{NamedTensor, read_f32, write_f32};
use crate::model::config::ModelConfig;
use crate::model::gpt::Gpt;
use crate::model::lora::{LoraConfig, LoraTarget};
use crate::{Error, Result};

pub const ADAPTER_CONFIG: &str = "adapter_config.json";
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
/// What PEFT puts before the base model's parameter names.
const PEFT_PREFIX: &str = "base_model.model.";

fn format_error(message: impl Into<String>) -> Error {
    Error::Format(message.into())
}

/// The adapter of `model` as a PEFT directory (adapter_config.json, adapter_model.safetensors).
pub fn export_peft(model: &Gpt<f32>) -> Result<Files> {
    let Some(lora) = &model.config.lora else {
        return Err(Error::InvalidInput(
            "the model has no LoRA adapters to save: train with LoRA (--lora-rank) first".into(),
        ));
    };
    let layout = &model.layout;
    let tensors: Vec<NamedTensor> = (layout.first_trainable..layout.specs.len())
        .map(|id| {
            let spec = &layout.specs[id];
            NamedTensor {
                name: format!("{PEFT_PREFIX}{}", spec.name),
                shape: spec.shape.clone(),
                values: layout.get(&model.params, id).to_vec(),
            }
        })
        .collect();
    let targets: Vec<&str> = lora.targets.iter().map(|t| t.name()).collect();
    let config = json!({
        "base_model_name_or_path": null,
        "bias": "none",
        "fan_in_fan_out": true,
        "inference_mode": true,
        "init_lora_weights": true,
        "layers_to_transform": null,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "modules_to_save": null,
        "peft_type": "LORA",
        "r": lora.r,
        "target_modules": targets,
        "task_type": "CAUSAL_LM",
        "use_dora": false,
        "use_rslora": false,
    });
    let mut text = serde_json::to_string_pretty(&config).expect("JSON values serialise");
    text.push('\n');
    let mut files = Files::new();
    files.insert(ADAPTER_CONFIG.into(), text.into_bytes());
    files.insert(
        ADAPTER_WEIGHTS.into(),
        write_f32(&tensors, &[("format", "pt")])?,
    );
    Ok(files)
}

/// The LoRA config of a PEFT `adapter_config.json`, or which of its options this model does not run.
pub fn lora_config_from_peft(doc: &Value) -> Result<LoraConfig> {
    let refuse = |what: String| Err(format_error(format!("adapter_config.json: {what}")));
    let peft_type = doc.get("peft_type").and_then(Value::as_str).unwrap_or("");
    if peft_type != "LORA" {
        return refuse(format!(
            "peft_type is {peft_type:?}; only LoRA adapters (\"LORA\") load here"
        ));
    }
    for (key, what) in [
        ("use_dora", "DoRA"),
        ("use_rslora", "rsLoRA's alpha / sqrt(r) scaling"),
    ] {
        if doc.get(key).and_then(Value::as_bool) == Some(true) {
            return refuse(format!(
                "{key} is true: {what} is not supported, only plain LoRA"
            ));
        }
    }
    if !doc.get("bias").is_none_or(|b| b == "none") {
        return refuse("bias is not \"none\": adapters that train biases are not supported".into());
    }
    for key in ["modules_to_save", "layers_to_transform"] {
        if !doc.get(key).is_none_or(Value::is_null) {
            return refuse(format!(
                "{key} is set; adapters here cover every block and save no extra modules"
            ));
        }
    }
    for key in ["rank_pattern", "alpha_pattern"] {
        if doc
            .get(key)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return refuse(format!(
                "{key} gives layers their own rank or alpha; here every adapter has the same"
            ));
        }
    }
    let r = doc
        .get("r")
        .and_then(Value::as_u64)
        .ok_or_else(|| format_error("adapter_config.json has no integer `r`"))?
        as usize;
    let alpha = doc
        .get("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or_else(|| format_error("adapter_config.json has no number `lora_alpha`"))?
        as f32;
    let dropout = doc
        .get("lora_dropout")
        .and_then(Value::as_f64)
        .unwrap_or(0.0) as f32;
    let names: Vec<String> = match doc.get("target_modules") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| format_error("adapter_config.json: target_modules must be names"))?,
        Some(Value::String(one)) => {
            return refuse(format!(
                "target_modules is the pattern {one:?}; list the module names instead (c_attn, attn.c_proj, c_fc, mlp.c_proj)"
            ));
        }
        _ => return refuse("target_modules is missing".into()),
    };
    let targets = LoraTarget::parse_list(&names)
        .map_err(|e| format_error(format!("adapter_config.json: {e}")))?;
    Ok(LoraConfig {
        r,
        alpha,
        dropout,
        targets,
    })
}

/// `base` with a PEFT adapter directory's adapters attached (the base must have none).
pub fn import_peft(base: &Gpt<f32>, files: &Files) -> Result<Gpt<f32>> {
    let names = || files.keys().cloned().collect::<Vec<_>>().join(", ");
    let Some(config_bytes) = files.get(ADAPTER_CONFIG) else {
        return Err(format_error(format!(
            "the adapter directory has no adapter_config.json (it has: {})",
            names()
        )));
    };
    let doc: Value = serde_json::from_slice(config_bytes)
        .map_err(|e| format_error(format!("adapter_config.json is not JSON: {e}")))?;
    let lora = lora_config_from_peft(&doc)?;
    let Some(weights) = files.get(ADAPTER_WEIGHTS) else {
        let advice = if files.contains_key("adapter_model.bin") {
            "it has adapter_model.bin, a pickle, which is never loaded here; save the adapter with safetensors (`save_pretrained(dir, safe_serialization=True)`)"
        } else {
            "no adapter weights were found"
        };
        return Err(format_error(format!(
            "the adapter directory has no adapter_model.safetensors: {advice} (it has: {})",
            names()
        )));
    };
    if base.config.lora.is_some() {
        return Err(Error::InvalidInput(
            "the base model has adapters already: merge them first".into(),
        ));
    }
    let config = ModelConfig {
        lora: Some(lora),
        ..base.config.clone()
    };
    config
        .validate()
        .map_err(|e| format_error(format!("the adapter does not fit the base model: {e}")))?;
    let mut model = base.with_lora(config.lora.clone().expect("set above"), 0)?;
    let file = safetensors::SafeTensors::deserialize(weights).map_err(|e| {
        format_error(format!(
            "adapter_model.safetensors is not a valid safetensors file ({e})"
        ))
    })?;
    let layout = model.layout.clone();
    let expected: Vec<String> = layout.specs[layout.first_trainable..]
        .iter()
        .map(|s| format!("{PEFT_PREFIX}{}", s.name))
        .collect();
    let mut unexpected: Vec<&str> = file
        .names()
        .into_iter()
        .filter(|n| !expected.iter().any(|e| e == *n))
        .collect();
    if !unexpected.is_empty() {
        crate::sort::sort(&mut unexpected);
        return Err(format_error(format!(
            "adapter_model.safetensors has tensors this adapter config does not describe: {}",
            unexpected.join(", ")
        )));
    }
    for (id, key) in (layout.first_trainable..layout.specs.len()).zip(&expected) {
        let spec = &layout.specs[id];
        let view = file.tensor(key).map_err(|_| {
            format_error(format!(
                "adapter_model.safetensors has no tensor `{key}`, which adapter_config.json's targets need"
            ))
        })?;
        if view.shape() != spec.shape.as_slice() {
            return Err(format_error(format!(
                "tensor `{key}` has shape {:?}, but the base model and r = {} need {:?}",
                view.shape(),
                config.lora.as_ref().map_or(0, |l| l.r),
                spec.shape
            )));
        }
        let values = read_f32(&view, key)?;
        model.params[spec.offset..spec.offset + spec.len].copy_from_slice(&values);
    }
    Ok(model)
}
