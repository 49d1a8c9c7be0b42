//! The model's shape and options, as the JSON a person writes (`model.json`) and the safetensors metadata
//! stores. `validate` turns every impossible combination into a sentence saying what to change.

use serde::{Deserialize, Serialize};

use super::buffers::{Acts, Grads};
use super::lora::LoraConfig;
use super::mlm::Objective;
use crate::exec::Counter;
use crate::ops::attention_mask::AttentionMask;
use crate::ops::crossentropy_forward::IGNORE_INDEX;
use crate::{Result, invalid_input};

/// The feed-forward activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    /// GELU, tanh approximation (see `ops::gelu_forward`).
    #[default]
    Gelu,
}

/// How the model knows where a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Positional {
    /// Fixed sin/cos table added to the token embedding (no parameters).
    Sinusoidal,
    /// A learned (T, C) table added to the token embedding (GPT-2, nanoGPT's `wpe`).
    #[default]
    Learned,
    /// Rotary embedding of q and k inside attention (no parameters).
    Rope,
}

/// A decoder-only transformer (GPT). Sizes use llm.c's letters: V, L, NH, C, T.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// V: number of token ids.
    pub vocab_size: usize,
    /// L: number of transformer blocks.
    pub n_layer: usize,
    /// NH: attention heads per block; the head size is hs = C / NH.
    pub n_head: usize,
    /// C: width of the residual stream.
    pub n_embd: usize,
    /// T max: the longest context the model reads.
    pub block_size: usize,
    /// The feed-forward hidden width is ffn_mult * C (4 in GPT-2).
    #[serde(default = "default_ffn_mult")]
    pub ffn_mult: usize,
    #[serde(default)]
    pub activation: Activation,
    #[serde(default)]
    pub positional: Positional,
    /// Dropout probability used in training (embeddings, attention weights, both residual branches).
    #[serde(default)]
    pub dropout: f32,
    /// Biases in the linear layers and LayerNorms (nanoGPT's `bias`).
    #[serde(default = "default_true")]
    pub bias: bool,
    /// Which keys a query sees. Causal for a GPT; the block code takes it as a parameter.
    #[serde(default)]
    pub attention_mask: AttentionMask,
    /// Low-rank adapters on the blocks' linear layers (see [`super::lora`]); with them only the adapters train.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
    /// What the model learns: the next token (causal, GPT) or masked tokens (mlm, BERT: bidirectional
    /// attention, `[MASK]` as the last token id). Left out of the JSON for causal models.
    #[serde(default, skip_serializing_if = "Objective::is_causal")]
    pub objective: Objective,
    /// A classification head in place of the language-model head (fine-tuning an encoder, see
    /// [`super::classifier`]): the final LayerNorm's output mean-pooled over the positions, then a linear layer
    /// to the classes. `objective` then says what the encoder was pre-trained for (mlm keeps its `[MASK]` id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierConfig>,
}

/// The classification head's options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// K: the number of classes (at least 2).
    pub classes: usize,
}

fn default_ffn_mult() -> usize {
    4
}

fn default_true() -> bool {
    true
}

impl ModelConfig {
    /// The reference configuration of the benchmarks and the training test: L=4, NH=4, C=128, T=64.
    pub fn reference(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            n_layer: 4,
            n_head: 4,
            n_embd: 128,
            block_size: 64,
            ffn_mult: 4,
            activation: Activation::Gelu,
            positional: Positional::Learned,
            dropout: 0.0,
            bias: true,
            attention_mask: AttentionMask::Causal,
            lora: None,
            objective: Objective::Causal,
            classifier: None,
        }
    }

    /// The id of the `[MASK]` token: the last id of a masked-language model, none for a causal one.
    pub fn mask_token(&self) -> Option<u32> {
        (self.objective == Objective::Mlm).then(|| self.vocab_size as u32 - 1)
    }

    /// Checks a batch of `b` sequences of `t` tokens (`targets` optional) against this model: sizes, the block
    /// size and the vocabulary. Both devices call it before anything runs.
    pub fn check_batch(
        &self,
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        t: usize,
    ) -> Result<()> {
        let v = self.vocab_size;
        if b == 0 || t == 0 {
            invalid_input!("empty batch: B = {b}, T = {t}");
        }
        if t > self.block_size {
            invalid_input!(
                "sequence of {t} tokens is longer than the model's block_size {}",
                self.block_size
            );
        }
        if inputs.len() != b * t {
            invalid_input!("{} input tokens given for B*T = {b}*{t}", inputs.len());
        }
        if let Some(targets) = targets
            && targets.len() != b * t
        {
            invalid_input!("{} target tokens given for B*T = {b}*{t}", targets.len());
        }
        for &tok in inputs {
            if tok as usize >= v {
                invalid_input!("token id {tok} is outside the vocabulary of {v} tokens");
            }
        }
        if let (Some(head), Some(targets)) = (&self.classifier, targets) {
            // A classifier's targets: the B labels first, the rest the ignore index (see model::classifier).
            for (i, &label) in targets.iter().enumerate() {
                if i < b && label as usize >= head.classes {
                    invalid_input!(
                        "label {label} of sequence {i} is not one of the classifier's {} classes",
                        head.classes
                    );
                }
                if i >= b && label != IGNORE_INDEX {
                    invalid_input!(
                        "a classifier's targets are the B = {b} labels followed by the ignore index; target {i} is {label}"
                    );
                }
            }
            return Ok(());
        }
        // A target may also be the ignore index: a position that does not count (masked-language models).
        for &tok in targets.unwrap_or(&[]) {
            if tok as usize >= v && tok != IGNORE_INDEX {
                invalid_input!("target token id {tok} is outside the vocabulary of {v} tokens");
            }
        }
        Ok(())
    }

    /// Reads and validates a config from JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(json).map_err(|e| {
            crate::Error::Format(format!(
                "model config is not valid JSON for a model config: {e}"
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a config always serialises")
    }

    /// Checks that the sizes fit together.
    pub fn validate(&self) -> Result<()> {
        let c = self.n_embd;
        if self.vocab_size == 0 {
            invalid_input!("vocab_size is 0: a model needs at least one token");
        }
        if self.vocab_size > u32::MAX as usize {
            invalid_input!(
                "vocab_size {} does not fit token ids of 32 bits",
                self.vocab_size
            );
        }
        if self.n_layer == 0 {
            invalid_input!("n_layer is 0: a model needs at least one block");
        }
        if self.n_layer > 1024 {
            invalid_input!(
                "n_layer {} is more than the 1024 blocks this model handles",
                self.n_layer
            );
        }
        if self.n_head == 0 || c == 0 {
            invalid_input!(
                "n_head and n_embd must be at least 1 (got n_head {}, n_embd {c})",
                self.n_head
            );
        }
        if !c.is_multiple_of(self.n_head) {
            invalid_input!(
                "n_embd {c} is not divisible by n_head {}: every head gets n_embd / n_head channels; pick n_head among the divisors of {c}",
                self.n_head
            );
        }
        if self.positional == Positional::Rope && !(c / self.n_head).is_multiple_of(2) {
            invalid_input!(
                "rope rotates pairs of channels, so the head size n_embd / n_head = {} must be even",
                c / self.n_head
            );
        }
        if self.block_size == 0 {
            invalid_input!("block_size is 0: the model must read at least one token");
        }
        if self.ffn_mult == 0 {
            invalid_input!("ffn_mult is 0: the feed-forward layer needs a width (GPT-2 uses 4)");
        }
        if self.objective == Objective::Mlm {
            if self.attention_mask != AttentionMask::Bidirectional {
                invalid_input!(
                    "a masked-language model (objective mlm) reads the whole window: set attention_mask to bidirectional"
                );
            }
            if self.vocab_size < 2 {
                invalid_input!(
                    "a masked-language model needs its tokens and the [MASK] token: vocab_size must be at least 2"
                );
            }
        }
        if let Some(head) = &self.classifier {
            if head.classes < 2 {
                invalid_input!(
                    "a classifier needs at least 2 classes (got {})",
                    head.classes
                );
            }
            if self.lora.is_some() {
                invalid_input!(
                    "a classification head with LoRA adapters is not supported: fine-tune the whole model"
                );
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            invalid_input!("dropout {} must be in [0, 1)", self.dropout);
        }
        // Saturating sizes: a config read from a file may hold sizes whose products overflow usize
        // (and usize is 32 bits on wasm32); param_count would then panic or wrap.
        let params = self.param_count_saturating();
        if params > 2_000_000_000 {
            invalid_input!(
                "{params} parameters is more than this CPU model handles; make the model smaller"
            );
        }
        if let Some(lora) = &self.lora {
            lora.validate(self)?;
        }
        let table = self.block_size.saturating_mul(c);
        if table > 2_000_000_000 {
            invalid_input!(
                "block_size {} x n_embd {c} is too large a position table; make the context or the model smaller",
                self.block_size
            );
        }
        Ok(())
    }

    /// [`param_count`](Self::param_count) with saturating arithmetic, for validating untrusted sizes.
    fn param_count_saturating(&self) -> usize {
        let (v, c) = (self.vocab_size, self.n_embd);
        let f = self.ffn_mult.saturating_mul(c);
        let b = usize::from(self.bias);
        let (mul, cc) = (usize::saturating_mul, c.saturating_mul(c));
        let per_layer = [
            c,
            b * c, // ln_1
            mul(cc, 3),
            mul(b * 3, c), // c_attn
            cc,
            b * c, // attn.c_proj
            c,
            b * c, // ln_2
            mul(f, c),
            b * f, // c_fc
            mul(c, f),
            b * c, // mlp.c_proj
        ]
        .iter()
        .fold(0usize, |a, &x| a.saturating_add(x));
        let wpe = if self.positional == Positional::Learned {
            mul(self.block_size, c)
        } else {
            0
        };
        let lora = self.lora.as_ref().map_or(0, |l| l.param_count(self));
        let head = self
            .classifier
            .as_ref()
            .map_or(0, |h| mul(h.classes, c).saturating_add(h.classes));
        mul(v, c)
            .saturating_add(head)
            .saturating_add(wpe)
            .saturating_add(mul(self.n_layer, per_layer))
            .saturating_add(c.saturating_add(b * c))
            .saturating_add(lora)
    }

    /// hs: channels per head.
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// The feed-forward hidden width, ffn_mult * C.
    pub fn ffn_width(&self) -> usize {
        self.ffn_mult * self.n_embd
    }

    /// Number of parameters (the LM head is tied to wte and not counted twice).
    pub fn param_count(&self) -> usize {
        let (v, c, f) = (self.vocab_size, self.n_embd, self.ffn_width());
        let b = usize::from(self.bias);
        let per_layer = (c + b * c) // ln_1
            + (3 * c * c + b * 3 * c) // c_attn
            + (c * c + b * c) // attn.c_proj
            + (c + b * c) // ln_2
            + (f * c + b * f) // c_fc
            + (c * f + b * c); // mlp.c_proj
        let wpe = if self.positional == Positional::Learned {
            self.block_size * c
        } else {
            0
        };
        let head = self
            .classifier
            .as_ref()
            .map_or(0, |h| h.classes * c + h.classes);
        v * c + wpe + self.n_layer * per_layer + (c + b * c) + head + self.trainable_lora_count()
    }

    /// Parameters that train: all of them, or with LoRA the adapters alone.
    pub fn trainable_count(&self) -> usize {
        match &self.lora {
            Some(_) => self.trainable_lora_count(),
            None => self.param_count(),
        }
    }

    fn trainable_lora_count(&self) -> usize {
        self.lora.as_ref().map_or(0, |l| l.param_count(self))
    }

    /// Whether training draws dropout masks (the model's dropout or the adapters').
    pub fn has_dropout(&self) -> bool {
        self.dropout > 0.0 || self.lora.as_ref().is_some_and(|l| l.dropout > 0.0)
    }

    /// Floats of activations kept for the backward pass of one batch of (B, T) in training (the readable
    /// attention's maps, dropout masks when the config drops out): the buffers the model description allocates
    /// ([`Acts`](super::buffers::Acts)), counted, not a second formula.
    pub fn activation_count(&self, b: usize, t: usize) -> usize {
        let mut counter = Counter::default();
        let (bt, att) = (b * t, b * self.n_head * t * t);
        Acts::new(&mut counter, self, bt, att, self.has_dropout());
        counter.numbers
    }

    /// Bytes for training a batch of (B, T): parameters, gradients and AdamW's two moments of the trainable ones
    /// (f32 each), the saved activations and the backward's scratch ([`Grads`](super::buffers::Grads)), as the
    /// description allocates them.
    pub fn training_bytes(&self, b: usize, t: usize) -> usize {
        let mut counter = Counter::default();
        let (bt, att) = (b * t, b * self.n_head * t * t);
        let acts = Acts::new(&mut counter, self, bt, att, self.has_dropout());
        Grads::new(&mut counter, self, &acts);
        4 * (self.param_count() + 3 * self.trainable_count() + counter.numbers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_explains_what_to_change() {
        let mut config = ModelConfig::reference(65);
        config.validate().expect("the reference config is valid");
        config.n_head = 5;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("not divisible by n_head 5"), "{err}");
        let mut config = ModelConfig::reference(65);
        config.positional = Positional::Rope;
        config.n_embd = 12;
        config.n_head = 4; // hs = 3
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("must be even")
        );
        let mut config = ModelConfig::reference(65);
        config.dropout = 1.0;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("dropout")
        );
        let err = ModelConfig::from_json(r#"{"vocab_size": 10, "n_layer": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field"), "{err}");
        let err = ModelConfig::from_json(r#"{"vocab_size": 10, "n_layer": 1, "n_head": 1, "n_embd": 4, "block_size": 8, "heads": 2}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn json_round_trip_with_defaults() {
        let config = ModelConfig::from_json(
            r#"{"vocab_size": 65, "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64}"#,
        )
        .expect("valid");
        assert_eq!(config, ModelConfig::reference(65));
        assert_eq!(
            ModelConfig::from_json(&config.to_json()).expect("round trip"),
            config
        );
    }

    #[test]
    fn param_count_matches_gpt2_small() {
        // GPT-2 small: V=50257, L=12, NH=12, C=768, T=1024 has 124,439,808 parameters (tied head).
        let config = ModelConfig {
            vocab_size: 50257,
            n_layer: 12,
            n_head: 12,
            n_embd: 768,
            block_size: 1024,
            ..ModelConfig::reference(50257)
        };
        assert_eq!(config.param_count(), 124_439_808);
        assert!(config.training_bytes(4, 64) > 4 * 4 * 124_439_808);
    }
}
