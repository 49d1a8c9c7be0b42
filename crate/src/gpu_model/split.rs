//! Tensors larger than one storage binding: GPT-2's token embedding (V x C = 50,257 x 768, 147 MiB) on a
//! device that binds 128 MiB per buffer (lavapipe; WebGPU guarantees only 128 MiB). Generation with the KV cache
//! never needs wte bound whole: the token's row is gathered chunk by chunk of rows
//! ([`encoder_forward_rows_gpu`](crate::ops::encoder_forward::encoder_forward_rows_gpu)) and the one position's
//! logits (V) are the lm-head matmul over chunks of the vocabulary, each writing its slice of the logits. The
//! batched forward pass (training, evaluation, a long prompt's prefill) binds wte and the (B, T, V) logits whole,
//! so those are refused (training) or done position by position (prefill) when they do not fit.
//!
//! [`GpuGpt::for_generation`] opens a model for generation only: it checks what decoding binds against the device
//! before anything is allocated, and allocates no gradients or optimizer state.

use super::{ALIGN, GpuGpt};
use crate::gpu::{GpuContext, View};
use crate::model::{Gpt, ModelConfig};
use crate::{Result, invalid_input};

/// Rows per chunk when a (rows, c) weight of `rows * c` floats exceeds `limit` bytes, or `None` when it fits
/// whole. A multiple of 64 (ALIGN), so that every chunk of the weight (its tensor starts aligned) and of the
/// output and bias starts at a 256-byte binding offset. 0 when not even 64 rows fit (check_generation_limits
/// refuses that first).
pub(crate) fn chunk_rows(limit: u64, rows: usize, c: usize) -> Option<usize> {
    let bytes = 4 * rows as u64 * c as u64;
    if bytes <= limit {
        return None;
    }
    let fit = limit / (4 * c as u64).max(1);
    Some((fit as usize / ALIGN) * ALIGN)
}

/// The pieces (start, len) in which kernels that read or write a whole flat buffer of `len` numbers (the
/// gradients for the global norm and the clip, the weights for their f16 copy) bind it when it exceeds `limit`
/// bytes per binding: each piece at most `limit` bytes as f32, each start a multiple of 128 numbers and of the
/// device's binding-offset alignment both as f32 and as f16. One piece when it fits whole.
pub(crate) fn binding_pieces(gpu: &GpuContext, limit: u64, len: usize) -> Vec<(usize, usize)> {
    let align = u64::from(gpu.device.limits().min_storage_buffer_offset_alignment);
    // Halves are the narrower element: a start aligned for them is aligned for f32s too.
    let unit = (ALIGN as u64).max(align.div_ceil(2));
    let per = ((limit / 4) / unit * unit).max(unit) as usize;
    (0..len.max(1))
        .step_by(per)
        .map(|start| (start, per.min(len.max(1) - start)))
        .collect()
}

/// `len` floats of `x` from float `at` on.
pub(crate) fn part(x: View<'_>, at: usize, len: usize) -> View<'_> {
    View {
        offset: x.offset + at as u64,
        len: len as u64,
        ..x
    }
}

/// Refuses a config that decoding with the KV cache cannot bind (`limit` bytes per storage binding) or whose
/// parameters do not fit one buffer, before anything is allocated, saying what to shrink.
pub fn check_generation_limits(gpu: &GpuContext, config: &ModelConfig, limit: u64) -> Result<()> {
    config.validate()?;
    let (c, t, v, f) = (
        config.n_embd as u64,
        config.block_size as u64,
        config.vocab_size as u64,
        config.ffn_width() as u64,
    );
    let size = super::limits::size;
    let bound = [
        (
            "the attention weights of a block (3C x C)",
            3 * c * c,
            "shrink d_model",
        ),
        (
            "the FFN weights of a block (FFN width x C)",
            f * c,
            "shrink d_model or the FFN width",
        ),
        (
            "a block's KV cache (T x C)",
            t * c,
            "shrink the context or d_model",
        ),
        ("the logits of one position (V)", v, "shrink the vocabulary"),
        (
            "64 rows of the token embedding (64 x C)",
            ALIGN as u64 * c,
            "shrink d_model",
        ),
    ];
    for (what, floats, shrink) in bound {
        if 4 * floats > limit {
            invalid_input!(
                "this GPU cannot hold the model for generation: {what} needs {} but it binds at most {} per buffer: {shrink}",
                size(4 * floats, limit),
                size(limit, 4 * floats)
            );
        }
    }
    // The parameters live in one buffer (each tensor padded to the binding alignment).
    let tensors = 3 + (12 + 8) * config.n_layer as u64; // 12 per block, LoRA's at most 8
    let params = 4 * (config.param_count() as u64 + tensors * ALIGN as u64);
    let most = gpu.summary.max_buffer_size;
    if params > most {
        invalid_input!(
            "this GPU cannot hold the model: its {} parameters need {} in one buffer, but the device allows buffers of at most {}: shrink the model",
            config.param_count(),
            size(params, most),
            size(most, params)
        );
    }
    Ok(())
}

impl GpuGpt {
    /// Uploads a CPU model for generation only: decoding's buffers are checked against the device first (a token
    /// embedding over the binding limit is split, see the module), and no gradients or optimizer state are
    /// allocated. `train_step` refuses; the batched forward pass runs where its buffers fit.
    pub fn for_generation(gpu: &GpuContext, model: &Gpt<f32>) -> Result<Self> {
        let limit = gpu.summary.max_storage_buffer_binding_size;
        check_generation_limits(gpu, &model.config, limit)?;
        Self::build(gpu, model, false)
    }

    /// Pretends the device binds at most `bytes` per buffer (never more than it does): the tests' way to make a
    /// small model's token embedding take the split path on any device.
    pub fn set_binding_limit(&mut self, gpu: &GpuContext, bytes: u64) -> Result<()> {
        check_generation_limits(gpu, &self.config, bytes)?;
        self.store.binding_limit = bytes.min(gpu.summary.max_storage_buffer_binding_size);
        // Plans bind the chunks of the old limit.
        self.decode = None;
        self.forward_plans.clear();
        self.train_plans.clear();
        Ok(())
    }

    /// Whether the batched forward pass over `t` positions of one sequence can bind what it needs: wte whole and
    /// the (T, V) logits (the rest is check_batch_limits').
    pub(super) fn batched_forward_fits(&self, gpu: &GpuContext, t: usize) -> bool {
        let (c, v) = (self.config.n_embd as u64, self.config.vocab_size as u64);
        let limit = self.store.binding_limit;
        4 * v * c <= limit
            && 4 * t as u64 * v <= limit
            && super::check_batch_limits(gpu, &self.config, 1, t, !self.fused_attention).is_ok()
    }

    /// Refuses a batched forward pass whose token embedding is over the binding limit (only decoding splits it).
    pub(super) fn check_whole_embedding(&self) -> Result<()> {
        let (c, v) = (self.config.n_embd as u64, self.config.vocab_size as u64);
        let limit = self.store.binding_limit;
        if 4 * v * c > limit {
            invalid_input!(
                "the token embedding (V x C) needs {:.1} MiB but this GPU binds at most {:.1} MiB per buffer: a pass over many positions (training, evaluation, attention maps) needs it whole; generation with the KV cache splits it",
                (4 * v * c) as f64 / f64::from(1u32 << 20),
                limit as f64 / f64::from(1u32 << 20)
            );
        }
        Ok(())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::testing::gpu_or_skip;
    use crate::model::generate::SampleOptions;

    /// A model whose token embedding (300 x 32 floats, 37.5 KiB) is over a 16 KiB binding limit: generation
    /// gathers its rows in 3 chunks (128, 128, 44) and computes the logits over 3 chunks of the vocabulary, and
    /// gives the CPU's tokens, greedy and sampled, through a sliding window (the prefill position by position).
    #[test]
    fn generation_with_the_embedding_over_the_binding_limit_matches_the_cpu() {
        let Some(gpu) = gpu_or_skip("generation with wte split over bindings") else {
            return;
        };
        let config = ModelConfig {
            n_layer: 2,
            n_head: 4,
            n_embd: 32,
            block_size: 16,
            ..ModelConfig::reference(300)
        };
        assert_eq!(chunk_rows(16 << 10, 300, 32), Some(128));
        let mut cpu = Gpt::<f32>::new(config, 7).expect("model");
        let mut on_gpu = GpuGpt::for_generation(gpu, &cpu).expect("gpu model");
        on_gpu
            .set_binding_limit(gpu, 16 << 10)
            .expect("16 KiB holds every other tensor");
        assert!(!on_gpu.batched_forward_fits(gpu, 4));
        let prompt = [5u32, 299, 17, 128, 127, 256];
        for options in [
            SampleOptions {
                max_tokens: 14,
                temperature: 0.0,
                seed: 1,
                ..SampleOptions::default()
            },
            SampleOptions {
                max_tokens: 14,
                temperature: 0.9,
                top_k: 40,
                top_p: 0.95,
                seed: 3,
                ..SampleOptions::default()
            },
        ] {
            let expected = cpu.generate(&prompt, &options).expect("cpu");
            let got = pollster::block_on(on_gpu.generate(gpu, &prompt, &options)).expect("gpu");
            assert_eq!(got, expected, "{options:?}");
        }
        // The batched pass needs wte whole; a model opened for generation does not train.
        let message = pollster::block_on(on_gpu.forward(gpu, &prompt, None, 1, 6))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("generation with the KV cache splits it"),
            "{message}"
        );
        let batch = vec![(prompt.to_vec(), prompt.to_vec())];
        let options = crate::model::TrainOptions::default();
        let message = pollster::block_on(on_gpu.train_step(gpu, &batch, 1, 6, 1, &options))
            .unwrap_err()
            .to_string();
        assert!(message.contains("generation only"), "{message}");
    }

    /// Training a model whose weights (1.6 MB) exceed the device's storage-binding limit (1 MiB; every tensor and
    /// activation within it): the global norm, the clip (and the f16 copy) bind the flat buffers in two pieces,
    /// AdamW one tensor at a time. The same steps as the CPU (losses, clipped norms, weights) as the whole-model
    /// tests; it used to be refused ("all the parameters, bound at once by the optimizer").
    #[test]
    fn training_a_model_larger_than_one_binding_matches_the_cpu() {
        use crate::gpu::testing::gpu_capped_or_skip;
        use crate::gpu_model::tests::{relative_distance, token_stream};
        use crate::model::{TrainOptions, Trainer};
        let Some(gpu) =
            gpu_capped_or_skip("training over a 1 MiB binding limit", (1 << 20, u64::MAX))
        else {
            return;
        };
        assert_eq!(gpu.device.limits().max_storage_buffer_binding_size, 1 << 20);
        let config = ModelConfig {
            n_layer: 2,
            n_head: 4,
            n_embd: 128,
            block_size: 16,
            ..ModelConfig::reference(65)
        };
        let layout = crate::model::params::ParamLayout::new(&config);
        let padded = crate::model::memory::padded_offsets(&layout).1;
        assert!(padded * 4 > 1 << 20, "{padded} numbers fit one binding");
        assert_eq!(binding_pieces(&gpu, 1 << 20, padded).len(), 2);
        crate::gpu_model::check_limits(&gpu, &config).expect("trains within the per-tensor limit");
        let options = TrainOptions {
            batch_size: 2,
            seq_len: 16,
            steps: 6,
            lr: 1e-2,
            warmup_steps: 1,
            grad_clip: 0.5,
            eval_batches: 1,
            seed: 5,
            ..TrainOptions::default()
        };
        let (train, val) = (token_stream(600, 65, 1), token_stream(200, 65, 2));
        let model = Gpt::<f32>::new(config, 9).expect("model");
        let mut on_gpu = super::super::GpuTrainer::new(
            &gpu,
            &model,
            train.clone(),
            val.clone(),
            options.clone(),
        )
        .expect("gpu trainer");
        let mut cpu = Trainer::new(model, train, val, options).expect("cpu trainer");
        for step in 1..=6 {
            let expected = cpu.step().expect("cpu step");
            let got = pollster::block_on(on_gpu.step(&gpu)).expect("gpu step");
            eprintln!(
                "[gpu] step {step}: loss {:.6} vs cpu {:.6}, norm {:.5} vs {:.5}",
                got.loss, expected.loss, got.grad_norm, expected.grad_norm
            );
            assert!(
                (got.loss - expected.loss).abs() / expected.loss <= 1e-4,
                "step {step}"
            );
            assert!(expected.grad_norm > 0.5, "step {step} clips");
            let norm = (got.grad_norm - expected.grad_norm).abs() / expected.grad_norm;
            assert!(norm <= 1e-3, "step {step}: norm {norm:e} apart");
        }
        let params = pollster::block_on(on_gpu.model.download_params(&gpu)).expect("params");
        let distance = relative_distance(&params, &cpu.model.params);
        assert!(distance <= 1e-3, "final weights {distance:e} apart");
    }

    /// The flat weight buffer (and its gradients' and moments', as large) against the device's largest buffer:
    /// refused before anything is allocated, naming the buffer and both sizes.
    #[test]
    fn weights_beyond_the_largest_buffer_are_refused_naming_the_sizes() {
        use crate::gpu::testing::gpu_capped_or_skip;
        let Some(gpu) = gpu_capped_or_skip("weights beyond the largest buffer", (1 << 20, 1 << 20))
        else {
            return;
        };
        let config = ModelConfig {
            n_layer: 2,
            n_embd: 128,
            block_size: 16,
            ..ModelConfig::reference(65)
        };
        let message = crate::gpu_model::check_limits(&gpu, &config)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            format!(
                "the weights of the {} parameters need one buffer of 1.6 MiB (their gradients and AdamW's two \
                 moments one buffer each, as large) but this GPU allows buffers of at most 1.0 MiB: shrink the \
                 model: fewer layers, or a smaller d_model, vocabulary or FFN width",
                config.param_count()
            )
        );
        let model = Gpt::<f32>::new(config, 1).expect("model");
        let from_cpu = GpuGpt::from_cpu(&gpu, &model).err().expect("refused");
        assert_eq!(from_cpu.to_string(), message);
    }

    #[test]
    fn a_device_too_small_for_generation_is_refused_naming_the_tensor() {
        let Some(gpu) = gpu_or_skip("generation limits") else {
            return;
        };
        let config = ModelConfig {
            n_embd: 64,
            ..ModelConfig::reference(300)
        };
        let message = check_generation_limits(gpu, &config, 8 << 10)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("this GPU cannot hold the model for generation: the attention weights of a block (3C x C) needs 49152 bytes but it binds at most 8192 bytes"),
            "{message}"
        );
    }
}
