//! Training on the GPU: the one [`TrainLoop`] (same sampler, schedule, divergence rule and evaluation as on the
//! CPU) driving a [`GpuGpt`], whose optimizer step is one submit. Batches are drawn exactly as on the CPU, so a
//! CPU run and a GPU run from the same seed see the same data and can be compared step by step.

use super::GpuGpt;
use crate::Result;
use crate::gpu::GpuContext;
use crate::model::train::{StepResult, TrainLoop, Trainable};
use crate::model::{
    EvalStats, Gpt, LossScaleReport, ModelConfig, Precision, StepStats, TrainOptions,
};

/// Dynamic loss scaling with the semantics of PyTorch's `torch.amp.GradScaler`: the loss (here its gradient,
/// d loss / d losses) is multiplied by `scale` before the backward pass so that small gradients survive in f16;
/// the optimizer unscales them. A step whose scaled gradients hold an inf or NaN is skipped (the weights and
/// AdamW's moments stay) and the scale halves (`backoff_factor` 0.5); after `growth_interval` good steps in a
/// row it doubles (`growth_factor` 2). The check costs nothing extra: the global-norm pass unscales each
/// gradient before squaring it, so the norm that already comes back with the step's losses is non-finite
/// exactly when a gradient is (see `shaders/global_norm.wgsl`), and adamw_update skips on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossScaler {
    /// The scale of the next step. A power of two, so scaling and unscaling are exact.
    pub scale: f64,
    pub growth_interval: u32,
    /// Good steps since the last growth or backoff.
    pub good_steps: u32,
    /// Steps skipped so far, and in a row up to the last step.
    pub skipped_steps: u64,
    pub skipped_in_a_row: u32,
}

impl LossScaler {
    /// GradScaler's defaults are `new(65536.0, 2000)`.
    pub fn new(init_scale: f64, growth_interval: u32) -> Self {
        Self {
            scale: init_scale,
            growth_interval: growth_interval.max(1),
            good_steps: 0,
            skipped_steps: 0,
            skipped_in_a_row: 0,
        }
    }

    /// Takes the outcome of a step run with [`Self::scale`]: `finite` when every scaled gradient was finite.
    /// Returns what the step did; the scale is then the next step's.
    pub fn update(&mut self, finite: bool) -> LossScaleReport {
        let used = self.scale;
        if finite {
            self.skipped_in_a_row = 0;
            self.good_steps += 1;
            if self.good_steps >= self.growth_interval {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale *= 0.5;
            self.good_steps = 0;
            self.skipped_steps += 1;
            self.skipped_in_a_row += 1;
        }
        LossScaleReport {
            scale: used,
            skipped: !finite,
            skipped_steps: self.skipped_steps,
            skipped_in_a_row: self.skipped_in_a_row,
        }
    }
}

/// The trainer of a model on the GPU.
pub type GpuTrainer = TrainLoop<GpuGpt>;

impl Trainable for GpuGpt {
    type Device = GpuContext;
    /// AdamW's moments live on the GPU, beside the weights.
    type Optimizer = ();

    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn optimizer(&self) {}

    async fn train_step(
        &mut self,
        gpu: &GpuContext,
        _: &mut (),
        batches: &[(Vec<u32>, Vec<u32>)],
        b: usize,
        t: usize,
        step: u32,
        options: &TrainOptions,
    ) -> Result<StepResult> {
        GpuGpt::train_step(self, gpu, batches, b, t, step, options).await
    }

    async fn loss(
        &mut self,
        gpu: &GpuContext,
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        t: usize,
    ) -> Result<f64> {
        GpuGpt::loss(self, gpu, inputs, targets, b, t).await
    }

    async fn predictions(&self, gpu: &GpuContext) -> Result<Vec<u32>> {
        GpuGpt::predictions(self, gpu).await
    }

    async fn params(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        self.download_params(gpu).await
    }

    fn loss_scaling(&self) -> Option<LossScaleReport> {
        self.last_scaling
    }
}

impl TrainLoop<GpuGpt> {
    /// Uploads `model` and prepares to train it on the `train` stream (validation on `val`, may be empty). The
    /// data and options are checked before anything is allocated on the GPU.
    pub fn new(
        gpu: &GpuContext,
        model: &Gpt<f32>,
        train: Vec<u32>,
        val: Vec<u32>,
        options: TrainOptions,
    ) -> Result<Self> {
        let batches = Self::batches(&model.config, train, val, &options)?;
        let mut gpu_model = GpuGpt::from_cpu(gpu, model)?;
        if options.precision == Precision::F16 {
            gpu_model.set_precision(gpu, Precision::F16, &options)?;
        }
        Ok(Self::from_batches(gpu_model, batches, options))
    }

    /// One optimizer step (all micro-batches, clipping, AdamW) in one submit: [`TrainLoop::step_on`].
    pub async fn step(&mut self, gpu: &GpuContext) -> Result<StepStats> {
        self.step_on(gpu).await
    }

    /// Mean loss over the fixed validation batches: [`TrainLoop::evaluate_on`].
    pub async fn evaluate(&mut self, gpu: &GpuContext) -> Result<EvalStats> {
        self.evaluate_on(gpu).await
    }
}

#[cfg(test)]
mod tests {
    use super::LossScaler;

    #[test]
    fn loss_scaler_follows_grad_scaler() {
        let mut scaler = LossScaler::new(65536.0, 3);
        // Two good steps keep the scale, the third doubles it.
        for _ in 0..2 {
            assert!(!scaler.update(true).skipped);
            assert_eq!(scaler.scale, 65536.0);
        }
        let report = scaler.update(true);
        assert_eq!((report.scale, scaler.scale), (65536.0, 131072.0));
        // An overflow skips the step, halves the scale and restarts the count of good steps.
        scaler.update(true);
        let report = scaler.update(false);
        assert!(report.skipped);
        assert_eq!((report.scale, scaler.scale), (131072.0, 65536.0));
        assert_eq!((report.skipped_steps, report.skipped_in_a_row), (1, 1));
        assert_eq!(scaler.update(false).skipped_in_a_row, 2);
        assert_eq!(scaler.scale, 32768.0);
        for _ in 0..2 {
            scaler.update(true);
        }
        assert_eq!(
            scaler.scale, 32768.0,
            "the good steps before the overflow do not count"
        );
        let report = scaler.update(true);
        assert_eq!((report.skipped_steps, report.skipped_in_a_row), (2, 0));
        assert_eq!(scaler.scale, 65536.0);
    }
}
