//! Training on the GPU: tokens/s of the reference config (L=4, NH=4, C=128, T=64, B=16, char vocabulary on the
//! built-in stories) or of the large one (`--large`: L=6, NH=6, C=384, T=256, B=8), generation tokens/s with the
//! KV cache, dispatches and submits per step, the model's GPU memory, and the time of each kernel within one step,
//! on whatever adapter wgpu finds.
//!
//! cargo run --release --example gpu_bench [-- --large] [--steps N] [--runs N] [--tiling NAME] [--no-profile]
//!     [--precision f16]
//!
//! `--precision f16` trains in mixed precision (f16 activations and weight copy, f32 master weights; needs
//! shader-f16): the f16 rows of docs/benchmarks.md.
//!     [--checkpoint-rows]
//!
//! `--checkpoint-rows` adds activation checkpointing rows: the config at L = 4 and L = 12, each trained without
//! and with checkpointing every block, steps interleaved (A, B, A, B, ..), with the activation bytes of the
//! memory report and the bytes the GPU context counts.
//!
//! Step time is the median over `--steps` timed steps (default 5), generation the median of `--runs` (default 3)
//! generations. Prints a markdown table for docs/benchmarks.md and one `summary:` JSON line (what
//! scripts/gpu-bench.sh collects). On a software adapter (lavapipe) the numbers say what the kernels cost
//! relative to each other, not what a GPU can do.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> transformer_playground::Result<()> {
    use std::time::Instant;
    use transformer_playground::corpus::{self, Corpus};
    use transformer_playground::gpu::{GpuContext, MatmulTiling};
    use transformer_playground::gpu_model::GpuTrainer;
    use transformer_playground::model::generate::SampleOptions;
    use transformer_playground::model::{Gpt, ModelConfig, Precision, TrainOptions};
    use transformer_playground::tokenizer;

    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        }
    }
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let steps: u32 = arg("--steps")
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let runs: usize = arg("--runs")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let large = std::env::args().any(|a| a == "--large");
    let profile = !std::env::args().any(|a| a == "--no-profile");
    let precision = match arg("--precision").as_deref() {
        None | Some("f32") => Precision::F32,
        Some("f16") => Precision::F16,
        Some(other) => {
            return Err(transformer_playground::Error::InvalidInput(format!(
                "--precision {other}: use f32 or f16"
            )));
        }
    };
    let mut gpu = pollster::block_on(GpuContext::new())?;
    if let Some(name) = arg("--tiling") {
        // Another row of the matmul tiling table than the adapter's, to compare rows in the whole model.
        let Some(tiling) = MatmulTiling::ALL.into_iter().find(|t| t.name == name) else {
            return Err(transformer_playground::Error::InvalidInput(format!(
                "no matmul tiling named {name:?}: use large, medium, small or direct"
            )));
        };
        gpu.matmul_tiling = tiling;
        gpu.summary.matmul_tiling = tiling;
        gpu.summary.subgroup_matmul = gpu.subgroup_matmul();
    }
    let text = corpus::generate(Corpus::Stories, 1, 300_000);
    let tok = tokenizer::train_char(&text)?;
    let tokens = tok.encode(&text);
    let (name, config, b, t) = if large {
        let config = ModelConfig {
            n_layer: 6,
            n_head: 6,
            n_embd: 384,
            block_size: 256,
            ..ModelConfig::reference(tok.vocab_size())
        };
        ("large", config, 8, 256)
    } else {
        (
            "reference",
            ModelConfig::reference(tok.vocab_size()),
            16,
            64,
        )
    };
    let options = TrainOptions {
        batch_size: b,
        seq_len: t,
        steps,
        eval_interval: 0,
        precision,
        ..TrainOptions::default()
    };
    let model = Gpt::new(config.clone(), 1)?;
    let bytes_before = gpu.buffer_bytes();
    let train_options = options.clone();
    let mut trainer = GpuTrainer::new(&gpu, &model, tokens.clone(), Vec::new(), options.clone())?;

    // The first step builds the plans and compiles the pipelines: time it apart.
    let start = Instant::now();
    pollster::block_on(trainer.step(&gpu))?;
    let first = start.elapsed().as_secs_f64();
    let bytes_after_first = gpu.buffer_bytes();
    let mut times = Vec::new();
    let mut loss = 0.0;
    for _ in 0..steps {
        let start = Instant::now();
        loss = pollster::block_on(trainer.step(&gpu))?.loss;
        times.push(start.elapsed().as_secs_f64());
    }
    let per_step = median(times);
    // Buffers made by the timed steps (should be none: everything is made by the first step).
    let per_step_bytes = (gpu.buffer_bytes() - bytes_after_first) / u64::from(steps);
    let train_bytes = gpu.buffer_bytes() - bytes_before;
    let tokens_per_s = (b * t) as f64 / per_step;
    let dispatches = trainer.model.dispatches_per_step(b, t, 1).unwrap_or(0);

    let s = &gpu.summary;
    println!(
        "adapter: {} ({}, {}, {}); matmul tiling {}, forward matmul {}",
        s.name,
        s.backend,
        s.device_type,
        s.driver,
        s.matmul_tiling.name,
        if s.subgroup_matmul {
            "subgroup"
        } else if s.matmul_tiling.direct {
            "direct"
        } else {
            "tiled"
        }
    );
    println!(
        "{name} config, {precision}: {} parameters, B={b}, T={t}; first step (pipelines + plans) {:.2} s",
        config.param_count(),
        first
    );
    println!(
        "training: {:.1} ms per step (median of {steps}), {:.0} tokens/s, {dispatches} dispatches and 1 submit per step, loss {loss:.3} after {} steps",
        per_step * 1e3,
        tokens_per_s,
        steps + 1
    );
    // Generation with the KV cache: one position per token after a 16-token prompt.
    let options = SampleOptions {
        max_tokens: 40,
        top_k: 1,
        ..SampleOptions::default()
    };
    let prompt = tok.encode(&text[..16]);
    pollster::block_on(trainer.model.generate(&gpu, &prompt, &options))?; // builds each position's plan
    let mut rates = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let generated = pollster::block_on(trainer.model.generate(&gpu, &prompt, &options))?;
        rates.push(generated.len() as f64 / start.elapsed().as_secs_f64());
    }
    let gen_tokens_per_s = median(rates);
    let model_bytes = gpu.buffer_bytes() - bytes_before;
    println!(
        "generation (KV cache, B=1, 40 tokens, one submit per token): {gen_tokens_per_s:.0} tokens/s (median of {runs})"
    );
    println!(
        "GPU memory of the model: {:.1} MiB for training (weights, gradients, AdamW state, activations, uniforms), {:.1} MiB with the generation buffers; buffers made per timed step: {per_step_bytes} bytes",
        train_bytes as f64 / (1 << 20) as f64,
        model_bytes as f64 / (1 << 20) as f64,
    );
    println!(
        "summary: {}",
        serde_json::json!({
            "bench": "gpu_bench",
            "config": name,
            "precision": precision.to_string(),
            "adapter": s.name,
            "backend": s.backend,
            "device_type": s.device_type,
            "driver": s.driver,
            "matmul_tiling": s.matmul_tiling.name,
            "subgroup_matmul": s.subgroup_matmul,
            "params": config.param_count(),
            "batch": [b, t],
            "first_step_s": first,
            "step_ms": per_step * 1e3,
            "train_tokens_per_s": tokens_per_s,
            "gen_tokens_per_s": gen_tokens_per_s,
            "dispatches_per_step": dispatches,
            "submits_per_step": 1,
            "model_bytes": model_bytes,
            "train_bytes": train_bytes,
            "bytes_made_per_step": per_step_bytes,
        })
    );
    if std::env::args().any(|a| a == "--checkpoint-rows") {
        println!(
            "\n| L | checkpointing | ms per step | tokens/s | activations MiB | GPU MiB (training) |\n| ---: | --- | ---: | ---: | ---: | ---: |"
        );
        for n_layer in [4, 12] {
            let config = ModelConfig {
                n_layer,
                ..config.clone()
            };
            let model = Gpt::new(config.clone(), 1)?;
            let mut runs = Vec::new();
            for every in [0, 1] {
                let before = gpu.buffer_bytes();
                let o = TrainOptions {
                    checkpoint_every: every,
                    ..train_options.clone()
                };
                let mut trainer = GpuTrainer::new(&gpu, &model, tokens.clone(), Vec::new(), o)?;
                pollster::block_on(trainer.step(&gpu))?; // plans and pipelines
                let bytes = gpu.buffer_bytes() - before;
                runs.push((every, trainer, bytes, Vec::new()));
            }
            for _ in 0..steps {
                for (_, trainer, _, times) in &mut runs {
                    let start = Instant::now();
                    pollster::block_on(trainer.step(&gpu))?;
                    times.push(start.elapsed().as_secs_f64());
                }
            }
            for (every, _, bytes, times) in runs {
                let step = median(times);
                let report = transformer_playground::model::memory::footprint(
                    &config,
                    b,
                    t,
                    1,
                    every,
                    true,
                    transformer_playground::model::memory::Precision::F32,
                );
                let mib = |n: u64| n as f64 / (1 << 20) as f64;
                println!(
                    "| {n_layer} | {} | {:.1} | {:.0} | {:.2} | {:.2} |",
                    if every > 0 { "every block" } else { "off" },
                    step * 1e3,
                    (b * t) as f64 / step,
                    mib(report.activations),
                    mib(bytes)
                );
                println!(
                    "summary: {}",
                    serde_json::json!({"bench": "gpu_bench_checkpoint", "adapter": s.name, "n_layer": n_layer, "checkpoint_every": every, "step_ms": step * 1e3, "train_tokens_per_s": (b * t) as f64 / step, "activation_bytes": report.activations, "train_bytes": bytes})
                );
            }
        }
    }
    if !profile {
        return Ok(());
    }
    println!(
        "\n| kernel | ms per step (dispatches timed one at a time) | share |\n| --- | ---: | ---: |"
    );
    let plans = trainer.model.step_plans(b, t, 1).unwrap_or_default();
    let profile = profile_step(&gpu, &plans, 2);
    let total: f64 = profile.iter().map(|(_, s)| s).sum();
    for (label, seconds) in &profile {
        println!(
            "| {label} | {:.2} | {:.0}% |",
            seconds * 1e3,
            100.0 * seconds / total
        );
    }
    println!("| total | {:.2} | |", total * 1e3);
    Ok(())
}

/// Times every dispatch of one training step's plans one at a time (each submitted alone `repeats` times,
/// waiting for the GPU) and sums the seconds per kernel label, largest first. The sum exceeds a real step's
/// time: the dispatches overlap nothing, but no submit pays for more than one of them either.
#[cfg(not(target_arch = "wasm32"))]
fn profile_step(
    gpu: &transformer_playground::gpu::GpuContext,
    plans: &[&transformer_playground::gpu::Plan],
    repeats: usize,
) -> Vec<(String, f64)> {
    let mut totals: Vec<(String, f64)> = Vec::new();
    for plan in plans {
        for (index, label) in plan.labels().into_iter().enumerate() {
            let start = std::time::Instant::now();
            for _ in 0..repeats {
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                plan.encode_one(&mut encoder, index);
                gpu.queue.submit([encoder.finish()]);
                let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
            }
            let seconds = start.elapsed().as_secs_f64() / repeats as f64;
            match totals.iter_mut().find(|(name, _)| name == label) {
                Some((_, total)) => *total += seconds,
                None => totals.push((label.to_string(), seconds)),
            }
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1));
    totals
}

#[cfg(target_arch = "wasm32")]
fn main() {}
