//! The GPU model from JavaScript: the same surface as the CPU model for training (`setTrainingData`, `step`,
//! `evaluate`), asynchronous because every readback from WebGPU is. Run it in a Web Worker.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::gpu::Gpu;
use super::stream::GpuTokenStream;
use super::{options, to_js, to_value};
use crate::gpu::GpuContext;
use crate::gpu_model::{GpuGenerator, GpuGpt, GpuTrainer, check_generation_limits, check_limits};
use crate::model::generate::{Decoding, SampleOptions};
use crate::model::{Gpt, ModelConfig, TrainOptions, Trainer};

/// A GPT whose weights, optimizer state and activations live on a WebGPU device.
#[wasm_bindgen]
pub struct GpuModel {
    gpu: Rc<GpuContext>,
    /// The model's starting weights, until training data arrives (the trainer uploads them) or, opened for
    /// generation only, until the first generation uploads them.
    initial: Option<Gpt<f32>>,
    trainer: Option<GpuTrainer>,
    /// Opened for generation only: its weights on the device, after the first generation.
    generator: Option<GpuGpt>,
    /// Why this device cannot train the model (it generates only), or None.
    generation_only: Option<String>,
}

#[wasm_bindgen]
impl GpuModel {
    /// A new model from a config (as the CPU model's), initialised from `seed` exactly as the CPU model is, or
    /// with the weights `params` (flat, as `params()` returns them), on the device `gpu`. A config beyond the
    /// device's limits is refused with what to shrink; with `params` (a model loaded to run) one the device can
    /// run but not train opens for generation only (`generationOnly` says why), and only one the device cannot
    /// even hold for generation is refused ("this GPU cannot hold the model ..."). Checked before anything is
    /// allocated.
    #[wasm_bindgen(constructor)]
    pub fn new(
        gpu: &Gpu,
        config: JsValue,
        seed: u32,
        params: Option<Vec<f32>>,
    ) -> Result<GpuModel, JsError> {
        let config: ModelConfig = options(config, "model config")?;
        let context = &gpu.context;
        let generation_only = match check_limits(context, &config) {
            Ok(()) => None,
            Err(refusal) if params.is_some() => {
                let limit = context.summary.max_storage_buffer_binding_size;
                check_generation_limits(context, &config, limit).map_err(to_js)?;
                Some(refusal.to_string())
            }
            Err(refusal) => return Err(to_js(refusal)),
        };
        let model = match params {
            Some(params) => Gpt::from_params(config, params),
            None => Gpt::new(config, u64::from(seed)),
        };
        Ok(GpuModel {
            gpu: context.clone(),
            initial: Some(model.map_err(to_js)?),
            trainer: None,
            generator: None,
            generation_only,
        })
    }

    /// Why this device can run the model but not train it (it was opened for generation only: `generate` and
    /// `startGeneration` run on the GPU, training is refused), or `undefined`.
    #[wasm_bindgen(getter, js_name = generationOnly)]
    pub fn generation_only(&self) -> Option<String> {
        self.generation_only.clone()
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
        if let Some(why) = &self.generation_only {
            return Err(JsError::new(&format!(
                "this GPU can run the model but not train it ({why}): load it on the CPU to train it"
            )));
        }
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
        if let Some(generator) = &mut self.generator {
            return generator.upload_params(&self.gpu, &params).map_err(to_js);
        }
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
        if let Some(generator) = &self.generator {
            return generator.download_params(&self.gpu).await.map_err(to_js);
        }
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
        let gpu = self.gpu.clone();
        let model = match self.generation_only {
            Some(_) => self.generator().await?,
            None => &mut self.trainer.as_mut().ok_or_else(no_data)?.model,
        };
        model
            .generate(&gpu, &prompt, &sample_options)
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
        let held = match self.generation_only {
            Some(_) => {
                let model = self.generator().await?;
                Decoding::<GpuGenerator>::check(&model.config, &prompt, &sample_options)
                    .map_err(to_js)?;
                GpuGenerator::Model(self.generator.take().ok_or_else(no_data)?)
            }
            None => {
                let trainer = self.trainer.as_ref().ok_or_else(no_data)?;
                Decoding::<GpuGenerator>::check(&trainer.model.config, &prompt, &sample_options)
                    .map_err(to_js)?;
                GpuGenerator::Trainer(self.trainer.take().ok_or_else(no_data)?)
            }
        };
        // Only a failure of the device itself can end the start from here (the model goes with it).
        let decoding = Decoding::start(held, &self.gpu, &prompt, sample_options)
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
        match stream.into_generator() {
            GpuGenerator::Trainer(trainer) => self.trainer = Some(trainer),
            GpuGenerator::Model(model) => self.generator = Some(model),
        }
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

impl GpuModel {
    /// The model opened for generation only, its weights uploaded on first use. An upload the device refuses
    /// (out of memory) is this call's error, saying so, and the weights stay for another try.
    async fn generator(&mut self) -> Result<&mut GpuGpt, JsError> {
        if self.generator.is_none() {
            let model = self.initial.take().ok_or_else(no_data)?;
            let device = &self.gpu.device;
            let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let uploaded = GpuGpt::for_generation(&self.gpu, &model);
            let refused = match (validation.pop().await, memory.pop().await) {
                (Some(error), _) | (None, Some(error)) => Some(error.to_string()),
                (None, None) => None,
            };
            match (uploaded, refused) {
                (Ok(uploaded), None) => self.generator = Some(uploaded),
                (Err(error), _) => {
                    self.initial = Some(model);
                    return Err(to_js(error));
                }
                (Ok(_), Some(error)) => {
                    self.initial = Some(model);
                    return Err(JsError::new(&format!(
                        "this GPU cannot hold the model: uploading its weights failed ({error})"
                    )));
                }
            }
        }
        self.generator.as_mut().ok_or_else(no_data)
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
