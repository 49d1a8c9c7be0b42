//! Issue 9: a model config beyond the GPU's limits gives a clear message naming what to shrink, before
//! anything is allocated. Runs natively on whatever adapter wgpu finds (lavapipe in CI: 128 MiB per storage
//! binding); a missing adapter fails with CI=true and skips loudly elsewhere (`gpu::testing::gpu_or_skip`).
//!
//! "Before anything is allocated" is measured: this test binary counts the bytes its own thread asks the Rust
//! allocator for, so a check that built the model or its GPU buffers first (wgpu-core's bookkeeping and the
//! padded weights are Rust allocations) would show as megabytes instead of the few bytes of a message.
//!
//!   XDG_RUNTIME_DIR=/tmp cargo test -p transformer-playground --test device_limits

#![cfg(not(target_arch = "wasm32"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use transformer_playground::gpu::GpuContext;
use transformer_playground::gpu::testing::gpu_or_skip;
use transformer_playground::gpu_model::{GpuGpt, GpuTrainer, check_limits};
use transformer_playground::model::{Gpt, ModelConfig, TrainOptions};

/// The system allocator, counting what the current thread allocates (tests run on parallel threads).
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.with(|a| a.set(a.get() + layout.size()));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.with(|a| a.set(a.get() + new_size));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `f` and returns its result with the bytes this thread allocated meanwhile.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

/// The bound for "nothing allocated": a config clone and the error message, with room to spare.
const NOTHING: usize = 16 * 1024;

/// A small config: the limit tests grow one size of it past the adapter's binding limit.
fn small() -> ModelConfig {
    ModelConfig {
        vocab_size: 16,
        n_layer: 1,
        n_head: 1,
        n_embd: 8,
        block_size: 8,
        ..ModelConfig::reference(16)
    }
}

/// The largest number of f32s one storage binding of this adapter holds.
fn max_floats(gpu: &GpuContext) -> usize {
    (gpu.summary.max_storage_buffer_binding_size / 4) as usize
}

/// Checks `config` both ways a model reaches the GPU (check_limits, which the wasm GpuModel constructor calls
/// first, and GpuGpt::from_cpu) and returns the message, asserting the refusal allocated nothing.
fn refused(gpu: &GpuContext, config: &ModelConfig, what: &str) -> String {
    let (result, bytes) = allocated_by(|| check_limits(gpu, config));
    let message = result
        .expect_err(&format!("{what}: a config beyond the limits is refused"))
        .to_string();
    eprintln!("[limits] {what}: {bytes} bytes allocated; \"{message}\"");
    assert!(
        bytes < NOTHING,
        "{what}: the refusal allocated {bytes} bytes"
    );
    assert!(
        message.contains("shrink"),
        "{what}: says what to shrink: {message}"
    );
    let limit = gpu.summary.max_storage_buffer_binding_size;
    let (limit_mib, limit_bytes) = (
        format!("at most {:.1} MiB", limit as f64 / f64::from(1u32 << 20)),
        format!("at most {limit} bytes"),
    );
    assert!(
        message.contains(&limit_mib) || message.contains(&limit_bytes),
        "{what}: names the device's limit ({limit_mib}): {message}"
    );
    message
}

#[test]
fn a_token_embedding_beyond_the_binding_limit_is_refused_before_allocating() {
    let Some(gpu) = gpu_or_skip("device limits: token embedding") else {
        return;
    };
    // V x C floats just past one binding with C = 16 > T = 8 (so the T x V logits stay within it): on
    // lavapipe V = 2,097,153, a 128 MiB embedding.
    let config = ModelConfig {
        vocab_size: max_floats(gpu) / 16 + 1,
        n_embd: 16,
        ..small()
    };
    let message = refused(gpu, &config, "token embedding");
    assert!(message.contains("token embedding (V x C)"), "{message}");
    assert!(message.contains("vocabulary"), "{message}");
    // The size it needs, V x C x 4 bytes, is 64 bytes past the limit: in bytes, as MiB would look equal.
    let need = config.vocab_size * config.n_embd * 4;
    assert!(
        message.contains(&format!("needs {need} bytes")),
        "{message}"
    );
}

#[test]
fn an_attention_map_beyond_the_binding_limit_is_refused_by_from_cpu_without_allocating() {
    let Some(gpu) = gpu_or_skip("device limits: attention map") else {
        return;
    };
    // NH x T x T floats past one binding with a tiny model: T = sqrt(max) + 1 (5,793 on lavapipe), C = 8.
    // The CPU model itself is small (T x C learned positions), so GpuGpt::from_cpu is reached and must refuse
    // before it creates a single GPU buffer.
    let t = (max_floats(gpu) as f64).sqrt() as usize + 1;
    let config = ModelConfig {
        block_size: t,
        ..small()
    };
    let message = refused(gpu, &config, "attention map");
    assert!(
        message.contains("attention map of one sequence (NH x T x T)"),
        "{message}"
    );
    assert!(message.contains("shrink the context"), "{message}");

    let model = Gpt::<f32>::new(config.clone(), 1).expect("the CPU model fits in memory");
    let (result, bytes) = allocated_by(|| GpuGpt::from_cpu(gpu, &model));
    let from_cpu = result.err().expect("from_cpu refuses it").to_string();
    assert_eq!(from_cpu, message, "the same message on every path");
    assert!(
        bytes < NOTHING,
        "from_cpu allocated {bytes} bytes before refusing"
    );

    // And through the trainer, which the page and the CLI use.
    let train: Vec<u32> = (0..3 * t as u32).map(|i| i % 16).collect();
    let options = TrainOptions {
        batch_size: 1,
        ..TrainOptions::default()
    };
    let trainer = GpuTrainer::new(gpu, &model, train, Vec::new(), options);
    assert_eq!(trainer.err().expect("refused").to_string(), message);
}

#[test]
fn ffn_activations_and_logits_beyond_the_binding_limit_are_refused() {
    let Some(gpu) = gpu_or_skip("device limits: ffn and logits") else {
        return;
    };
    let max = max_floats(gpu);
    // T x FFN width: T = 1024 and the width just past max / 1024 (C = 8, so ffn_mult = max / 8192 + 1). A long
    // context keeps the weights (2 x C x width) far below the parameter cap on adapters with 4 GiB bindings.
    let ffn = ModelConfig {
        block_size: 1024,
        ffn_mult: max / 8192 + 1,
        ..small()
    };
    let message = refused(gpu, &ffn, "ffn activations");
    assert!(
        message.contains("FFN activations of one sequence"),
        "{message}"
    );
    // T x V: T = 1024 and V past max / 1024 (the embedding V x C = 8 V stays within one binding).
    let logits = ModelConfig {
        block_size: 1024,
        vocab_size: max / 1024 + 1,
        ..small()
    };
    let message = refused(gpu, &logits, "logits");
    assert!(
        message.contains("logits of one sequence (T x V)"),
        "{message}"
    );
}

#[test]
fn a_model_within_the_limits_passes_and_the_counter_sees_a_real_upload() {
    let Some(gpu) = gpu_or_skip("device limits: within") else {
        return;
    };
    // Just inside each limit the check passes; and the allocation counter is not blind: uploading even this
    // small model allocates well beyond the bound the refusals keep.
    let max = max_floats(gpu);
    // The optimizer binds all parameters at once: a token embedding 1024 rows short of the limit leaves room
    // for the rest of this small model.
    let edge = ModelConfig {
        vocab_size: max / 8 - 1024,
        ..small()
    };
    assert!(
        check_limits(gpu, &edge).is_ok(),
        "all parameters just under the limit fit"
    );
    let config = ModelConfig {
        vocab_size: 4096,
        n_embd: 16,
        ..small()
    };
    let model = Gpt::<f32>::new(config, 1).expect("model");
    let (result, bytes) = allocated_by(|| GpuGpt::from_cpu(gpu, &model));
    assert!(result.is_ok(), "a small model uploads");
    eprintln!(
        "[limits] uploading a {}-parameter model allocated {bytes} bytes",
        model.params.len()
    );
    assert!(
        bytes > NOTHING,
        "the counter sees the upload ({bytes} bytes)"
    );
}

/// Training binds the whole flat gradient buffer (global norm) and the parameters, moments and gradients are
/// each one buffer of all the weights: a model with more than max_storage_buffer_binding_size / 4 parameters
/// (33.5 M on a 128 MiB binding, which is also WebGPU's default) is refused, though every single tensor fits.
/// A model whose weights exceed one binding but not the largest buffer trains (the optimizer binds one tensor,
/// the norm and the clip the flat gradients in pieces); one whose weights exceed the largest buffer is refused,
/// naming the buffer and both sizes. WebGPU's default limits (128 MiB per binding, 256 MiB per buffer) stand in
/// for a device too small.
#[test]
fn a_model_whose_weights_exceed_the_largest_buffer_is_refused() {
    let Some(gpu) = gpu_or_skip("device limits: all parameters") else {
        return;
    };
    // 8 blocks of C = 1024: about 100 M parameters (400 MB), every single tensor well within 128 MiB.
    let config = ModelConfig {
        vocab_size: 256,
        n_layer: 8,
        n_head: 8,
        n_embd: 1024,
        block_size: 64,
        ..small()
    };
    let total_bytes = config.param_count() as u64 * 4;
    assert!(total_bytes > gpu.summary.max_storage_buffer_binding_size);
    if total_bytes < gpu.summary.max_buffer_size {
        check_limits(gpu, &config).expect("weights beyond one binding train in pieces");
    }
    let defaults = pollster::block_on(GpuContext::with_memory_limits(Some((128 << 20, 256 << 20))))
        .expect("a device with WebGPU's default limits");
    let (result, bytes) = allocated_by(|| check_limits(&defaults, &config));
    let message = result.expect_err("refused").to_string();
    eprintln!("[limits] all parameters: {bytes} bytes allocated; \"{message}\"");
    // The parameter layout's names and shapes (100 tensors, about 29 KB here) against 400 MB of weights.
    assert!(bytes < 4 * NOTHING, "the refusal allocated {bytes} bytes");
    assert!(
        message.starts_with(&format!(
            "the weights of the {} parameters need one buffer of 385.",
            config.param_count()
        )),
        "{message}"
    );
    assert!(
        message.contains("allows buffers of at most 256.0 MiB: shrink the model"),
        "{message}"
    );
}

/// The activations of a whole batch (B x T x V logits, B x NH x T x T attention on the readable path) are
/// checked against the binding limit before they are allocated (check_batch_limits), with the largest batch
/// that fits.
#[test]
fn a_batch_whose_logits_exceed_one_binding_is_refused_before_allocating() {
    let Some(gpu) = gpu_or_skip("device limits: batch") else {
        return;
    };
    // B x T x V = 65 x 64 x 8192 floats = 130 MiB of logits (and as much again for probs and dlogits).
    let config = ModelConfig {
        vocab_size: 8192,
        block_size: 64,
        ..small()
    };
    let model = Gpt::<f32>::new(config, 1).expect("model");
    let train: Vec<u32> = (0..20_000u32).map(|i| i % 8192).collect();
    let options = TrainOptions {
        batch_size: 65,
        seq_len: 64,
        ..TrainOptions::default()
    };
    let (result, bytes) = allocated_by(|| {
        let mut trainer = GpuTrainer::new(gpu, &model, train, Vec::new(), options)?;
        pollster::block_on(trainer.step(gpu))
    });
    let message = result
        .expect_err("a batch beyond the limits is refused")
        .to_string();
    eprintln!("[limits] batch: {bytes} bytes allocated; \"{message}\"");
    assert!(
        message.contains(&format!(
            "use a batch of at most {} sequences",
            gpu.summary.max_storage_buffer_binding_size / (64 * 8192 * 4)
        )),
        "{message}"
    );
    assert!(
        bytes < 1 << 20,
        "refused before allocating the activations ({bytes} bytes)"
    );
}
