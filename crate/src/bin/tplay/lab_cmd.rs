//! `tplay distill | search | overfit`: the experiments lab on the command line (CPU).
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

#[derive(Args)]
pub struct OverfitArgs {
    /// Bytes of the deliberately tiny training text (the built-in stories, or the start of --corpus).
    #[arg(long, default_value_t = 2_000)]
    train_bytes: usize,
    /// Bytes of the validation text (unseen stories from another seed, or the rest of --corpus).
    #[arg(long, default_value_t = 30_000)]
    val_bytes: usize,
    /// Training text (UTF-8): its first --train-bytes train, the next --val-bytes validate.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Model config JSON (vocab_size from the tokenizer); default L=2, NH=4, C=64, T=64.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training options JSON; --steps, --eval-interval and --seed override it.
    #[arg(long)]
    train_options: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    steps: u32,
    #[arg(long, default_value_t = 50)]
    eval_interval: u32,
    /// Dropout of the dropout run.
    #[arg(long, default_value_t = 0.2)]
    dropout: f32,
    /// Weight decay of the weight-decay run.
    #[arg(long, default_value_t = 1.0)]
    weight_decay: f32,
    /// Augmentation of the augmentation run (see `tplay train --augment`).
    #[arg(long, default_value = "replace=0.1,mask=0.05,delete=0.05")]
    augment: String,
    /// Runs to make, of none, dropout, weight_decay, augment.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "none,dropout,weight_decay,augment"
    )]
    runs: Vec<String>,
    /// Print the augmentation run's first training batch as text and stop.
    #[arg(long)]
    show_batch: bool,
    #[arg(long, default_value_t = 1337)]
    seed: u64,
}

pub fn overfit(args: OverfitArgs) -> Result<()> {
    use transformer_playground::Error;
    use transformer_playground::lab::overfit::{run_overfit, variants};
    use transformer_playground::model::augment::Augment;
    use transformer_playground::model::{Gpt, ModelConfig, Trainer};
    let (train_text, val_text) = match &args.corpus {
        Some(path) => {
            let text = read_text(path)?;
            let cut =
                |n: usize, from: usize| -> String { text.chars().skip(from).take(n).collect() };
            (
                cut(args.train_bytes, 0),
                cut(args.val_bytes, args.train_bytes),
            )
        }
        None => (
            corpus::generate(Corpus::Stories, args.seed, args.train_bytes),
            corpus::generate(Corpus::Stories, args.seed ^ 0x7661_6c, args.val_bytes),
        ),
    };
    // One tokenizer over both texts, so unseen validation characters are not unknown tokens.
    let tok = transformer_playground::tokenizer::train_char(&format!("{train_text}{val_text}"))?;
    let config = match &args.config {
        Some(path) => model_config(Some(path), tok.vocab_size())?,
        None => ModelConfig {
            n_layer: 2,
            n_head: 4,
            n_embd: 64,
            block_size: 64,
            ..ModelConfig::reference(tok.vocab_size())
        },
    };
    let mut options = match &args.train_options {
        Some(path) => TrainOptions::from_json(&read_text(path)?)?,
        None => TrainOptions {
            batch_size: 16,
            lr: 3e-3,
            min_lr: 3e-4,
            eval_batches: 4,
            ..TrainOptions::default()
        },
    };
    options.steps = args.steps;
    options.eval_interval = args.eval_interval;
    options.seed = args.seed;
    let augment = Augment::parse(&args.augment)?;
    let all = variants(args.dropout, args.weight_decay, augment.clone());
    let mut chosen = Vec::new();
    for name in &args.runs {
        match all.iter().find(|v| v.name == name.trim()) {
            Some(v) => chosen.push(v.clone()),
            None => {
                return Err(Error::InvalidInput(format!(
                    "there is no run called '{name}': choose among none, dropout, weight_decay, augment"
                )));
            }
        }
    }
    let (train, val) = (tok.encode(&train_text), tok.encode(&val_text));
    if args.show_batch {
        let options = TrainOptions { augment, ..options };
        let trainer = Trainer::new(Gpt::new(config, args.seed)?, train, val, options)?;
        return crate::model_cmd::show_batch(&trainer.preview_batch(), &tok);
    }
    eprintln!(
        "model: {} parameters; data: {} training and {} validation tokens; {} runs of {} steps",
        config.param_count(),
        train.len(),
        val.len(),
        chosen.len(),
        options.steps
    );
    let summaries = run_overfit(&config, args.seed, &train, &val, &options, &chosen, |p| {
        println!("{}", serde_json::to_string(p).expect("points serialise"));
    })?;
    println!("{}", serde_json::json!({ "summary": summaries }));
    Ok(())
}
