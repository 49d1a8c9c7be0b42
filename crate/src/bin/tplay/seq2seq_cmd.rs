//! `tplay train --objective seq2seq --task NAME` and `tplay translate`: the encoder-decoder on the command
//! line. Training prints one JSON object per step (`step`, `loss`, `lr`, `grad_norm`) and per evaluation
//! (`step`, `val_loss`, `exact_match`, `bleu`, `chrf`, `rouge1`, `rouge2`, `rouge_l`, `examples`,
//! `elapsed_s`), greedy decoding of the validation pairs with the KV caches.

use std::path::PathBuf;

use clap::Args;
use transformer_playground::corpus::seq2seq::Seq2SeqTask;
use transformer_playground::corpus::tasks::Lengths;
use transformer_playground::io::NamedTensor;
use transformer_playground::model::encdec::EncDec;
use transformer_playground::model::encdec_io::{load_encdec, save_encdec, torch_named};
use transformer_playground::model::seq2seq_train::{
    CharVocab, Seq2SeqEval, Seq2SeqStep, Seq2SeqTrainer, translate_beam,
};
use transformer_playground::model::{ModelConfig, TrainOptions};
use transformer_playground::{Error, Result};

/// What `tplay train` hands over for `--objective seq2seq`.
pub struct Seq2SeqRun {
    pub task: Option<String>,
    pub lengths: Option<String>,
    pub config: Option<ModelConfig>,
    pub options: TrainOptions,
    pub train_pairs: usize,
    pub val_pairs: usize,
    pub stop_at_exact_match: Option<f64>,
    pub out: PathBuf,
    pub device: crate::model_cmd::Device,
}

/// The encoder-decoder's default shape: 2 + 2 blocks, C = 64, 4 heads.
pub fn default_config() -> ModelConfig {
    let mut config = ModelConfig::reference(1);
    config.n_layer = 2;
    config.n_embd = 64;
    config.n_head = 4;
    config.block_size = 16;
    config
}

/// `8-12` or `10`: the input lengths of an algorithmic task.
fn parse_lengths(text: &str) -> Result<Lengths> {
    let bad = || {
        Error::InvalidInput(format!(
            "--lengths '{text}' is not a length or a range such as 8-12"
        ))
    };
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let lo: usize = lo.trim().parse().map_err(|_| bad())?;
    let hi: usize = hi.trim().parse().map_err(|_| bad())?;
    Lengths::new(lo, hi)
}

pub fn train(run: Seq2SeqRun) -> Result<()> {
    let names: Vec<&str> = Seq2SeqTask::all().iter().map(|t| t.name()).collect();
    let task = run.task.as_deref().ok_or_else(|| {
        Error::InvalidInput(format!(
            "--objective seq2seq needs --task: one of {}",
            names.join(", ")
        ))
    })?;
    let task = Seq2SeqTask::from_name(task)?;
    let lengths = run.lengths.as_deref().map(parse_lengths).transpose()?;
    let config = run.config.unwrap_or_else(default_config);
    let options = run.options;
    let steps = options.steps;
    let eval_interval = options.eval_interval;
    let trainer = Seq2SeqTrainer::new(
        task,
        config,
        options,
        run.train_pairs,
        run.val_pairs,
        lengths,
    )?;
    eprintln!(
        "encoder-decoder: {} parameters, {} tokens of vocabulary; task {}: {} training and {} validation pairs",
        trainer.model.params.len(),
        trainer.vocab.size(),
        task.name(),
        trainer.train.len(),
        trainer.val.len()
    );
    let gpu = crate::model_cmd::open_gpu(run.device)?;
    let mut runner = match gpu {
        None => Runner::Cpu(Box::new(trainer)),
        #[cfg(feature = "gpu")]
        Some(gpu) => Runner::Gpu(Box::new((
            transformer_playground::gpu_model::GpuSeq2SeqTrainer::new(&gpu, trainer)?,
            gpu,
        ))),
        #[cfg(not(feature = "gpu"))]
        Some(never) => match never {},
    };
    let start = std::time::Instant::now();
    // Time spent in training steps alone (evaluation decodes the validation pairs: not counted), and the pairs
    // they trained on.
    let (mut train_time, mut pairs) = (0.0f64, 0usize);
    let eval = |runner: &mut Runner| -> Result<f64> {
        let e = runner.evaluate(run.val_pairs)?;
        let mut line = serde_json::to_value(&e).expect("serialisable");
        line["elapsed_s"] = start.elapsed().as_secs_f64().into();
        println!("{line}");
        Ok(e.scores.exact_match)
    };
    for _ in 0..steps {
        let t0 = std::time::Instant::now();
        let stats = runner.step()?;
        train_time += t0.elapsed().as_secs_f64();
        pairs += runner.data().options.batch_size;
        if !stats.loss.is_finite() {
            return Err(Error::InvalidInput(format!(
                "training diverged at step {} (loss {}): lower --lr",
                stats.step, stats.loss
            )));
        }
        println!("{}", serde_json::to_string(&stats).expect("serialisable"));
        if eval_interval > 0 && stats.step % eval_interval == 0 {
            let exact = eval(&mut runner)?;
            if run.stop_at_exact_match.is_some_and(|goal| exact >= goal) {
                eprintln!(
                    "reached exact match {exact:.3} at step {} after {:.1} s",
                    stats.step,
                    start.elapsed().as_secs_f64()
                );
                break;
            }
        }
    }
    let step = runner.step_count();
    if eval_interval == 0 || step % eval_interval != 0 {
        eval(&mut runner)?;
    }
    eprintln!(
        "{step} steps in {train_time:.1} s of training ({:.2} steps/s, {:.0} pairs/s)",
        f64::from(step) / train_time.max(1e-9),
        pairs as f64 / train_time.max(1e-9)
    );
    let (model, vocab) = runner.finish()?;
    let bytes = save_encdec(model, vocab, task.name())?;
    std::fs::write(&run.out, bytes)
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", run.out.display())))?;
    eprintln!("saved the encoder-decoder to {}", run.out.display());
    Ok(())
}

/// A seq2seq run on either device: the CPU trainer, or the GPU one over the same data.
enum Runner {
    Cpu(Box<Seq2SeqTrainer>),
    #[cfg(feature = "gpu")]
    Gpu(
        Box<(
            transformer_playground::gpu_model::GpuSeq2SeqTrainer,
            transformer_playground::gpu::GpuContext,
        )>,
    ),
}

impl Runner {
    /// One optimizer step.
    fn step(&mut self) -> Result<Seq2SeqStep> {
        match self {
            Runner::Cpu(t) => t.train_step(),
            #[cfg(feature = "gpu")]
            Runner::Gpu(x) => pollster::block_on(x.0.train_step(&x.1)),
        }
    }

    fn data(&self) -> &Seq2SeqTrainer {
        match self {
            Runner::Cpu(t) => t,
            #[cfg(feature = "gpu")]
            Runner::Gpu(x) => &x.0.data,
        }
    }

    fn step_count(&self) -> u32 {
        self.data().step
    }

    fn evaluate(&mut self, n: usize) -> Result<Seq2SeqEval> {
        match self {
            Runner::Cpu(t) => t.evaluate(n),
            #[cfg(feature = "gpu")]
            Runner::Gpu(x) => pollster::block_on(x.0.evaluate(&x.1, n)),
        }
    }

    /// The trained model (on the CPU, to save) and its vocabulary.
    fn finish(&mut self) -> Result<(&EncDec<f32>, &CharVocab)> {
        #[cfg(feature = "gpu")]
        if let Runner::Gpu(x) = self {
            let (trainer, gpu) = &mut **x;
            pollster::block_on(trainer.download(gpu))?;
        }
        let data = self.data();
        Ok((&data.model, &data.vocab))
    }
}

#[derive(Args)]
pub struct TranslateArgs {
    /// An encoder-decoder saved by `tplay train --objective seq2seq`.
    #[arg(long)]
    model: PathBuf,
    /// The source text; several --source flags translate several.
    #[arg(long, required = true)]
    source: Vec<String>,
    /// Beam width (1: greedy decoding).
    #[arg(long, default_value_t = 1)]
    beam: usize,
    /// Hugging Face's length_penalty: a finished output scores log-probability / length^this.
    #[arg(long, default_value_t = 0.0)]
    length_penalty: f64,
}

/// Prints the greedy output for each source, one line each.
pub fn run_translate(args: TranslateArgs) -> Result<()> {
    let bytes = std::fs::read(&args.model)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", args.model.display())))?;
    let mut loaded = load_encdec(&bytes)?;
    for source in &args.source {
        let out = translate_beam(
            &mut loaded.model,
            &loaded.vocab,
            source,
            args.beam,
            args.length_penalty,
        )?;
        println!("{out}");
    }
    Ok(())
}

/// `tplay forward --source`: the loss, logits (B, Tt, V) and every gradient (`grad.<PyTorch name>`) of one
/// teacher-forced batch of an encoder-decoder, as safetensors (scripts/parity/encdec_torch.py reads it).
pub fn forward_dump(
    model_bytes: &[u8],
    source: &[u32],
    ts: usize,
    inputs: &[u32],
    targets: &[u32],
    b: usize,
    tt: usize,
) -> Result<Vec<u8>> {
    let mut model = load_encdec(model_bytes)?.model;
    model.zero_grad();
    let loss = model
        .forward(source, inputs, Some(targets), b, ts, tt, None)?
        .expect("targets given") as f32;
    model.backward(1.0)?;
    let v = model.config.vocab_size;
    let mut tensors = vec![
        NamedTensor {
            name: "logits".into(),
            shape: vec![b, tt, v],
            values: model.logits().to_vec(),
        },
        NamedTensor {
            name: "loss".into(),
            shape: vec![],
            values: vec![loss],
        },
    ];
    for mut t in torch_named(&model, &model.grads) {
        t.name = format!("grad.{}", t.name);
        tensors.push(t);
    }
    println!(
        "{}",
        serde_json::json!({"loss": loss, "b": b, "ts": ts, "tt": tt})
    );
    transformer_playground::io::write_f32_tensors(&tensors, &[("format", "pt")])
}
