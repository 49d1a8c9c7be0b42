//! `tplay distill | search`: the experiments lab on the command line (CPU).
//!
//! `distill` prints one JSON object per evaluation (`run`: `distilled` or `baseline`, `step`, `val_loss`) and
//! then `{"summary": {...}}` with both students' final validation losses beside the teacher's.

use std::path::PathBuf;

use clap::Args;
use transformer_playground::Result;
use transformer_playground::corpus::{self, Corpus};
use transformer_playground::lab::distill::distill_against_baseline;
use transformer_playground::model::TrainOptions;
use transformer_playground::ops::distill_forward::DistillWeights;

use crate::model_cmd::{load_model, model_config, read_text};

#[derive(Args)]
pub struct DistillArgs {
    /// The teacher: a model saved by `tplay train` (its tokenizer is the student's).
    #[arg(long)]
    teacher: PathBuf,
    /// The student's config JSON (vocab_size may be left out: it is the teacher's).
    #[arg(long)]
    student_config: PathBuf,
    /// Weight of the teacher's soft targets, in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// Temperature of both softmaxes of the soft term.
    #[arg(long, default_value_t = 2.0)]
    temperature: f64,
    #[arg(long, default_value_t = 500)]
    steps: u32,
    /// Training options JSON (batch_size, lr, warmup_steps, ...); --steps and --seed override it.
    #[arg(long)]
    train_options: Option<PathBuf>,
    /// Training text (UTF-8). Without it: the built-in stories corpus.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Bytes of the built-in corpus to generate when --corpus is not given.
    #[arg(long, default_value_t = 300_000)]
    corpus_bytes: usize,
    /// Seed of the data, the student's initial weights and the batches (the same for both runs).
    #[arg(long, default_value_t = 1337)]
    seed: u64,
}

pub fn distill(args: DistillArgs) -> Result<()> {
    let (teacher, tok) = load_model(&args.teacher)?;
    let Some(tok) = tok else {
        return Err(transformer_playground::Error::InvalidInput(format!(
            "{} holds no tokenizer: the student must read the teacher's tokens; save the teacher with `tplay train`",
            args.teacher.display()
        )));
    };
    let text = match &args.corpus {
        Some(path) => read_text(path)?,
        None => corpus::generate(Corpus::Stories, args.seed, args.corpus_bytes),
    };
    let student_config = model_config(Some(&args.student_config), teacher.config.vocab_size)?;
    let mut options = match &args.train_options {
        Some(path) => TrainOptions::from_json(&read_text(path)?)?,
        None => TrainOptions::default(),
    };
    options.steps = args.steps;
    options.seed = args.seed;
    let weights = DistillWeights {
        alpha: args.alpha,
        temperature: args.temperature,
    };
    let (train_text, val_text) = corpus::train_val_split(&text, 0.1);
    eprintln!(
        "teacher: {} parameters; student: {} parameters; alpha {} temperature {}",
        teacher.config.param_count(),
        student_config.param_count(),
        args.alpha,
        args.temperature
    );
    let summary = distill_against_baseline(
        teacher,
        student_config,
        args.seed,
        tok.encode(train_text),
        tok.encode(val_text),
        options,
        weights,
        |run, eval| {
            println!(
                "{}",
                serde_json::json!({"run": run, "step": eval.step, "val_loss": eval.val_loss})
            );
        },
    )?;
    println!("{}", serde_json::json!({ "summary": summary }));
    Ok(())
}
