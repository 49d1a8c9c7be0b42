//! Streaming generation with the KV cache: a `TokenStream` is made from a `CpuModel`'s current weights and a
//! prompt, and each `next()` call returns one token (with the alternatives the model weighed for it) while the
//! keys and values of every earlier position stay cached. So a page can show each token as it is made, and
//! stop between any two, at the speed of `CpuModel.generate`.

use wasm_bindgen::prelude::*;

use super::model::CpuModel;
use super::{options, to_js, to_value};
use crate::model::generate::{Generator, SampleOptions};
use crate::model::{Gpt, ModelConfig};

/// One generated token: its id and the `k` likeliest ids at its position (before sampling) with their
/// probabilities under the plain softmax of the logits.
#[derive(serde::Serialize)]
struct StreamedToken {
    id: u32,
    alternatives: Vec<u32>,
    probs: Vec<f32>,
}

/// A generation in progress over its own copy of the weights (training the model meanwhile does not
/// change what it generates). `free()` it when done, or let it run to its end.
#[wasm_bindgen]
pub struct TokenStream {
    // `generator` borrows the model behind `model` for its whole life: it is declared (and dropped) first,
    // and `model` is only ever touched again to free it in `drop`.
    generator: Option<Generator<'static>>,
    model: *mut Gpt<f32>,
    alternatives: usize,
}

#[wasm_bindgen]
impl TokenStream {
    /// Starts generating after `prompt` (at most the model's block_size tokens are read) with `sampleOptions`
    /// (max_tokens, temperature, top_k, top_p, seed, end_token); `alternatives` likeliest ids are reported
    /// with each token.
    #[wasm_bindgen(constructor)]
    pub fn new(
        model: &CpuModel,
        prompt: Vec<u32>,
        #[wasm_bindgen(js_name = sampleOptions)] sample_options: JsValue,
        alternatives: usize,
    ) -> Result<TokenStream, JsError> {
        let sample_options: SampleOptions = options(sample_options, "sampling options")?;
        let config: ModelConfig = serde_json::from_str(&model.config_json())
            .map_err(|e| JsError::new(&format!("the model's config did not read back: {e}")))?;
        let copy = Gpt::from_params(config, model.params()).map_err(to_js)?;
        let raw = Box::into_raw(Box::new(copy));
        // SAFETY: `raw` comes from a Box that only this stream owns and frees (in `drop`, after the generator
        // that borrows it), so the reference is valid and unaliased for as long as the generator lives.
        let generator = Generator::new(unsafe { &mut *raw }, &prompt, sample_options);
        match generator {
            Ok(generator) => Ok(TokenStream {
                generator: Some(generator),
                model: raw,
                alternatives,
            }),
            Err(error) => {
                // SAFETY: the failed generator borrowed nothing any more; the Box is freed once, here.
                drop(unsafe { Box::from_raw(raw) });
                Err(to_js(error))
            }
        }
    }

    /// The next token `{id, alternatives, probs}`, or `undefined` once `max_tokens` or the end token is
    /// reached.
    pub fn next(&mut self) -> Result<JsValue, JsError> {
        let Some(generator) = self.generator.as_mut() else {
            return Ok(JsValue::UNDEFINED);
        };
        let (alternatives, probs) = top_k_softmax(generator.logits(), self.alternatives);
        match generator.next_token().map_err(to_js)? {
            Some(id) => to_value(&StreamedToken {
                id,
                alternatives,
                probs,
            }),
            None => Ok(JsValue::UNDEFINED),
        }
    }
}

impl Drop for TokenStream {
    fn drop(&mut self) {
        self.generator = None;
        // SAFETY: the generator that borrowed the model is gone; the Box from `new` is freed exactly once.
        drop(unsafe { Box::from_raw(self.model) });
    }
}

/// The `k` largest entries of softmax(`logits`) (V), as (ids, probabilities), most likely first.
fn top_k_softmax(logits: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = logits.iter().map(|&x| (x - max).exp()).sum();
    let mut order: Vec<u32> = (0..logits.len() as u32).collect();
    order.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
    order.truncate(k);
    let probs = order
        .iter()
        .map(|&i| (logits[i as usize] - max).exp() / total)
        .collect();
    (order, probs)
}
