//! The CPU model from JavaScript: create or load a GPT, train it one step per call, evaluate, generate,
//! and read its insides for the page. Everything runs synchronously on the calling thread: call it from a
//! Web Worker (the page) so the tab stays responsive. Time is measured by the caller (`performance.now()`),
//! since there is no clock in the wasm core.
//!
//! Options (`config`, `trainOptions`, `sampleOptions`) are a JSON string or a plain object; missing fields
//! take their defaults. Tokens go in and out as `Uint32Array`s.

use wasm_bindgen::prelude::*;

use super::{options, to_js, to_value};
use crate::model::generate::SampleOptions;
use crate::model::weights::{load_safetensors, save_safetensors};
use crate::model::{Gpt, ModelConfig, TrainOptions, Trainer};

/// A GPT on the CPU, with its trainer once training data is set.
#[wasm_bindgen]
pub struct CpuModel {
    /// The model while no trainer holds it.
    pub(super) model: Option<Gpt<f32>>,
    pub(super) trainer: Option<Trainer>,
    /// The tokenizer stored with the weights (from `loadSafetensors`), if any.
    pub(super) tokenizer: Option<String>,
}

impl CpuModel {
    pub(super) fn model(&self) -> &Gpt<f32> {
        match (&self.model, &self.trainer) {
            (Some(model), _) => model,
            (None, Some(trainer)) => &trainer.model,
            (None, None) => unreachable!("a CpuModel always holds a model"),
        }
    }

    pub(super) fn model_mut(&mut self) -> &mut Gpt<f32> {
        match (&mut self.model, &mut self.trainer) {
            (Some(model), _) => model,
            (None, Some(trainer)) => &mut trainer.model,
            (None, None) => unreachable!("a CpuModel always holds a model"),
        }
    }

    /// A new trainer of the model, made by `make` (which validates before it trains); on error the model stays
    /// as it was, without a trainer.
    pub(super) fn set_trainer(
        &mut self,
        make: impl FnOnce(Gpt<f32>) -> crate::Result<Trainer>,
    ) -> Result<(), JsError> {
        let model = match (self.model.take(), self.trainer.take()) {
            (Some(model), _) => model,
            (None, Some(trainer)) => trainer.model,
            (None, None) => unreachable!("a CpuModel always holds a model"),
        };
        // The trainers validate before taking the model; keep a copy of the weights to restore on error.
        let backup = (model.config.clone(), model.params.clone());
        match make(model) {
            Ok(trainer) => {
                self.trainer = Some(trainer);
                Ok(())
            }
            Err(e) => {
                self.model = Some(Gpt::from_params(backup.0, backup.1).map_err(to_js)?);
                Err(to_js(e))
            }
        }
    }

    fn trainer(&mut self) -> Result<&mut Trainer, JsError> {
        self.trainer.as_mut().ok_or_else(|| {
            JsError::new("no training data yet: call setTrainingData(train, val, options) first")
        })
    }
}

#[wasm_bindgen]
impl CpuModel {
    /// A new model from a config (JSON string or object: vocab_size, n_layer, n_head, n_embd,
    /// block_size, ffn_mult, activation, positional, dropout, bias), initialised from `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, seed: u32) -> Result<CpuModel, JsError> {
        let config: ModelConfig = options(config, "model config")?;
        let model = Gpt::new(config, u64::from(seed)).map_err(to_js)?;
        Ok(CpuModel {
            model: Some(model),
            trainer: None,
            tokenizer: None,
        })
    }

    /// Number of parameters (the tied head counted once).
    #[wasm_bindgen(getter, js_name = paramCount)]
    pub fn param_count(&self) -> usize {
        self.model().params.len()
    }

    /// The model config as JSON.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        self.model().config.to_json()
    }

    /// Bytes that training a batch of (B, T) needs (parameters, gradients, AdamW moments, activations).
    #[wasm_bindgen(js_name = trainingBytes)]
    pub fn training_bytes(&self, batch_size: usize, seq_len: usize) -> usize {
        self.model().config.training_bytes(batch_size, seq_len)
    }

    /// Sets the token streams and training options (batch_size, seq_len, grad_accum, steps, lr, min_lr,
    /// warmup_steps, weight_decay, decay_embeddings, beta1, beta2, eps, grad_clip, eval_interval,
    /// eval_batches, seed). Starts a fresh optimiser (step 0) on the current weights.
    #[wasm_bindgen(js_name = setTrainingData)]
    pub fn set_training_data(
        &mut self,
        train: Vec<u32>,
        val: Vec<u32>,
        train_options: JsValue,
    ) -> Result<(), JsError> {
        let train_options: TrainOptions = options(train_options, "training options")?;
        self.set_trainer(|model| Trainer::new(model, train, val, train_options))
    }

    /// One optimiser step: `{step, loss, lr, grad_norm, tokens}`. Throws when training diverged (NaN or
    /// infinite loss or gradient); the weights of the last good step are kept.
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        let stats = self.trainer()?.step().map_err(to_js)?;
        to_value(&stats)
    }

    /// Validation loss over fixed batches: `{step, val_loss, val_ppl}`.
    pub fn evaluate(&mut self) -> Result<JsValue, JsError> {
        let stats = self.trainer()?.evaluate().map_err(to_js)?;
        to_value(&stats)
    }

    /// Whether the training options ask for an evaluation after the current step.
    #[wasm_bindgen(js_name = evalDue)]
    pub fn eval_due(&self) -> bool {
        self.trainer.as_ref().is_some_and(Trainer::eval_due)
    }

    /// Optimiser steps taken.
    #[wasm_bindgen(getter, js_name = stepCount)]
    pub fn step_count(&self) -> u32 {
        self.trainer.as_ref().map_or(0, Trainer::step_count)
    }

    /// Mean loss of `targets` given `tokens`, both (B, T) flattened, without dropout.
    pub fn loss(
        &mut self,
        tokens: Vec<u32>,
        targets: Vec<u32>,
        batch_size: usize,
    ) -> Result<f64, JsError> {
        let t = tokens.len() / batch_size.max(1);
        let loss = self
            .model_mut()
            .forward(&tokens, Some(&targets), batch_size, t, None)
            .map_err(to_js)?;
        Ok(loss.unwrap_or(f64::NAN))
    }

    /// Tokens after `prompt` (max_tokens, temperature (0 = greedy), top_k, top_p, seed, end_token).
    pub fn generate(
        &mut self,
        prompt: Vec<u32>,
        sample_options: JsValue,
    ) -> Result<Vec<u32>, JsError> {
        let sample_options: SampleOptions = options(sample_options, "sampling options")?;
        self.model_mut()
            .generate(&prompt, &sample_options)
            .map_err(to_js)
    }

    /// Attention probabilities of every layer and head: `{n_layer, n_head, t, att}` with att (L, NH, T, T).
    pub fn attention(&mut self, tokens: Vec<u32>) -> Result<JsValue, JsError> {
        let capture = self.model_mut().capture_attention(&tokens).map_err(to_js)?;
        to_value(&capture)
    }

    /// One head at one query position in full: q, keys, values, raw and scaled scores, mask, weights,
    /// output.
    #[wasm_bindgen(js_name = attentionDetail)]
    pub fn attention_detail(
        &mut self,
        tokens: Vec<u32>,
        layer: usize,
        head: usize,
        query: usize,
    ) -> Result<JsValue, JsError> {
        let detail = self
            .model_mut()
            .attention_detail(&tokens, layer, head, query)
            .map_err(to_js)?;
        to_value(&detail)
    }

    /// Attention, LayerNorm mean/rstd, FFN activation statistics and the top `k` next tokens per position.
    pub fn inspect(&mut self, tokens: Vec<u32>, k: usize) -> Result<JsValue, JsError> {
        let inspection = self.model_mut().inspect(&tokens, k).map_err(to_js)?;
        to_value(&inspection)
    }

    /// The embedding tables: `{vocab_size, n_embd, wte, positions}`.
    pub fn embeddings(&self) -> Result<JsValue, JsError> {
        to_value(&self.model().embeddings())
    }

    /// The model as safetensors bytes (nanoGPT names), with `tokenizerJson` in the metadata when given.
    #[wasm_bindgen(js_name = saveSafetensors)]
    pub fn save_safetensors(&self, tokenizer_json: Option<String>) -> Result<Vec<u8>, JsError> {
        let tokenizer = tokenizer_json.or_else(|| self.tokenizer.clone());
        save_safetensors(self.model(), tokenizer.as_deref()).map_err(to_js)
    }

    /// A model from safetensors bytes; throws with the reason when a name, shape, dtype or the config
    /// does not fit.
    #[wasm_bindgen(js_name = loadSafetensors)]
    pub fn load_safetensors(bytes: &[u8]) -> Result<CpuModel, JsError> {
        let loaded = load_safetensors(bytes).map_err(to_js)?;
        Ok(CpuModel {
            model: Some(loaded.model),
            trainer: None,
            tokenizer: loaded.tokenizer,
        })
    }

    /// Replaces the weights with a file's of the same config; on any mismatch throws and changes nothing.
    #[wasm_bindgen(js_name = importSafetensors)]
    pub fn import_safetensors(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let tokenizer = self.model_mut().import_safetensors(bytes).map_err(to_js)?;
        if tokenizer.is_some() {
            self.tokenizer = tokenizer;
        }
        Ok(())
    }

    /// The tokenizer JSON stored with the loaded weights, if any.
    #[wasm_bindgen(getter, js_name = tokenizerJson)]
    pub fn tokenizer_json(&self) -> Option<String> {
        self.tokenizer.clone()
    }

    /// The current weights, flat, in nanoGPT's order (the order `GpuModel.params()` uses).
    pub fn params(&self) -> Vec<f32> {
        self.model().params.clone()
    }

    /// Replaces the weights with `params` (flat, in the order `GpuModel.params()` returns them), so that
    /// a model trained on the GPU can generate, be inspected and be saved here. Throws, changing nothing,
    /// when the count does not fit the config; an optimiser this model holds keeps its moments.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, params: Vec<f32>) -> Result<(), JsError> {
        let model = self.model_mut();
        let checked = Gpt::from_params(model.config.clone(), params).map_err(to_js)?;
        model.params = checked.params;
        Ok(())
    }
}
