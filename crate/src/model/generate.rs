//! Generation with a KV cache: the prompt runs through the batched forward pass once (prefill), its keys
//! and values are kept per layer, and every new token then costs one position's work, attending over the
//! cache. Sampling: greedy (temperature 0), temperature, top-k, top-p, seeded; stops at `max_tokens` or
//! at the end token.
//!
//! When the sequence reaches block_size the model cannot see further back, so the cache is rebuilt from
//! the last block_size / 2 tokens (a sliding window that moves in half-window jumps, so the cost stays one
//! prefill per block_size / 2 tokens).

use serde::{Deserialize, Serialize};

use super::config::ModelConfig;
use super::gpt::Gpt;
use super::train::ready;
use super::transformer::{Acts, DecodeActs, Transformer};
use crate::exec::Allocator;
use crate::exec::cpu::{CpuExecutor, CpuStore};
use crate::ops::attention_mask::AttentionMask;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// How to pick each next token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleOptions {
    pub max_tokens: usize,
    /// 0 picks the most likely token (greedy); otherwise logits are divided by it before the softmax.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probabilities sum to at least top_p (1: all).
    pub top_p: f32,
    pub seed: u64,
    /// Stop after generating this token.
    pub end_token: Option<u32>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            max_tokens: 100,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 1,
            end_token: None,
        }
    }
}

impl SampleOptions {
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            invalid_input!(
                "temperature {} must be 0 (greedy) or positive",
                self.temperature
            );
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            invalid_input!("top_p {} must be in (0, 1]", self.top_p);
        }
        Ok(())
    }
}

/// A CPU executor over `model`'s weights and a store of decode buffers (no gradients, no dropout).
fn executor<'a>(model: &'a Gpt<f32>, store: &'a mut CpuStore<f32>) -> CpuExecutor<'a, f32> {
    CpuExecutor {
        layout: &model.layout,
        params: &model.params,
        grads: &mut [],
        store,
        dropout_seed: 0,
        fused: false,
    }
}

/// Picks a token from logits (V) by the options; `rng` supplies the draw.
pub fn sample(logits: &[f32], options: &SampleOptions, rng: &mut Rng) -> u32 {
    let greedy = |logits: &[f32]| {
        let mut best = 0;
        for (i, &x) in logits.iter().enumerate() {
            if x > logits[best] {
                best = i;
            }
        }
        best as u32
    };
    if options.temperature == 0.0 {
        return greedy(logits);
    }
    let inv_t = 1.0 / f64::from(options.temperature);
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut probs: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &x)| (i, (f64::from(x - max) * inv_t).exp()))
        .collect();
    // Most likely first; equal probabilities keep the lower id first, so top_k = 1 is greedy.
    crate::sort::sort_by(&mut probs, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if options.top_k > 0 {
        probs.truncate(options.top_k);
    }
    let total: f64 = probs.iter().map(|p| p.1).sum();
    if options.top_p < 1.0 {
        let mut cumulative = 0.0;
        let mut keep = probs.len();
        for (i, p) in probs.iter().enumerate() {
            cumulative += p.1 / total;
            if cumulative >= f64::from(options.top_p) {
                keep = i + 1;
                break;
            }
        }
        probs.truncate(keep);
    }
    let total: f64 = probs.iter().map(|p| p.1).sum();
    let mut u = rng.uniform() * total;
    for &(i, p) in &probs {
        if u < p {
            return i as u32;
        }
        u -= p;
    }
    probs.last().map_or(0, |p| p.0 as u32)
}

/// A model that runs one new position at a time over its KV caches: the CPU model ([`CpuDecoder`]) and the GPU
/// model (`gpu_model::GpuGpt`). Both run [`Transformer::decode_step`]; the generation around it
/// ([`Decoding`]: prefill, sampling, the sliding window, stopping) is written once.
#[allow(async_fn_in_trait)]
pub trait Decoder {
    /// What every call needs besides the model: nothing on the CPU (`()`), the device on the GPU.
    type Device: ?Sized;
    fn config(&self) -> &ModelConfig;
    /// Runs `token` at cache position `pos` (the caches hold positions 0..pos) through the decode step, adding
    /// its keys and values to the caches. Returns the next token's logits (V) when `read`; otherwise they may
    /// be left unread (a prompt position before the last).
    async fn decode(
        &mut self,
        device: &Self::Device,
        token: u32,
        pos: usize,
        read: bool,
    ) -> Result<Vec<f32>>;

    /// Fills the caches with `window` (positions 0..len) and returns the logits (V) after its last token. One
    /// [`Decoder::decode`] per position unless the device has a faster way (the GPU runs the window through
    /// the batched forward pass and copies its keys and values).
    async fn prefill(&mut self, device: &Self::Device, window: &[u32]) -> Result<Vec<f32>> {
        let mut logits = Vec::new();
        for (pos, &token) in window.iter().enumerate() {
            let last = pos + 1 == window.len();
            logits = self.decode(device, token, pos, last).await?;
        }
        Ok(logits)
    }
}

/// The CPU model with its KV caches and one position's buffers, in a store of their own (the model's
/// activations stay as they are).
pub struct CpuDecoder<'m> {
    model: &'m Gpt<f32>,
    store: CpuStore<f32>,
    acts: DecodeActs,
}

impl<'m> CpuDecoder<'m> {
    pub fn new(model: &'m Gpt<f32>) -> Self {
        let mut store = CpuStore::default();
        let acts = DecodeActs::new(&mut executor(model, &mut store), &model.config);
        Self { model, store, acts }
    }
}

impl Decoder for CpuDecoder<'_> {
    type Device = ();

    fn config(&self) -> &ModelConfig {
        &self.model.config
    }

    async fn decode(&mut self, _: &(), token: u32, pos: usize, _read: bool) -> Result<Vec<f32>> {
        let d = &self.acts;
        self.store.set_tokens(d.token, &[token]);
        self.store.set_tokens(d.position, &[pos as u32]);
        let model = Transformer {
            config: &self.model.config,
            layout: &self.model.layout,
        };
        model.decode_step(&mut executor(self.model, &mut self.store), d, pos);
        Ok(self.store.get(d.logits).to_vec())
    }

    /// The window through the batched forward pass (in a store made for it), then each layer's keys and values
    /// (its qkv rows, rotated with RoPE) copied into the caches.
    async fn prefill(&mut self, _: &(), window: &[u32]) -> Result<Vec<f32>> {
        let cfg = &self.model.config;
        let (t, c, v) = (window.len(), cfg.n_embd, cfg.vocab_size);
        let model = Transformer {
            config: cfg,
            layout: &self.model.layout,
        };
        let mut store = CpuStore::default();
        let mut ex = executor(self.model, &mut store);
        let acts = Acts::new(&mut ex, cfg, t, cfg.n_head * t * t, false);
        let inputs = ex.alloc_tokens("inputs", t);
        ex.store.set_tokens(inputs, window);
        model.forward(&mut ex, &acts, inputs, None, 1, t, false);
        for l in 0..cfg.n_layer {
            let qkv = store.get(acts.attention_qkv(l)); // (T, 3C): q, k, v per position
            for (cache, part) in [(self.acts.k_cache[l], 1), (self.acts.v_cache[l], 2)] {
                let cache = self.store.get_mut(cache); // (block_size, C)
                for p in 0..t {
                    let row = &qkv[p * 3 * c + part * c..][..c];
                    cache[p * c..(p + 1) * c].copy_from_slice(row);
                }
            }
        }
        Ok(store.get(acts.logits)[(t - 1) * v..t * v].to_vec())
    }
}

/// A generation in progress on either device: feed it a prompt, then ask for one token at a time.
pub struct Decoding<D: Decoder> {
    decoder: D,
    options: SampleOptions,
    rng: Rng,
    /// Positions in the caches.
    cache_len: usize,
    /// Every token so far (prompt and generated).
    tokens: Vec<u32>,
    /// Logits (V) for the next position.
    logits: Vec<f32>,
    generated: usize,
    done: bool,
}

/// A generation in progress on the CPU.
pub type Generator<'m> = Decoding<CpuDecoder<'m>>;

impl<D: Decoder> Decoding<D> {
    /// Whether `config` can generate after `prompt` with `options`: what [`Decoding::start`] checks before it
    /// touches the device (so a caller can check before handing over a decoder it wants back on refusal).
    pub fn check(config: &ModelConfig, prompt: &[u32], options: &SampleOptions) -> Result<()> {
        options.validate()?;
        if config.attention_mask != AttentionMask::Causal {
            invalid_input!("generation needs a causal model; this one attends both ways");
        }
        if prompt.is_empty() {
            invalid_input!("the prompt is empty: give at least one token");
        }
        let v = config.vocab_size;
        if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= v) {
            invalid_input!("token id {bad} is outside the vocabulary of {v} tokens");
        }
        Ok(())
    }

    /// Checks the prompt and options, then runs the prompt's window through the caches.
    pub async fn start(
        decoder: D,
        device: &D::Device,
        prompt: &[u32],
        options: SampleOptions,
    ) -> Result<Self> {
        Self::check(decoder.config(), prompt, &options)?;
        let rng = Rng::new(options.seed);
        let mut decoding = Self {
            decoder,
            options,
            rng,
            cache_len: 0,
            tokens: prompt.to_vec(),
            logits: Vec::new(),
            generated: 0,
            done: false,
        };
        decoding.prefill(device).await?;
        Ok(decoding)
    }

    /// Refills the caches from the last min(len, block_size) tokens (half a block once they overflow it: a
    /// sliding window that moves in half-window jumps), one position at a time.
    async fn prefill(&mut self, device: &D::Device) -> Result<()> {
        let block = self.decoder.config().block_size;
        let window = if self.tokens.len() > block {
            block / 2
        } else {
            self.tokens.len()
        }
        .max(1);
        let start = self.tokens.len() - window;
        self.logits = self.decoder.prefill(device, &self.tokens[start..]).await?;
        self.cache_len = window;
        Ok(())
    }

    /// The next token, or `None` when `max_tokens` or the end token was reached.
    pub async fn next_token_on(&mut self, device: &D::Device) -> Result<Option<u32>> {
        if self.done || self.generated >= self.options.max_tokens {
            return Ok(None);
        }
        let token = sample(&self.logits, &self.options, &mut self.rng);
        self.tokens.push(token);
        self.generated += 1;
        if Some(token) == self.options.end_token {
            self.done = true;
        } else if self.generated < self.options.max_tokens {
            if self.cache_len >= self.decoder.config().block_size {
                self.prefill(device).await?;
            } else {
                let pos = self.cache_len;
                self.logits = self.decoder.decode(device, token, pos, true).await?;
                self.cache_len = pos + 1;
            }
        }
        Ok(Some(token))
    }

    /// The logits (V) the next token will be drawn from.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// The decoder back (a generation that owned its model hands it back when it ends).
    pub fn into_decoder(self) -> D {
        self.decoder
    }

    /// Every token after the prompt, until `max_tokens` or the end token.
    pub async fn run(mut self, device: &D::Device) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        while let Some(token) = self.next_token_on(device).await? {
            out.push(token);
        }
        Ok(out)
    }
}

impl<'m> Decoding<CpuDecoder<'m>> {
    /// A generation on the CPU from `model`'s current weights.
    pub fn new(model: &'m Gpt<f32>, prompt: &[u32], options: SampleOptions) -> Result<Self> {
        ready(Self::start(CpuDecoder::new(model), &(), prompt, options))
    }

    /// [`Decoding::next_token_on`] on the CPU.
    pub fn next_token(&mut self) -> Result<Option<u32>> {
        ready(self.next_token_on(&()))
    }
}

impl Gpt<f32> {
    /// Generates up to `options.max_tokens` tokens after `prompt` (the prompt is not repeated).
    pub fn generate(&mut self, prompt: &[u32], options: &SampleOptions) -> Result<Vec<u32>> {
        ready(Generator::new(self, prompt, options.clone())?.run(&()))
    }

    /// Generation without a cache: the whole (cropped) context through the batched forward pass for every
    /// token. The reference the KV cache is tested against; slow.
    pub fn generate_uncached(
        &mut self,
        prompt: &[u32],
        options: &SampleOptions,
    ) -> Result<Vec<u32>> {
        options.validate()?;
        let (t_max, v) = (self.config.block_size, self.config.vocab_size);
        let mut rng = Rng::new(options.seed);
        let mut tokens = prompt.to_vec();
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < options.max_tokens {
            // The same window as the cached path: jump by block_size / 2 when full.
            if tokens.len() - start > t_max {
                start = tokens.len() - (t_max / 2).max(1);
            }
            let context = &tokens[start..];
            let t = context.len();
            self.forward(context, None, 1, t, None)?;
            let logits = self.act(self.acts().logits)[(t - 1) * v..t * v].to_vec();
            let token = sample(&logits, options, &mut rng);
            tokens.push(token);
            out.push(token);
            if Some(token) == options.end_token {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::config::{ModelConfig, Positional};

    fn model(positional: Positional) -> Gpt<f32> {
        let config = ModelConfig {
            n_layer: 2,
            n_head: 3,
            n_embd: 12,
            block_size: 8,
            positional,
            ..ModelConfig::reference(37)
        };
        let mut model = Gpt::new(config, 4).unwrap();
        // Larger weights than the initialisation, so the distribution over tokens is far from uniform.
        let mut rng = Rng::new(8);
        for p in model.params.iter_mut() {
            *p += 0.3 * rng.normal() as f32;
        }
        model
    }

    #[test]
    fn cache_matches_the_full_forward_pass_for_every_position_kind() {
        for positional in [
            Positional::Learned,
            Positional::Sinusoidal,
            Positional::Rope,
        ] {
            let mut m = model(positional);
            let options = SampleOptions {
                max_tokens: 20,
                temperature: 0.0,
                ..SampleOptions::default()
            };
            // 20 tokens after a 3-token prompt cross block_size 8 several times (window rebuilds).
            let cached = m.generate(&[1, 2, 3], &options).unwrap();
            let uncached = m.generate_uncached(&[1, 2, 3], &options).unwrap();
            assert_eq!(cached, uncached, "{positional:?}");
            // The logits agree closely, not just the argmax.
            let mut g = Generator::new(&mut m, &[4, 5], options.clone()).unwrap();
            g.next_token().unwrap();
            let cached_logits = g.logits().to_vec();
            let token = *g.tokens.last().unwrap();
            m.forward(&[4, 5, token], None, 1, 3, None).unwrap();
            let full = &m.act(m.acts().logits)[2 * 37..3 * 37];
            for (a, b) in cached_logits.iter().zip(full) {
                assert!((a - b).abs() < 1e-4, "{positional:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn generation_is_reproducible_for_a_seed() {
        let mut m = model(Positional::Learned);
        let options = SampleOptions {
            max_tokens: 30,
            temperature: 1.0,
            top_k: 10,
            top_p: 0.9,
            seed: 5,
            end_token: None,
        };
        let a = m.generate(&[7], &options).unwrap();
        let b = m.generate(&[7], &options).unwrap();
        assert_eq!(a, b);
        let c = m
            .generate(&[7], &SampleOptions { seed: 6, ..options })
            .unwrap();
        assert_ne!(a, c, "another seed gives another text");
    }

    #[test]
    fn top_k_one_equals_greedy() {
        let mut m = model(Positional::Rope);
        let greedy = m
            .generate(
                &[3, 1],
                &SampleOptions {
                    max_tokens: 25,
                    temperature: 0.0,
                    ..SampleOptions::default()
                },
            )
            .unwrap();
        let top1 = m
            .generate(
                &[3, 1],
                &SampleOptions {
                    max_tokens: 25,
                    temperature: 1.3,
                    top_k: 1,
                    seed: 99,
                    ..SampleOptions::default()
                },
            )
            .unwrap();
        assert_eq!(greedy, top1);
    }

    #[test]
    fn stops_at_the_end_token_and_validates_options() {
        let mut m = model(Positional::Learned);
        let options = SampleOptions {
            max_tokens: 50,
            temperature: 0.0,
            ..SampleOptions::default()
        };
        let free = m.generate(&[2], &options).unwrap();
        let end = free[3];
        let stopped = m
            .generate(
                &[2],
                &SampleOptions {
                    end_token: Some(end),
                    ..options.clone()
                },
            )
            .unwrap();
        let first = free.iter().position(|&t| t == end).unwrap();
        assert_eq!(stopped, free[..=first]);
        assert!(m.generate(&[], &options).is_err());
        assert!(
            m.generate(&[40], &options)
                .unwrap_err()
                .to_string()
                .contains("outside the vocabulary")
        );
        assert!(
            m.generate(
                &[1],
                &SampleOptions {
                    top_p: 0.0,
                    ..options
                }
            )
            .is_err()
        );
    }

    #[test]
    fn top_p_keeps_the_smallest_likely_set() {
        // probs ~ [0.64, 0.24, 0.09, 0.03]: top_p 0.7 keeps the first two only.
        let logits = [3.0f32, 2.0, 1.0, 0.0];
        let options = SampleOptions {
            top_p: 0.7,
            ..SampleOptions::default()
        };
        let mut rng = Rng::new(1);
        let mut seen = [0usize; 4];
        for _ in 0..2000 {
            seen[sample(&logits, &options, &mut rng) as usize] += 1;
        }
        assert!(
            seen[0] > 1000 && seen[1] > 300 && seen[2] == 0 && seen[3] == 0,
            "{seen:?}"
        );
    }
}
