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

/// The training footprint of `config` for `grad_accum` micro-batches of (B, T) (seq_len 0: block_size): the
/// `model::memory::MemoryReport` (f32 and f16, without and with checkpointing every `checkpoint_every` blocks),
/// with the adapter's limits marked when `max_binding` (bytes) is above 0.
#[wasm_bindgen(js_name = memoryReport)]
#[allow(clippy::too_many_arguments)]
pub fn memory_report(
    config: JsValue,
    #[wasm_bindgen(js_name = batchSize)] batch_size: usize,
    #[wasm_bindgen(js_name = seqLen)] seq_len: usize,
    #[wasm_bindgen(js_name = gradAccum)] grad_accum: usize,
    #[wasm_bindgen(js_name = checkpointEvery)] checkpoint_every: usize,
    fused: bool,
    #[wasm_bindgen(js_name = maxBinding)] max_binding: f64,
    #[wasm_bindgen(js_name = maxBuffer)] max_buffer: f64,
) -> Result<JsValue, JsError> {
    use crate::model::memory::{DeviceLimits, MemoryReport};
    let config: ModelConfig = options(config, "model config")?;
    config.validate().map_err(to_js)?;
    let t = if seq_len == 0 {
        config.block_size
    } else {
        seq_len
    };
    if batch_size == 0 || t > config.block_size || grad_accum == 0 {
        return Err(JsError::new(&format!(
            "a batch needs at least one sequence of at most block_size ({}) tokens and grad_accum >= 1",
            config.block_size
        )));
    }
    let max_buffer = if max_buffer > 0.0 {
        max_buffer
    } else {
        max_binding
    };
    let limits = (max_binding > 0.0).then_some(DeviceLimits {
        max_storage_buffer_binding_size: max_binding as u64,
        max_buffer_size: max_buffer as u64,
    });
    to_value(&MemoryReport::new(
        &config,
        batch_size,
        t,
        grad_accum,
        checkpoint_every,
        fused,
        limits,
    ))
}
