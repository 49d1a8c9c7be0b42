//! Generation on the GPU with a KV cache, step for step as the CPU's `model::generate::Generator`: the prompt
//! (its last window) goes through the batched forward pass once and fills each layer's key and value cache; then
//! every new token runs one position through the blocks, attending over the cache (`attention_decode`).
//! Each position has its plan (sizes and the RoPE angles differ), built on first use and kept.

use std::collections::HashMap;

use super::GpuGpt;
use crate::gpu::{GpuContext, Plan, View};
use crate::model::generate::{SampleOptions, sample};
use crate::model::{Activation, Positional};
use crate::ops::attention_decode::attention_decode_gpu;
use crate::ops::encoder_forward::sinusoidal_table;
use crate::ops::gelu_forward::gelu_forward_gpu;
use crate::ops::layernorm_forward::layernorm_forward_gpu;
use crate::ops::matmul_forward::matmul_forward_fast_gpu;
use crate::ops::relu_forward::relu_forward_gpu;
use crate::ops::residual_forward::residual_forward_gpu;
use crate::ops::rope_forward::rope_forward_gpu;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// The buffers of one-position steps: the caches and one row of every activation.
pub(super) struct DecodeBuffers {
    k_cache: Vec<wgpu::Buffer>, // L x (block_size, C)
    v_cache: Vec<wgpu::Buffer>, // L x (block_size, C)
    /// The residual stream before block l is resid[l]; resid[L] is the last block's output. Each (C).
    resid: Vec<wgpu::Buffer>,
    /// The new token's embedding row and its position's row (copied from the weights on the GPU, or the
    /// sinusoidal row from the CPU; zeros for RoPE), summed into resid[0]. Each (C).
    token_row: wgpu::Buffer,
    position_row: wgpu::Buffer,
    ln: wgpu::Buffer,        // (C)
    mean: wgpu::Buffer,      // (1)
    rstd: wgpu::Buffer,      // (1)
    qkv: wgpu::Buffer,       // (3C)
    qkv_rope: wgpu::Buffer,  // (3C)
    atty: wgpu::Buffer,      // (C)
    attproj: wgpu::Buffer,   // (C)
    residual2: wgpu::Buffer, // (C)
    fch: wgpu::Buffer,       // (F)
    fch_act: wgpu::Buffer,   // (F)
    fcproj: wgpu::Buffer,    // (C)
    logits: wgpu::Buffer,    // (V)
    /// The mappable copy of the logits each token reads back, kept from token to token.
    logits_readback: wgpu::Buffer,
    /// One plan per position.
    plans: HashMap<usize, Plan>,
}

impl DecodeBuffers {
    /// Every buffer, for [`GpuGpt::memory_bytes`].
    pub(super) fn buffers(&self) -> Vec<&wgpu::Buffer> {
        let mut all: Vec<&wgpu::Buffer> = self
            .k_cache
            .iter()
            .chain(&self.v_cache)
            .chain(&self.resid)
            .collect();
        all.extend([
            &self.token_row,
            &self.position_row,
            &self.ln,
            &self.mean,
            &self.rstd,
            &self.qkv,
            &self.qkv_rope,
            &self.atty,
            &self.attproj,
            &self.residual2,
            &self.fch,
            &self.fch_act,
            &self.fcproj,
            &self.logits,
        ]);
        all
    }

    fn new(gpu: &GpuContext, model: &GpuGpt) -> Self {
        let cfg = &model.config;
        let (c, f, t, v, l) = (
            cfg.n_embd,
            cfg.ffn_width(),
            cfg.block_size,
            cfg.vocab_size,
            cfg.n_layer,
        );
        let z = |label: &str, len: usize| gpu.zeros(label, len);
        Self {
            k_cache: (0..l).map(|_| z("k cache", t * c)).collect(),
            v_cache: (0..l).map(|_| z("v cache", t * c)).collect(),
            resid: (0..=l).map(|_| z("decode residual", c)).collect(),
            token_row: z("decode token row", c),
            position_row: z("decode position row", c),
            ln: z("decode ln", c),
            mean: z("decode mean", 1),
            rstd: z("decode rstd", 1),
            qkv: z("decode qkv", 3 * c),
            qkv_rope: z("decode qkv rope", 3 * c),
            atty: z("decode atty", c),
            attproj: z("decode attproj", c),
            residual2: z("decode residual2", c),
            fch: z("decode fch", f),
            fch_act: z("decode fch act", f),
            fcproj: z("decode fcproj", c),
            logits: z("decode logits", v),
            logits_readback: gpu.readback_buffer(v),
            plans: HashMap::new(),
        }
    }
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
                logits = self.step_one(gpu, token, cache_len).await?;
                cache_len += 1;
            }
        }
        Ok(out)
    }

    /// Runs the last window of `tokens` (all of them, or half a block when they overflow it, as the CPU does)
    /// through the forward pass and copies every layer's keys and values into the caches. Returns the logits of
    /// the last position and the cache length.
    async fn prefill(&mut self, gpu: &GpuContext, tokens: &[u32]) -> Result<(Vec<f32>, usize)> {
        let block = self.config.block_size;
        let window = if tokens.len() > block {
            block / 2
        } else {
            tokens.len()
        }
        .max(1);
        let context = &tokens[tokens.len() - window..];
        self.forward(gpu, context, None, 1, window).await?;
        if self.decode.is_none() {
            self.decode = Some(DecodeBuffers::new(gpu, self));
        }
        let (c, acts) = (
            self.config.n_embd,
            self.acts.as_ref().expect("activations allocated"),
        );
        let decode = self.decode.as_ref().expect("decode buffers");
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for (l, layer) in acts.layers.iter().enumerate() {
            let qkv = layer.qkv_rope.as_ref().unwrap_or(&layer.qkv);
            for p in 0..window {
                let row = (p * 3 * c * 4) as u64;
                let (bytes, to) = ((c * 4) as u64, (p * c * 4) as u64);
                encoder.copy_buffer_to_buffer(qkv, row + bytes, &decode.k_cache[l], to, bytes);
                encoder.copy_buffer_to_buffer(qkv, row + 2 * bytes, &decode.v_cache[l], to, bytes);
            }
        }
        gpu.queue.submit([encoder.finish()]);
        Ok((self.last_logits(gpu).await?, window))
    }

    /// One position through the model: `token` at cache position `pos`; returns the next token's logits (V).
    async fn step_one(&mut self, gpu: &GpuContext, token: u32, pos: usize) -> Result<Vec<f32>> {
        let cfg = &self.config;
        let (c, v) = (cfg.n_embd, cfg.vocab_size);
        if !self
            .decode
            .as_ref()
            .is_some_and(|d| d.plans.contains_key(&pos))
        {
            let plan = self.record_step(gpu, pos);
            self.decode
                .as_mut()
                .expect("decode buffers")
                .plans
                .insert(pos, plan);
        }
        let decode = self.decode.as_ref().expect("decode buffers");
        let lay = &self.layout;
        let row_bytes = (c * 4) as u64;
        // The embedding is a gather: copy the token's row of wte (and the position's row of wpe) on the GPU,
        // so no weights travel to the CPU; the step's plan adds the two rows into the residual stream.
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let wte_at = (self.offsets[lay.wte] + token as usize * c) as u64 * 4;
        encoder.copy_buffer_to_buffer(&self.params, wte_at, &decode.token_row, 0, row_bytes);
        match cfg.positional {
            Positional::Learned => {
                let wpe = lay.wpe.expect("learned positions have wpe");
                let wpe_at = (self.offsets[wpe] + pos * c) as u64 * 4;
                encoder.copy_buffer_to_buffer(
                    &self.params,
                    wpe_at,
                    &decode.position_row,
                    0,
                    row_bytes,
                );
            }
            Positional::Sinusoidal => {
                let mut row = vec![0.0f32; c];
                sinusoidal_table(&mut row, pos, 1, c);
                gpu.queue
                    .write_buffer(&decode.position_row, 0, bytemuck::cast_slice(&row));
            }
            Positional::Rope => {} // positions enter through the rotation; the row stays zero
        }
        // The step and the logits' copy home in one submit.
        decode.plans[&pos].encode(&mut encoder);
        gpu.stage_into(
            &mut encoder,
            &decode.logits_readback,
            &[(&decode.logits, 0, v)],
        );
        gpu.queue.submit([encoder.finish()]);
        gpu.read_staged(&decode.logits_readback).await
    }

    /// The plan of one position `pos`: every block on one row, attending over pos + 1 cached positions.
    fn record_step(&self, gpu: &GpuContext, pos: usize) -> Plan {
        let cfg = &self.config;
        let (c, f, nh, v, t_max) = (
            cfg.n_embd,
            cfg.ffn_width(),
            cfg.n_head,
            cfg.vocab_size,
            cfg.block_size,
        );
        let (lay, d) = (&self.layout, self.decode.as_ref().expect("decode buffers"));
        let p = |id| self.tensor(&self.params, id);
        let popt = |id: Option<usize>| id.map(p);
        let all = View::all;
        let mut plan = Plan::new();
        let plan_ref = &mut plan;
        // The new token's embedding: its wte row plus its position's row (both filled before the plan runs).
        residual_forward_gpu(
            gpu,
            plan_ref,
            all(&d.resid[0]),
            all(&d.token_row),
            all(&d.position_row),
            c,
        );
        for (l, ids) in lay.layers.iter().enumerate() {
            let (x, ln) = (all(&d.resid[l]), all(&d.ln));
            layernorm_forward_gpu(
                gpu,
                plan_ref,
                ln,
                all(&d.mean),
                all(&d.rstd),
                x,
                p(ids.ln1_w),
                popt(ids.ln1_b),
                1,
                1,
                c,
            );
            matmul_forward_fast_gpu(
                gpu,
                plan_ref,
                all(&d.qkv),
                ln,
                p(ids.qkv_w),
                popt(ids.qkv_b),
                1,
                c,
                3 * c,
            );
            let qkv = if cfg.positional == Positional::Rope {
                rope_forward_gpu(
                    gpu,
                    plan_ref,
                    all(&d.qkv_rope),
                    all(&d.qkv),
                    pos,
                    1,
                    1,
                    c,
                    nh,
                );
                &d.qkv_rope
            } else {
                &d.qkv
            };
            attention_decode_gpu(
                gpu,
                plan_ref,
                all(&d.atty),
                None,
                all(&d.k_cache[l]),
                all(&d.v_cache[l]),
                all(qkv),
                pos + 1,
                t_max,
                c,
                nh,
            );
            matmul_forward_fast_gpu(
                gpu,
                plan_ref,
                all(&d.attproj),
                all(&d.atty),
                p(ids.attproj_w),
                popt(ids.attproj_b),
                1,
                c,
                c,
            );
            residual_forward_gpu(gpu, plan_ref, all(&d.residual2), x, all(&d.attproj), c);
            layernorm_forward_gpu(
                gpu,
                plan_ref,
                ln,
                all(&d.mean),
                all(&d.rstd),
                all(&d.residual2),
                p(ids.ln2_w),
                popt(ids.ln2_b),
                1,
                1,
                c,
            );
            matmul_forward_fast_gpu(
                gpu,
                plan_ref,
                all(&d.fch),
                ln,
                p(ids.fc_w),
                popt(ids.fc_b),
                1,
                c,
                f,
            );
            match cfg.activation {
                Activation::Gelu => {
                    gelu_forward_gpu(gpu, plan_ref, all(&d.fch_act), all(&d.fch), f)
                }
                Activation::Relu => {
                    relu_forward_gpu(gpu, plan_ref, all(&d.fch_act), all(&d.fch), f)
                }
            }
            matmul_forward_fast_gpu(
                gpu,
                plan_ref,
                all(&d.fcproj),
                all(&d.fch_act),
                p(ids.fcproj_w),
                popt(ids.fcproj_b),
                1,
                f,
                c,
            );
            residual_forward_gpu(
                gpu,
                plan_ref,
                all(&d.resid[l + 1]),
                all(&d.residual2),
                all(&d.fcproj),
                c,
            );
        }
        let last = all(&d.resid[cfg.n_layer]);
        layernorm_forward_gpu(
            gpu,
            plan_ref,
            all(&d.ln),
            all(&d.mean),
            all(&d.rstd),
            last,
            p(lay.lnf_w),
            popt(lay.lnf_b),
            1,
            1,
            c,
        );
        matmul_forward_fast_gpu(
            gpu,
            plan_ref,
            all(&d.logits),
            all(&d.ln),
            p(lay.wte),
            None,
            1,
            c,
            v,
        );
        plan
    }
}
