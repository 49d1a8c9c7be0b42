//! `tplay eval`: BLEU, chrF, ROUGE-1/2/L and exact match of hypotheses against references, as JSON lines.
//!
//! ```text
//! tplay eval --hypotheses out.txt --references ref.txt            # one line: the corpus scores
//! tplay eval --hypotheses out.txt --references ref.txt --per-pair # a line per pair first
//! ```

use std::path::PathBuf;

use clap::Args;
use transformer_playground::metrics::{self, bleu, rouge};
use transformer_playground::{Error, Result};

use crate::model_cmd::read_text;

#[derive(Args)]
pub struct EvalArgs {
    /// Hypotheses (what a model wrote), one per line.
    #[arg(long)]
    hypotheses: PathBuf,
    /// References, one per line, in the same order.
    #[arg(long)]
    references: PathBuf,
    /// Also print each pair's sentence BLEU inputs, ROUGE and exact match, one JSON line per pair, before the
    /// corpus line.
    #[arg(long)]
    per_pair: bool,
}

/// The lines of a file without their line ends (a final newline does not make an empty last line).
fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

pub fn run(args: EvalArgs) -> Result<()> {
    let hypotheses_text = read_text(&args.hypotheses)?;
    let references_text = read_text(&args.references)?;
    let (hypotheses, references) = (lines(&hypotheses_text), lines(&references_text));
    if hypotheses.len() != references.len() {
        return Err(Error::InvalidInput(format!(
            "{} has {} lines and {} has {}: each hypothesis needs the reference on the same line",
            args.hypotheses.display(),
            hypotheses.len(),
            args.references.display(),
            references.len()
        )));
    }
    if args.per_pair {
        for (i, (hyp, reference)) in hypotheses.iter().zip(&references).enumerate() {
            let scores = rouge::score(reference, hyp);
            println!(
                "{}",
                serde_json::json!({
                    "pair": i,
                    "bleu": bleu::corpus_bleu(&[hyp], &[reference])?.score,
                    "rouge1": scores.rouge1.f1,
                    "rouge2": scores.rouge2.f1,
                    "rouge_l": scores.rouge_l.f1,
                    "exact_match": metrics::exact_match(hyp, reference),
                })
            );
        }
    }
    let scores = metrics::evaluate(&hypotheses, &references)?;
    println!(
        "{}",
        serde_json::to_string(&scores).expect("scores serialise")
    );
    Ok(())
}
