//! `tplay tokenizer train|encode|decode`: train a tokenizer on a text file, and go between text and ids.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use transformer_playground::tokenizer::{self, BpeOptions, Pattern, Tokenizer};
use transformer_playground::{Error, Result};

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Learn a tokenizer from a text file and save it as tokenizer.json.
    Train {
        /// bpe (byte-level BPE) or char (one token per character).
        #[arg(long, value_enum, default_value = "bpe")]
        kind: Kind,
        /// Total vocabulary for BPE: 256 bytes + merges + special tokens (at most 65536).
        #[arg(long, default_value_t = 4096)]
        vocab_size: usize,
        /// Pre-tokenization for BPE: none, gpt2 or gpt4.
        #[arg(long, default_value = "gpt4")]
        pattern: String,
        /// Special tokens for BPE, never split or merged (repeat the flag, or separate with commas).
        #[arg(
            long = "special",
            value_delimiter = ',',
            default_value = "<|endoftext|>"
        )]
        special_tokens: Vec<String>,
        /// The training text (UTF-8).
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value = "tokenizer.json")]
        out: PathBuf,
    },
    /// Print the token ids of a text file as a JSON array.
    Encode {
        #[arg(long)]
        tokenizer: PathBuf,
        #[arg(long)]
        input: PathBuf,
    },
    /// Print the text of a JSON array of token ids.
    Decode {
        #[arg(long)]
        tokenizer: PathBuf,
        #[arg(long)]
        input: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Bpe,
    Char,
}

fn read_text(path: &PathBuf) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::InvalidInput(format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

fn load(path: &PathBuf) -> Result<Tokenizer> {
    Tokenizer::from_json(&read_text(path)?)
        .map_err(|e| Error::Format(format!("{}: {e}", path.display())))
}

pub fn run(command: TokenizerCommand) -> Result<()> {
    match command {
        TokenizerCommand::Train {
            kind,
            vocab_size,
            pattern,
            special_tokens,
            input,
            out,
        } => {
            let corpus = read_text(&input)?;
            let t = match kind {
                Kind::Char => tokenizer::train_char(&corpus)?,
                Kind::Bpe => {
                    let options = BpeOptions {
                        vocab_size,
                        pattern: Pattern::parse(&pattern)?,
                        special_tokens: special_tokens
                            .into_iter()
                            .filter(|s| !s.is_empty())
                            .collect(),
                    };
                    let tty = std::io::stderr().is_terminal();
                    let start = std::time::Instant::now();
                    let (t, report) = tokenizer::train_bpe_report(&corpus, &options, |p| {
                        if tty && (p.done % 16 == 0 || p.done == p.total) {
                            let width = 40;
                            let filled = width * p.done / p.total.max(1);
                            eprint!(
                                "\r[{}{}] {}/{} merges, last {:?} x{}   ",
                                "#".repeat(filled),
                                " ".repeat(width - filled.min(width)),
                                p.done,
                                p.total,
                                p.merge,
                                p.count
                            );
                            let _ = std::io::stderr().flush();
                        }
                        true
                    })?;
                    if tty {
                        eprintln!();
                    }
                    eprintln!(
                        "trained {} tokens in {:.2} s. {}",
                        t.vocab_size(),
                        start.elapsed().as_secs_f64(),
                        report.sentence(options.pattern)
                    );
                    t
                }
            };
            std::fs::write(&out, t.to_json())
                .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", out.display())))?;
            let stats = t.stats(&corpus);
            eprintln!(
                "wrote {} ({} tokens, {:.2} bytes per token on the training text)",
                out.display(),
                t.vocab_size(),
                stats.bytes_per_token
            );
            Ok(())
        }
        TokenizerCommand::Encode { tokenizer, input } => {
            let t = load(&tokenizer)?;
            let ids = t.encode(&read_text(&input)?);
            println!("{}", serde_json::to_string(&ids).expect("ids serialise"));
            Ok(())
        }
        TokenizerCommand::Decode { tokenizer, input } => {
            let t = load(&tokenizer)?;
            let ids: Vec<u32> = serde_json::from_str(&read_text(&input)?).map_err(|e| {
                Error::InvalidInput(format!(
                    "{} must hold a JSON array of token ids: {e}",
                    input.display()
                ))
            })?;
            print!("{}", t.decode(&ids)?);
            Ok(())
        }
    }
}
