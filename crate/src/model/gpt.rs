//! The GPT on the CPU: parameters, gradients and the activations of the last forward pass on the host, run by
//! the [`CpuExecutor`] through the one description of the model in [`super::transformer`].
//!
//! ```text
//! x = wte[tokens] (+ wpe or sinusoids) -> dropout                        encoded (B, T, C)
//! for each block:  x = x + dropout(c_proj(attention(ln_1(x))))           residual2
//!                  x = x + dropout(mlp.c_proj(act(mlp.c_fc(ln_2(x)))))   residual3
//! logits = ln_f(x) @ wte^T                                               (B, T, V), head tied to wte
//! loss = mean over the (b, t) whose target counts of -ln softmax(logits)[target]
//! ```
//!
//! Generic over the number type: `Gpt<f32>` is the model; `Gpt<f64>` is what the whole-model
//! finite-difference test checks. Gradients follow the ops' rule: parameter gradients accumulate (so
//! micro-batches add up until `zero_grad`), activation gradients are assigned, and the residual stream's
//! gradient is one buffer that each LayerNorm backward adds into (the skip path passes it through as is).

use super::config::ModelConfig;
use super::params::ParamLayout;
use super::transformer::{Acts, Grads, Transformer};
use crate::exec::cpu::{CpuExecutor, CpuStore};
use crate::exec::{Allocator, Tensor};
use crate::ops::crossentropy_forward::counted_targets;
use crate::ops::float::Float;
use crate::rng::Rng;
use crate::{Result, invalid_input};

pub use crate::exec::site_seed;

/// The buffers of one batch shape: activations, token ids, and (after the first backward) the gradient scratch.
struct Buffers {
    b: usize,
    t: usize,
    /// Whether the activations hold dropout masks (training with dropout > 0).
    dropout: bool,
    /// Whether attention runs fused (an lse per row, no maps): training forwards do, the others keep the
    /// (B, NH, T, T) maps that inspection reads.
    fused: bool,
    /// Activation checkpointing of the buffers (blocks per group, 0: off; training forwards only).
    checkpoint_every: usize,
    acts: Acts,
    grads: Option<Grads>,
    inputs: Tensor,  // (B, T) token ids
    targets: Tensor, // (B, T) token ids
    /// Whether the last forward pass had targets (the backward pass needs them).
    has_targets: bool,
    /// The last forward pass's dropout seed: the fused attention's backward redraws its dropout from it.
    dropout_seed: u64,
    /// How many of those targets count (are not the ignore index): the mean loss divides by it.
    counted: usize,
}

/// Where a backward pass starts: the mean cross-entropy times a scale, or a gradient of the logits (B, T, V).
enum LossGradient<'a, R> {
    MeanLoss(f64),
    Dlogits(&'a [R]),
}

/// A GPT with its parameters, gradients and the activations of its last forward pass.
pub struct Gpt<R: Float = f32> {
    pub config: ModelConfig,
    pub layout: ParamLayout,
    /// All parameters, flat, in `layout` order.
    pub params: Vec<R>,
    /// The gradients of the trainable tensors (every tensor, or with LoRA the adapters: the layout from
    /// `trainable_offset()` on); empty until the first backward pass.
    pub grads: Vec<R>,
    /// Activation checkpointing in training: keep every this many blocks' input and recompute their
    /// activations in the backward pass (0: off). Evaluation and inspection keep every activation.
    pub checkpoint_every: usize,
    store: CpuStore<R>,
    buffers: Option<Buffers>,
}

impl<R: Float> Gpt<R> {
    /// A new model with nanoGPT's initialisation from `seed`: weights normal(0, 0.02), the two residual
    /// projections (attn.c_proj, mlp.c_proj) normal(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm weights 1; LoRA
    /// adapters as PEFT initialises them (A uniform, B zero).
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let layout = ParamLayout::new(&config);
        let mut params = vec![R::ZERO; layout.total];
        let mut rng = Rng::new(seed);
        let proj_std = 0.02 / (2.0 * config.n_layer as f64).sqrt();
        // The base tensors; LoRA's adapters (last in the layout) get PEFT's initialisation below.
        let base = if config.lora.is_some() {
            layout.first_trainable
        } else {
            layout.specs.len()
        };
        for spec in &layout.specs[..base] {
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
        let mut model = Self::from_params(config, params)?;
        super::lora::init_adapters(&mut model, seed);
        Ok(model)
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
        Ok(Self {
            config,
            layout,
            params,
            grads: Vec::new(),
            checkpoint_every: 0,
            store: CpuStore::default(),
            buffers: None,
        })
    }

    /// The activation handles of the last forward pass (read them with [`Gpt::act`]).
    pub fn acts(&self) -> &Acts {
        &self
            .buffers
            .as_ref()
            .expect("a forward pass has run before its activations are read")
            .acts
    }

    /// The numbers of an activation of the last forward pass, e.g. `model.act(model.acts().logits)`.
    pub fn act(&self, t: Tensor) -> &[R] {
        self.store.get(t)
    }

    /// The most likely next (or, for a masked-language model, masked) token at each position (B, T) of the last
    /// forward pass: the argmax of its logits; for a classifier the most likely class of each sequence (B).
    pub fn predictions(&self) -> Vec<u32> {
        let x = self.buffers.as_ref().expect("a forward pass has run");
        let (logits, width) = x.acts.prediction_logits(&self.config, x.b, x.t);
        super::mlm::argmax_rows(self.store.get(logits), width)
    }

    /// Sets every gradient to 0 (allocating them on first use).
    pub fn zero_grad(&mut self) {
        self.grads.clear();
        self.grads.resize(self.layout.trainable_len(), R::ZERO);
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

    /// Buffers for (b, t), made anew when the shape, the dropout or the attention path changes.
    fn ensure_buffers(&mut self, b: usize, t: usize, dropout: bool, fused: bool) {
        // Checkpointing goes with training (the fused path); inspection reads every block's activations.
        let checkpoint_every = if fused { self.checkpoint_every } else { 0 };
        if self.buffers.as_ref().is_some_and(|x| {
            (x.b, x.t, x.dropout, x.fused, x.checkpoint_every)
                == (b, t, dropout, fused, checkpoint_every)
        }) {
            return;
        }
        self.store.clear();
        let nh = self.config.n_head;
        let mut ex = CpuExecutor {
            layout: &self.layout,
            params: &self.params,
            grads: &mut [],
            store: &mut self.store,
            dropout_seed: 0,
            fused,
        };
        let att = b * nh * t * t;
        let acts = Acts::checkpointed(&mut ex, &self.config, b * t, att, dropout, checkpoint_every);
        let inputs = ex.alloc_tokens("inputs", b * t);
        let targets = ex.alloc_tokens("targets", b * t);
        self.buffers = Some(Buffers {
            b,
            t,
            dropout,
            fused,
            checkpoint_every,
            acts,
            grads: None,
            inputs,
            targets,
            has_targets: false,
            dropout_seed: 0,
            counted: 0,
        });
    }

    /// The forward pass over a batch of `b` sequences of `t` tokens (`inputs` (B, T), row-major).
    /// With `targets` (B, T) it also computes the loss and returns its mean over the targets that count (all but
    /// [`IGNORE_INDEX`](crate::ops::crossentropy_forward::IGNORE_INDEX); at least one must). `dropout_seed` turns on
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
        let counted = targets.map_or(0, counted_targets);
        if targets.is_some() && counted == 0 {
            invalid_input!("every target of the batch is ignored: there is nothing to score");
        }
        let dropout = dropout_seed.is_some() && self.config.has_dropout();
        // Training runs the fused attention (the CPU's fast kernels, no maps); evaluation and inspection keep
        // the readable one, whose maps the captures read.
        let fused = dropout_seed.is_some();
        self.ensure_buffers(b, t, dropout, fused);
        let x = self.buffers.as_mut().expect("buffers made above");
        self.store.set_tokens(x.inputs, inputs);
        if let Some(targets) = targets {
            self.store.set_tokens(x.targets, targets);
        }
        x.has_targets = targets.is_some();
        x.dropout_seed = dropout_seed.unwrap_or(0);
        x.counted = counted;
        let mut ex = CpuExecutor {
            layout: &self.layout,
            params: &self.params,
            grads: &mut [],
            store: &mut self.store,
            dropout_seed: dropout_seed.unwrap_or(0),
            fused,
        };
        let model = Transformer {
            config: &self.config,
            layout: &self.layout,
        };
        let targets = targets.map(|_| x.targets);
        model.forward(&mut ex, &x.acts, x.inputs, targets, b, t, dropout);
        if targets.is_none() {
            return Ok(None);
        }
        let losses = self.store.get(x.acts.losses);
        Ok(Some(
            losses.iter().map(|l| l.to_f64()).sum::<f64>() / counted as f64,
        ))
    }

    /// The backward pass of the last forward pass (which must have had targets): adds the gradient of
    /// `loss_scale * mean loss` to `grads` (allocated and zeroed on first use). Gradient accumulation
    /// over k micro-batches uses loss_scale = 1/k (each micro-batch's mean over its own counted targets).
    pub fn backward(&mut self, loss_scale: f64) -> Result<()> {
        self.backward_from(LossGradient::MeanLoss(loss_scale))
    }

    /// The backward pass of the last forward pass from a gradient of the logits `dlogits` (B, T, V) that the
    /// caller computed with another objective over `act(acts().logits)` (the lab's distillation): adds the
    /// parameter gradients to `grads`, as [`Gpt::backward`] does for the cross-entropy.
    pub fn backward_from_dlogits(&mut self, dlogits: &[R]) -> Result<()> {
        self.backward_from(LossGradient::Dlogits(dlogits))
    }

    fn backward_from(&mut self, loss: LossGradient<R>) -> Result<()> {
        let Some(x) = self.buffers.as_mut().filter(|x| x.has_targets) else {
            invalid_input!("backward needs a forward pass with targets first");
        };
        if self.grads.len() != self.layout.trainable_len() {
            self.grads.clear();
            self.grads.resize(self.layout.trainable_len(), R::ZERO);
        }
        let (b, t, counted) = (x.b, x.t, x.counted);
        let mut ex = CpuExecutor {
            layout: &self.layout,
            params: &self.params,
            grads: &mut self.grads,
            store: &mut self.store,
            dropout_seed: x.dropout_seed,
            fused: x.fused,
        };
        let g = x
            .grads
            .get_or_insert_with(|| Grads::new(&mut ex, &self.config, &x.acts))
            .clone();
        ex.store.fill(g.dresidual, R::ZERO);
        let targets = match loss {
            LossGradient::MeanLoss(scale) => {
                ex.store
                    .fill(g.dlosses, R::from_f64(scale / counted as f64));
                Some(x.targets)
            }
            LossGradient::Dlogits(_) if self.config.classifier.is_some() => {
                invalid_input!(
                    "a classifier's backward pass starts from its labels, not from token logits"
                );
            }
            LossGradient::Dlogits(dlogits) => {
                let into = ex.store.get_mut(g.dlogits);
                if dlogits.len() != into.len() {
                    invalid_input!(
                        "the gradient of the logits has {} values, the last forward pass made {} (B*T*V)",
                        dlogits.len(),
                        into.len()
                    );
                }
                into.copy_from_slice(dlogits);
                None
            }
        };
        let model = Transformer {
            config: &self.config,
            layout: &self.layout,
        };
        model.backward(&mut ex, &x.acts, &g, x.inputs, targets, b, t);
        Ok(())
    }
}
