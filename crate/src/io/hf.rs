//! Hugging Face GPT-2 directories, both ways: what `GPT2LMHeadModel.save_pretrained(dir)` and a fast tokenizer's
//! `save_pretrained(dir)` write, so `AutoModelForCausalLM.from_pretrained(dir)` and `AutoTokenizer.from_pretrained(dir)`
//! load our models, and GPT-2-family checkpoints (gpt2, distilgpt2, fine-tunes of them) load here.
//!
//! | file | what |
//! |---|---|
//! | `config.json` | `GPT2Config`: `model_type: gpt2`, `n_embd`, `n_head`, `n_layer`, `n_positions` (our block_size), `n_inner` (null = 4C), `activation_function` (`gelu_new` = our tanh GELU, or `relu`), `layer_norm_epsilon: 1e-5`, tied embeddings, the special tokens' ids |
//! | `model.safetensors` | `GPT2LMHeadModel`'s names (`transformer.h.0.attn.c_attn.weight`, ..); the four linear layers in Conv1D layout (in, out), the transpose of ours; no `lm_head.weight` (tied, as `save_pretrained` writes it) |
//! | `tokenizer.json`, `tokenizer_config.json` | the byte-level BPE as `tokenizers` reads it; a character tokenizer as a `WordLevel` model over single characters |
//! | `generation_config.json` | bos/eos ids |
//!
//! What GPT-2 cannot express is refused on export with a sentence naming the difference: rotary or sinusoidal
//! positions, linear layers without biases, a mask other than causal. Import refuses pickle checkpoints
//! (`pytorch_model.bin`: convert to safetensors), other architectures, missing files, options GPT-2 models here
//! do not run (exact-erf GELU, other LayerNorm epsilons, unscaled attention) and tensors of the wrong shape.

use serde_json::{Value, json};

use super::Files;
use super::safetensors_io::{NamedTensor, read_f32, write_f32};
use crate::model::config::{Activation, ModelConfig, Positional};
use crate::model::gpt::Gpt;
use crate::model::params::ParamLayout;
use crate::ops::attention_mask::AttentionMask;
use crate::ops::layernorm_forward::LAYERNORM_EPS;
use crate::tokenizer::{CharTokenizer, ENDOFTEXT, Tokenizer};
use crate::{Error, Result};

/// The weights file of a directory.
pub const MODEL_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The unknown token's name in the `WordLevel` form of a character tokenizer.
const CHAR_UNK: &str = "<unk>";

fn format_error(message: impl Into<String>) -> Error {
    Error::Format(message.into())
}

/// Whether our parameter `name` is one of the four linear layers GPT-2 stores as Conv1D (in, out).
fn is_conv1d(name: &str) -> bool {
    name.ends_with(".weight")
        && [
            ".attn.c_attn.",
            ".attn.c_proj.",
            ".mlp.c_fc.",
            ".mlp.c_proj.",
        ]
        .iter()
        .any(|m| name.contains(m))
}

/// (rows, cols) row-major -> (cols, rows).
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// The `config.json` of a model, or why GPT-2 cannot express it.
pub fn hf_config(config: &ModelConfig, tokenizer: Option<&Tokenizer>) -> Result<Value> {
    let refuse = |what: String| {
        Err(Error::InvalidInput(format!(
            "this model cannot be exported as a Hugging Face GPT-2: {what}"
        )))
    };
    match config.positional {
        Positional::Learned => {}
        Positional::Rope => {
            return refuse("it uses rotary position embeddings (positional: rope); GPT-2 learns a position table (positional: learned)".into());
        }
        Positional::Sinusoidal => {
            return refuse("it uses fixed sinusoidal positions (positional: sinusoidal); GPT-2 learns a position table (positional: learned)".into());
        }
    }
    if !config.bias {
        return refuse(
            "its linear layers and LayerNorms have no biases (bias: false); GPT-2 always has them"
                .into(),
        );
    }
    if config.attention_mask != AttentionMask::Causal {
        return refuse(format!(
            "its attention mask is {:?}; GPT-2 is causal",
            config.attention_mask
        ));
    }
    let activation = match config.activation {
        Activation::Gelu => "gelu_new",
        Activation::Relu => "relu",
    };
    let n_inner = if config.ffn_mult == 4 {
        Value::Null
    } else {
        json!(config.ffn_width())
    };
    let eot = tokenizer.and_then(Tokenizer::eot_id);
    let value = json!({
        "activation_function": activation,
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": config.dropout,
        "bos_token_id": eot,
        "dtype": "float32",
        "embd_pdrop": config.dropout,
        "eos_token_id": eot,
        "initializer_range": 0.02,
        "layer_norm_epsilon": LAYERNORM_EPS,
        "model_type": "gpt2",
        "n_embd": config.n_embd,
        "n_head": config.n_head,
        "n_inner": n_inner,
        "n_layer": config.n_layer,
        "n_positions": config.block_size,
        "reorder_and_upcast_attn": false,
        "resid_pdrop": config.dropout,
        "scale_attn_by_inverse_layer_idx": false,
        "scale_attn_weights": true,
        "tie_word_embeddings": true,
        "use_cache": true,
        "vocab_size": config.vocab_size,
    });
    // Anything of our config that the mapping above lost (an option added later) is a difference too.
    let back = config_from_hf(&value)?;
    if back != *config {
        let (ours, theirs) = (json_of(config), json_of(&back));
        let differ: Vec<String> = ours
            .iter()
            .filter(|(k, v)| theirs.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        return refuse(format!(
            "GPT-2's config has no place for {}",
            differ.join(", ")
        ));
    }
    Ok(value)
}

fn json_of(config: &ModelConfig) -> serde_json::Map<String, Value> {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The files of a Hugging Face GPT-2 directory holding `model` (and `tokenizer`'s files when given), sorted by
/// name; a model with LoRA adapters is written with them merged. Fails, naming the difference, for a config GPT-2
/// cannot express.
pub fn export_hf(model: &Gpt<f32>, tokenizer: Option<&Tokenizer>) -> Result<Files> {
    if model.config.lora.is_some() {
        // GPT-2 has no adapters: the directory holds the weights with the adapters merged in (the adapters
        // alone go out as a PEFT directory, `export_peft`).
        return export_hf(&model.merge_lora()?, tokenizer);
    }
    let config = &model.config;
    let hf = hf_config(config, tokenizer)?;
    if let Some(tok) = tokenizer
        && tok.vocab_size() > config.vocab_size
    {
        return Err(Error::InvalidInput(format!(
            "the tokenizer has {} tokens but the model only {}: they do not belong together",
            tok.vocab_size(),
            config.vocab_size
        )));
    }
    let layout = &model.layout;
    let tensors: Vec<NamedTensor> = layout
        .specs
        .iter()
        .enumerate()
        .map(|(id, s)| {
            let values = layout.get(&model.params, id);
            let (shape, values) = if is_conv1d(&s.name) {
                let (out, inp) = (s.shape[0], s.shape[1]);
                (vec![inp, out], transpose(values, out, inp))
            } else {
                (s.shape.clone(), values.to_vec())
            };
            NamedTensor {
                name: s.name.clone(),
                shape,
                values,
            }
        })
        .collect();
    let mut files = Files::new();
    files.insert(MODEL_FILE.into(), write_f32(&tensors, &[("format", "pt")])?);
    files.insert(CONFIG_FILE.into(), pretty(&hf));
    let eot = tokenizer.and_then(Tokenizer::eot_id);
    files.insert(
        "generation_config.json".into(),
        pretty(&json!({"_from_model_config": true, "bos_token_id": eot, "eos_token_id": eot})),
    );
    if let Some(tok) = tokenizer {
        let (tokenizer_json, tokenizer_config) = tokenizer_files(tok, config.block_size);
        files.insert(TOKENIZER_FILE.into(), tokenizer_json.into_bytes());
        files.insert("tokenizer_config.json".into(), pretty(&tokenizer_config));
    }
    Ok(files)
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text.into_bytes()
}

/// tokenizer.json and tokenizer_config.json of a tokenizer. The BPE file is our own tokenizer.json (Hugging Face's
/// format already); a character tokenizer becomes a `WordLevel` model over single characters (`tokenizers` has
/// no character model), which [`import_hf`] reads back.
fn tokenizer_files(tok: &Tokenizer, block_size: usize) -> (String, Value) {
    let mut config = json!({
        "add_prefix_space": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": block_size,
        // PreTrainedTokenizerFast takes tokenizer.json as it is (GPT2Tokenizer would rebuild the pre-tokenizer).
        "tokenizer_class": "PreTrainedTokenizerFast",
    });
    let text = match tok {
        Tokenizer::Bpe(_) => {
            if tok.eot_id().is_some() {
                for key in ["bos_token", "eos_token", "unk_token"] {
                    config[key] = json!(ENDOFTEXT);
                }
            }
            tok.to_json()
        }
        Tokenizer::Char(t) => {
            config["unk_token"] = json!(CHAR_UNK);
            char_word_level_json(t)
        }
    };
    (text, config)
}

/// A character tokenizer as tokenizers' `WordLevel`: every character is its own piece (a `Split` on any one
/// character), looked up in the vocab, the unknown token last; pieces decode joined (`Fuse`).
fn char_word_level_json(t: &CharTokenizer) -> String {
    let mut vocab = serde_json::Map::new();
    for (id, c) in t.chars().iter().enumerate() {
        vocab.insert(c.to_string(), json!(id));
    }
    vocab.insert(CHAR_UNK.into(), json!(t.unk_id()));
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[\\s\\S]"}, "behavior": "Isolated", "invert": false},
        "post_processor": null,
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": CHAR_UNK},
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialise")
}

/// The character tokenizer of a `WordLevel` tokenizer.json written by [`char_word_level_json`], or None when it is
/// not one.
fn char_from_word_level(doc: &Value) -> Option<Result<Tokenizer>> {
    let model = doc.get("model")?;
    if model.get("type").and_then(Value::as_str) != Some("WordLevel") {
        return None;
    }
    let vocab = model.get("vocab").and_then(Value::as_object);
    let unk = model.get("unk_token").and_then(Value::as_str);
    let (Some(vocab), Some(CHAR_UNK)) = (vocab, unk) else {
        return Some(Err(format_error(
            "tokenizer.json holds a WordLevel model that is not a character tokenizer: only byte-level BPE and single characters load here",
        )));
    };
    let mut chars = vec!['\0'; vocab.len().saturating_sub(1)];
    for (name, id) in vocab {
        if name == CHAR_UNK {
            continue;
        }
        let mut it = name.chars();
        let (Some(c), None, Some(id)) = (it.next(), it.next(), id.as_u64()) else {
            return Some(Err(format_error(format!(
                "tokenizer.json: WordLevel token {name:?} is not a single character with an integer id"
            ))));
        };
        match chars.get_mut(id as usize) {
            Some(slot) => *slot = c,
            None => {
                return Some(Err(format_error(format!(
                    "tokenizer.json: character {name:?} has id {id}, outside 0..{}",
                    vocab.len() - 1
                ))));
            }
        }
    }
    Some(match CharTokenizer::from_chars(chars.clone()) {
        Ok(t) if t.chars() == chars.as_slice() => Ok(Tokenizer::Char(t)),
        Ok(_) => Err(format_error(
            "tokenizer.json: the characters of a character tokenizer must have ids in code-point order",
        )),
        Err(e) => Err(e),
    })
}

/// A model read from a Hugging Face directory.
pub struct HfModel {
    pub model: Gpt<f32>,
    pub tokenizer: Tokenizer,
}

/// What our config is, given a GPT-2 `config.json`; or which option a GPT-2 model here cannot run.
pub fn config_from_hf(hf: &Value) -> Result<ModelConfig> {
    let refuse =
        |what: String| -> Result<ModelConfig> { Err(format_error(format!("config.json: {what}"))) };
    let model_type = hf.get("model_type").and_then(Value::as_str).unwrap_or("");
    let architectures: Vec<&str> = hf
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if model_type != "gpt2" {
        return refuse(format!(
            "model_type is {model_type:?} (architectures {architectures:?}); only GPT-2-family models (model_type \"gpt2\": gpt2, distilgpt2 and their fine-tunes) load here"
        ));
    }
    if let Some(other) = architectures
        .iter()
        .find(|a| !matches!(**a, "GPT2LMHeadModel" | "GPT2Model"))
    {
        return refuse(format!(
            "architecture {other} is a GPT-2 with another head; only GPT2LMHeadModel (or the bare GPT2Model) loads here"
        ));
    }
    let size = |key: &str| -> Result<usize> {
        hf.get(key)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| format_error(format!("config.json has no integer `{key}`")))
    };
    let flag = |key: &str, default: bool| hf.get(key).and_then(Value::as_bool).unwrap_or(default);
    let (n_embd, block_size) = (
        size("n_embd")?,
        size("n_positions").or_else(|_| size("n_ctx"))?,
    );
    let activation = match hf
        .get("activation_function")
        .and_then(Value::as_str)
        .unwrap_or("gelu_new")
    {
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::Gelu,
        "relu" => Activation::Relu,
        other => {
            return refuse(format!(
                "activation_function {other:?} is not one this model runs: gelu_new (GELU, tanh approximation) or relu"
            ));
        }
    };
    let eps = hf
        .get("layer_norm_epsilon")
        .and_then(Value::as_f64)
        .unwrap_or(LAYERNORM_EPS);
    if (eps - LAYERNORM_EPS).abs() > 1e-12 {
        return refuse(format!(
            "layer_norm_epsilon is {eps}; this model's LayerNorm uses {LAYERNORM_EPS}"
        ));
    }
    if !flag("scale_attn_weights", true) || flag("scale_attn_by_inverse_layer_idx", false) {
        return refuse(
            "attention scores here are scaled by 1/sqrt(head size) only (scale_attn_weights true, scale_attn_by_inverse_layer_idx false)".into(),
        );
    }
    if flag("add_cross_attention", false) {
        return refuse(
            "add_cross_attention is true; GPT-2 decoders here have no cross-attention".into(),
        );
    }
    let ffn_mult = match hf.get("n_inner") {
        None | Some(Value::Null) => 4,
        Some(v) => match v.as_u64() {
            Some(f) if f > 0 && (f as usize).is_multiple_of(n_embd) => f as usize / n_embd,
            _ => {
                return refuse(format!(
                    "n_inner {v} is not a multiple of n_embd {n_embd}; the feed-forward width here is ffn_mult * n_embd"
                ));
            }
        },
    };
    let dropout = hf.get("resid_pdrop").and_then(Value::as_f64).unwrap_or(0.0) as f32;
    let config = ModelConfig {
        vocab_size: size("vocab_size")?,
        n_layer: size("n_layer")?,
        n_head: size("n_head")?,
        n_embd,
        block_size,
        ffn_mult,
        activation,
        positional: Positional::Learned,
        dropout,
        bias: true,
        attention_mask: AttentionMask::Causal,
        ..ModelConfig::reference(1)
    };
    config.validate().map_err(|e| {
        format_error(format!(
            "config.json describes a model that cannot run here: {e}"
        ))
    })?;
    Ok(config)
}

/// Reads a Hugging Face GPT-2 directory (`config.json`, `model.safetensors` with or without the `transformer.`
/// prefix, `tokenizer.json`), checking everything before a model exists.
pub fn import_hf(files: &Files) -> Result<HfModel> {
    let names = || files.keys().cloned().collect::<Vec<_>>().join(", ");
    let Some(config_bytes) = files.get(CONFIG_FILE) else {
        return Err(format_error(format!(
            "the directory has no config.json, so the model's shape is unknown (it has: {})",
            names()
        )));
    };
    let hf: Value = serde_json::from_slice(config_bytes)
        .map_err(|e| format_error(format!("config.json is not JSON: {e}")))?;
    let config = config_from_hf(&hf)?;
    let Some(weights) = files.get(MODEL_FILE) else {
        let advice = if files.contains_key("pytorch_model.bin") {
            "it has pytorch_model.bin, a pickle checkpoint, which is never loaded here (unpickling runs code). Convert it once in Python: `AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)` writes model.safetensors"
        } else if files.contains_key("model.safetensors.index.json") {
            "its weights are sharded (model.safetensors.index.json); save them as one file: `save_pretrained(dir, max_shard_size=\"20GB\")`"
        } else {
            "no weights file was found"
        };
        return Err(format_error(format!(
            "the directory has no model.safetensors: {advice} (it has: {})",
            names()
        )));
    };
    let params = read_gpt2_params(weights, &config, flag_tied(&hf))?;
    let Some(tok_bytes) = files.get(TOKENIZER_FILE) else {
        return Err(format_error(format!(
            "the directory has no tokenizer.json (it has: {}); save a fast tokenizer beside the model: `AutoTokenizer.from_pretrained(dir).save_pretrained(dir)` writes it",
            names()
        )));
    };
    let tok_text = std::str::from_utf8(tok_bytes)
        .map_err(|_| format_error("tokenizer.json is not UTF-8 text"))?;
    let tok_doc: Value = serde_json::from_str(tok_text)
        .map_err(|e| format_error(format!("tokenizer.json is not JSON: {e}")))?;
    let tokenizer = match char_from_word_level(&tok_doc) {
        Some(result) => result?,
        None => Tokenizer::from_json(tok_text)
            .map_err(|e| format_error(format!("tokenizer.json: {e}")))?,
    };
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(format_error(format!(
            "tokenizer.json has {} tokens but config.json's vocab_size is {}: the tokenizer does not belong to this model",
            tokenizer.vocab_size(),
            config.vocab_size
        )));
    }
    let model = Gpt::from_params(config, params)?;
    Ok(HfModel { model, tokenizer })
}

fn flag_tied(hf: &Value) -> bool {
    hf.get("tie_word_embeddings")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// The flat parameters of `config` from GPT-2 safetensors: names with or without `transformer.`, Conv1D
/// weights transposed back, the causal-mask buffers ignored, `lm_head.weight` (when present) equal to wte.
fn read_gpt2_params(bytes: &[u8], config: &ModelConfig, tied: bool) -> Result<Vec<f32>> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
        format_error(format!(
            "model.safetensors is not a valid safetensors file ({e})"
        ))
    })?;
    let layout = ParamLayout::new(config);
    let prefixed = file.names().iter().any(|n| n.starts_with("transformer."));
    let ours = |name: &str| -> String {
        if prefixed || name == "lm_head.weight" {
            name.to_string()
        } else {
            format!("transformer.{name}")
        }
    };
    let is_buffer =
        |name: &str| name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias");
    let mut unexpected: Vec<String> = file
        .names()
        .into_iter()
        .filter(|n| *n != "lm_head.weight" && !is_buffer(n) && layout.find(&ours(n)).is_none())
        .map(str::to_string)
        .collect();
    if !unexpected.is_empty() {
        crate::sort::sort(&mut unexpected);
        return Err(format_error(format!(
            "model.safetensors has tensors a GPT2LMHeadModel of this config.json does not have: {}",
            unexpected.join(", ")
        )));
    }
    let theirs = |name: &str| -> String {
        if prefixed {
            name.to_string()
        } else {
            name.trim_start_matches("transformer.").to_string()
        }
    };
    let mut params = vec![0.0f32; layout.total];
    for spec in &layout.specs {
        let key = theirs(&spec.name);
        let view = file.tensor(&key).map_err(|_| {
            format_error(format!(
                "model.safetensors has no tensor `{key}`, which config.json's model needs"
            ))
        })?;
        let expected = if is_conv1d(&spec.name) {
            vec![spec.shape[1], spec.shape[0]]
        } else {
            spec.shape.clone()
        };
        if view.shape() != expected.as_slice() {
            return Err(format_error(format!(
                "tensor `{key}` has shape {:?}, but config.json needs {expected:?}",
                view.shape()
            )));
        }
        let values = read_f32(&view, &key)?;
        let dst = &mut params[spec.offset..spec.offset + spec.len];
        if is_conv1d(&spec.name) {
            dst.copy_from_slice(&transpose(&values, expected[0], expected[1]));
        } else {
            dst.copy_from_slice(&values);
        }
    }
    if let Ok(head) = file.tensor("lm_head.weight") {
        let wte = layout.get(&params, layout.wte);
        let values = read_f32(&head, "lm_head.weight")?;
        if head.shape() != layout.specs[layout.wte].shape.as_slice() || values != wte {
            return Err(format_error(
                "lm_head.weight differs from the token embedding wte: this model ties its LM head to wte and cannot load an untied head",
            ));
        }
    } else if !tied {
        return Err(format_error(
            "config.json unties the LM head (tie_word_embeddings false) but model.safetensors has no lm_head.weight",
        ));
    }
    Ok(params)
}
