//! Training: AdamW with decoupled weight decay, gradient clipping by global norm, warmup then cosine
//! decay, dropout, gradient accumulation over micro-batches, a seeded batch sampler over a train/validation
//! split, and evaluation. A [`Trainer`] runs one optimiser step per call, so the page (from a worker loop)
//! and the CLI drive it and measure time themselves (`std::time::Instant` does not exist on wasm32).
//!
//! Deterministic for a seed: batches, dropout masks and the initial weights all come from seeds, and every
//! kernel sums in a fixed order. A NaN or infinite loss or gradient stops training with an error before
//! the optimiser touches the weights, so the model keeps the last good weights.

use serde::{Deserialize, Serialize};

use super::augment::Augment;
use super::batches::{Batches, Example};
use super::config::ModelConfig;
use super::gpt::Gpt;
use super::mlm::{Objective, masked_accuracy};
use super::params::ParamSpec;
use crate::ops::adamw_update::adamw_update_fast_cpu;
use crate::ops::global_norm::{clip_by_global_norm_cpu, global_norm_cpu};
use crate::{Error, Result, invalid_input};

/// Options of a training run (JSON from the page and the CLI; every field has a default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// B: sequences per micro-batch.
    pub batch_size: usize,
    /// T: tokens per sequence; 0 means the model's block_size.
    pub seq_len: usize,
    /// Micro-batches whose gradients are summed (averaged) before each optimiser step.
    pub grad_accum: usize,
    /// Optimiser steps of the run: the cosine schedule reaches `min_lr` here.
    pub steps: u32,
    /// Peak learning rate, reached at the end of warmup.
    pub lr: f32,
    /// Final learning rate of the cosine decay.
    pub min_lr: f32,
    /// Steps of linear warmup from 0 to `lr`.
    pub warmup_steps: u32,
    /// AdamW's decoupled weight decay, applied to the matrices of linear layers.
    pub weight_decay: f32,
    /// Decay the token and position embeddings too (off by default, as the issue asks; nanoGPT decays them).
    pub decay_embeddings: bool,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Clip the global gradient norm to this value; 0 turns clipping off.
    pub grad_clip: f32,
    /// Evaluate the validation loss every this many steps (0: never on its own).
    pub eval_interval: u32,
    /// Batches of the validation loss (fixed at the start, so evaluations compare).
    pub eval_batches: usize,
    /// Seed of the batch sampler, dropout masks and validation batches.
    pub seed: u64,
    /// Data augmentation of the training batches (off by default; never applied to validation).
    #[serde(skip_serializing_if = "Augment::is_off")]
    pub augment: Augment,
    /// Number format of the training step: f32 everywhere, or mixed precision (f16 activations and matmul
    /// inputs, f32 master weights, optimizer state and sums, dynamic loss scaling); f16 needs a GPU with
    /// `shader-f16` (docs/precision.md).
    pub precision: Precision,
    /// Mixed precision: the first loss scale (PyTorch's GradScaler: 2^16).
    pub loss_scale_init: f64,
    /// Mixed precision: good steps in a row after which the loss scale doubles (GradScaler: 2000).
    pub loss_scale_growth_interval: u32,
    /// Activation checkpointing: keep only every this many blocks' input in the forward pass and recompute
    /// their activations in the backward pass (0: off; 1: every block). Same gradients, less memory, about
    /// one more forward pass of time.
    pub checkpoint_every: usize,
}

/// The number format of training (see [`TrainOptions::precision`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// Mixed precision: f16 storage for activations and the weights the kernels read, f32 accumulation,
    /// master weights and AdamW state, dynamic loss scaling. GPU only, where the adapter has `shader-f16`.
    F16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        })
    }
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            batch_size: 16,
            seq_len: 0,
            grad_accum: 1,
            steps: 1000,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 20,
            weight_decay: 0.1,
            decay_embeddings: false,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            grad_clip: 1.0,
            eval_interval: 100,
            eval_batches: 8,
            seed: 1337,
            augment: Augment::default(),
            precision: Precision::F32,
            loss_scale_init: 65536.0,
            loss_scale_growth_interval: 2000,
            checkpoint_every: 0,
        }
    }
}

impl TrainOptions {
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json)
            .map_err(|e| Error::Format(format!("training options are not valid: {e}")))
    }

    /// Learning rate of optimiser step `step` (1-based): linear warmup, then cosine decay to `min_lr` at
    /// `steps`, then `min_lr`.
    pub fn lr_at(&self, step: u32) -> f32 {
        if step <= self.warmup_steps {
            return self.lr * step as f32 / self.warmup_steps.max(1) as f32;
        }
        if step >= self.steps {
            return self.min_lr;
        }
        let progress = f64::from(step - self.warmup_steps)
            / f64::from((self.steps - self.warmup_steps).max(1));
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        (f64::from(self.min_lr) + cosine * f64::from(self.lr - self.min_lr)) as f32
    }

    /// AdamW's weight decay of a parameter tensor: the matrices of linear layers, and the embeddings when
    /// `decay_embeddings` asks for it; 0 for the rest.
    pub fn weight_decay_of(&self, spec: &ParamSpec) -> f32 {
        let is_embedding = spec.name.contains(".wte.") || spec.name.contains(".wpe.");
        if spec.decay || (is_embedding && self.decay_embeddings) {
            self.weight_decay
        } else {
            0.0
        }
    }

    /// The dropout seed of micro-batch `micro` of optimizer step `step` (the same on every device).
    pub fn dropout_seed(&self, step: u32, micro: usize) -> u64 {
        self.seed ^ (u64::from(step) << 20) ^ micro as u64
    }
}

/// What one optimiser step reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepStats {
    pub step: u32,
    /// Mean training loss over the step's micro-batches.
    pub loss: f64,
    pub lr: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens processed (B * T * grad_accum); the caller divides by its own clock for tokens/s.
    pub tokens: usize,
    /// Mixed precision: the loss scale this step used (absent in f32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<f64>,
    /// Mixed precision: this step's scaled gradients overflowed (inf or NaN), so the weights were left alone
    /// and the loss scale halved (GradScaler's skipped step).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// Mixed precision: steps skipped so far in the run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_steps: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What dynamic loss scaling reports about the last step ([`Trainable::loss_scaling`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossScaleReport {
    /// The scale the step's loss was multiplied by.
    pub scale: f64,
    /// The step was skipped: a scaled gradient was inf or NaN.
    pub skipped: bool,
    /// Steps skipped so far.
    pub skipped_steps: u64,
    /// Steps skipped in a row up to this one.
    pub skipped_in_a_row: u32,
}

/// A validation result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalStats {
    pub step: u32,
    pub val_loss: f64,
    pub val_ppl: f64,
    /// Masked-language models: the share of masked positions whose most likely token is the right one;
    /// classifiers: the share of sequences whose most likely class is their label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
}

/// A model on a device, as the [`TrainLoop`] drives it. The CPU model ([`Gpt`]) and the GPU model
/// (`gpu_model::GpuGpt`) implement it; everything around the step (sampling, schedule, divergence, evaluation)
/// is the trainer's, written once.
#[allow(async_fn_in_trait)]
pub trait Trainable {
    /// What every call needs besides the model: nothing on the CPU (`()`), the device on the GPU.
    type Device: ?Sized;
    /// The optimizer's state where the host keeps it: AdamW's moments on the CPU (on the GPU they live on the
    /// device, beside the weights).
    type Optimizer;
    fn config(&self) -> &ModelConfig;
    /// A fresh optimizer state (step 0).
    fn optimizer(&self) -> Self::Optimizer;
    /// One optimizer step `step` (1-based): forward and backward of every micro-batch (inputs, targets), each
    /// (B, T), with dropout seeded by [`TrainOptions::dropout_seed`], gradients averaged, then clipping and AdamW.
    /// Returns the mean loss and the global gradient norm before clipping. When either is not finite the
    /// weights are left as they were.
    #[allow(clippy::too_many_arguments)]
    async fn train_step(
        &mut self,
        device: &Self::Device,
        optimizer: &mut Self::Optimizer,
        batches: &[(Vec<u32>, Vec<u32>)],
        b: usize,
        t: usize,
        step: u32,
        options: &TrainOptions,
    ) -> Result<StepResult>;
    /// The mean loss of `targets` given `inputs`, each (B, T), without dropout.
    async fn loss(
        &mut self,
        device: &Self::Device,
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        t: usize,
    ) -> Result<f64>;
    /// The most likely token at each position (B, T) of the last [`Trainable::loss`] call's batch.
    async fn predictions(&self, device: &Self::Device) -> Result<Vec<u32>>;
    /// The current weights, flat, in the [`ParamLayout`](super::params::ParamLayout) order.
    async fn params(&self, device: &Self::Device) -> Result<Vec<f32>>;
    /// With dynamic loss scaling (mixed precision on the GPU), what it did in the last step; `None` without.
    fn loss_scaling(&self) -> Option<LossScaleReport> {
        None
    }
}

/// Skipped steps in a row (every one halving the loss scale, 2^16 -> 2^-24) after which mixed-precision
/// training is taken to have diverged rather than overflowed.
pub const MAX_SKIPPED_IN_A_ROW: u32 = 40;

/// (mean loss, gradient norm before clipping) of an optimizer step.
pub type StepResult = (f64, f64);

/// AdamW's first and second moments, flat in the parameter layout.
pub struct AdamwMoments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Trainable for Gpt<f32> {
    type Device = ();
    type Optimizer = AdamwMoments;

    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn optimizer(&self) -> AdamwMoments {
        // Moments for the trainable tensors only (with LoRA the adapters).
        let n = self.layout.trainable_len();
        AdamwMoments {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    async fn train_step(
        &mut self,
        _: &(),
        adamw: &mut AdamwMoments,
        batches: &[(Vec<u32>, Vec<u32>)],
        b: usize,
        t: usize,
        step: u32,
        o: &TrainOptions,
    ) -> Result<StepResult> {
        self.checkpoint_every = o.checkpoint_every;
        self.train_step_with(
            adamw,
            batches,
            step,
            o,
            |model, inputs, targets, dropout_seed, scale| {
                let loss = model
                    .forward(inputs, Some(targets), b, t, Some(dropout_seed))?
                    .expect("targets were given");
                if loss.is_finite() {
                    model.backward(scale)?;
                }
                Ok(loss)
            },
        )
    }

    async fn loss(
        &mut self,
        _: &(),
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        t: usize,
    ) -> Result<f64> {
        Ok(self
            .forward(inputs, Some(targets), b, t, None)?
            .expect("targets were given"))
    }

    async fn predictions(&self, _: &()) -> Result<Vec<u32>> {
        Ok(self.predictions())
    }

    async fn params(&self, _: &()) -> Result<Vec<f32>> {
        Ok(self.params.clone())
    }
}

impl Gpt<f32> {
    /// One optimizer step `step` on the CPU whose loss is `micro_step`'s, the loss hook through which another
    /// objective (the lab's distillation) reuses this step. `micro_step(model, inputs, targets, dropout_seed,
    /// scale)` runs forward and backward of `scale * mean loss` of one micro-batch (inputs, targets), each
    /// (B, T), and returns its mean loss (skipping the backward pass when it is not finite). Gradients are
    /// averaged over the k micro-batches (scale 1/k), then clipped, then AdamW. A loss or gradient norm that is
    /// not finite returns before the weights change.
    pub fn train_step_with(
        &mut self,
        adamw: &mut AdamwMoments,
        batches: &[(Vec<u32>, Vec<u32>)],
        step: u32,
        o: &TrainOptions,
        mut micro_step: impl FnMut(&mut Self, &[u32], &[u32], u64, f64) -> Result<f64>,
    ) -> Result<StepResult> {
        let k = batches.len();
        self.zero_grad();
        let mut loss_sum = 0.0;
        for (micro, (inputs, targets)) in batches.iter().enumerate() {
            let loss = micro_step(
                self,
                inputs,
                targets,
                o.dropout_seed(step, micro),
                1.0 / k as f64,
            )?;
            if !loss.is_finite() {
                return Ok((loss, f64::NAN));
            }
            loss_sum += loss;
        }
        let grad_norm = if o.grad_clip > 0.0 {
            clip_by_global_norm_cpu(&mut self.grads, f64::from(o.grad_clip))
        } else {
            global_norm_cpu(&self.grads)
        };
        let loss = loss_sum / k as f64;
        if !grad_norm.is_finite() {
            return Ok((loss, grad_norm));
        }
        let lr = o.lr_at(step);
        let start = self.layout.trainable_offset();
        for spec in &self.layout.specs[self.layout.first_trainable..] {
            let range = spec.offset - start..spec.offset - start + spec.len;
            adamw_update_fast_cpu(
                &mut self.params[spec.offset..spec.offset + spec.len],
                &mut adamw.m[range.clone()],
                &mut adamw.v[range.clone()],
                &self.grads[range],
                lr,
                o.beta1,
                o.beta2,
                o.eps,
                o.weight_decay_of(spec),
                step,
            );
        }
        Ok((loss, grad_norm))
    }
}

/// Runs the optimisation of one model over token streams, one step per call, on either device: the one
/// trainer. [`Trainer`] is it on the CPU, `gpu_model::GpuTrainer` on the GPU.
pub struct TrainLoop<M: Trainable> {
    pub model: M,
    pub options: TrainOptions,
    optimizer: M::Optimizer,
    batches: Batches,
    step: u32,
    seq_len: usize,
    diverged: Option<String>,
}

impl<M: Trainable> TrainLoop<M> {
    /// The checks every trainer makes before touching a device, and the sampler of the run.
    pub fn batches(
        config: &ModelConfig,
        train: Vec<u32>,
        val: Vec<u32>,
        options: &TrainOptions,
    ) -> Result<Batches> {
        Self::check_options(options)?;
        Batches::for_training(config, train, val, options)
    }

    /// The checks of the options that do not depend on the data (the sampler checks the rest).
    fn check_options(options: &TrainOptions) -> Result<()> {
        if !(options.lr.is_finite() && options.lr >= 0.0 && options.min_lr >= 0.0) {
            invalid_input!("learning rates must be finite and not negative");
        }
        if !(options.loss_scale_init.is_finite() && options.loss_scale_init > 0.0)
            || options.loss_scale_growth_interval == 0
        {
            invalid_input!(
                "the loss scale must start positive and finite, and grow after at least one good step"
            );
        }
        Ok(())
    }

    /// A trainer of `model` over the batches [`TrainLoop::batches`] made.
    pub fn from_batches(model: M, batches: Batches, options: TrainOptions) -> Self {
        let seq_len = batches.seq_len;
        Self {
            optimizer: model.optimizer(),
            model,
            options,
            batches,
            step: 0,
            seq_len,
            diverged: None,
        }
    }

    /// Optimiser steps taken so far.
    pub fn step_count(&self) -> u32 {
        self.step
    }

    /// T of the training batches.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The next training batch as the next step will draw it (its first micro-batch): for each row the plain
    /// window and the inputs the model reads, augmented when the options ask for it ([`Batches::preview`]).
    pub fn preview_batch(&self) -> Vec<(Vec<u32>, Vec<u32>)> {
        self.batches.preview()
    }

    /// Whether validation data exists.
    pub fn has_validation(&self) -> bool {
        self.batches.has_validation()
    }

    /// Whether `evaluate` is due after the current step.
    pub fn eval_due(&self) -> bool {
        self.has_validation()
            && self.options.eval_interval > 0
            && (self.step.is_multiple_of(self.options.eval_interval)
                || self.step == self.options.steps)
    }

    /// One optimiser step: grad_accum micro-batches forward and backward, clip, AdamW. A step whose loss or
    /// gradient norm is not finite stops training with an error, keeping the weights of the last good step.
    pub async fn step_on(&mut self, device: &M::Device) -> Result<StepStats> {
        if let Some(reason) = &self.diverged {
            return Err(Error::Diverged(reason.clone()));
        }
        let step = self.step + 1;
        let batches: Vec<_> = (0..self.options.grad_accum)
            .map(|_| {
                let (mut inputs, mut targets) = (Vec::new(), Vec::new());
                self.batches.sample(&mut inputs, &mut targets);
                (inputs, targets)
            })
            .collect();
        let (b, t) = (self.options.batch_size, self.seq_len);
        let (loss, grad_norm) = self
            .model
            .train_step(
                device,
                &mut self.optimizer,
                &batches,
                b,
                t,
                step,
                &self.options,
            )
            .await?;
        let scaling = self.model.loss_scaling();
        // A skipped step of loss scaling is no divergence (GradScaler halves the scale and goes on), unless the
        // scale has halved so many times in a row that no scale will do.
        if let Some(report) =
            scaling.filter(|r| r.skipped && r.skipped_in_a_row < MAX_SKIPPED_IN_A_ROW)
        {
            self.step = step;
            return Ok(StepStats {
                step,
                loss,
                lr: self.options.lr_at(step),
                grad_norm,
                tokens: b * t * batches.len(),
                loss_scale: Some(report.scale),
                skipped: true,
                skipped_steps: report.skipped_steps,
            });
        }
        if !loss.is_finite() || !grad_norm.is_finite() {
            let reason = format!(
                "training diverged: the loss of step {step} is {loss} and the gradient norm {grad_norm}. The weights of step {} are kept; lower the learning rate (now {}) or clip gradients harder (grad_clip {}).",
                self.step, self.options.lr, self.options.grad_clip
            );
            self.diverged = Some(reason.clone());
            return Err(Error::Diverged(reason));
        }
        self.step = step;
        Ok(StepStats {
            step,
            loss,
            lr: self.options.lr_at(step),
            grad_norm,
            tokens: b * t * batches.len(),
            loss_scale: scaling.map(|r| r.scale),
            skipped: false,
            skipped_steps: scaling.map_or(0, |r| r.skipped_steps),
        })
    }

    /// Mean loss over the fixed validation batches (no dropout); for a masked-language model also the
    /// masked-token accuracy (perplexity is exp of the loss over the masked positions).
    pub async fn evaluate_on(&mut self, device: &M::Device) -> Result<EvalStats> {
        if !self.batches.has_validation() {
            invalid_input!(
                "there is no validation data (the validation split is shorter than one sequence)"
            );
        }
        let (b, t) = (self.options.batch_size, self.seq_len);
        let batches = self.batches.val_batches();
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let mut total = 0.0;
        let config = self.model.config();
        // Accuracy over the positions that count: masked tokens, or a classifier's labels.
        let masked = config.objective == Objective::Mlm || config.classifier.is_some();
        let (mut correct, mut counted) = (0, 0);
        for batch in 0..batches {
            self.batches.val_batch(batch, &mut inputs, &mut targets);
            total += self.model.loss(device, &inputs, &targets, b, t).await?;
            if masked {
                let predictions = self.model.predictions(device).await?;
                let (right, scored) = masked_accuracy(&predictions, &targets);
                correct += right;
                counted += scored;
            }
        }
        let val_loss = total / batches as f64;
        Ok(EvalStats {
            step: self.step,
            val_loss,
            val_ppl: val_loss.exp(),
            val_accuracy: masked.then(|| correct as f64 / counted.max(1) as f64),
        })
    }
}

/// The trainer of a model on the CPU.
pub type Trainer = TrainLoop<Gpt<f32>>;

impl TrainLoop<Gpt<f32>> {
    /// `train` and `val` are token streams (validation may be empty: no evaluation then).
    pub fn new(
        model: Gpt<f32>,
        train: Vec<u32>,
        val: Vec<u32>,
        options: TrainOptions,
    ) -> Result<Self> {
        Self::check_cpu_precision(&options)?;
        let batches = Self::batches(&model.config, train, val, &options)?;
        Ok(Self::from_batches(model, batches, options))
    }

    /// The trainer of a classifier over labelled examples (T tokens and a class each; see [`Batches::labelled`]),
    /// after the checks [`TrainLoop::new`] makes of the options.
    pub fn labelled(
        model: Gpt<f32>,
        train: Vec<Example>,
        val: Vec<Example>,
        options: TrainOptions,
    ) -> Result<Self> {
        Self::check_cpu_precision(&options)?;
        Self::check_options(&options)?;
        let batches = Batches::labelled(&model.config, train, val, &options)?;
        Ok(Self::from_batches(model, batches, options))
    }

    fn check_cpu_precision(options: &TrainOptions) -> Result<()> {
        if options.precision == Precision::F16 {
            invalid_input!(
                "f16 (mixed precision) training runs on a GPU with shader-f16; the CPU trains in f32: leave \
                 precision at f32"
            );
        }
        Ok(())
    }

    /// [`TrainLoop::step_on`] on the CPU.
    pub fn step(&mut self) -> Result<StepStats> {
        ready(self.step_on(&()))
    }

    /// [`TrainLoop::evaluate_on`] on the CPU.
    pub fn evaluate(&mut self) -> Result<EvalStats> {
        ready(self.evaluate_on(&()))
    }
}

/// The output of a future that never waits (the CPU's: every call finishes at once), without an executor.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("CPU work finishes without waiting"),
    }
}

/// The entropy (nats per token) of the unigram distribution of `tokens`: the loss of a model that knows
/// only how often each token occurs. A model that learned anything about context beats it.
pub fn unigram_entropy(tokens: &[u32]) -> f64 {
    let mut counts = std::collections::HashMap::<u32, usize>::new();
    for &t in tokens {
        *counts.entry(t).or_default() += 1;
    }
    let n = tokens.len() as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;

    fn tiny_config(v: usize) -> ModelConfig {
        ModelConfig {
            n_layer: 2,
            n_head: 2,
            n_embd: 16,
            block_size: 16,
            ..ModelConfig::reference(v)
        }
    }

    fn data() -> Vec<u32> {
        // A repeating pattern with some structure: learnable quickly.
        (0..4000u32).map(|i| (i * 7 + i / 13) % 11).collect()
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        let o = TrainOptions {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 10,
            steps: 110,
            ..TrainOptions::default()
        };
        assert!((o.lr_at(1) - 1e-4).abs() < 1e-9);
        assert!((o.lr_at(10) - 1e-3).abs() < 1e-9);
        assert!((o.lr_at(60) - 5.5e-4).abs() < 1e-7, "{}", o.lr_at(60));
        assert!((o.lr_at(110) - 1e-4).abs() < 1e-9);
        assert!((o.lr_at(500) - 1e-4).abs() < 1e-9);
        assert!(o.lr_at(30) > o.lr_at(40));
    }

    #[test]
    fn training_is_deterministic_and_learns() {
        let options = TrainOptions {
            batch_size: 4,
            steps: 40,
            lr: 3e-3,
            eval_interval: 20,
            eval_batches: 2,
            ..TrainOptions::default()
        };
        let run = || {
            let tokens = data();
            let model = Gpt::new(
                ModelConfig {
                    dropout: 0.1,
                    ..tiny_config(11)
                },
                3,
            )
            .unwrap();
            let mut trainer = Trainer::new(
                model,
                tokens[..3600].to_vec(),
                tokens[3600..].to_vec(),
                options.clone(),
            )
            .unwrap();
            let first = trainer.evaluate().unwrap().val_loss;
            let losses: Vec<f64> = (0..40).map(|_| trainer.step().unwrap().loss).collect();
            (
                first,
                losses,
                trainer.evaluate().unwrap().val_loss,
                trainer.model.params.clone(),
            )
        };
        let (first, losses, last, params) = run();
        let (_, losses2, last2, params2) = run();
        assert_eq!(losses, losses2, "same seed, same losses");
        assert_eq!(params, params2, "same seed, same weights");
        assert_eq!(last, last2);
        assert!(last < first - 0.5, "validation loss {first} -> {last}");
    }

    #[test]
    fn gradient_accumulation_matches_one_big_batch() {
        // Two micro-batches of 2 with loss scale 1/2 give the gradient of the mean over the 4 sequences.
        let tokens = data();
        let mut model = Gpt::<f32>::new(tiny_config(11), 5).unwrap();
        let (t, seq) = (8, |i: usize| tokens[i * 9..i * 9 + 9].to_vec());
        let batch: Vec<Vec<u32>> = (0..4).map(seq).collect();
        let inputs: Vec<u32> = batch.iter().flat_map(|s| s[..t].to_vec()).collect();
        let targets: Vec<u32> = batch.iter().flat_map(|s| s[1..].to_vec()).collect();
        model.zero_grad();
        model.forward(&inputs, Some(&targets), 4, t, None).unwrap();
        model.backward(1.0).unwrap();
        let full = model.grads.clone();
        model.zero_grad();
        for half in 0..2 {
            let r = half * 2 * t..(half + 1) * 2 * t;
            model
                .forward(&inputs[r.clone()], Some(&targets[r]), 2, t, None)
                .unwrap();
            model.backward(0.5).unwrap();
        }
        for (a, b) in model.grads.iter().zip(&full) {
            assert!((a - b).abs() <= 1e-6 + 1e-4 * b.abs(), "{a} vs {b}");
        }
    }

    #[test]
    fn divergence_stops_and_keeps_the_last_good_weights() {
        let tokens = data();
        let model = Gpt::new(tiny_config(11), 3).unwrap();
        let options = TrainOptions {
            batch_size: 2,
            eval_batches: 1,
            ..TrainOptions::default()
        };
        let mut trainer = Trainer::new(
            model,
            tokens[..3600].to_vec(),
            tokens[3600..].to_vec(),
            options,
        )
        .unwrap();
        trainer.step().unwrap();
        let good = trainer.model.params.clone();
        // Poison one weight: the next loss is NaN.
        let before = trainer.model.params.clone();
        trainer.model.params[0] = f32::NAN;
        let err = trainer.step().unwrap_err().to_string();
        assert!(
            err.contains("diverged") && err.contains("weights of step 1 are kept"),
            "{err}"
        );
        trainer.model.params[0] = before[0];
        assert_eq!(trainer.model.params, good, "no update happened");
        assert!(
            trainer.step().unwrap_err().to_string().contains("diverged"),
            "stays stopped"
        );
    }

    #[test]
    fn bad_data_and_options_are_errors() {
        let model = || Gpt::new(tiny_config(11), 3).unwrap();
        let err = Trainer::new(model(), vec![1, 2, 3], vec![], TrainOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("needs more than seq_len"), "{err}");
        let err = Trainer::new(model(), vec![50; 100], vec![], TrainOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("outside the model's vocabulary"), "{err}");
        assert!(TrainOptions::from_json(r#"{"lr": 0.01, "stepz": 3}"#).is_err());
        assert_eq!(TrainOptions::from_json(r#"{"lr": 0.01}"#).unwrap().lr, 0.01);
    }

    #[test]
    fn unigram_entropy_of_uniform_tokens_is_ln_v() {
        let tokens: Vec<u32> = (0..1000).map(|i| i % 4).collect();
        assert!((unigram_entropy(&tokens) - 4f64.ln()).abs() < 1e-12);
    }
}
