//! `tplay`: the transformer-playground core on the command line (tokenizers, training, generation, export).

use clap::{Parser, Subcommand};

mod corpus_cmd;
mod model_cmd;
mod tokenizer_cmd;

#[derive(Parser)]
#[command(
    name = "tplay",
    version,
    about = "Train and take apart a tiny transformer, natively."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter wgpu finds (name, backend, limits) as JSON.
    Gpu,
    /// Run the matmul kernel on the GPU and compare it with the CPU reference.
    Check,
    /// Print a built-in corpus (stories or algorithmic tasks), generated from a seed, or its statistics.
    Corpus(corpus_cmd::CorpusArgs),
    /// Train a tokenizer, encode text to ids, decode ids to text.
    #[command(subcommand)]
    Tokenizer(tokenizer_cmd::TokenizerCommand),
    /// Train the model on the CPU; one JSON object per step and per evaluation on stdout.
    Train(model_cmd::TrainArgs),
    /// Generate text from a saved model.
    Generate(model_cmd::GenerateArgs),
    /// Dump logits, loss and every parameter gradient of one batch (for parity checks).
    Forward(model_cmd::ForwardArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gpu => gpu_info(),
        Command::Check => check(),
        Command::Corpus(args) => corpus_cmd::run(args),
        Command::Tokenizer(command) => tokenizer_cmd::run(command),
        Command::Train(args) => model_cmd::train(args),
        Command::Generate(args) => model_cmd::generate(args),
        Command::Forward(args) => model_cmd::forward(args),
    };
    if let Err(error) = result {
        eprintln!("tplay: {error}");
        std::process::exit(1);
    }
}

fn gpu_info() -> transformer_playground::Result<()> {
    let gpu = pollster::block_on(transformer_playground::gpu::GpuContext::new())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&gpu.summary).expect("summary serialises")
    );
    Ok(())
}

fn check() -> transformer_playground::Result<()> {
    use transformer_playground::ops::matmul_forward::{matmul_forward_cpu, matmul_forward_run};
    let gpu = pollster::block_on(transformer_playground::gpu::GpuContext::new())?;
    let (n, c, oc) = (14, 12, 37);
    let inp: Vec<f32> = (0..n * c)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
        .collect();
    let weight: Vec<f32> = (0..oc * c)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let bias: Vec<f32> = (0..oc).map(|i| i as f32 / oc as f32).collect();
    let mut expected = vec![0.0; n * oc];
    matmul_forward_cpu(&mut expected, &inp, &weight, Some(&bias), n, c, oc);
    let actual = pollster::block_on(matmul_forward_run(
        &gpu,
        &inp,
        &weight,
        Some(&bias),
        n,
        c,
        oc,
    ))?;
    let max_diff = actual
        .iter()
        .zip(&expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    println!(
        "{}",
        serde_json::json!({"adapter": gpu.summary.name, "kernel": "matmul_forward", "shape": [n, c, oc], "max_abs_diff": max_diff, "pass": max_diff <= 1e-4})
    );
    Ok(())
}
