//! ROUGE-1, ROUGE-2 and ROUGE-L as Google's `rouge-score` package computes them (`RougeScorer([..],
//! use_stemmer=False).score(target, prediction)`), with its tokenizer: lowercase, every run of characters
//! other than `a-z0-9` is a separator (so accented letters, CJK and punctuation split words and vanish).
//!
//! ```text
//! ROUGE-N: overlap = sum over the reference's n-grams of min(count in reference, count in hypothesis)
//!          precision = overlap / hypothesis n-grams, recall = overlap / reference n-grams
//! ROUGE-L: the same with overlap = length of the longest common subsequence of the two token lists
//! F1 = 2 P R / (P + R)
//! ```

use std::collections::HashMap;

/// Precision, recall and F1 of one metric on one pair, 0..1.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct PrecisionRecall {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl PrecisionRecall {
    fn new(precision: f64, recall: f64) -> Self {
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            f1,
        }
    }
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one hypothesis against its reference.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Rouge {
    pub rouge1: PrecisionRecall,
    pub rouge2: PrecisionRecall,
    pub rouge_l: PrecisionRecall,
}

/// The scores of `hypothesis` against `reference` (note the order: rouge-score's `score(target, prediction)`).
pub fn score(reference: &str, hypothesis: &str) -> Rouge {
    let reference = tokenize(reference);
    let hypothesis = tokenize(hypothesis);
    Rouge {
        rouge1: rouge_n(&reference, &hypothesis, 1),
        rouge2: rouge_n(&reference, &hypothesis, 2),
        rouge_l: rouge_l(&reference, &hypothesis),
    }
}

/// rouge-score's tokens of `text`: the maximal runs of `a-z0-9` after Unicode lowercasing (so 'İ' gives 'i'
/// and the Kelvin sign 'k', as Python's `str.lower` does).
pub fn tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// ROUGE-N of two token lists.
pub fn rouge_n(reference: &[String], hypothesis: &[String], n: usize) -> PrecisionRecall {
    let ngrams = |tokens: &[String]| {
        let mut counts: HashMap<Vec<String>, usize> = HashMap::new();
        if tokens.len() >= n {
            for window in tokens.windows(n) {
                *counts.entry(window.to_vec()).or_insert(0) += 1;
            }
        }
        counts
    };
    let (ref_ngrams, hyp_ngrams) = (ngrams(reference), ngrams(hypothesis));
    let overlap: usize = ref_ngrams
        .iter()
        .map(|(ngram, &count)| count.min(hyp_ngrams.get(ngram).copied().unwrap_or(0)))
        .sum();
    let ref_total: usize = ref_ngrams.values().sum();
    let hyp_total: usize = hyp_ngrams.values().sum();
    PrecisionRecall::new(
        overlap as f64 / hyp_total.max(1) as f64,
        overlap as f64 / ref_total.max(1) as f64,
    )
}

/// ROUGE-L of two token lists: the longest common subsequence, by dynamic programming over one row at a time.
pub fn rouge_l(reference: &[String], hypothesis: &[String]) -> PrecisionRecall {
    if reference.is_empty() || hypothesis.is_empty() {
        return PrecisionRecall::default();
    }
    let lcs = lcs_length(reference, hypothesis);
    PrecisionRecall::new(
        lcs as f64 / hypothesis.len() as f64,
        lcs as f64 / reference.len() as f64,
    )
}

/// Length of the longest common subsequence of `a` and `b`.
pub fn lcs_length<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    // previous[j] = LCS of a[..i] and b[..j]; each row from the one above.
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}
