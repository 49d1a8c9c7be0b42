//! `tplay distill | search`: the experiments lab on the command line (CPU).
//!
//! `search` prints (and appends to its --out file) one JSON line per finished trial, then a summary with the
//! best config; run again with the same file, it skips the finished trials.
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

#[derive(Args)]
pub struct SearchArgs {
    /// The search space JSON: strategy ("grid" or "random"), lists or {"min", "max", "log"} ranges for lr,
    /// warmup_steps, batch_size, n_embd, n_layer, n_head, dropout, weight_decay; eta and rungs of the halving.
    #[arg(long)]
    space: PathBuf,
    #[arg(long, default_value_t = 16)]
    trials: usize,
    /// The budget of steps of a trial that is not stopped early.
    #[arg(long, default_value_t = 200)]
    steps: u32,
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    /// The JSON-lines file of finished trials: appended to, and read first, so a search run again resumes.
    #[arg(long, default_value = "search.jsonl")]
    out: PathBuf,
    /// Base model config JSON (what the space leaves out; vocab_size from the tokenizer).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Base training options JSON (what the space leaves out).
    #[arg(long)]
    train_options: Option<PathBuf>,
    /// Training text (UTF-8). Without it: the built-in stories corpus (character tokenizer).
    #[arg(long)]
    corpus: Option<PathBuf>,
    #[arg(long, default_value_t = 300_000)]
    corpus_bytes: usize,
}

pub fn search(args: SearchArgs) -> Result<()> {
    use std::io::Write;
    use transformer_playground::Error;
    use transformer_playground::lab::search::{
        SearchData, SearchSpace, TrialRecord, best, run_search,
    };
    let space = SearchSpace::from_json(&read_text(&args.space)?)?;
    let text = match &args.corpus {
        Some(path) => read_text(path)?,
        None => corpus::generate(Corpus::Stories, args.seed, args.corpus_bytes),
    };
    let tok = transformer_playground::tokenizer::train_char(&text)?;
    let (train_text, val_text) = corpus::train_val_split(&text, 0.1);
    let data = SearchData {
        train: tok.encode(train_text),
        val: tok.encode(val_text),
        base_config: model_config(args.config.as_deref(), tok.vocab_size())?,
        base_options: match &args.train_options {
            Some(path) => TrainOptions::from_json(&read_text(path)?)?,
            None => TrainOptions::default(),
        },
    };
    // Finished trials from an earlier run; a torn last line (the run was killed while writing) is dropped.
    let mut done: Vec<TrialRecord> = Vec::new();
    if args.out.exists() {
        for (i, line) in read_text(&args.out)?.lines().enumerate() {
            match serde_json::from_str::<TrialRecord>(line) {
                Ok(record) => done.push(record),
                Err(_) if line.trim().is_empty() => {}
                Err(e) => eprintln!("{}: line {} skipped ({e})", args.out.display(), i + 1),
            }
        }
        eprintln!(
            "{}: {} finished trials, resuming",
            args.out.display(),
            done.len()
        );
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.out)
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", args.out.display())))?;
    let records = run_search(
        &space,
        &data,
        args.trials,
        args.steps,
        args.seed,
        &done,
        |record| {
            let line = serde_json::to_string(record).map_err(|e| Error::Format(e.to_string()))?;
            println!("{line}");
            writeln!(file, "{line}")
                .and_then(|_| file.flush())
                .map_err(|e| {
                    Error::InvalidInput(format!("cannot write {}: {e}", args.out.display()))
                })
        },
    )?;
    let count = |status: &str| records.iter().filter(|r| r.status == status).count();
    println!(
        "{}",
        serde_json::json!({"summary": {
            "trials": records.len(),
            "completed": count("completed"),
            "stopped": count("stopped"),
            "diverged": count("diverged"),
            "invalid": count("invalid"),
            "steps_run": records.iter().map(|r| r.rungs.last().map_or(0, |x| x.step)).sum::<u32>(),
            "best": best(&records),
        }})
    );
    Ok(())
}
