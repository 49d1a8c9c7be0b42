//! Training on the GPU: tokens/s of the reference config (L=4, NH=4, C=128, T=64, B=16, char vocabulary on the
//! built-in stories) and the time of each kernel within one step, on whatever adapter wgpu finds.
//!
//! cargo run --release --example gpu_bench [-- --steps N]
//!
//! Prints a markdown table for docs/benchmarks.md. On a software adapter (lavapipe) the numbers say what the
//! kernels cost relative to each other, not what a GPU can do.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> transformer_playground::Result<()> {
    use std::time::Instant;
    use transformer_playground::corpus::{self, Corpus};
    use transformer_playground::gpu::GpuContext;
    use transformer_playground::gpu_model::GpuTrainer;
    use transformer_playground::model::generate::SampleOptions;
    use transformer_playground::model::{Gpt, ModelConfig, TrainOptions};
    use transformer_playground::tokenizer;

    let steps: u32 = std::env::args()
        .skip_while(|a| a != "--steps")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let gpu = pollster::block_on(GpuContext::new())?;
    let text = corpus::generate(Corpus::Stories, 1, 300_000);
    let tok = tokenizer::train_char(&text)?;
    let tokens = tok.encode(&text);
    let config = ModelConfig::reference(tok.vocab_size());
    let options = TrainOptions {
        batch_size: 16,
        seq_len: 64,
        steps,
        eval_interval: 0,
        ..TrainOptions::default()
    };
    let model = Gpt::new(config.clone(), 1)?;
    let mut trainer = GpuTrainer::new(&gpu, &model, tokens, Vec::new(), options.clone())?;

    // The first step builds the plans and compiles the pipelines: time it apart.
    let start = Instant::now();
    pollster::block_on(trainer.step(&gpu))?;
    let first = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut loss = 0.0;
    for _ in 0..steps {
        loss = pollster::block_on(trainer.step(&gpu))?.loss;
    }
    let per_step = start.elapsed().as_secs_f64() / f64::from(steps);
    let tokens_per_s = (16 * 64) as f64 / per_step;
    let dispatches = trainer.model.dispatches_per_step(16, 64, 1).unwrap_or(0);

    println!(
        "adapter: {} ({}, {})",
        gpu.summary.name, gpu.summary.backend, gpu.summary.device_type
    );
    println!(
        "reference config: {} parameters, B=16, T=64; first step (pipelines + plans) {:.2} s",
        config.param_count(),
        first
    );
    println!(
        "training: {:.1} ms per step, {:.0} tokens/s, {dispatches} dispatches and 1 submit per step, loss {loss:.3} after {} steps",
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
    let start = Instant::now();
    let generated = pollster::block_on(trainer.model.generate(&gpu, &prompt, &options))?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "generation (KV cache, B=1): {:.0} tokens/s ({} tokens)",
        generated.len() as f64 / seconds,
        generated.len()
    );
    println!(
        "\n| kernel | ms per step (dispatches timed one at a time) | share |\n| --- | ---: | ---: |"
    );
    let profile = trainer.model.profile_step(&gpu, 16, 64, 1, 2);
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

#[cfg(target_arch = "wasm32")]
fn main() {}
