//! Metrics for generated text against references: corpus BLEU and chrF (as sacreBLEU computes them), ROUGE-1,
//! ROUGE-2 and ROUGE-L (as Google's `rouge-score` does, no stemming) and exact match.
//!
//! Each metric follows its reference package's rules exactly, tokenization included, so a score printed here
//! can be put next to one from Python: [`bleu`] (sacreBLEU `corpus_bleu`, tokenizer 13a, exp smoothing),
//! [`chrf`] (sacreBLEU `corpus_chrf`, character 6-grams, beta 2), [`rouge`] (`RougeScorer(..,
//! use_stemmer=False)`). `crate/tests/fixtures/metrics/` holds the scores those packages give a set of awkward
//! cases and the script that made them; the tests compare against that file (no Python at test time).
//!
//! Scales follow the packages: BLEU and chrF from 0 to 100, ROUGE and exact match from 0 to 1.

pub mod bleu;
pub mod chrf;
pub mod rouge;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::{Result, invalid_input};

/// The scores of a set of hypotheses against one reference each.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// Number of (hypothesis, reference) pairs scored.
    pub pairs: usize,
    /// Corpus BLEU-4 with brevity penalty, 0..100 (sacreBLEU `corpus_bleu` with its defaults).
    pub bleu: f64,
    /// Corpus chrF, 0..100 (sacreBLEU `corpus_chrf` with its defaults).
    pub chrf: f64,
    /// Mean over the pairs of the ROUGE-1 F1, 0..1.
    pub rouge1: f64,
    /// Mean over the pairs of the ROUGE-2 F1, 0..1.
    pub rouge2: f64,
    /// Mean over the pairs of the ROUGE-L (longest common subsequence) F1, 0..1.
    pub rouge_l: f64,
    /// Share of pairs whose hypothesis equals its reference word for word (runs of whitespace count as one
    /// space, leading and trailing whitespace is ignored), 0..1.
    pub exact_match: f64,
}

/// Every metric of `hypotheses` against `references` (one reference per hypothesis, in the same order).
pub fn evaluate<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<Scores> {
    check_pairs(hypotheses.len(), references.len())?;
    let n = hypotheses.len() as f64;
    let (mut rouge1, mut rouge2, mut rouge_l, mut exact) = (0.0, 0.0, 0.0, 0usize);
    for (hyp, reference) in hypotheses.iter().zip(references) {
        let (hyp, reference) = (hyp.as_ref(), reference.as_ref());
        let scores = rouge::score(reference, hyp);
        rouge1 += scores.rouge1.f1;
        rouge2 += scores.rouge2.f1;
        rouge_l += scores.rouge_l.f1;
        exact += usize::from(exact_match(hyp, reference));
    }
    Ok(Scores {
        pairs: hypotheses.len(),
        bleu: bleu::corpus_bleu(hypotheses, references)?.score,
        chrf: chrf::corpus_chrf(hypotheses, references)?,
        rouge1: rouge1 / n,
        rouge2: rouge2 / n,
        rouge_l: rouge_l / n,
        exact_match: exact as f64 / n,
    })
}

/// Whether `hypothesis` equals `reference` word for word (whitespace runs and the ends do not count).
pub fn exact_match(hypothesis: &str, reference: &str) -> bool {
    hypothesis
        .split_whitespace()
        .eq(reference.split_whitespace())
}

/// The same number of hypotheses and references, and at least one of each.
pub(crate) fn check_pairs(hypotheses: usize, references: usize) -> Result<()> {
    if hypotheses != references {
        invalid_input!(
            "{hypotheses} hypotheses and {references} references: each hypothesis needs exactly one reference"
        );
    }
    if hypotheses == 0 {
        invalid_input!("no hypotheses to score: give at least one (hypothesis, reference) pair");
    }
    Ok(())
}

/// Python's `str.isspace`: Unicode White_Space plus the four information separators U+001C..U+001F, which
/// Python's `str.split()` also splits on (the reference packages split with it).
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no argument: the non-empty runs between whitespace.
pub(crate) fn python_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_python_space).filter(|w| !w.is_empty())
}
