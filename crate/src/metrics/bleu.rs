//! Corpus BLEU as sacreBLEU's `corpus_bleu` computes it with its defaults: the 13a tokenizer (mteval-v13a, as
//! WMT uses), mixed case, n-grams up to 4, one reference per hypothesis, the brevity penalty, and "exp"
//! smoothing (an order with no match counts as 1 / (2^k * total), k the number of such orders so far).
//!
//! ```text
//! BLEU = 100 * BP * exp(mean over n = 1..4 of ln p_n)    p_n = clipped n-gram matches / hypothesis n-grams
//! BP   = 1 if c >= r, else exp(1 - r / c)                c, r = hypothesis and reference tokens, corpus-wide
//! ```

use std::collections::HashMap;

use super::{check_pairs, python_split};
use crate::Result;

/// Highest n-gram order of BLEU-4.
pub const MAX_ORDER: usize = 4;

/// A BLEU score and the corpus statistics it comes from (sacreBLEU's `BLEUScore`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Bleu {
    /// 0..100.
    pub score: f64,
    /// Clipped n-gram matches per order 1..=4.
    pub counts: [u64; MAX_ORDER],
    /// Hypothesis n-grams per order.
    pub totals: [u64; MAX_ORDER],
    /// The n-gram precisions in percent (smoothed where there was no match).
    pub precisions: [f64; MAX_ORDER],
    /// The brevity penalty.
    pub bp: f64,
    /// Hypothesis tokens over the corpus.
    pub sys_len: u64,
    /// Reference tokens over the corpus.
    pub ref_len: u64,
}

/// Corpus BLEU of `hypotheses` against `references` (one each, same order).
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<Bleu> {
    check_pairs(hypotheses.len(), references.len())?;
    let (mut counts, mut totals) = ([0u64; MAX_ORDER], [0u64; MAX_ORDER]);
    let (mut sys_len, mut ref_len) = (0u64, 0u64);
    for (hyp, reference) in hypotheses.iter().zip(references) {
        let hyp = tokenize_13a(hyp.as_ref());
        let reference = tokenize_13a(reference.as_ref());
        let hyp: Vec<&str> = python_split(&hyp).collect();
        let reference: Vec<&str> = python_split(&reference).collect();
        sys_len += hyp.len() as u64;
        ref_len += reference.len() as u64;
        let ref_ngrams = ngram_counts(&reference);
        for (ngram, count) in ngram_counts(&hyp) {
            let n = ngram.len() - 1;
            totals[n] += count;
            counts[n] += count.min(ref_ngrams.get(&ngram).copied().unwrap_or(0));
        }
    }
    Ok(bleu_from_counts(counts, totals, sys_len, ref_len))
}

/// BLEU from its corpus statistics (sacreBLEU's `compute_bleu` with smooth_method "exp").
pub fn bleu_from_counts(
    counts: [u64; MAX_ORDER],
    totals: [u64; MAX_ORDER],
    sys_len: u64,
    ref_len: u64,
) -> Bleu {
    let bp = if sys_len >= ref_len {
        1.0
    } else if sys_len > 0 {
        (1.0 - ref_len as f64 / sys_len as f64).exp()
    } else {
        0.0
    };
    let mut precisions = [0.0; MAX_ORDER];
    let mut bleu = Bleu {
        score: 0.0,
        counts,
        totals,
        precisions,
        bp,
        sys_len,
        ref_len,
    };
    if counts.iter().all(|&c| c == 0) {
        return bleu;
    }
    let mut smooth = 1.0;
    for n in 0..MAX_ORDER {
        // sacreBLEU stops at the first order with no n-grams at all; the orders after keep precision 0,
        // whose log it floors to -9999999999, so the score is 0.
        if totals[n] == 0 {
            break;
        }
        precisions[n] = if counts[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * totals[n] as f64)
        } else {
            100.0 * counts[n] as f64 / totals[n] as f64
        };
    }
    let log_sum: f64 = precisions
        .iter()
        .map(|&p| if p == 0.0 { -9_999_999_999.0 } else { p.ln() })
        .sum();
    bleu.precisions = precisions;
    bleu.score = bp * (log_sum / MAX_ORDER as f64).exp();
    bleu
}

/// Counts of every n-gram of orders 1..=4 of `tokens`.
fn ngram_counts<'a>(tokens: &[&'a str]) -> HashMap<Vec<&'a str>, u64> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER.min(tokens.len()) {
        for window in tokens.windows(n) {
            *counts.entry(window.to_vec()).or_insert(0) += 1;
        }
    }
    counts
}

/// sacreBLEU's 13a tokenizer (mteval-v13a): the segment with trailing whitespace stripped, `<skipped>` and
/// hyphenated line breaks removed, four HTML entities unescaped, then spaces put around punctuation and
/// symbols, around `.` and `,` unless next to a digit on that side, and after a `-` that follows a digit.
/// Returns the tokens joined by single spaces.
pub fn tokenize_13a(segment: &str) -> String {
    let mut line = segment
        .trim_end_matches(super::is_python_space)
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let chars: Vec<char> = format!(" {line} ").chars().collect();

    // Rule 1: a space on both sides of each symbol of 13a's class (ASCII punctuation except ' , - .).
    let mut spaced = Vec::with_capacity(chars.len() * 2);
    for &c in &chars {
        if is_13a_symbol(c) {
            spaced.extend([' ', c, ' ']);
        } else {
            spaced.push(c);
        }
    }
    let is_digit = |c: char| c.is_ascii_digit();
    let is_period_or_comma = |c: char| c == '.' || c == ',';
    // Rules 2 to 4 are regular-expression substitutions of two-character patterns; like Python's re.sub they
    // scan left to right and resume after each match, so matches never overlap.
    let spaced = substitute_pairs(
        &spaced,
        |a, b| !is_digit(a) && is_period_or_comma(b),
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    let spaced = substitute_pairs(
        &spaced,
        |a, b| is_period_or_comma(a) && !is_digit(b),
        |a, b, out| out.extend([' ', a, ' ', b]),
    );
    let spaced = substitute_pairs(
        &spaced,
        |a, b| is_digit(a) && b == '-',
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    let spaced: String = spaced.into_iter().collect();
    python_split(&spaced).collect::<Vec<_>>().join(" ")
}

/// 13a's first class, `[\{-\~\[-\` -\&\(-\+\:-\@\/]`: `{|}~`, `[\]^_` and the backtick, space to `&`,
/// `(` to `+`, `:` to `@`, and `/`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// One left-to-right pass replacing each non-overlapping pair (a, b) that `matches` with `replace`'s output.
fn substitute_pairs(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 2);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            replace(chars[i], chars[i + 1], &mut out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}
