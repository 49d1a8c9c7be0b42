//! `tplay finetune`: a classification head on an encoder, trained on a built-in labelled task; one JSON line per
//! step and per evaluation (`val_accuracy`: the share of validation passages whose most likely class is right).
//!
//! ```text
//! tplay train --objective mlm --config small.json --steps 1500 --out mlm.safetensors   # pre-train
//! tplay finetune --init mlm.safetensors --task template --out cls.safetensors          # fine-tune it
//! tplay finetune --init mlm.safetensors --scratch --task template --out scratch.safetensors
//! ```
//!
//! `--scratch` keeps the model's config and tokenizer, the data and the seed, and starts from new weights: the
//! run to put beside the fine-tuned one.

use std::path::PathBuf;

use clap::Args;
use transformer_playground::corpus::{self, ClassifyTask, Corpus, classify};
#[cfg(feature = "gpu")]
use transformer_playground::gpu_model::GpuGpt;
use transformer_playground::model::batches::Batches;
use transformer_playground::model::train::TrainLoop;
use transformer_playground::model::{Gpt, ModelConfig, TrainOptions};
use transformer_playground::ops::attention_mask::AttentionMask;
use transformer_playground::{Error, Result, tokenizer};

use crate::model_cmd::{Device, load_model, model_config, open_gpu, run_training};

#[derive(Args)]
pub struct FinetuneArgs {
    /// The labelled task: template (which story template a passage comes from).
    #[arg(long, default_value = "template")]
    task: String,
    /// The pre-trained model to fine-tune (our .safetensors, e.g. from `tplay train --objective mlm`); its
    /// tokenizer encodes the passages. Without it: a new model (--config) with a character tokenizer.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Start from new weights (same config, tokenizer, data and seed as --init): the baseline run.
    #[arg(long)]
    scratch: bool,
    /// Model config JSON for a new model (without --init). Default: the reference config, bidirectional.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Labelled training passages (the fine-tuning set) and validation passages.
    #[arg(long, default_value_t = 512)]
    train_examples: usize,
    #[arg(long, default_value_t = 256)]
    val_examples: usize,
    /// T: tokens read per passage; default the model's block_size.
    #[arg(long)]
    seq_len: Option<usize>,
    #[arg(long, default_value_t = 300)]
    steps: u32,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    #[arg(long, default_value_t = 25)]
    eval_interval: u32,
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    #[arg(long, default_value = "classifier.safetensors")]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
}

pub fn run(args: FinetuneArgs) -> Result<()> {
    let task = ClassifyTask::from_name(&args.task)?;
    let classes = task.classes().len();
    let gpu = open_gpu(args.device)?;
    let (base, tok) = match &args.init {
        Some(path) => {
            if args.config.is_some() {
                return Err(Error::InvalidInput(
                    "--init brings its own config: leave out --config".into(),
                ));
            }
            let (model, tok) = load_model(path)?;
            let tok = tok.ok_or_else(|| {
                Error::Format(format!(
                    "{} has no tokenizer to encode the passages with",
                    path.display()
                ))
            })?;
            if model.config.classifier.is_some() {
                return Err(Error::InvalidInput(format!(
                    "{} is a classifier already: fine-tune the encoder it came from",
                    path.display()
                )));
            }
            let model = if args.scratch {
                Gpt::new(model.config.clone(), args.seed)?
            } else {
                model
            };
            (model, tok)
        }
        None => {
            if args.scratch {
                return Err(Error::InvalidInput(
                    "--scratch starts the model of --init from new weights: give --init".into(),
                ));
            }
            let text = corpus::generate(Corpus::Stories, args.seed, 200_000);
            let tok = tokenizer::train_char(&text)?;
            let config = ModelConfig {
                attention_mask: AttentionMask::Bidirectional,
                ..model_config(args.config.as_deref(), tok.vocab_size())?
            };
            (Gpt::new(config, args.seed)?, tok)
        }
    };
    let model = base.with_classifier(classes, args.seed)?;
    let t = args.seq_len.unwrap_or(model.config.block_size);
    if t == 0 || t > model.config.block_size {
        return Err(Error::InvalidInput(format!(
            "--seq-len {t} must be between 1 and the model's block_size {}",
            model.config.block_size
        )));
    }
    // The same passages whatever the model's weights: drawn from the seed alone.
    let (train, val) = classify::train_val_examples(
        task,
        args.seed,
        args.train_examples,
        args.val_examples,
        t,
        |s| tok.encode(s),
    )?;
    let options = TrainOptions {
        batch_size: args.batch_size,
        seq_len: t,
        steps: args.steps,
        lr: args.lr,
        min_lr: args.lr / 10.0,
        eval_interval: args.eval_interval,
        eval_batches: args.val_examples / args.batch_size.max(1),
        seed: args.seed,
        ..TrainOptions::default()
    };
    let batches = Batches::labelled(&model.config, train.clone(), val.clone(), &options)?;
    eprintln!(
        "classifier: {} parameters, {} classes ({}); {} training and {} validation passages of {t} tokens; {}",
        model.config.param_count(),
        classes,
        task.classes().join(", "),
        train.len(),
        val.len(),
        match (&args.init, args.scratch) {
            (Some(path), false) => format!("encoder from {}", path.display()),
            (Some(_), true) => "new weights (--scratch)".to_string(),
            (None, _) => "new weights".to_string(),
        }
    );
    // The bar to beat: always guessing the most frequent class of the training set.
    let mut counts = vec![0usize; classes];
    for (_, label) in &train {
        counts[*label as usize] += 1;
    }
    let majority = (0..classes).max_by_key(|&k| counts[k]).unwrap_or(0) as u32;
    let scored = &val[..options.eval_batches * options.batch_size];
    let right = scored
        .iter()
        .filter(|(_, label)| *label == majority)
        .count();
    println!(
        "{}",
        serde_json::json!({"baseline": "majority class", "val_accuracy": right as f64 / scored.len().max(1) as f64})
    );
    match gpu {
        None => run_training(
            TrainLoop::from_batches(model, batches, options.clone()),
            &(),
            &args.out,
            &tok,
        ),
        #[cfg(feature = "gpu")]
        Some(gpu) => run_training(
            TrainLoop::from_batches(GpuGpt::from_cpu(&gpu, &model)?, batches, options.clone()),
            &gpu,
            &args.out,
            &tok,
        ),
    }
}
