//! `tplay train | generate | forward`: the CPU model on the command line.
//!
//! `train` prints one JSON object per step (`step`, `loss`, `lr`, `tokens_per_s`) and per evaluation
//! (`step`, `val_loss`, `val_ppl`, and `val_accuracy` for a masked-language model, whose run first prints the
//! unigram baseline) on stdout, with a progress bar on stderr when it is a terminal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use transformer_playground::corpus::{self, Corpus};
#[cfg(feature = "gpu")]
use transformer_playground::gpu::GpuContext;
#[cfg(feature = "gpu")]
use transformer_playground::gpu_model::{GpuGpt, GpuTrainer};
use transformer_playground::io::export_peft;
use transformer_playground::model::augment::Augment;
use transformer_playground::model::generate::SampleOptions;
use transformer_playground::model::lora::{LoraConfig, LoraTarget};
use transformer_playground::model::mlm::{Objective, encode_with_masks, unigram_baseline};
use transformer_playground::model::train::{TrainLoop, Trainable};
use transformer_playground::model::weights::{load_safetensors, save_safetensors};
use transformer_playground::model::{Gpt, ModelConfig, Precision, TrainOptions, Trainer};
use transformer_playground::ops::attention_mask::AttentionMask;
use transformer_playground::tokenizer::{self, BpeOptions, ENDOFTEXT, Pattern, Tokenizer};
use transformer_playground::{Error, Result};

/// Where the model runs.
#[derive(Clone, Copy, Debug, ValueEnum, Default)]
pub enum Device {
    #[default]
    Cpu,
    Gpu,
}

/// Opens the GPU for `--device gpu` (None for the CPU), saying which adapter runs the work.
#[cfg(feature = "gpu")]
pub(crate) fn open_gpu(device: Device) -> Result<Option<GpuContext>> {
    match device {
        Device::Cpu => Ok(None),
        Device::Gpu => {
            let gpu = pollster::block_on(GpuContext::new())?;
            eprintln!(
                "device: {} ({}, {})",
                gpu.summary.name, gpu.summary.backend, gpu.summary.device_type
            );
            Ok(Some(gpu))
        }
    }
}

/// Without the feature `gpu` this tplay has no GPU code: `--device gpu` is an error that says so, and the
/// `Some` arms below, which would hold a GPU, do not exist (`Infallible` has no values).
#[cfg(not(feature = "gpu"))]
pub(crate) fn open_gpu(device: Device) -> Result<Option<std::convert::Infallible>> {
    match device {
        Device::Cpu => Ok(None),
        Device::Gpu => Err(Error::InvalidInput(
            "this tplay was built without the `gpu` feature: use --device cpu, or build it with the feature".into(),
        )),
    }
}

/// The current weights of a trainer's model, as a CPU model (what gets saved).
fn trained_model<M: Trainable>(trainer: &TrainLoop<M>, device: &M::Device) -> Result<Gpt<f32>> {
    let params = pollster::block_on(trainer.model.params(device))?;
    Gpt::from_params(trainer.model.config().clone(), params)
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TokenizerKind {
    Char,
    Bpe,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training text (UTF-8). Without it: the built-in stories corpus (`tplay corpus stories`).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// A tokenizer.json to use; without it one is trained on the corpus (--tokenizer-kind).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "char")]
    tokenizer_kind: TokenizerKind,
    /// Vocabulary size of a BPE tokenizer trained here.
    #[arg(long, default_value_t = 512)]
    vocab_size: usize,
    /// Model config JSON (vocab_size may be left out: it is taken from the tokenizer). Default: the
    /// reference config (L=4, NH=4, C=128, T=64).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training options JSON (batch_size, lr, warmup_steps, ...); the flags below override it.
    #[arg(long)]
    train_options: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    steps: u32,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    eval_interval: Option<u32>,
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    /// Activation checkpointing: keep only the blocks' inputs in the forward pass and recompute their
    /// activations in the backward pass (same gradients, less memory, about one more forward pass).
    #[arg(long)]
    checkpoint_activations: bool,
    /// With --checkpoint-activations: blocks per recomputed group (their inputs are kept).
    #[arg(long, requires = "checkpoint_activations")]
    checkpoint_every: Option<usize>,
    /// Print the training memory report (as `tplay memory`) for this model and batch on stderr first.
    #[arg(long)]
    memory_report: bool,
    /// Bytes of the built-in corpus to generate when --corpus is not given.
    #[arg(long, default_value_t = 1_000_000)]
    corpus_bytes: usize,
    #[arg(long, default_value = "model.safetensors")]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
    /// Fine-tune this model (our .safetensors or a Hugging Face GPT-2 directory) instead of a new one; its
    /// tokenizer encodes the corpus.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Train LoRA adapters of this rank on the model's frozen weights (PEFT's initialisation).
    #[arg(long)]
    lora_rank: Option<usize>,
    /// LoRA's alpha: the update is scaled by alpha / rank. Default: 2 x rank.
    #[arg(long)]
    lora_alpha: Option<f32>,
    /// Dropout on the adapters' input.
    #[arg(long, default_value_t = 0.0)]
    lora_dropout: f32,
    /// The layers that get adapters: c_attn, attn.c_proj, c_fc, mlp.c_proj (c_proj for both projections).
    #[arg(long, value_delimiter = ',', default_value = "c_attn")]
    lora_targets: Vec<String>,
    /// Also write the adapters alone as a PEFT directory (adapter_config.json, adapter_model.safetensors).
    #[arg(long)]
    adapter_out: Option<PathBuf>,
    /// What the model learns: causal (the next token, GPT) or mlm (masked tokens, BERT: bidirectional
    /// attention, a [MASK] token after the tokenizer's), or seq2seq (an encoder-decoder on --task). Default:
    /// the config's, else causal.
    #[arg(long)]
    objective: Option<String>,
    /// The seq2seq task: copy, reverse, sort, addition, translate (with --objective seq2seq).
    #[arg(long)]
    task: Option<String>,
    /// Input lengths of an algorithmic seq2seq task, e.g. 8-12.
    #[arg(long)]
    lengths: Option<String>,
    /// Training pairs of a seq2seq task.
    #[arg(long, default_value_t = 20_000)]
    train_pairs: usize,
    /// Validation pairs of a seq2seq task (greedy-decoded at every evaluation).
    #[arg(long, default_value_t = 200)]
    val_pairs: usize,
    /// Stop a seq2seq run at the first evaluation with at least this exact match (0..1).
    #[arg(long)]
    stop_at_exact_match: Option<f64>,
    /// Augment the training batches (never validation), each with its probability:
    /// replace=P (a random token of the text), mask=P (the mask token: mask_id=ID, default the last id),
    /// delete=P (a span of 1..=max_span tokens, default 3), e.g. replace=0.1,mask=0.05,delete=0.05.
    #[arg(long)]
    augment: Option<String>,
    /// Print the first training batch as text (each row's window and what the model reads, after
    /// augmentation) as JSON lines, and stop without training.
    #[arg(long)]
    show_batch: bool,
    /// f32, or f16 (mixed precision: f16 activations, f32 master weights and AdamW state, dynamic loss
    /// scaling; --device gpu on an adapter with shader-f16). Each step's line then carries loss_scale and
    /// skipped_steps (and skipped: true for a step whose gradients overflowed).
    #[arg(long)]
    precision: Option<String>,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Our .safetensors file or a Hugging Face GPT-2 directory.
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value = "")]
    prompt: String,
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// 0 is greedy.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// 0 keeps every token.
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
}

#[derive(Args)]
pub struct ForwardArgs {
    /// Our .safetensors file or a Hugging Face GPT-2 directory.
    #[arg(long)]
    model: PathBuf,
    /// JSON token ids: one array (B = 1) or an array of equal-length arrays (B rows).
    #[arg(long)]
    tokens: PathBuf,
    /// JSON target ids, the same shape as --tokens.
    #[arg(long)]
    targets: PathBuf,
    /// safetensors dump: `logits` (B, T, V), `loss` (scalar), `grad.<name>` for every parameter.
    #[arg(long)]
    out: PathBuf,
    /// An encoder-decoder's source ids (JSON, (B, Ts)); --tokens are then the decoder's inputs.
    #[arg(long)]
    source: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| Error::InvalidInput(format!("{} is not UTF-8 text", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", path.display())))
}

/// The model config from a file (vocab_size filled in from the tokenizer when missing) or the reference.
pub(crate) fn model_config(path: Option<&Path>, vocab_size: usize) -> Result<ModelConfig> {
    let Some(path) = path else {
        return Ok(ModelConfig::reference(vocab_size));
    };
    let mut value: serde_json::Value = serde_json::from_str(&read_text(path)?)
        .map_err(|e| Error::Format(format!("{} is not JSON: {e}", path.display())))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| Error::Format(format!("{} must hold a JSON object", path.display())))?;
    match object.get("vocab_size").and_then(serde_json::Value::as_u64) {
        None => {
            object.insert("vocab_size".into(), vocab_size.into());
        }
        Some(v) if (v as usize) < vocab_size => {
            return Err(Error::InvalidInput(format!(
                "{}: vocab_size {v} is smaller than the tokenizer's {vocab_size}; leave it out to use the tokenizer's",
                path.display()
            )));
        }
        Some(_) => {}
    }
    ModelConfig::from_json(&value.to_string())
        .map_err(|e| Error::Format(format!("{}: {e}", path.display())))
}

pub fn train(args: TrainArgs) -> Result<()> {
    if args.objective.as_deref().map(str::trim) == Some("seq2seq") {
        if args.augment.is_some() || args.show_batch {
            return Err(Error::InvalidInput(
                "--augment and --show-batch apply to the next-token objective (causal), not seq2seq".into(),
            ));
        }
        return train_seq2seq(args);
    }
    if args.task.is_some() {
        return Err(Error::InvalidInput(
            "--task names a seq2seq task: pass --objective seq2seq with it".into(),
        ));
    }
    let gpu = open_gpu(args.device)?;
    let text = match &args.corpus {
        Some(path) => read_text(path)?,
        None => corpus::generate(Corpus::Stories, args.seed, args.corpus_bytes),
    };
    let start_from = match &args.model {
        Some(path) => {
            if args.config.is_some() || args.tokenizer.is_some() {
                return Err(Error::InvalidInput(
                    "--model brings its own config and tokenizer: leave out --config and --tokenizer".into(),
                ));
            }
            let (model, tok) = load_model(path)?;
            let tok = tok.ok_or_else(|| {
                Error::Format(format!(
                    "{} has no tokenizer to encode the corpus with",
                    path.display()
                ))
            })?;
            Some((model, tok))
        }
        None => None,
    };
    let tok = match (&args.tokenizer, args.tokenizer_kind) {
        _ if start_from.is_some() => start_from.as_ref().expect("checked").1.clone(),
        (Some(path), _) => Tokenizer::from_json(&read_text(path)?)?,
        (None, TokenizerKind::Char) => tokenizer::train_char(&text)?,
        (None, TokenizerKind::Bpe) => {
            let options = BpeOptions {
                vocab_size: args.vocab_size,
                pattern: Pattern::parse("gpt4")?,
                special_tokens: vec![ENDOFTEXT.to_string()],
            };
            let (tok, report) = tokenizer::train_bpe_report(&text, &options, |_| true)?;
            if report.stopped_early() {
                eprintln!("tokenizer: {}", report.sentence(options.pattern));
            }
            tok
        }
    };
    let objective = args
        .objective
        .as_deref()
        .map(Objective::from_name)
        .transpose()?;
    let config = match &start_from {
        Some((model, _)) => {
            if let Some(objective) = objective.filter(|&o| o != model.config.objective) {
                return Err(Error::InvalidInput(format!(
                    "--model was trained with the {} objective, not {}: leave out --objective to keep its own",
                    model.config.objective.name(),
                    objective.name()
                )));
            }
            model.config.clone()
        }
        None => {
            // A masked-language model's vocabulary is the tokenizer's plus its [MASK] token.
            let model_vocab = tok.vocab_size() + usize::from(objective == Some(Objective::Mlm));
            let mut config = model_config(args.config.as_deref(), model_vocab)?;
            if let Some(objective) = objective {
                config.objective = objective;
                config.attention_mask = match objective {
                    Objective::Causal => AttentionMask::Causal,
                    Objective::Mlm => AttentionMask::Bidirectional,
                };
                config.validate()?;
            }
            config
        }
    };
    if config.objective == Objective::Mlm && config.vocab_size <= tok.vocab_size() {
        return Err(Error::InvalidInput(format!(
            "a masked-language model needs one token more than its tokenizer's {} for [MASK]: pass --objective mlm, or set vocab_size to at least {}",
            tok.vocab_size(),
            tok.vocab_size() + 1
        )));
    }
    let mut options = match &args.train_options {
        Some(path) => TrainOptions::from_json(&read_text(path)?)?,
        None => TrainOptions::default(),
    };
    options.steps = args.steps;
    options.seed = args.seed;
    if let Some(b) = args.batch_size {
        options.batch_size = b;
    }
    if let Some(lr) = args.lr {
        options.lr = lr;
        options.min_lr = lr / 10.0;
    }
    if let Some(e) = args.eval_interval {
        options.eval_interval = e;
    }
    if let Some(spec) = &args.augment {
        options.augment = Augment::parse(spec)?;
    }
    if let Some(precision) = &args.precision {
        options.precision = match precision.as_str() {
            "f32" => Precision::F32,
            "f16" => Precision::F16,
            other => {
                return Err(Error::InvalidInput(format!(
                    "--precision {other}: the choices are f32 and f16"
                )));
            }
        };
        if options.precision == Precision::F16 && gpu.is_none() {
            return Err(Error::InvalidInput(
                "--precision f16 trains on the GPU: add --device gpu (the CPU trains in f32)"
                    .into(),
            ));
        }
    }
    if args.checkpoint_activations {
        options.checkpoint_every = args.checkpoint_every.unwrap_or(1).max(1);
    }
    let (train_text, val_text) = corpus::train_val_split(&text, 0.1);
    let (train, val) = (tok.encode(train_text), tok.encode(val_text));
    let model = match start_from {
        Some((model, _)) => model,
        None => Gpt::new(config, args.seed)?,
    };
    let model = match args.lora_rank {
        Some(r) => {
            let lora = LoraConfig {
                r,
                alpha: args.lora_alpha.unwrap_or(2.0 * r as f32),
                dropout: args.lora_dropout,
                targets: LoraTarget::parse_list(&args.lora_targets)?,
            };
            let adapted = model.with_lora(lora, args.seed)?;
            let (b, t) = (
                options.batch_size,
                if options.seq_len == 0 {
                    adapted.config.block_size
                } else {
                    options.seq_len
                },
            );
            let full = ModelConfig {
                lora: None,
                ..adapted.config.clone()
            };
            eprintln!(
                "LoRA: {} trainable of {} parameters; training memory {:.1} MB instead of {:.1} MB for full fine-tuning",
                adapted.config.trainable_count(),
                adapted.config.param_count(),
                adapted.config.training_bytes(b, t) as f64 / 1e6,
                full.training_bytes(b, t) as f64 / 1e6,
            );
            adapted
        }
        None => model,
    };
    let config = model.config.clone();
    eprintln!(
        "model: {} parameters ({} tokens of vocabulary); data: {} training and {} validation tokens",
        config.param_count(),
        config.vocab_size,
        train.len(),
        val.len()
    );
    if args.show_batch {
        let trainer = Trainer::new(model, train, val, options)?;
        return show_batch(&trainer.preview_batch(), &tok);
    }
    if args.memory_report {
        let t = match options.seq_len {
            0 => config.block_size,
            t => t,
        };
        #[cfg(not(feature = "gpu"))]
        let limits = None;
        #[cfg(feature = "gpu")]
        let limits = gpu
            .as_ref()
            .map(|gpu| transformer_playground::model::memory::DeviceLimits {
                max_storage_buffer_binding_size: gpu.summary.max_storage_buffer_binding_size,
                max_buffer_size: gpu.summary.max_buffer_size,
            });
        let report = crate::memory_cmd::report(
            &config,
            options.batch_size,
            t,
            options.grad_accum,
            options.checkpoint_every,
            true,
            limits,
        )?;
        eprint!("{}", report.to_text());
    }
    let adapter_out = args.adapter_out.clone();
    if config.objective == Objective::Mlm {
        // What a model that knows only token frequencies scores on the masked positions: the bar to beat.
        let baseline = unigram_baseline(&val);
        println!(
            "{}",
            serde_json::json!({"baseline": "unigram", "val_loss": baseline.loss, "val_accuracy": baseline.accuracy})
        );
    }
    match gpu {
        None => run_training(
            Trainer::new(model, train, val, options.clone())?,
            &(),
            &args.out,
            &tok,
        )?,
        #[cfg(feature = "gpu")]
        Some(gpu) => run_training(
            GpuTrainer::new(&gpu, &model, train, val, options.clone())?,
            &gpu,
            &args.out,
            &tok,
        )?,
    }
    if let Some(dir) = adapter_out {
        let (model, _) = load_model(&args.out)?;
        crate::io_cmd::write_dir(&dir, &export_peft(&model)?)?;
        eprintln!("wrote the adapters to {}", dir.display());
    }
    Ok(())
}

/// Prints a training batch as text, a JSON line per row: the window of the text and what the model reads.
pub(crate) fn show_batch(rows: &[(Vec<u32>, Vec<u32>)], tok: &Tokenizer) -> Result<()> {
    let text = |ids: &[u32]| -> String {
        ids.iter()
            .map(|&id| tok.token_display(id))
            .collect::<Vec<_>>()
            .concat()
    };
    for (row, (window, inputs)) in rows.iter().enumerate() {
        let changed = window.iter().zip(inputs).filter(|(a, b)| a != b).count();
        println!(
            "{}",
            serde_json::json!({"row": row, "text": text(window), "model_reads": text(inputs), "tokens_differ": changed})
        );
    }
    Ok(())
}

/// The training loop, the same on either device: one JSON line per step and evaluation, the weights saved at
/// the end (or the last good ones when training diverges).
pub(crate) fn run_training<M: Trainable>(
    mut trainer: TrainLoop<M>,
    device: &M::Device,
    out: &Path,
    tok: &Tokenizer,
) -> Result<()> {
    let options = trainer.options.clone();
    let tty = std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    let mut total_tokens = 0usize;
    for _ in 0..options.steps {
        let step_start = std::time::Instant::now();
        let stats = match pollster::block_on(trainer.step_on(device)) {
            Ok(stats) => stats,
            Err(e @ Error::Diverged(_)) => {
                // Keep the last good weights on disk, then report.
                write(
                    out,
                    &save_safetensors(&trained_model(&trainer, device)?, Some(&tok.to_json()))?,
                )?;
                eprintln!("saved the last good weights to {}", out.display());
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let seconds = step_start.elapsed().as_secs_f64();
        total_tokens += stats.tokens;
        // The f32 learning rate as it reads (1e-4, not 0.00009999999747378752).
        let lr: f64 = stats.lr.to_string().parse().unwrap_or(f64::from(stats.lr));
        let mut line = serde_json::json!({"step": stats.step, "loss": stats.loss, "lr": lr, "tokens_per_s": stats.tokens as f64 / seconds});
        // Mixed precision: the loss scale of the step and the steps skipped so far (GradScaler's skips).
        if let Some(scale) = stats.loss_scale {
            line["loss_scale"] = scale.into();
            line["skipped_steps"] = stats.skipped_steps.into();
            if stats.skipped {
                line["skipped"] = true.into();
            }
        }
        println!("{line}");
        if trainer.eval_due() {
            let eval = pollster::block_on(trainer.evaluate_on(device))?;
            println!("{}", serde_json::to_string(&eval).expect("stats serialise"));
        }
        if tty {
            let width = 40;
            let filled = width * stats.step as usize / options.steps.max(1) as usize;
            eprint!(
                "\r[{}{}] step {}/{} loss {:.4} {:.0} tokens/s   ",
                "#".repeat(filled),
                " ".repeat(width - filled.min(width)),
                stats.step,
                options.steps,
                stats.loss,
                total_tokens as f64 / start.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
    }
    if tty {
        eprintln!();
    }
    write(
        out,
        &save_safetensors(&trained_model(&trainer, device)?, Some(&tok.to_json()))?,
    )?;
    eprintln!(
        "wrote {} after {} steps in {:.1} s",
        out.display(),
        trainer.step_count(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A model and its tokenizer from our safetensors file or a Hugging Face directory.
pub fn load_model(path: &Path) -> Result<(Gpt<f32>, Option<Tokenizer>)> {
    if path.is_dir() {
        let (model, tok) = crate::io_cmd::load_dir(path)?;
        return Ok((model, Some(tok)));
    }
    let loaded = load_safetensors(&read(path)?)
        .map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
    let tok = match loaded.tokenizer {
        Some(json) => Some(Tokenizer::from_json(&json)?),
        None => None,
    };
    Ok((loaded.model, tok))
}

/// A model and the tokenizer in its metadata (an error when it has none: text cannot be encoded then).
pub(crate) fn load_model_with_tokenizer(path: &Path) -> Result<(Gpt<f32>, Tokenizer)> {
    let (model, tok) = load_model(path)?;
    let tok = tok.ok_or_else(|| {
        Error::Format(format!(
            "{} has no tokenizer in its metadata, so text cannot be encoded",
            path.display()
        ))
    })?;
    Ok((model, tok))
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    let gpu = open_gpu(args.device)?;
    let (mut model, tok) = load_model_with_tokenizer(&args.model)?;
    if model.config.objective == Objective::Mlm {
        return Err(Error::InvalidInput(format!(
            "{} is a masked-language model (objective mlm): it fills [MASK] positions rather than continuing text; use tplay fill",
            args.model.display()
        )));
    }
    let mut prompt = encode_with_masks(&tok, &model.config, &args.prompt)?;
    if prompt.is_empty() {
        // Start from the end-of-text token, or from the first token of the vocabulary.
        prompt.push(tok.eot_id().unwrap_or(0));
    }
    let options = SampleOptions {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
        end_token: tok.eot_id(),
    };
    let start = std::time::Instant::now();
    let out = match gpu {
        None => model.generate(&prompt, &options)?,
        #[cfg(feature = "gpu")]
        Some(gpu) => {
            pollster::block_on(GpuGpt::from_cpu(&gpu, &model)?.generate(&gpu, &prompt, &options))?
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    println!("{}{}", args.prompt, tok.decode(&out)?);
    eprintln!(
        "{} tokens in {seconds:.2} s ({:.0} tokens/s)",
        out.len(),
        out.len() as f64 / seconds
    );
    Ok(())
}

/// Token ids from JSON: `[1, 2, 3]` (B = 1) or `[[1, 2], [3, 4]]`; returns (ids, B, T).
fn read_ids(path: &Path) -> Result<(Vec<u32>, usize, usize)> {
    let value: serde_json::Value = serde_json::from_str(&read_text(path)?)
        .map_err(|e| Error::Format(format!("{} is not JSON: {e}", path.display())))?;
    let bad = || {
        Error::Format(format!(
            "{} must hold an array of token ids or an array of equal-length arrays",
            path.display()
        ))
    };
    let rows: Vec<Vec<u32>> = if value
        .as_array()
        .is_some_and(|a| a.iter().all(serde_json::Value::is_array))
    {
        serde_json::from_value(value).map_err(|_| bad())?
    } else {
        vec![serde_json::from_value(value).map_err(|_| bad())?]
    };
    let t = rows.first().map_or(0, Vec::len);
    if t == 0 || rows.iter().any(|r| r.len() != t) {
        return Err(bad());
    }
    Ok((rows.concat(), rows.len(), t))
}

pub fn forward(args: ForwardArgs) -> Result<()> {
    if let Device::Gpu = args.device {
        return Err(Error::InvalidInput(
            "tplay forward writes its parity dump from the CPU reference only; use --device cpu (the GPU path is checked against it by the tests)".into(),
        ));
    }
    let (inputs, b, t) = read_ids(&args.tokens)?;
    let (targets, tb, tt) = read_ids(&args.targets)?;
    if (b, t) != (tb, tt) {
        return Err(Error::InvalidInput(format!(
            "--tokens is ({b}, {t}) but --targets is ({tb}, {tt})"
        )));
    }
    if let Some(source) = &args.source {
        let (source, sb, ts) = read_ids(source)?;
        if sb != b {
            return Err(Error::InvalidInput(format!(
                "--source has {sb} rows but --tokens has {b}"
            )));
        }
        let bytes = read(&args.model)?;
        let dump = crate::seq2seq_cmd::forward_dump(&bytes, &source, ts, &inputs, &targets, b, t)?;
        write(&args.out, &dump)?;
        return Ok(());
    }
    let (mut model, _) = load_model(&args.model)?;
    model.zero_grad();
    let loss = model
        .forward(&inputs, Some(&targets), b, t, None)?
        .expect("targets given") as f32;
    model.backward(1.0)?;
    let v = model.config.vocab_size;
    let bytes = |x: &[f32]| x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = vec![
        (
            "logits".into(),
            vec![b, t, v],
            bytes(model.act(model.acts().logits)),
        ),
        ("loss".into(), vec![], bytes(&[loss])),
    ];
    // The trainable tensors' gradients (all, or with LoRA the adapters').
    let start = model.layout.trainable_offset();
    for spec in &model.layout.specs[model.layout.first_trainable..] {
        tensors.push((
            format!("grad.{}", spec.name),
            spec.shape.clone(),
            bytes(&model.grads[spec.offset - start..spec.offset - start + spec.len]),
        ));
    }
    let views = tensors
        .iter()
        .map(|(n, s, d)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                .map(|view| (n.clone(), view))
                .map_err(|e| Error::Format(format!("{n}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta: Vec<(String, String)> = vec![
        ("format".into(), "pt".into()),
        ("model_config".into(), model.config.to_json()),
    ];
    let out = safetensors::serialize(views, Some(meta.into_iter().collect()))
        .map_err(|e| Error::Format(format!("cannot write the dump: {e}")))?;
    write(&args.out, &out)?;
    println!(
        "{}",
        serde_json::json!({"loss": loss, "b": b, "t": t, "out": args.out.display().to_string()})
    );
    Ok(())
}

/// `--objective seq2seq`: the encoder-decoder on a built-in task (crate::seq2seq_cmd).
fn train_seq2seq(args: TrainArgs) -> Result<()> {
    if args.model.is_some() || args.corpus.is_some() {
        return Err(Error::InvalidInput(
            "--objective seq2seq trains a new encoder-decoder from a built-in --task: leave out --model and --corpus".into(),
        ));
    }
    let config = match &args.config {
        Some(path) => Some(model_config(Some(path), 1)?),
        None => None,
    };
    let mut options = match &args.train_options {
        Some(path) => TrainOptions::from_json(&read_text(path)?)?,
        None => TrainOptions {
            batch_size: 32,
            warmup_steps: 50,
            weight_decay: 0.01,
            ..TrainOptions::default()
        },
    };
    options.steps = args.steps;
    options.seed = args.seed;
    if let Some(b) = args.batch_size {
        options.batch_size = b;
    }
    if let Some(lr) = args.lr {
        options.lr = lr;
        options.min_lr = lr / 10.0;
    }
    if let Some(e) = args.eval_interval {
        options.eval_interval = e;
    }
    crate::seq2seq_cmd::train(crate::seq2seq_cmd::Seq2SeqRun {
        task: args.task,
        lengths: args.lengths,
        config,
        options,
        train_pairs: args.train_pairs,
        val_pairs: args.val_pairs,
        stop_at_exact_match: args.stop_at_exact_match,
        out: args.out,
        device: args.device,
    })
}
