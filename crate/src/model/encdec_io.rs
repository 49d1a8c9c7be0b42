//! An encoder-decoder as safetensors with PyTorch's `nn.Transformer` names: every block tensor under its
//! `state_dict` key (`encoder.layers.0.self_attn.in_proj_weight`, `decoder.layers.0.multihead_attn.
//! in_proj_weight` (3C, C): the q rows then the k, v rows, which this crate keeps as two tensors),
//! `encoder.norm`, `decoder.norm`; beside them the shared token embedding `transformer.wte.weight` (V, C)
//! (also the tied head) and the learned positions `transformer.wpe.weight` (T, C). The metadata holds
//! `encdec_config` (the [`ModelConfig`] JSON), `seq2seq_vocab` (the characters) and `seq2seq_task`.
//! docs/objectives.md has the PyTorch loader.

use std::collections::HashMap;

use super::config::ModelConfig;
use super::encdec::EncDec;
use super::seq2seq_train::CharVocab;
use crate::io::safetensors_io::{NamedTensor, read_f32, write_f32};
use crate::{Error, Result};

pub const META_ENCDEC_CONFIG: &str = "encdec_config";
pub const META_VOCAB: &str = "seq2seq_vocab";
pub const META_TASK: &str = "seq2seq_task";

/// The PyTorch name of one of our tensors, and which rows of it ours fills: the split in_proj tensors of
/// the cross-attention map to row ranges of PyTorch's one tensor.
fn torch_name(name: &str) -> (String, Part) {
    for (suffix, part) in [(".q", Part::Q), (".kv", Part::Kv)] {
        if let Some(base) = name.strip_suffix(suffix)
            && base.contains("multihead_attn.in_proj_")
        {
            return (base.to_string(), part);
        }
    }
    (name.to_string(), Part::Whole)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Whole,
    /// The first C rows of a (3C, ...) tensor.
    Q,
    /// The last 2C rows.
    Kv,
}

/// The tensors of `model` under PyTorch's names (the split q / kv tensors joined), in layout order.
pub fn torch_tensors(model: &EncDec<f32>) -> Vec<NamedTensor> {
    torch_named(model, &model.params)
}

/// `flat` (parameters or gradients, in `model`'s layout) as tensors under PyTorch's names.
pub fn torch_named(model: &EncDec<f32>, flat: &[f32]) -> Vec<NamedTensor> {
    let mut out: Vec<NamedTensor> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for spec in model.layout.specs() {
        let values = &flat[spec.offset..spec.offset + spec.len];
        let (name, part) = torch_name(&spec.name);
        match part {
            Part::Whole | Part::Q => {
                let mut shape = spec.shape.clone();
                if part == Part::Q {
                    shape[0] *= 3;
                }
                index.insert(name.clone(), out.len());
                out.push(NamedTensor {
                    name,
                    shape,
                    values: values.to_vec(),
                });
            }
            Part::Kv => {
                let i = index[&name];
                out[i].values.extend_from_slice(values);
            }
        }
    }
    out
}

/// The model, its vocabulary and task as safetensors bytes.
pub fn save_encdec(model: &EncDec<f32>, vocab: &CharVocab, task: &str) -> Result<Vec<u8>> {
    let config = model.config.to_json();
    let chars = vocab.to_text();
    write_f32(
        &torch_tensors(model),
        &[
            ("format", "pt"),
            (META_ENCDEC_CONFIG, &config),
            (META_VOCAB, &chars),
            (META_TASK, task),
        ],
    )
}

/// A saved encoder-decoder, its vocabulary and task.
pub struct LoadedEncDec {
    pub model: EncDec<f32>,
    pub vocab: CharVocab,
    pub task: String,
}

/// Reads a file written by [`save_encdec`], checking every name and shape.
pub fn load_encdec(bytes: &[u8]) -> Result<LoadedEncDec> {
    let bad = |m: String| Error::Format(m);
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("this is not a safetensors file ({e})")))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    let config_json = meta.get(META_ENCDEC_CONFIG).ok_or_else(|| {
        bad(format!(
            "the file has no `{META_ENCDEC_CONFIG}` metadata: it is not an encoder-decoder saved by tplay train --objective seq2seq"
        ))
    })?;
    let config = ModelConfig::from_json(config_json)?;
    let vocab = CharVocab::from_text(meta.get(META_VOCAB).map_or("", String::as_str));
    let task = meta.get(META_TASK).cloned().unwrap_or_default();
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("this is not a valid safetensors file ({e})")))?;
    let mut model = EncDec::<f32>::new(config, 0)?;
    let specs = model.layout.specs().to_vec();
    let c = model.config.n_embd;
    for spec in &specs {
        let (name, part) = torch_name(&spec.name);
        let view = file
            .tensor(&name)
            .map_err(|_| bad(format!("the file has no tensor `{name}`")))?;
        let values = read_f32(&view, &name)?;
        let rows = |n: usize| values.len() / (3 * c) * n;
        let values = match part {
            Part::Whole => &values[..],
            Part::Q => &values[..rows(c).min(values.len())],
            Part::Kv => &values[rows(c).min(values.len())..],
        };
        if values.len() != spec.len {
            return Err(bad(format!(
                "tensor `{name}` has {} values where the config needs {}",
                values.len(),
                spec.len
            )));
        }
        model.params[spec.offset..spec.offset + spec.len].copy_from_slice(values);
    }
    Ok(LoadedEncDec { model, vocab, task })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn saves_with_torch_names_and_loads_back() {
        let mut config = ModelConfig::reference(9);
        config.n_layer = 1;
        config.n_embd = 8;
        config.n_head = 2;
        config.block_size = 6;
        let model = EncDec::<f32>::new(config, 4).expect("model");
        let vocab = CharVocab::from_text("abcdef");
        let bytes = save_encdec(&model, &vocab, "reverse").expect("save");
        let names: Vec<String> = torch_tensors(&model).into_iter().map(|t| t.name).collect();
        assert!(names.contains(&"decoder.layers.0.multihead_attn.in_proj_weight".to_string()));
        assert!(names.contains(&"decoder.layers.0.multihead_attn.in_proj_bias".to_string()));
        assert!(
            !names
                .iter()
                .any(|n| n.ends_with(".q") || n.ends_with(".kv")),
            "{names:?}"
        );
        let loaded = load_encdec(&bytes).expect("load");
        assert_eq!(loaded.model.params, model.params);
        assert_eq!(loaded.vocab, vocab);
        assert_eq!(loaded.task, "reverse");
        let err = load_encdec(&bytes[..20]).err().expect("an error");
        assert!(err.to_string().contains("safetensors"), "{err}");
    }
}
