//! Generation on the GPU with a KV cache, step for step as the CPU's `model::generate::Generator`: the decode
//! step of the one model description ([`Transformer::decode_step`]) recorded once per position (sizes and the
//! RoPE angles differ) and replayed; the prompt's window fills the caches one position at a time, then every
//! new token runs one position through the blocks, attending over the cache (`attention_decode`).

use std::collections::HashMap;

use super::{GpuExecutor, GpuGpt};
use crate::gpu::{GpuContext, Plan};
use crate::model::generate::{SampleOptions, sample};
use crate::model::transformer::{DecodeActs, Transformer};
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// The decode buffers (in the model's store), a plan per position, and the logits' readback.
pub(super) struct Decode {
    acts: DecodeActs,
    plans: HashMap<usize, Plan>,
    /// The mappable copy of the logits each token reads back, kept from token to token.
    logits_readback: wgpu::Buffer,
}

impl GpuGpt {
    /// Generates up to `options.max_tokens` tokens after `prompt` (not repeated) with a KV cache; the same
    /// tokens as the CPU model's `generate` for the same weights, options and seed.
    pub async fn generate(
        &mut self,
        gpu: &GpuContext,
        prompt: &[u32],
        options: &SampleOptions,
    ) -> Result<Vec<u32>> {
        options.validate()?;
        if prompt.is_empty() {
            invalid_input!("the prompt is empty: give at least one token");
        }
        let v = self.config.vocab_size;
        if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= v) {
            invalid_input!("token id {bad} is outside the vocabulary of {v} tokens");
        }
        let mut rng = Rng::new(options.seed);
        let mut tokens = prompt.to_vec();
        let (mut logits, mut cache_len) = self.prefill(gpu, &tokens).await?;
        let mut out = Vec::new();
        while out.len() < options.max_tokens {
            let token = sample(&logits, options, &mut rng);
            tokens.push(token);
            out.push(token);
            if Some(token) == options.end_token || out.len() == options.max_tokens {
                break;
            }
            if cache_len >= self.config.block_size {
                (logits, cache_len) = self.prefill(gpu, &tokens).await?;
            } else {
                logits = self.step_one(gpu, token, cache_len, true).await?;
                cache_len += 1;
            }
        }
        Ok(out)
    }

    /// Runs the last window of `tokens` (all of them, or half a block when they overflow it, as the CPU does)
    /// through the decode step one position at a time, filling the caches. Returns the logits of the last
    /// position and the cache length.
    async fn prefill(&mut self, gpu: &GpuContext, tokens: &[u32]) -> Result<(Vec<f32>, usize)> {
        let block = self.config.block_size;
        let window = if tokens.len() > block {
            block / 2
        } else {
            tokens.len()
        }
        .max(1);
        let context = &tokens[tokens.len() - window..];
        for (pos, &token) in context[..window - 1].iter().enumerate() {
            self.step_one(gpu, token, pos, false).await?;
        }
        let logits = self
            .step_one(gpu, context[window - 1], window - 1, true)
            .await?;
        Ok((logits, window))
    }

    /// One position through the model: `token` at cache position `pos`. Returns the next token's logits (V)
    /// when `read`; otherwise only submits (the prompt's positions before the last).
    async fn step_one(
        &mut self,
        gpu: &GpuContext,
        token: u32,
        pos: usize,
        read: bool,
    ) -> Result<Vec<f32>> {
        let model = Transformer {
            config: &self.config,
            layout: &self.layout,
        };
        if self.decode.is_none() {
            let mut ex = GpuExecutor::new(gpu, &mut self.store, false);
            let acts = DecodeActs::new(&mut ex, &self.config);
            self.decode = Some(Decode {
                acts,
                plans: HashMap::new(),
                logits_readback: gpu.readback_buffer(self.config.vocab_size),
            });
        }
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
