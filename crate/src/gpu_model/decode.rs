//! Generation on the GPU with a KV cache: the one [`Decoding`] (prefill, sampling, the sliding window) over the
//! decode step of the one model description ([`Transformer::decode_step`]), recorded once per position (sizes
//! and the RoPE angles differ) and replayed, one submit per token. The prompt's window fills the caches from one
//! batched forward pass.

use std::collections::HashMap;

use super::{GpuExecutor, GpuGpt, GpuTrainer};
use crate::Result;
use crate::gpu::{GpuContext, Plan};
use crate::model::ModelConfig;
use crate::model::generate::{Decoder, Decoding, SampleOptions};
use crate::model::transformer::{DecodeActs, Transformer};

/// The decode buffers (in the model's store), a plan per position, and the logits' readback.
pub(super) struct Decode {
    acts: DecodeActs,
    plans: HashMap<usize, Plan>,
    /// The mappable copy of the logits each token reads back, kept from token to token.
    logits_readback: wgpu::Buffer,
}

impl GpuGpt {
    /// Generates up to `options.max_tokens` tokens after `prompt` (not repeated) with a KV cache; the same
    /// tokens as the CPU model's `generate` for the same weights, options and seed (the same [`Decoding`]).
    pub async fn generate(
        &mut self,
        gpu: &GpuContext,
        prompt: &[u32],
        options: &SampleOptions,
    ) -> Result<Vec<u32>> {
        Decoding::start(self, gpu, prompt, options.clone())
            .await?
            .run(gpu)
            .await
    }

    /// The decode buffers, made on first use.
    fn ensure_decode(&mut self, gpu: &GpuContext) {
        if self.decode.is_none() {
            let mut ex = GpuExecutor::new(gpu, &mut self.store, false);
            let acts = DecodeActs::new(&mut ex, &self.config);
            self.decode = Some(Decode {
                acts,
                plans: HashMap::new(),
                logits_readback: gpu.readback_buffer(self.config.vocab_size),
            });
        }
    }

    /// One position through the model: `token` at cache position `pos`. Returns the next token's logits (V)
    /// when `read`; otherwise only submits (the prompt's positions before the last).
    async fn decode_one(
        &mut self,
        gpu: &GpuContext,
        token: u32,
        pos: usize,
        read: bool,
    ) -> Result<Vec<f32>> {
        self.ensure_decode(gpu);
        let model = Transformer {
            config: &self.config,
            layout: &self.layout,
        };
        let decode = self.decode.as_mut().expect("decode buffers made above");
        if !decode.plans.contains_key(&pos) {
            let mut ex = GpuExecutor::new(gpu, &mut self.store, false);
            model.decode_step(&mut ex, &decode.acts, pos);
            decode.plans.insert(pos, ex.finish().0);
        }
        let (store, d) = (&self.store, &decode.acts);
        gpu.queue
            .write_buffer(store.buffer(d.token), 0, bytemuck::cast_slice(&[token]));
        gpu.queue.write_buffer(
            store.buffer(d.position),
            0,
            bytemuck::cast_slice(&[pos as u32]),
        );
        // The step and the logits' copy home in one submit.
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        decode.plans[&pos].encode(&mut encoder);
        if !read {
            gpu.queue.submit([encoder.finish()]);
            return Ok(Vec::new());
        }
        let v = self.config.vocab_size;
        gpu.stage_into(
            &mut encoder,
            &decode.logits_readback,
            &[(store.buffer(d.logits), 0, v)],
        );
        gpu.queue.submit([encoder.finish()]);
        gpu.read_staged(&decode.logits_readback).await
    }
}

impl Decoder for &mut GpuGpt {
    type Device = GpuContext;

    fn config(&self) -> &ModelConfig {
        &self.config
    }

    async fn decode(
        &mut self,
        gpu: &GpuContext,
        token: u32,
        pos: usize,
        read: bool,
    ) -> Result<Vec<f32>> {
        self.decode_one(gpu, token, pos, read).await
    }

    /// The window through the batched forward pass, then each layer's keys and values (its qkv rows, rotated
    /// with RoPE) copied into the caches: one submit for the whole prompt.
    async fn prefill(&mut self, gpu: &GpuContext, window: &[u32]) -> Result<Vec<f32>> {
        if self.checkpoint_every > 0 {
            // The batched forward keeps no block's q, k, v under activation checkpointing: one position at a time.
            let mut logits = Vec::new();
            for (pos, &token) in window.iter().enumerate() {
                logits = self
                    .decode_one(gpu, token, pos, pos + 1 == window.len())
                    .await?;
            }
            return Ok(logits);
        }
        let t = window.len();
        if !self.batched_forward_fits(gpu, t) {
            // wte or the (T, V) logits over one binding: the window position by position (only the one
            // position's logits, split over the vocabulary, are ever bound).
            let mut logits = Vec::new();
            for (pos, &token) in window.iter().enumerate() {
                logits = self.decode_one(gpu, token, pos, pos + 1 == t).await?;
            }
            return Ok(logits);
        }
        self.forward(gpu, window, None, 1, t).await?;
        self.ensure_decode(gpu);
        let c = self.config.n_embd;
        let (store, x) = (
            &self.store,
            self.buffers.as_ref().expect("buffers allocated"),
        );
        let d = &self
            .decode
            .as_ref()
            .expect("decode buffers made above")
            .acts;
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for l in 0..self.config.n_layer {
            let qkv = store.buffer(x.acts.attention_qkv(l));
            let (k_cache, v_cache) = (store.buffer(d.k_cache[l]), store.buffer(d.v_cache[l]));
            for p in 0..t {
                let row = (p * 3 * c * 4) as u64;
                let (bytes, to) = ((c * 4) as u64, (p * c * 4) as u64);
                encoder.copy_buffer_to_buffer(qkv, row + bytes, k_cache, to, bytes);
                encoder.copy_buffer_to_buffer(qkv, row + 2 * bytes, v_cache, to, bytes);
            }
        }
        gpu.queue.submit([encoder.finish()]);
        self.last_logits(gpu).await
    }
}

/// What a generation that lives between calls holds (the wasm binding's stream owns it, and hands it back with
/// [`Decoding::into_decoder`]): the whole trainer, or a model opened for generation only
/// ([`GpuGpt::for_generation`]: a device that cannot train it). Either decodes with its [`GpuGpt`].
// One per stream, moved in and out of it once: boxing the larger trainer would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum GpuGenerator {
    Trainer(GpuTrainer),
    Model(GpuGpt),
}

impl GpuGenerator {
    fn model(&mut self) -> &mut GpuGpt {
        match self {
            GpuGenerator::Trainer(trainer) => &mut trainer.model,
            GpuGenerator::Model(model) => model,
        }
    }
}

impl Decoder for GpuGenerator {
    type Device = GpuContext;

    fn config(&self) -> &ModelConfig {
        match self {
            GpuGenerator::Trainer(trainer) => &trainer.model.config,
            GpuGenerator::Model(model) => &model.config,
        }
    }

    async fn decode(
        &mut self,
        gpu: &GpuContext,
        token: u32,
        pos: usize,
        read: bool,
    ) -> Result<Vec<f32>> {
        self.model().decode_one(gpu, token, pos, read).await
    }

    async fn prefill(&mut self, gpu: &GpuContext, window: &[u32]) -> Result<Vec<f32>> {
        let mut model = self.model();
        model.prefill(gpu, window).await
    }
}
