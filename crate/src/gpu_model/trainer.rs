//! Training on the GPU: the CPU [`Trainer`](crate::model::Trainer)'s loop (same sampler, same schedule, same
//! divergence rule) driving a [`GpuGpt`]. Batches are drawn exactly as the CPU trainer draws them, so a CPU
//! run and a GPU run from the same seed see the same data and can be compared step by step.

use super::GpuGpt;
use crate::gpu::GpuContext;
use crate::model::batches::Batches;
use crate::model::{EvalStats, Gpt, StepStats, TrainOptions};
use crate::{Error, Result, invalid_input};

pub struct GpuTrainer {
    pub model: GpuGpt,
    pub options: TrainOptions,
    batches: Batches,
    step: u32,
    seq_len: usize,
    diverged: Option<String>,
}

impl GpuTrainer {
    /// Uploads `model` and prepares to train it on the `train` stream (validation on `val`, may be empty).
    pub fn new(
        gpu: &GpuContext,
        model: &Gpt<f32>,
        train: Vec<u32>,
        val: Vec<u32>,
        options: TrainOptions,
    ) -> Result<Self> {
        let batches = Batches::for_training(&model.config, train, val, &options)?;
        let seq_len = batches.seq_len;
        Ok(Self {
            model: GpuGpt::from_cpu(gpu, model)?,
            options,
            batches,
            step: 0,
            seq_len,
            diverged: None,
        })
    }

    pub fn step_count(&self) -> u32 {
        self.step
    }

    /// Whether `evaluate` is due after the current step (the CPU trainer's rule).
    pub fn eval_due(&self) -> bool {
        self.batches.has_validation()
            && self.options.eval_interval > 0
            && (self.step.is_multiple_of(self.options.eval_interval)
                || self.step == self.options.steps)
    }

    /// T of the training batches.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// One optimizer step (all micro-batches, clipping, AdamW) in one submit.
    pub async fn step(&mut self, gpu: &GpuContext) -> Result<StepStats> {
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
            .train_step(gpu, &batches, b, t, step, &self.options)
            .await?;
        if !loss.is_finite() || !grad_norm.is_finite() {
            // The GPU skipped the update (AdamW checks the norm), so the weights are those of the last good step.
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
        })
    }

    /// Mean loss over the fixed validation batches.
    pub async fn evaluate(&mut self, gpu: &GpuContext) -> Result<EvalStats> {
        if !self.batches.has_validation() {
            invalid_input!(
                "there is no validation data (the validation split is shorter than one sequence)"
            );
        }
        let (b, t) = (self.options.batch_size, self.seq_len);
        let batches = self.batches.val_batches();
        let mut total = 0.0;
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        for batch in 0..batches {
            self.batches.val_batch(batch, &mut inputs, &mut targets);
            total += self.model.loss(gpu, &inputs, &targets, b, t).await?;
        }
        let val_loss = total / batches as f64;
        Ok(EvalStats {
            step: self.step,
            val_loss,
            val_ppl: val_loss.exp(),
        })
    }
}
