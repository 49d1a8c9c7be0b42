//! Training on the GPU: the one [`TrainLoop`] (same sampler, schedule, divergence rule and evaluation as on the
//! CPU) driving a [`GpuGpt`], whose optimizer step is one submit. Batches are drawn exactly as on the CPU, so a
//! CPU run and a GPU run from the same seed see the same data and can be compared step by step.

use super::GpuGpt;
use crate::Result;
use crate::gpu::GpuContext;
use crate::model::train::{StepResult, TrainLoop, Trainable};
use crate::model::{EvalStats, Gpt, ModelConfig, StepStats, TrainOptions};

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
        Ok(Self::from_batches(
            GpuGpt::from_cpu(gpu, model)?,
            batches,
            options,
        ))
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
