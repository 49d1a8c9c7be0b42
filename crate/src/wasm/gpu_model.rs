//! The GPU model from JavaScript: the same surface as the CPU model for training (`setTrainingData`, `step`,
//! `evaluate`), asynchronous because every readback from WebGPU is. Run it in a Web Worker.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::gpu::Gpu;
use super::stream::GpuTokenStream;
use super::{options, to_js, to_value};
use crate::gpu::GpuContext;
use crate::gpu_model::{GpuTrainer, check_limits};
use crate::model::generate::{Decoding, SampleOptions};
use crate::model::{Gpt, ModelConfig, TrainOptions, Trainer};

/// A GPT whose weights, optimizer state and activations live on a WebGPU device.
#[wasm_bindgen]
pub struct GpuModel {
    gpu: Rc<GpuContext>,
    /// The model's starting weights, until training data arrives (the trainer uploads them).
    initial: Option<Gpt<f32>>,
    trainer: Option<GpuTrainer>,
}

#[wasm_bindgen]
impl GpuModel {
    /// A new model from a config (as the CPU model's), initialised from `seed` exactly as the CPU model is,
    /// on the device `gpu`. A config beyond the device's limits is refused with what to shrink.
    #[wasm_bindgen(constructor)]
    pub fn new(gpu: &Gpu, config: JsValue, seed: u32) -> Result<GpuModel, JsError> {
        let config: ModelConfig = options(config, "model config")?;
        check_limits(&gpu.context, &config).map_err(to_js)?;
        let model = Gpt::new(config, u64::from(seed)).map_err(to_js)?;
        Ok(GpuModel {
            gpu: gpu.context.clone(),
            initial: Some(model),
            trainer: None,
        })
    }

    /// Sets the token streams and training options (as the CPU model's) and uploads the weights.
    #[wasm_bindgen(js_name = setTrainingData)]
    pub fn set_training_data(
        &mut self,
        train: Vec<u32>,
        val: Vec<u32>,
        train_options: JsValue,
    ) -> Result<(), JsError> {
        let train_options: TrainOptions = options(train_options, "training options")?;
        let Some(model) = &self.initial else {
            return Err(JsError::new(
                "this model already has training data: call setParams(await params()) first to fine-tune it from its current weights",
            ));
        };
        self.trainer =
            Some(GpuTrainer::new(&self.gpu, model, train, val, train_options).map_err(to_js)?);
        self.initial = None;
        Ok(())
    }

    /// Replaces the weights with `params` (flat, in the order `params()` returns them: a snapshot, or the
    /// weights of a CPU model) and forgets the training data and optimizer state, so `setTrainingData`
    /// starts a new run (fine-tuning) from these weights. Throws, changing nothing, when the count does not
    /// fit the config.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, params: Vec<f32>) -> Result<(), JsError> {
        let config = match (&self.trainer, &self.initial) {
            (Some(trainer), _) => trainer.model.config.clone(),
            (None, Some(model)) => model.config.clone(),
            (None, None) => return Err(no_data()),
        };
        let model = Gpt::from_params(config, params).map_err(to_js)?;
        self.initial = Some(model);
        self.trainer = None;
        Ok(())
    }

    /// One optimizer step on the GPU (one submit): `{step, loss, lr, grad_norm, tokens}`.
    pub async fn step(&mut self) -> Result<JsValue, JsError> {
        let trainer = self.trainer.as_mut().ok_or_else(no_data)?;
        to_value(&trainer.step(&self.gpu).await.map_err(to_js)?)
    }

    /// Mean validation loss: `{step, val_loss, val_ppl}`.
    pub async fn evaluate(&mut self) -> Result<JsValue, JsError> {
        let trainer = self.trainer.as_mut().ok_or_else(no_data)?;
        to_value(&trainer.evaluate(&self.gpu).await.map_err(to_js)?)
    }

    /// The current weights, flat, in the CPU model's (nanoGPT) order.
    pub async fn params(&self) -> Result<Vec<f32>, JsError> {
        match (&self.trainer, &self.initial) {
            (Some(trainer), _) => trainer
                .model
                .download_params(&self.gpu)
                .await
                .map_err(to_js),
            (None, Some(model)) => Ok(model.params.clone()),
            (None, None) => Err(no_data()),
        }
    }

    /// Tokens after `prompt` on the GPU, sampled as the CPU model's `generate` does (same options, same
    /// tokens): the prompt's window fills a KV cache per layer, then each new token runs one position through
    /// the blocks (one submit and one readback of the logits per token). Needs training data set.
    pub async fn generate(
        &mut self,
        prompt: Vec<u32>,
        sample_options: JsValue,
    ) -> Result<Vec<u32>, JsError> {
        let sample_options: SampleOptions = options(sample_options, "sampling options")?;
        let trainer = self.trainer.as_mut().ok_or_else(no_data)?;
        trainer
            .model
            .generate(&self.gpu, &prompt, &sample_options)
            .await
            .map_err(to_js)
    }

    /// Starts streaming generation on the GPU (as `TokenStream` does on the CPU, with the same tokens for the
    /// same weights, options and seed): the prompt's window fills the KV caches, then each `nextBatch` makes
    /// tokens. The stream holds this model's trainer until `finishGeneration(stream)` hands it back. Needs
    /// training data set; a refused prompt or options change nothing.
    #[wasm_bindgen(js_name = startGeneration)]
    pub async fn start_generation(
        &mut self,
        prompt: Vec<u32>,
        #[wasm_bindgen(js_name = sampleOptions)] sample_options: JsValue,
        alternatives: usize,
    ) -> Result<GpuTokenStream, JsError> {
        let sample_options: SampleOptions = options(sample_options, "sampling options")?;
        let trainer = self.trainer.as_ref().ok_or_else(no_data)?;
        Decoding::<GpuTrainer>::check(&trainer.model.config, &prompt, &sample_options)
            .map_err(to_js)?;
        let trainer = self.trainer.take().ok_or_else(no_data)?;
        // Only a failure of the device itself can end the start from here (the trainer goes with it).
        let decoding = Decoding::start(trainer, &self.gpu, &prompt, sample_options)
            .await
            .map_err(to_js)?;
        Ok(GpuTokenStream::new(
            decoding,
            self.gpu.clone(),
            alternatives,
        ))
    }

    /// Takes back the trainer a finished (or stopped) `startGeneration` stream held, freeing the stream.
    #[wasm_bindgen(js_name = finishGeneration)]
    pub fn finish_generation(&mut self, stream: GpuTokenStream) {
        self.trainer = Some(stream.into_trainer());
    }

    /// Dispatches recorded per optimizer step (after the first step).
    #[wasm_bindgen(js_name = dispatchesPerStep)]
    pub fn dispatches_per_step(&self) -> Option<usize> {
        let trainer = self.trainer.as_ref()?;
        let o = &trainer.options;
        trainer
            .model
            .dispatches_per_step(o.batch_size, trainer.seq_len(), o.grad_accum)
    }
}

fn no_data() -> JsError {
    JsError::new("no training data yet: call setTrainingData(train, val, options) first")
}

#[wasm_bindgen]
impl Gpu {
    /// The whole-model check, in the browser: `steps` seeded training steps of the same model on the CPU and
    /// on this GPU. Returns `{cpu_losses, gpu_losses, param_distance}` (relative distance of the final weights).
    #[wasm_bindgen(js_name = checkTraining)]
    pub async fn check_training(
        &self,
        config: JsValue,
        train_options: JsValue,
        train: Vec<u32>,
        steps: u32,
    ) -> Result<JsValue, JsError> {
        let config: ModelConfig = options(config, "model config")?;
        let train_options: TrainOptions = options(train_options, "training options")?;
        let model = Gpt::<f32>::new(config, 1).map_err(to_js)?;
        let mut gpu_trainer = GpuTrainer::new(
            &self.context,
            &model,
            train.clone(),
            Vec::new(),
            train_options.clone(),
        )
        .map_err(to_js)?;
        let mut cpu_trainer =
            Trainer::new(model, train, Vec::new(), train_options).map_err(to_js)?;
        let (mut cpu_losses, mut gpu_losses) = (Vec::new(), Vec::new());
        for _ in 0..steps {
            cpu_losses.push(cpu_trainer.step().map_err(to_js)?.loss);
            gpu_losses.push(gpu_trainer.step(&self.context).await.map_err(to_js)?.loss);
        }
        let gpu_params = gpu_trainer
            .model
            .download_params(&self.context)
            .await
            .map_err(to_js)?;
        let cpu_params = &cpu_trainer.model.params;
        let diff: f64 = gpu_params
            .iter()
            .zip(cpu_params)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        let norm: f64 = cpu_params.iter().map(|b| f64::from(*b).powi(2)).sum();
        #[derive(serde::Serialize)]
        struct Report {
            cpu_losses: Vec<f64>,
            gpu_losses: Vec<f64>,
            param_distance: f64,
            dispatches_per_step: Option<usize>,
        }
        let o = &gpu_trainer.options;
        let dispatches_per_step = gpu_trainer.model.dispatches_per_step(
            o.batch_size,
            gpu_trainer.seq_len(),
            o.grad_accum,
        );
        to_value(&Report {
            cpu_losses,
            gpu_losses,
            param_distance: (diff / norm).sqrt(),
            dispatches_per_step,
        })
    }
}
