//! Speed of the CPU model, natively: training tokens/s and generation tokens/s of the reference config
//! (L=4, NH=4, C=128, T=64, B=16, char vocabulary of the built-in stories), plus the fast matmul alone.
//!
//!   cargo run -p transformer-playground --release --example cpu_bench
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
