//! The GPT itself: parameters, explicit activation buffers, forward, backward, loss (llm.c's
//! `gpt2_forward` / `gpt2_backward`, pre-norm blocks as nanoGPT).
//!
//! ```text
//! x = wte[tokens] (+ wpe or sinusoids) -> dropout                        encoded (B, T, C)
//! for each block:  x = x + dropout(c_proj(attention(ln_1(x))))           residual2
//!                  x = x + dropout(mlp.c_proj(act(mlp.c_fc(ln_2(x)))))   residual3
//! logits = ln_f(x) @ wte^T                                               (B, T, V), head tied to wte
//! loss = mean over (b, t) of -ln softmax(logits)[target]
//! ```
//!
//! Generic over the number type: `Gpt<f32>` is the model; `Gpt<f64>` is what the whole-model
//! finite-difference test checks. Gradients follow the ops' rule: parameter gradients accumulate (so
//! micro-batches add up until `zero_grad`), activation gradients are assigned, and the residual stream's
//! gradient is one buffer that each LayerNorm backward adds into (the skip path passes it through as is).

use super::config::{Activation, ModelConfig, Positional};
use super::params::ParamLayout;
use crate::ops::attention_backward::attention_backward_cpu;
use crate::ops::attention_forward::attention_forward_cpu;
use crate::ops::crossentropy_backward::crossentropy_backward_cpu;
use crate::ops::crossentropy_forward::crossentropy_forward_cpu;
use crate::ops::dropout_backward::dropout_backward_cpu;
use crate::ops::dropout_forward::{dropout_forward_cpu, pcg_hash};
use crate::ops::encoder_backward::encoder_backward_cpu;
use crate::ops::encoder_forward::{encoder_forward_cpu, sinusoidal_table};
use crate::ops::float::Float;
use crate::ops::gelu_backward::gelu_backward_fast_cpu;
use crate::ops::gelu_forward::gelu_forward_fast_cpu;
use crate::ops::layernorm_backward::layernorm_backward_cpu;
use crate::ops::layernorm_forward::layernorm_forward_cpu;
use crate::ops::matmul_backward::matmul_backward_fast_cpu;
use crate::ops::matmul_forward::matmul_forward_fast_cpu;
use crate::ops::relu_backward::relu_backward_cpu;
use crate::ops::relu_forward::relu_forward_cpu;
use crate::ops::residual_forward::residual_forward_cpu;
use crate::ops::rope_backward::rope_backward_cpu;
use crate::ops::rope_forward::rope_forward_cpu;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// What one block keeps from its forward pass (for the backward pass and the page's captures).
#[derive(Clone, Debug, Default)]
pub struct LayerActs<R> {
    pub ln1: Vec<R>,          // (B, T, C)
    pub ln1_mean: Vec<R>,     // (B, T)
    pub ln1_rstd: Vec<R>,     // (B, T)
    pub qkv: Vec<R>,          // (B, T, 3C) c_attn output
    pub qkv_rope: Vec<R>,     // (B, T, 3C) q, k rotated (rope only, else empty)
    pub preatt: Vec<R>,       // (B, NH, T, T) scaled scores
    pub att: Vec<R>,          // (B, NH, T, T) softmax weights
    pub att_mask: Vec<R>, // (B, NH, T, T) attention dropout mask (training with dropout, else empty)
    pub atty: Vec<R>,     // (B, T, C) heads concatenated
    pub attproj: Vec<R>,  // (B, T, C) attn.c_proj output
    pub attproj_mask: Vec<R>, // (B, T, C) residual dropout mask (or empty)
    pub residual2: Vec<R>, // (B, T, C)
    pub ln2: Vec<R>,      // (B, T, C)
    pub ln2_mean: Vec<R>, // (B, T)
    pub ln2_rstd: Vec<R>, // (B, T)
    pub fch: Vec<R>,      // (B, T, F) c_fc output
    pub fch_act: Vec<R>,  // (B, T, F) after ReLU/GELU
    pub fcproj: Vec<R>,   // (B, T, C) mlp.c_proj output
    pub fcproj_mask: Vec<R>, // (B, T, C) residual dropout mask (or empty)
    pub residual3: Vec<R>, // (B, T, C) the block's output
}

/// Every activation of the last forward pass, for a batch of (B, T).
#[derive(Clone, Debug, Default)]
pub struct Acts<R> {
    pub b: usize,
    pub t: usize,
    /// Whether dropout masks were applied (training with dropout > 0).
    pub dropout: bool,
    pub encoded: Vec<R>, // (B, T, C) embeddings after dropout: the input of block 0
    pub encoded_mask: Vec<R>, // (B, T, C) embedding dropout mask (or empty)
    pub layers: Vec<LayerActs<R>>,
    pub lnf: Vec<R>,      // (B, T, C)
    pub lnf_mean: Vec<R>, // (B, T)
    pub lnf_rstd: Vec<R>, // (B, T)
    pub logits: Vec<R>,   // (B, T, V)
    pub probs: Vec<R>,    // (B, T, V) (filled when targets were given)
    pub losses: Vec<R>,   // (B, T) (filled when targets were given)
    /// A (B, T, C) scratch buffer (dropout outputs).
    tmp: Vec<R>,
}

/// Gradient scratch buffers of the backward pass, reused across blocks.
#[derive(Default)]
struct GradScratch<R> {
    dlogits: Vec<R>,   // (B, T, V)
    dresidual: Vec<R>, // (B, T, C) the residual stream's gradient
    dln: Vec<R>,       // (B, T, C)
    dproj: Vec<R>,     // (B, T, C)
    datty: Vec<R>,     // (B, T, C)
    dfch_act: Vec<R>,  // (B, T, F)
    dfch: Vec<R>,      // (B, T, F)
    dqkv: Vec<R>,      // (B, T, 3C)
    dqkv_rope: Vec<R>, // (B, T, 3C)
    dpreatt: Vec<R>,   // (B, NH, T, T)
    datt: Vec<R>,      // (B, NH, T, T)
}

/// A GPT with its parameters, gradients and the activations of its last forward pass.
pub struct Gpt<R: Float = f32> {
    pub config: ModelConfig,
    pub layout: ParamLayout,
    /// All parameters, flat, in `layout` order.
    pub params: Vec<R>,
    /// Their gradients (same layout); empty until the first backward pass.
    pub grads: Vec<R>,
    /// The sinusoidal position table (block_size, C), empty for the other position kinds.
    pos_table: Vec<R>,
    acts: Acts<R>,
    scratch: GradScratch<R>,
    inputs: Vec<u32>,
    targets: Vec<u32>,
}

/// The dropout seed of one site (layer, which dropout) of one forward pass.
pub(crate) fn site_seed(seed: u64, layer: usize, site: u32) -> u32 {
    pcg_hash(seed as u32 ^ pcg_hash((seed >> 32) as u32 ^ pcg_hash(layer as u32 * 4 + site)))
}

fn resize<R: Float>(buf: &mut Vec<R>, len: usize) {
    buf.clear();
    buf.resize(len, R::ZERO);
}

impl<R: Float> Gpt<R> {
    /// A new model with nanoGPT's initialisation from `seed`: weights normal(0, 0.02), the two residual
    /// projections (attn.c_proj, mlp.c_proj) normal(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm weights 1.
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let layout = ParamLayout::new(&config);
        let mut params = vec![R::ZERO; layout.total];
        let mut rng = Rng::new(seed);
        let proj_std = 0.02 / (2.0 * config.n_layer as f64).sqrt();
        for spec in &layout.specs {
            let view = &mut params[spec.offset..spec.offset + spec.len];
            let name = spec.name.as_str();
            if name.ends_with(".bias") {
                continue; // zeros
            } else if name.contains("ln_") {
                view.fill(R::ONE);
            } else {
                let std = if name.ends_with("c_proj.weight") {
                    proj_std
                } else {
                    0.02
                };
                for x in view.iter_mut() {
                    *x = R::from_f64(rng.normal() * std);
                }
            }
        }
        Self::from_params(config, params)
    }

    /// A model around existing parameters (the layout of [`ParamLayout::new`]).
    pub fn from_params(config: ModelConfig, params: Vec<R>) -> Result<Self> {
        config.validate()?;
        let layout = ParamLayout::new(&config);
        if params.len() != layout.total {
            invalid_input!(
                "{} parameter values given, the config needs {}",
                params.len(),
                layout.total
            );
        }
        let mut pos_table = Vec::new();
        if config.positional == Positional::Sinusoidal {
            pos_table = vec![R::ZERO; config.block_size * config.n_embd];
            sinusoidal_table(&mut pos_table, 0, config.block_size, config.n_embd);
        }
        Ok(Self {
            config,
            layout,
            params,
            grads: Vec::new(),
            pos_table,
            acts: Acts::default(),
            scratch: GradScratch::default(),
            inputs: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// The activations of the last forward pass.
    pub fn acts(&self) -> &Acts<R> {
        &self.acts
    }

    /// Sets every gradient to 0 (allocating them on first use).
    pub fn zero_grad(&mut self) {
        resize(&mut self.grads, self.layout.total);
    }

    /// Checks token ids and sizes before anything runs (see [`ModelConfig::check_batch`]).
    pub fn check_batch(
        &self,
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        t: usize,
    ) -> Result<()> {
        self.config.check_batch(inputs, targets, b, t)
    }

    fn ensure_acts(&mut self, b: usize, t: usize, dropout: bool) {
        let cfg = &self.config;
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let (bt, att) = (b * t, b * nh * t * t);
        let rope = cfg.positional == Positional::Rope;
        let a = &mut self.acts;
        if a.b == b && a.t == t && a.dropout == dropout && a.layers.len() == cfg.n_layer {
            return;
        }
        a.b = b;
        a.t = t;
        a.dropout = dropout;
        let drop = |n: usize| if dropout { n } else { 0 };
        resize(&mut a.encoded, bt * c);
        resize(&mut a.encoded_mask, drop(bt * c));
        resize(&mut a.tmp, bt * c);
        a.layers.resize_with(cfg.n_layer, LayerActs::default);
        for la in &mut a.layers {
            resize(&mut la.ln1, bt * c);
            resize(&mut la.ln1_mean, bt);
            resize(&mut la.ln1_rstd, bt);
            resize(&mut la.qkv, bt * 3 * c);
            resize(&mut la.qkv_rope, if rope { bt * 3 * c } else { 0 });
            resize(&mut la.preatt, att);
            resize(&mut la.att, att);
            resize(&mut la.att_mask, drop(att));
            resize(&mut la.atty, bt * c);
            resize(&mut la.attproj, bt * c);
            resize(&mut la.attproj_mask, drop(bt * c));
            resize(&mut la.residual2, bt * c);
            resize(&mut la.ln2, bt * c);
            resize(&mut la.ln2_mean, bt);
            resize(&mut la.ln2_rstd, bt);
            resize(&mut la.fch, bt * f);
            resize(&mut la.fch_act, bt * f);
            resize(&mut la.fcproj, bt * c);
            resize(&mut la.fcproj_mask, drop(bt * c));
            resize(&mut la.residual3, bt * c);
        }
        resize(&mut a.lnf, bt * c);
        resize(&mut a.lnf_mean, bt);
        resize(&mut a.lnf_rstd, bt);
        resize(&mut a.logits, bt * v);
        resize(&mut a.probs, bt * v);
        resize(&mut a.losses, bt);
    }

    /// The forward pass over a batch of `b` sequences of `t` tokens (`inputs` (B, T), row-major).
    /// With `targets` (B, T) it also computes the loss and returns its mean. `dropout_seed` turns on
    /// training mode: dropout with the config's probability, masks drawn from the seed. `None` is
    /// evaluation (no dropout).
    pub fn forward(
        &mut self,
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        t: usize,
        dropout_seed: Option<u64>,
    ) -> Result<Option<f64>> {
        self.check_batch(inputs, targets, b, t)?;
        let p_drop = self.config.dropout;
        let dropout = dropout_seed.is_some() && p_drop > 0.0;
        let seed = dropout_seed.unwrap_or(0);
        self.ensure_acts(b, t, dropout);
        self.inputs.clear();
        self.inputs.extend_from_slice(inputs);
        self.targets.clear();
        if let Some(targets) = targets {
            self.targets.extend_from_slice(targets);
        }
        let cfg = &self.config;
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let bt = b * t;
        let (lay, params, a) = (&self.layout, &self.params[..], &mut self.acts);

        // Embeddings.
        let pos: Option<&[R]> = match cfg.positional {
            Positional::Learned => {
                Some(&lay.get(params, lay.wpe.expect("learned positions have wpe"))[..t * c])
            }
            Positional::Sinusoidal => Some(&self.pos_table[..t * c]),
            Positional::Rope => None,
        };
        if dropout {
            encoder_forward_cpu(&mut a.tmp, inputs, lay.get(params, lay.wte), pos, b, t, c);
            dropout_forward_cpu(
                &mut a.encoded,
                &mut a.encoded_mask,
                &a.tmp,
                p_drop,
                site_seed(seed, 0, 0),
                bt * c,
            );
        } else {
            encoder_forward_cpu(
                &mut a.encoded,
                inputs,
                lay.get(params, lay.wte),
                pos,
                b,
                t,
                c,
            );
        }

        for l in 0..cfg.n_layer {
            let ids = &lay.layers[l];
            let (before, rest) = a.layers.split_at_mut(l);
            let la = &mut rest[0];
            let residual: &[R] = if l == 0 {
                &a.encoded
            } else {
                &before[l - 1].residual3
            };
            let layer_seed = |site| site_seed(seed, l + 1, site);

            layernorm_forward_cpu(
                &mut la.ln1,
                &mut la.ln1_mean,
                &mut la.ln1_rstd,
                residual,
                lay.get(params, ids.ln1_w),
                lay.opt(params, ids.ln1_b),
                b,
                t,
                c,
            );
            matmul_forward_fast_cpu(
                &mut la.qkv,
                &la.ln1,
                lay.get(params, ids.qkv_w),
                lay.opt(params, ids.qkv_b),
                bt,
                c,
                3 * c,
            );
            let qkv: &[R] = if cfg.positional == Positional::Rope {
                rope_forward_cpu(&mut la.qkv_rope, &la.qkv, 0, b, t, c, nh);
                &la.qkv_rope
            } else {
                &la.qkv
            };
            if dropout {
                crate::ops::dropout_forward::dropout_mask_cpu(
                    &mut la.att_mask,
                    p_drop,
                    layer_seed(0),
                    b * nh * t * t,
                );
            }
            let att_mask = dropout.then_some(&la.att_mask[..]);
            attention_forward_cpu(
                &mut la.atty,
                &mut la.preatt,
                &mut la.att,
                qkv,
                att_mask,
                cfg.attention_mask,
                b,
                t,
                c,
                nh,
            );
            matmul_forward_fast_cpu(
                &mut la.attproj,
                &la.atty,
                lay.get(params, ids.attproj_w),
                lay.opt(params, ids.attproj_b),
                bt,
                c,
                c,
            );
            if dropout {
                dropout_forward_cpu(
                    &mut a.tmp,
                    &mut la.attproj_mask,
                    &la.attproj,
                    p_drop,
                    layer_seed(1),
                    bt * c,
                );
                residual_forward_cpu(&mut la.residual2, residual, &a.tmp, bt * c);
            } else {
                residual_forward_cpu(&mut la.residual2, residual, &la.attproj, bt * c);
            }

            layernorm_forward_cpu(
                &mut la.ln2,
                &mut la.ln2_mean,
                &mut la.ln2_rstd,
                &la.residual2,
                lay.get(params, ids.ln2_w),
                lay.opt(params, ids.ln2_b),
                b,
                t,
                c,
            );
            matmul_forward_fast_cpu(
                &mut la.fch,
                &la.ln2,
                lay.get(params, ids.fc_w),
                lay.opt(params, ids.fc_b),
                bt,
                c,
                f,
            );
            match cfg.activation {
                Activation::Gelu => gelu_forward_fast_cpu(&mut la.fch_act, &la.fch, bt * f),
                Activation::Relu => relu_forward_cpu(&mut la.fch_act, &la.fch, bt * f),
            }
            matmul_forward_fast_cpu(
                &mut la.fcproj,
                &la.fch_act,
                lay.get(params, ids.fcproj_w),
                lay.opt(params, ids.fcproj_b),
                bt,
                f,
                c,
            );
            if dropout {
                dropout_forward_cpu(
                    &mut a.tmp,
                    &mut la.fcproj_mask,
                    &la.fcproj,
                    p_drop,
                    layer_seed(2),
                    bt * c,
                );
                residual_forward_cpu(&mut la.residual3, &la.residual2, &a.tmp, bt * c);
            } else {
                residual_forward_cpu(&mut la.residual3, &la.residual2, &la.fcproj, bt * c);
            }
        }

        let last = &a.layers[cfg.n_layer - 1].residual3;
        layernorm_forward_cpu(
            &mut a.lnf,
            &mut a.lnf_mean,
            &mut a.lnf_rstd,
            last,
            lay.get(params, lay.lnf_w),
            lay.opt(params, lay.lnf_b),
            b,
            t,
            c,
        );
        matmul_forward_fast_cpu(
            &mut a.logits,
            &a.lnf,
            lay.get(params, lay.wte),
            None,
            bt,
            c,
            v,
        );
        let Some(targets) = targets else {
            return Ok(None);
        };
        crossentropy_forward_cpu(&mut a.losses, &mut a.probs, &a.logits, targets, b, t, v);
        let mean = a.losses.iter().map(|l| l.to_f64()).sum::<f64>() / bt as f64;
        Ok(Some(mean))
    }

    /// The backward pass of the last forward pass (which must have had targets): adds the gradient of
    /// `loss_scale * mean loss` to `grads` (allocated and zeroed on first use). Gradient accumulation
    /// over k micro-batches uses loss_scale = 1/k.
    pub fn backward(&mut self, loss_scale: f64) -> Result<()> {
        let (b, t) = (self.acts.b, self.acts.t);
        if b == 0 || self.targets.len() != b * t {
            invalid_input!("backward needs a forward pass with targets first");
        }
        if self.grads.len() != self.layout.total {
            self.zero_grad();
        }
        let cfg = &self.config;
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let (bt, natt) = (b * t, b * nh * t * t);
        let rope = cfg.positional == Positional::Rope;
        let dropout = self.acts.dropout;
        let s = &mut self.scratch;
        for (buf, len) in [
            (&mut s.dlogits, bt * v),
            (&mut s.dresidual, bt * c),
            (&mut s.dln, bt * c),
            (&mut s.dproj, bt * c),
            (&mut s.datty, bt * c),
            (&mut s.dfch_act, bt * f),
            (&mut s.dfch, bt * f),
            (&mut s.dqkv, bt * 3 * c),
            (&mut s.dqkv_rope, if rope { bt * 3 * c } else { 0 }),
            (&mut s.dpreatt, natt),
            (&mut s.datt, natt),
        ] {
            if buf.len() != len {
                resize(buf, len);
            }
        }
        let (lay, params, a) = (&self.layout, &self.params[..], &self.acts);
        let mut g = lay.split_mut(&mut self.grads);
        let mut take = |id: usize| std::mem::take(&mut g[id]);

        // Loss and head. dwte collects the head's gradient here and the embedding's at the end.
        let dlosses = vec![R::from_f64(loss_scale / bt as f64); bt];
        crossentropy_backward_cpu(&mut s.dlogits, &dlosses, &a.probs, &self.targets, b, t, v);
        let dwte = take(lay.wte);
        matmul_backward_fast_cpu(
            &mut s.dln,
            dwte,
            None,
            &s.dlogits,
            &a.lnf,
            lay.get(params, lay.wte),
            bt,
            c,
            v,
        );
        s.dresidual.fill(R::ZERO);
        let last = &a.layers[cfg.n_layer - 1].residual3;
        let (dlnf_w, dlnf_b) = (take(lay.lnf_w), lay.lnf_b.map(&mut take));
        layernorm_backward_cpu(
            &mut s.dresidual,
            dlnf_w,
            dlnf_b,
            &s.dln,
            last,
            lay.get(params, lay.lnf_w),
            &a.lnf_mean,
            &a.lnf_rstd,
            b,
            t,
            c,
        );

        for l in (0..cfg.n_layer).rev() {
            let ids = &lay.layers[l];
            let la = &a.layers[l];
            let residual: &[R] = if l == 0 {
                &a.encoded
            } else {
                &a.layers[l - 1].residual3
            };
            // dresidual holds d residual3. The skip path passes it on unchanged; the MLP branch gets it too.
            if dropout {
                dropout_backward_cpu(&mut s.dproj, &s.dresidual, &la.fcproj_mask, bt * c);
            } else {
                s.dproj.copy_from_slice(&s.dresidual);
            }
            let (dw, db) = (take(ids.fcproj_w), ids.fcproj_b.map(&mut take));
            matmul_backward_fast_cpu(
                &mut s.dfch_act,
                dw,
                db,
                &s.dproj,
                &la.fch_act,
                lay.get(params, ids.fcproj_w),
                bt,
                f,
                c,
            );
            match cfg.activation {
                Activation::Gelu => {
                    gelu_backward_fast_cpu(&mut s.dfch, &la.fch, &s.dfch_act, bt * f)
                }
                Activation::Relu => relu_backward_cpu(&mut s.dfch, &la.fch, &s.dfch_act, bt * f),
            }
            let (dw, db) = (take(ids.fc_w), ids.fc_b.map(&mut take));
            matmul_backward_fast_cpu(
                &mut s.dln,
                dw,
                db,
                &s.dfch,
                &la.ln2,
                lay.get(params, ids.fc_w),
                bt,
                c,
                f,
            );
            let (dw, db) = (take(ids.ln2_w), ids.ln2_b.map(&mut take));
            layernorm_backward_cpu(
                &mut s.dresidual,
                dw,
                db,
                &s.dln,
                &la.residual2,
                lay.get(params, ids.ln2_w),
                &la.ln2_mean,
                &la.ln2_rstd,
                b,
                t,
                c,
            );

            // dresidual now holds d residual2; the attention branch.
            if dropout {
                dropout_backward_cpu(&mut s.dproj, &s.dresidual, &la.attproj_mask, bt * c);
            } else {
                s.dproj.copy_from_slice(&s.dresidual);
            }
            let (dw, db) = (take(ids.attproj_w), ids.attproj_b.map(&mut take));
            matmul_backward_fast_cpu(
                &mut s.datty,
                dw,
                db,
                &s.dproj,
                &la.atty,
                lay.get(params, ids.attproj_w),
                bt,
                c,
                c,
            );
            let att_mask = dropout.then_some(&la.att_mask[..]);
            if rope {
                attention_backward_cpu(
                    &mut s.dqkv_rope,
                    &mut s.dpreatt,
                    &mut s.datt,
                    &s.datty,
                    &la.qkv_rope,
                    &la.att,
                    att_mask,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
                rope_backward_cpu(&mut s.dqkv, &s.dqkv_rope, 0, b, t, c, nh);
            } else {
                attention_backward_cpu(
                    &mut s.dqkv,
                    &mut s.dpreatt,
                    &mut s.datt,
                    &s.datty,
                    &la.qkv,
                    &la.att,
                    att_mask,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
            }
            let (dw, db) = (take(ids.qkv_w), ids.qkv_b.map(&mut take));
            matmul_backward_fast_cpu(
                &mut s.dln,
                dw,
                db,
                &s.dqkv,
                &la.ln1,
                lay.get(params, ids.qkv_w),
                bt,
                c,
                3 * c,
            );
            let (dw, db) = (take(ids.ln1_w), ids.ln1_b.map(&mut take));
            layernorm_backward_cpu(
                &mut s.dresidual,
                dw,
                db,
                &s.dln,
                residual,
                lay.get(params, ids.ln1_w),
                &la.ln1_mean,
                &la.ln1_rstd,
                b,
                t,
                c,
            );
        }

        // dresidual holds d encoded.
        let dencoded: &[R] = if dropout {
            dropout_backward_cpu(&mut s.dproj, &s.dresidual, &a.encoded_mask, bt * c);
            &s.dproj
        } else {
            &s.dresidual
        };
        // wte's view was handed to the head above; take it again from a fresh split.
        drop(g);
        let mut g = lay.split_mut(&mut self.grads);
        let dwte = std::mem::take(&mut g[lay.wte]);
        let dwpe = lay.wpe.map(|id| &mut std::mem::take(&mut g[id])[..t * c]);
        encoder_backward_cpu(dwte, dwpe, dencoded, &self.inputs, b, t, c);
        Ok(())
    }
}
