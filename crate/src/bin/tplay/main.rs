//! `tplay`: the transformer-playground core on the command line (tokenizers, training, generation, export).

use clap::{Parser, Subcommand};

mod corpus_cmd;
mod eval_cmd;
mod finetune_cmd;
#[cfg(feature = "gpu")]
mod gpu_cmd;
mod io_cmd;
mod lab_cmd;
mod memory_cmd;
mod mlm_cmd;
mod model_cmd;
mod seq2seq_cmd;
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

// The training arguments are many; the enum is built once per run, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter wgpu finds (name, backend, limits) as JSON.
    #[cfg(feature = "gpu")]
    Gpu,
    /// Run the matmul kernel on the GPU and compare it with the CPU reference.
    #[cfg(feature = "gpu")]
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
    /// The training memory of a config and batch: parameters, gradients, AdamW, activations, scratch; f32 and
    /// f16, without and with activation checkpointing.
    Memory(memory_cmd::MemoryArgs),
    /// Distill a teacher into a smaller student, beside the same student trained without it (CPU).
    Distill(lab_cmd::DistillArgs),
    /// Grid or random hyperparameter search with successive halving; a JSON line per trial (resumable).
    Search(lab_cmd::SearchArgs),
    /// Overfitting and its cures on a tiny text: no regularization vs dropout vs weight decay vs augmentation.
    Overfit(lab_cmd::OverfitArgs),
    /// Dump logits, loss and every parameter gradient of one batch (for parity checks).
    Forward(model_cmd::ForwardArgs),
    /// Write a model as a Hugging Face GPT-2 directory (config.json, model.safetensors, tokenizer.json, ..).
    Export(io_cmd::ExportArgs),
    /// Read a Hugging Face GPT-2 directory into our safetensors file.
    Import(io_cmd::ImportArgs),
    /// Score hypotheses against references: BLEU, chrF, ROUGE-1/2/L, exact match (JSON lines).
    Eval(eval_cmd::EvalArgs),
    /// A masked-language model's top predictions at each [MASK] of a text (JSON lines).
    Fill(mlm_cmd::FillArgs),
    /// An encoder-decoder's greedy output for a source text (train one with --objective seq2seq).
    Translate(seq2seq_cmd::TranslateArgs),
    /// Fine-tune an encoder with a classification head on a built-in labelled task (JSON lines).
    Finetune(finetune_cmd::FinetuneArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "gpu")]
        Command::Gpu => gpu_cmd::gpu_info(),
        #[cfg(feature = "gpu")]
        Command::Check => gpu_cmd::check(),
        Command::Corpus(args) => corpus_cmd::run(args),
        Command::Tokenizer(command) => tokenizer_cmd::run(command),
        Command::Train(args) => model_cmd::train(args),
        Command::Generate(args) => model_cmd::generate(args),
        Command::Memory(args) => memory_cmd::run(args),
        Command::Forward(args) => model_cmd::forward(args),
        Command::Distill(args) => lab_cmd::distill(args),
        Command::Search(args) => lab_cmd::search(args),
        Command::Overfit(args) => lab_cmd::overfit(args),
        Command::Export(args) => io_cmd::export(args),
        Command::Import(args) => io_cmd::import(args),
        Command::Eval(args) => eval_cmd::run(args),
        Command::Fill(args) => mlm_cmd::run(args),
        Command::Translate(args) => seq2seq_cmd::run_translate(args),
        Command::Finetune(args) => finetune_cmd::run(args),
    };
    if let Err(error) = result {
        eprintln!("tplay: {error}");
        std::process::exit(1);
    }
}
