//! LoRA: low-rank adapters on a block's linear layers (Hu et al. 2021), with PEFT's conventions so adapters
//! move between this project and `peft` as they are.
//!
//! ```text
//! out (BT, OC) = inp (BT, IN) @ W^T + b  +  scaling * dropout(inp) @ A^T @ B^T      scaling = alpha / r
//! A (r, IN): uniform(-1/sqrt(IN), 1/sqrt(IN)) (PEFT's kaiming_uniform with a = sqrt(5));  B (OC, r): zeros
//! ```
//!
//! The adapters are a wrapper inside the one model description: the config holds an optional [`LoraConfig`],
//! the parameter layout appends one `lora_A` / `lora_B` pair per adapted linear layer after the base tensors,
//! and [`super::transformer`] routes those four layers through `linear_forward` / `linear_backward`. With
//! adapters only they train: gradients and AdamW's moments exist for the tensors from
//! [`ParamLayout::first_trainable`](super::params::ParamLayout) on, the adapters, and the frozen base gets none.

use serde::{Deserialize, Serialize};

use super::config::ModelConfig;
use super::gpt::Gpt;
use crate::ops::float::Float;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// A linear layer of a block that can carry an adapter, named as PEFT's `target_modules` name it for GPT-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LoraTarget {
    /// attn.c_attn: the q, k, v projection (C -> 3C).
    #[serde(rename = "c_attn")]
    Qkv,
    /// attn.c_proj: attention's output projection (C -> C).
    #[serde(rename = "attn.c_proj")]
    AttnProj,
    /// mlp.c_fc: the feed-forward layer in (C -> F).
    #[serde(rename = "c_fc")]
    Fc,
    /// mlp.c_proj: the feed-forward layer out (F -> C).
    #[serde(rename = "mlp.c_proj")]
    FcProj,
}

impl LoraTarget {
    pub const ALL: [LoraTarget; 4] = [Self::Qkv, Self::AttnProj, Self::Fc, Self::FcProj];

    /// The name in `target_modules` (and in `--lora-targets`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Qkv => "c_attn",
            Self::AttnProj => "attn.c_proj",
            Self::Fc => "c_fc",
            Self::FcProj => "mlp.c_proj",
        }
    }

    /// The module's path inside a block (`transformer.h.{l}.<module>`).
    pub fn module(self) -> &'static str {
        match self {
            Self::Qkv => "attn.c_attn",
            Self::AttnProj => "attn.c_proj",
            Self::Fc => "mlp.c_fc",
            Self::FcProj => "mlp.c_proj",
        }
    }

    /// Position in [`LoraTarget::ALL`] (and the dropout site 3 + index inside a block).
    pub fn index(self) -> usize {
        self as usize
    }

    /// (IN, OC) of the layer.
    pub fn shape(self, config: &ModelConfig) -> (usize, usize) {
        let (c, f) = (config.n_embd, config.ffn_width());
        match self {
            Self::Qkv => (c, 3 * c),
            Self::AttnProj => (c, c),
            Self::Fc => (c, f),
            Self::FcProj => (f, c),
        }
    }

    /// Targets from names as PEFT's `target_modules` spell them: `c_attn`, `attn.c_proj`, `c_fc`, `mlp.c_proj`,
    /// and `c_proj` for both projections (PEFT matches it as a suffix of both modules).
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<LoraTarget>> {
        let mut out = Vec::new();
        for name in names {
            let found: &[LoraTarget] = match name.as_ref().trim() {
                "c_attn" | "attn.c_attn" => &[Self::Qkv],
                "attn.c_proj" => &[Self::AttnProj],
                "c_fc" | "mlp.c_fc" => &[Self::Fc],
                "mlp.c_proj" => &[Self::FcProj],
                "c_proj" => &[Self::AttnProj, Self::FcProj],
                other => invalid_input!(
                    "LoRA target {other:?} is not a linear layer of GPT-2's blocks: use c_attn, attn.c_proj, c_fc, mlp.c_proj (or c_proj for both projections)"
                ),
            };
            out.extend_from_slice(found);
        }
        crate::sort::sort(&mut out);
        out.dedup();
        Ok(out)
    }
}

/// Low-rank adapters: rank r, alpha (the update is scaled by alpha / r), dropout on the adapter's input, and the
/// layers that get one (in every block).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    pub r: usize,
    pub alpha: f32,
    #[serde(default)]
    pub dropout: f32,
    pub targets: Vec<LoraTarget>,
}

impl LoraConfig {
    /// The update's scale, alpha / r (PEFT without rsLoRA).
    pub fn scaling(&self) -> f32 {
        self.alpha / self.r as f32
    }

    /// Whether `target` has an adapter.
    pub fn has(&self, target: LoraTarget) -> bool {
        self.targets.contains(&target)
    }

    pub fn validate(&self, config: &ModelConfig) -> Result<()> {
        if self.r == 0 {
            invalid_input!("LoRA rank r is 0: an adapter needs a rank of at least 1 (8 is common)");
        }
        if self.targets.is_empty() {
            invalid_input!(
                "LoRA has no target layers: name some of c_attn, attn.c_proj, c_fc, mlp.c_proj"
            );
        }
        if !self.targets.is_sorted() || self.targets.windows(2).any(|w| w[0] == w[1]) {
            invalid_input!(
                "LoRA targets must be listed once each, in the order c_attn, attn.c_proj, c_fc, mlp.c_proj"
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            invalid_input!("LoRA alpha {} must be a positive number", self.alpha);
        }
        if !(0.0..1.0).contains(&self.dropout) {
            invalid_input!("LoRA dropout {} must be in [0, 1)", self.dropout);
        }
        let smallest = self
            .targets
            .iter()
            .map(|t| {
                let (i, o) = t.shape(config);
                i.min(o)
            })
            .min()
            .unwrap_or(0);
        if self.r > smallest {
            invalid_input!(
                "LoRA rank {} is larger than the smallest adapted layer ({smallest}): a low-rank update must have a lower rank",
                self.r
            );
        }
        Ok(())
    }

    /// Numbers in every adapter of the model: r * (IN + OC) per adapted layer per block.
    pub fn param_count(&self, config: &ModelConfig) -> usize {
        let per_block: usize = self
            .targets
            .iter()
            .map(|t| {
                let (i, o) = t.shape(config);
                self.r.saturating_mul(i.saturating_add(o))
            })
            .sum();
        per_block.saturating_mul(config.n_layer)
    }
}

/// PEFT's initialisation of the adapters in `params` (the layout's `lora_A` / `lora_B` tensors): A uniform in
/// +-1/sqrt(IN) (kaiming_uniform with a = sqrt(5)), B zero, so the adapted model starts as the base model.
pub(crate) fn init_adapters<R: Float>(model: &mut Gpt<R>, seed: u64) {
    if model.config.lora.is_none() {
        return;
    }
    let mut rng = Rng::new(seed ^ 0x4c6f_5241); // "LoRA": its own stream, apart from the base weights'
    for spec in &model.layout.specs[model.layout.first_trainable..] {
        let view = &mut model.params[spec.offset..spec.offset + spec.len];
        if spec.name.ends_with("lora_A.weight") {
            let bound = 1.0 / (spec.shape[1] as f64).sqrt();
            for x in view.iter_mut() {
                *x = R::from_f64((2.0 * rng.uniform() - 1.0) * bound);
            }
        } else {
            view.fill(R::ZERO);
        }
    }
}

impl Gpt<f32> {
    /// This model with adapters added (PEFT's initialisation from `seed`): the base weights are kept as they are
    /// and frozen; the adapted model starts with the base model's outputs (B = 0).
    pub fn with_lora(&self, lora: LoraConfig, seed: u64) -> Result<Gpt<f32>> {
        if self.config.lora.is_some() {
            invalid_input!("the model has adapters already: merge them first to add new ones");
        }
        let config = ModelConfig {
            lora: Some(lora),
            ..self.config.clone()
        };
        config.validate()?;
        let mut params = self.params.clone();
        params.resize(super::params::ParamLayout::new(&config).total, 0.0);
        let mut model = Gpt::from_params(config, params)?;
        init_adapters(&mut model, seed);
        Ok(model)
    }

    /// The adapters' numbers (the layout's tensors from `first_trainable` on), empty without LoRA.
    pub fn adapter_params(&self) -> &[f32] {
        match self.config.lora {
            Some(_) => &self.params[self.layout.trainable_offset()..],
            None => &[],
        }
    }

    /// The base model with the update merged in: W += scaling * B @ A for every adapter (PEFT's
    /// `merge_and_unload`). Without adapters, a copy.
    pub fn merge_lora(&self) -> Result<Gpt<f32>> {
        let config = ModelConfig {
            lora: None,
            ..self.config.clone()
        };
        Gpt::from_params(config, self.base_with_update(1.0))
    }

    /// The inverse of [`merge_lora`](Self::merge_lora): `merged` (base weights with the update of `adapted`'s
    /// adapters in) back to the adapted model, W -= scaling * B @ A, the adapters attached again.
    pub fn unmerge_lora(merged: &Gpt<f32>, adapted: &Gpt<f32>) -> Result<Gpt<f32>> {
        if adapted.config.lora.is_none() {
            invalid_input!("the adapted model has no LoRA adapters to unmerge");
        }
        let base_config = ModelConfig {
            lora: None,
            ..adapted.config.clone()
        };
        if merged.config != base_config {
            invalid_input!("the merged model does not have the adapted model's base config");
        }
        let mut params = merged.params.clone();
        params.extend_from_slice(adapted.adapter_params());
        let with = Gpt::from_params(adapted.config.clone(), params)?;
        let mut params = with.base_with_update(-1.0);
        params.extend_from_slice(adapted.adapter_params());
        Gpt::from_params(adapted.config.clone(), params)
    }

    /// The base weights with sign * scaling * B @ A added to every adapted W (the base weights alone without LoRA).
    fn base_with_update(&self, sign: f32) -> Vec<f32> {
        let base_total = self.layout.trainable_offset();
        let mut params = self.params[..base_total].to_vec();
        let Some(lora) = &self.config.lora else {
            return params;
        };
        let (lay, r, s) = (&self.layout, lora.r, f64::from(sign * lora.scaling()));
        for ids in &lay.layers {
            for (target, pair) in LoraTarget::ALL.iter().zip(&ids.lora) {
                let Some(pair) = pair else { continue };
                let (i, o) = target.shape(&self.config);
                let (a, b) = (lay.get(&self.params, pair.a), lay.get(&self.params, pair.b));
                let w = &lay.specs[target_weight(ids, *target)];
                let w = &mut params[w.offset..w.offset + w.len];
                // W (OC, IN) += s * B (OC, r) @ A (r, IN), each entry summed in f64.
                for row in 0..o {
                    for col in 0..i {
                        let sum: f64 = (0..r)
                            .map(|k| f64::from(b[row * r + k]) * f64::from(a[k * i + col]))
                            .sum();
                        w[row * i + col] += (s * sum) as f32;
                    }
                }
            }
        }
        params
    }
}

/// The spec id of the base weight an adapter of `target` wraps.
pub(crate) fn target_weight(ids: &super::params::LayerIds, target: LoraTarget) -> usize {
    match target {
        LoraTarget::Qkv => ids.qkv_w,
        LoraTarget::AttnProj => ids.attproj_w,
        LoraTarget::Fc => ids.fc_w,
        LoraTarget::FcProj => ids.fcproj_w,
    }
}
