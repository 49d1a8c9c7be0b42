//! The size of a model and of training it, counted by the core (`ModelConfig::param_count` and
//! `training_bytes`), so the page and the package show the numbers the core allocates by.

use wasm_bindgen::prelude::*;

use super::{options, to_js, to_value};
use crate::model::ModelConfig;

/// Parameters and bytes of training a batch of `batch_size` sequences of `seq_len` tokens (0: block_size).
#[derive(serde::Serialize)]
struct ModelSize {
    params: f64,
    /// Weights, gradients and AdamW's two moments: 16 bytes per parameter.
    weight_bytes: f64,
    /// The activations kept for the backward pass and the gradient scratch of the whole batch.
    activation_bytes: f64,
    training_bytes: f64,
}

/// `{params, weight_bytes, activation_bytes, training_bytes}` of `config` (JSON string or object) for a batch.
#[wasm_bindgen(js_name = modelSize)]
pub fn model_size(
    config: JsValue,
    #[wasm_bindgen(js_name = batchSize)] batch_size: usize,
    #[wasm_bindgen(js_name = seqLen)] seq_len: usize,
) -> Result<JsValue, JsError> {
    let config: ModelConfig = options(config, "model config")?;
    config.validate().map_err(to_js)?;
    let t = if seq_len == 0 {
        config.block_size
    } else {
        seq_len
    };
    let params = config.param_count() as f64;
    let weight_bytes = 16.0 * params;
    // Activations grow linearly with the batch; counting one sequence keeps the core's usize sums within 32 bits
    // on wasm32 for every config the page offers, and the batch multiplies in f64.
    let per_sequence = config.training_bytes(1, t) as f64 - weight_bytes;
    let activation_bytes = batch_size as f64 * per_sequence;
    to_value(&ModelSize {
        params,
        weight_bytes,
        activation_bytes,
        training_bytes: weight_bytes + activation_bytes,
    })
}
