//! Streaming generation with the KV cache: a `TokenStream` is made from a `CpuModel`'s current weights and a
//! prompt, and each `nextBatch()` call makes the next few tokens (with the alternatives the model weighed for
//! each) while the keys and values of every earlier position stay cached. So a page can show the tokens as they
//! are made, and stop between any two batches, at the speed of `CpuModel.generate`.
//!
//! A batch is flat typed arrays (`TokenBatch`), not an object per token: building a JavaScript object with
//! arrays for every token cost as much as the token itself, and kept the garbage collector busy beside it.

#[cfg(feature = "gpu")]
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::model::CpuModel;
use super::{options, to_js};
use crate::model::generate::{Decoder, Decoding, Generator, SampleOptions};
use crate::model::train::ready;
use crate::model::{Gpt, ModelConfig};
#[cfg(feature = "gpu")]
use crate::{gpu::GpuContext, gpu_model::GpuGenerator};

#[wasm_bindgen]
extern "C" {
    /// The caller's clock (a window, a worker and Node all have `performance.now()`): the core has none.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Tokens made by one `nextBatch` call, flat: token `i` is `ids[i]`, took `ms[i]` milliseconds, had
/// probability `probs[i]` under the plain softmax of the logits it was drawn from, and the `k` likeliest ids at
/// its position (before sampling) were `alternativeIds[i*k..(i+1)*k]` with `alternativeProbs` beside them.
#[wasm_bindgen]
#[derive(Default)]
pub struct TokenBatch {
    ids: Vec<u32>,
    ms: Vec<f64>,
    probs: Vec<f32>,
    alternative_ids: Vec<u32>,
    alternative_probs: Vec<f32>,
    k: usize,
}

#[wasm_bindgen]
impl TokenBatch {
    /// (n) the token ids
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> Vec<u32> {
        self.ids.clone()
    }
    /// (n) milliseconds per token (the first token of a stream includes reading the prompt)
    #[wasm_bindgen(getter)]
    pub fn ms(&self) -> Vec<f64> {
        self.ms.clone()
    }
    /// (n) each token's own probability under softmax(logits)
    #[wasm_bindgen(getter)]
    pub fn probs(&self) -> Vec<f32> {
        self.probs.clone()
    }
    /// (n, k) the likeliest ids at each position, most likely first
    #[wasm_bindgen(getter, js_name = alternativeIds)]
    pub fn alternative_ids(&self) -> Vec<u32> {
        self.alternative_ids.clone()
    }
    /// (n, k) their probabilities
    #[wasm_bindgen(getter, js_name = alternativeProbs)]
    pub fn alternative_probs(&self) -> Vec<f32> {
        self.alternative_probs.clone()
    }
    /// alternatives per token
    #[wasm_bindgen(getter)]
    pub fn k(&self) -> usize {
        self.k
    }
    /// tokens in the batch
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.ids.len()
    }
}

impl TokenBatch {
    fn new(k: usize) -> Self {
        Self {
            k,
            ..Self::default()
        }
    }

    /// Adds token `id`, drawn from `logits` (V) in `ms` milliseconds, with its k alternatives.
    pub(crate) fn push(&mut self, id: u32, logits: &[f32], ms: f64) {
        let (max, total) = softmax_scale(logits);
        self.ids.push(id);
        self.ms.push(ms);
        self.probs.push((logits[id as usize] - max).exp() / total);
        let start = self.alternative_ids.len();
        top_k(logits, self.k, &mut self.alternative_ids);
        let added = self.alternative_ids[start..].iter();
        let probs: Vec<f32> = added
            .map(|&i| (logits[i as usize] - max).exp() / total)
            .collect();
        self.alternative_probs.extend(probs);
    }
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
    /// The logits (V) the current token is drawn from, kept while the generator moves on to the next ones.
    logits: Vec<f32>,
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
                logits: Vec::new(),
            }),
            Err(error) => {
                // SAFETY: the failed generator borrowed nothing any more; the Box is freed once, here.
                drop(unsafe { Box::from_raw(raw) });
                Err(to_js(error))
            }
        }
    }

    /// The next tokens: at most `count`, fewer when `budgetMs` milliseconds have passed (so a caller can
    /// hand them on about once a frame) or the stream ends. `undefined` once `max_tokens` or the end token
    /// was reached.
    #[wasm_bindgen(js_name = nextBatch)]
    pub fn next_batch(
        &mut self,
        count: usize,
        #[wasm_bindgen(js_name = budgetMs)] budget_ms: f64,
    ) -> Result<Option<TokenBatch>, JsError> {
        let Some(generator) = self.generator.as_mut() else {
            return Ok(None);
        };
        let limits = (self.alternatives, count, budget_ms);
        ready(fill_batch(generator, &(), &mut self.logits, limits)).map_err(to_js)
    }
}

/// Up to `count` tokens of `decoding` (fewer once `budget_ms` have passed or it ends), each with its `k`
/// alternatives; `None` when it had ended already. `logits` is scratch space (V), kept between calls.
async fn fill_batch<D: Decoder>(
    decoding: &mut Decoding<D>,
    device: &D::Device,
    logits: &mut Vec<f32>,
    (k, count, budget_ms): (usize, usize, f64),
) -> crate::Result<Option<TokenBatch>> {
    let mut batch = TokenBatch::new(k);
    let start = performance_now();
    let mut before = start;
    while batch.ids.len() < count.max(1) {
        // The logits the token is drawn from are replaced by the next position's once it is made.
        logits.clear();
        logits.extend_from_slice(decoding.logits());
        let Some(id) = decoding.next_token_on(device).await? else {
            break;
        };
        let now = performance_now();
        batch.push(id, logits, now - before);
        before = now;
        if now - start >= budget_ms {
            break;
        }
    }
    Ok((!batch.ids.is_empty()).then_some(batch))
}

impl Drop for TokenStream {
    fn drop(&mut self) {
        self.generator = None;
        // SAFETY: the generator that borrowed the model is gone; the Box from `new` is freed exactly once.
        drop(unsafe { Box::from_raw(self.model) });
    }
}

/// (max, Σ exp(x - max)) of `logits`: softmax(x)_i = exp(x_i - max) / Σ.
fn softmax_scale(logits: &[f32]) -> (f32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (max, logits.iter().map(|&x| (x - max).exp()).sum())
}

/// Appends the ids of the `k` largest `logits` (V) to `out`, largest first (the lower id first on ties), in
/// O(V k) without sorting the vocabulary: k is a handful, V can be tens of thousands.
fn top_k(logits: &[f32], k: usize, out: &mut Vec<u32>) {
    let start = out.len();
    let k = k.min(logits.len());
    for (i, &x) in logits.iter().enumerate() {
        let kept = out.len() - start;
        if kept == k && (k == 0 || x <= logits[out[out.len() - 1] as usize]) {
            continue;
        }
        // Insertion into the short sorted list; a strictly larger value moves ahead of an equal earlier one.
        let mut at = out.len();
        while at > start && x > logits[out[at - 1] as usize] {
            at -= 1;
        }
        out.insert(at, i as u32);
        if kept == k {
            out.pop();
        }
    }
}

/// A generation on the GPU model: the same batches as `TokenStream`, made by the weights on the device (one
/// submit and one readback of the logits per token), from `GpuModel.startGeneration`. It holds the model's
/// trainer (or its generation-only weights) while it runs: hand it back with `GpuModel.finishGeneration(stream)` (training, evaluation and
/// reading the weights wait for that).
#[cfg(feature = "gpu")]
#[wasm_bindgen]
pub struct GpuTokenStream {
    decoding: Decoding<GpuGenerator>,
    gpu: Rc<GpuContext>,
    alternatives: usize,
    logits: Vec<f32>,
    ended: bool,
}

#[cfg(feature = "gpu")]
impl GpuTokenStream {
    pub(crate) fn new(
        decoding: Decoding<GpuGenerator>,
        gpu: Rc<GpuContext>,
        alternatives: usize,
    ) -> Self {
        Self {
            decoding,
            gpu,
            alternatives,
            logits: Vec::new(),
            ended: false,
        }
    }

    /// The trainer (or the generation-only model) the stream held.
    pub(crate) fn into_generator(self) -> GpuGenerator {
        self.decoding.into_decoder()
    }
}

#[cfg(feature = "gpu")]
#[wasm_bindgen]
impl GpuTokenStream {
    /// As `TokenStream.nextBatch`, on the GPU (asynchronous: each token waits for its logits).
    #[wasm_bindgen(js_name = nextBatch)]
    pub async fn next_batch(
        &mut self,
        count: usize,
        #[wasm_bindgen(js_name = budgetMs)] budget_ms: f64,
    ) -> Result<Option<TokenBatch>, JsError> {
        if self.ended {
            return Ok(None);
        }
        let gpu = self.gpu.clone();
        let limits = (self.alternatives, count, budget_ms);
        let batch = fill_batch(&mut self.decoding, &gpu, &mut self.logits, limits).await;
        // A failed step leaves the caches half written: the stream ends there.
        self.ended = !matches!(batch, Ok(Some(_)));
        batch.map_err(to_js)
    }
}
