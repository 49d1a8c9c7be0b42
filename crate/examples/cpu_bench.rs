//! Speed of the CPU model, natively: training tokens/s and generation tokens/s of the reference config
//! (L=4, NH=4, C=128, T=64, B=16, char vocabulary of the built-in stories), plus the fast matmul alone.
//!
//!   cargo run -p transformer-playground --release --example cpu_bench [-- --checkpoint-rows]
//!
//! `--checkpoint-rows` adds activation checkpointing rows: the reference config at L = 4 and L = 12, trained
//! without and with checkpointing every block, steps interleaved, with the activation bytes the CPU executor
//! holds for the backward pass (the memory report's count of the same buffers, less the GPU's padding).
//!
//! The wasm numbers come from bench/cpu_model_bench_node.mjs (same config, same corpus).

use std::time::Instant;

use transformer_playground::corpus::{Corpus, generate};
use transformer_playground::model::generate::SampleOptions;
use transformer_playground::model::{Gpt, ModelConfig, TrainOptions, Trainer};
use transformer_playground::ops::matmul_forward::matmul_forward_fast_cpu;
use transformer_playground::tokenizer::train_char;

fn main() -> transformer_playground::Result<()> {
    let text = generate(Corpus::Stories, 1, 300_000);
    let tok = train_char(&text)?;
    let tokens = tok.encode(&text);
    let split = tokens.len() * 9 / 10;
    let config = ModelConfig::reference(tok.vocab_size());
    println!(
        "reference config: {} parameters, V = {}",
        config.param_count(),
        config.vocab_size
    );

    // The matmul alone, at the shape of the MLP's c_fc: (B*T, C) @ (4C, C)^T.
    let (n, c, oc) = (1024, 128, 512);
    let inp: Vec<f32> = (0..n * c).map(|i| (i % 17) as f32 * 0.01).collect();
    let w: Vec<f32> = (0..oc * c).map(|i| (i % 13) as f32 * 0.01).collect();
    let mut out = vec![0.0f32; n * oc];
    let reps = 50;
    let t0 = Instant::now();
    for _ in 0..reps {
        matmul_forward_fast_cpu(&mut out, &inp, &w, None, n, c, oc);
    }
    let gflops = 2.0 * (n * c * oc * reps) as f64 / t0.elapsed().as_secs_f64() / 1e9;
    println!("fast matmul {n}x{c}x{oc}: {gflops:.1} GFLOP/s");

    if std::env::args().any(|a| a == "--checkpoint-rows") {
        checkpoint_rows(&config, &tokens[..split], &tokens[split..])?;
    }
    let model = Gpt::new(config, 1)?;
    let options = TrainOptions {
        batch_size: 16,
        steps: 1000,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::new(
        model,
        tokens[..split].to_vec(),
        tokens[split..].to_vec(),
        options,
    )?;
    trainer.step()?; // warm-up: allocates the activations
    let steps = 20;
    let t0 = Instant::now();
    let mut seen = 0;
    let mut loss = 0.0;
    for _ in 0..steps {
        let stats = trainer.step()?;
        seen += stats.tokens;
        loss = stats.loss;
    }
    let seconds = t0.elapsed().as_secs_f64();
    println!(
        "training: {:.0} tokens/s ({:.1} ms per step of B*T = 1024 tokens; loss {loss:.3})",
        seen as f64 / seconds,
        1000.0 * seconds / steps as f64
    );

    let mut model = trainer.model;
    let sample = SampleOptions {
        max_tokens: 1000,
        temperature: 1.0,
        seed: 1,
        ..SampleOptions::default()
    };
    let prompt = tok.encode("Once upon a time");
    let t0 = Instant::now();
    let out = model.generate(&prompt, &sample)?;
    let seconds = t0.elapsed().as_secs_f64();
    println!(
        "generation (KV cache, B = 1): {:.0} tokens/s ({} tokens)",
        out.len() as f64 / seconds,
        out.len()
    );
    Ok(())
}

/// Interleaved steps without and with checkpointing at L = 4 and L = 12 (B = 16, T = 64).
fn checkpoint_rows(
    config: &ModelConfig,
    train: &[u32],
    val: &[u32],
) -> transformer_playground::Result<()> {
    use transformer_playground::exec::Counter;
    use transformer_playground::model::buffers::Acts;
    println!(
        "| L | checkpointing | ms per step | tokens/s | activations MiB |\n| ---: | --- | ---: | ---: | ---: |"
    );
    for n_layer in [4, 12] {
        let config = ModelConfig {
            n_layer,
            ..config.clone()
        };
        let mut runs = Vec::new();
        for every in [0, 1] {
            let options = TrainOptions {
                batch_size: 16,
                checkpoint_every: every,
                ..TrainOptions::default()
            };
            let model = Gpt::new(config.clone(), 1)?;
            let mut trainer = Trainer::new(model, train.to_vec(), val.to_vec(), options)?;
            trainer.step()?; // allocates the activations
            runs.push((every, trainer, Vec::new()));
        }
        for _ in 0..10 {
            for (_, trainer, times) in &mut runs {
                let t0 = Instant::now();
                trainer.step()?;
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        for (every, _, mut times) in runs {
            times.sort_by(f64::total_cmp);
            let step = times[times.len() / 2];
            let mut counter = Counter {
                fused: true,
                ..Counter::default()
            };
            let (b, t) = (16, config.block_size);
            Acts::checkpointed(&mut counter, &config, b * t, 0, config.has_dropout(), every);
            println!(
                "| {n_layer} | {} | {:.1} | {:.0} | {:.2} |",
                if every > 0 { "every block" } else { "off" },
                step * 1e3,
                (b * t) as f64 / step,
                (counter.numbers * 4) as f64 / (1 << 20) as f64
            );
        }
    }
    Ok(())
}
