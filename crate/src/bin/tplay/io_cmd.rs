//! `tplay export | import`: models in and out as Hugging Face GPT-2 directories, and the reading of a directory
//! wherever a command takes `--model`.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use transformer_playground::io::{Files, export_hf, export_peft, import_hf, import_peft};
use transformer_playground::model::Gpt;
use transformer_playground::model::weights::save_safetensors;
use transformer_playground::tokenizer::Tokenizer;
use transformer_playground::{Error, Result};

use crate::model_cmd::load_model;

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// A Hugging Face model directory (GPT2LMHeadModel): transformers' from_pretrained loads it. LoRA
    /// adapters are merged in.
    Hf,
    /// The LoRA adapters alone as a PEFT directory: PeftModel.from_pretrained(base, dir) loads it.
    Peft,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The model: our .safetensors file or a Hugging Face directory.
    #[arg(long)]
    model: PathBuf,
    #[arg(long, value_enum, default_value = "hf")]
    format: ExportFormat,
    /// The directory to write (created when missing; files of the same names are replaced).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A Hugging Face GPT-2 directory: config.json, model.safetensors, tokenizer.json.
    dir: PathBuf,
    /// Our safetensors file to write (the tokenizer goes into its metadata).
    #[arg(long, default_value = "model.safetensors")]
    out: PathBuf,
    /// A PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors) to attach.
    #[arg(long)]
    adapter: Option<PathBuf>,
}

/// The files of a model directory (its top level; the big ones only when a model needs them).
pub fn read_dir(dir: &Path) -> Result<Files> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::InvalidInput(format!("cannot read the directory {}: {e}", dir.display()))
    })?;
    let mut files = Files::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file() {
            continue;
        }
        // Pickles are never read (only their presence matters, for the error); other big files are not needed.
        let needed = name.ends_with(".json")
            || name == "model.safetensors"
            || name == "adapter_model.safetensors";
        let bytes = if needed {
            std::fs::read(entry.path())?
        } else {
            Vec::new()
        };
        files.insert(name, bytes);
    }
    Ok(files)
}

/// A model and its tokenizer from a Hugging Face directory.
pub fn load_dir(dir: &Path) -> Result<(Gpt<f32>, Tokenizer)> {
    let hf =
        import_hf(&read_dir(dir)?).map_err(|e| Error::Format(format!("{}: {e}", dir.display())))?;
    Ok((hf.model, hf.tokenizer))
}

pub fn export(args: ExportArgs) -> Result<()> {
    let (model, tok) = load_model(&args.model)?;
    let files = match args.format {
        ExportFormat::Hf => export_hf(&model, tok.as_ref())?,
        ExportFormat::Peft => export_peft(&model)?,
    };
    write_dir(&args.out, &files)?;
    if tok.is_none() && matches!(args.format, ExportFormat::Hf) {
        eprintln!("the model has no tokenizer: the directory holds no tokenizer.json");
    }
    println!(
        "{}",
        serde_json::json!({"out": args.out.display().to_string(), "files": files.keys().collect::<Vec<_>>(), "parameters": model.config.param_count()})
    );
    Ok(())
}

/// Writes `files` into `dir` (created when missing).
pub fn write_dir(dir: &Path, files: &Files) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::InvalidInput(format!("cannot create {}: {e}", dir.display())))?;
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

pub fn import(args: ImportArgs) -> Result<()> {
    let (model, tok) = load_dir(&args.dir)?;
    let model = match &args.adapter {
        Some(dir) => import_peft(&model, &read_dir(dir)?)
            .map_err(|e| Error::Format(format!("{}: {e}", dir.display())))?,
        None => model,
    };
    let bytes = save_safetensors(&model, Some(&tok.to_json()))?;
    std::fs::write(&args.out, bytes)
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", args.out.display())))?;
    println!(
        "{}",
        serde_json::json!({"out": args.out.display().to_string(), "config": serde_json::from_str::<serde_json::Value>(&model.config.to_json()).unwrap_or_default(), "tokenizer": tok.kind(), "parameters": model.config.param_count()})
    );
    Ok(())
}
