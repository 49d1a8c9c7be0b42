//! Corpus chrF as sacreBLEU's `corpus_chrf` computes it with its defaults: character n-grams of orders 1..=6 with
//! whitespace removed, no word n-grams, beta 2 (recall weighs more than precision), mixed case.
//!
//! ```text
//! per order n: hyp, ref and matched n-gram counts summed over the corpus
//! P, R = means over the orders with both hyp and ref n-grams of matched / hyp and matched / ref
//! chrF = 100 * (1 + beta^2) * P * R / (beta^2 * P + R)
//! ```

use std::collections::HashMap;

use super::{check_pairs, python_split};
use crate::Result;

/// Highest character n-gram order.
pub const CHAR_ORDER: usize = 6;
/// Recall is beta times as important as precision.
pub const BETA: f64 = 2.0;

/// Corpus chrF of `hypotheses` against `references` (one each, same order), 0..100.
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<f64> {
    check_pairs(hypotheses.len(), references.len())?;
    // Per order: (hypothesis n-grams, reference n-grams, matches).
    let mut stats = [[0u64; 3]; CHAR_ORDER];
    for (hyp, reference) in hypotheses.iter().zip(references) {
        let hyp: Vec<char> = python_split(hyp.as_ref()).flat_map(str::chars).collect();
        let reference: Vec<char> = python_split(reference.as_ref())
            .flat_map(str::chars)
            .collect();
        for (n, order) in stats.iter_mut().enumerate() {
            let hyp_ngrams = char_ngrams(&hyp, n + 1);
            let ref_ngrams = char_ngrams(&reference, n + 1);
            let ref_count: u64 = ref_ngrams.values().sum();
            let mut matches = 0;
            for (ngram, &count) in &hyp_ngrams {
                matches += count.min(ref_ngrams.get(ngram).copied().unwrap_or(0));
            }
            // sacreBLEU counts no hypothesis n-grams for an order where the reference has none.
            if ref_count > 0 {
                order[0] += hyp_ngrams.values().sum::<u64>();
            }
            order[1] += ref_count;
            order[2] += matches;
        }
    }
    Ok(chrf_from_stats(&stats))
}

/// chrF from per-order (hyp, ref, match) counts (sacreBLEU's `_compute_f_score` without eps smoothing).
pub fn chrf_from_stats(stats: &[[u64; 3]]) -> f64 {
    let factor = BETA * BETA;
    let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0, 0.0, 0usize);
    for &[hyp, reference, matches] in stats {
        if hyp > 0 && reference > 0 {
            avg_prec += matches as f64 / hyp as f64;
            avg_rec += matches as f64 / reference as f64;
            effective_order += 1;
        }
    }
    if effective_order == 0 {
        return 0.0;
    }
    avg_prec /= effective_order as f64;
    avg_rec /= effective_order as f64;
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    let mut score = (1.0 + factor) * avg_prec * avg_rec;
    score /= factor * avg_prec + avg_rec;
    100.0 * score
}

/// Counts of the character n-grams of order `n` (code points, as Python slices strings).
fn char_ngrams(chars: &[char], n: usize) -> HashMap<&[char], u64> {
    let mut counts = HashMap::new();
    for window in chars.windows(n) {
        *counts.entry(window).or_insert(0) += 1;
    }
    counts
}
