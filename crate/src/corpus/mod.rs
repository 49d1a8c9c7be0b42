//! Built-in corpora: text the project writes itself, deterministic from a seed, so the CLI and the page
//! can train a model offline with no input.
//!
//! - [`Corpus::Stories`]: small English-like stories from a probabilistic grammar (see [`stories`]).
//! - [`Corpus::Copy`], [`Corpus::Reverse`], [`Corpus::Sort`], [`Corpus::Addition`], [`Corpus::Brackets`]:
//!   algorithmic tasks, one example per line, whose attention patterns have a known right answer
//!   (see [`tasks`]); [`Corpus::Mixed`] draws every line from any of them.
//!
//! - [`seq2seq`]: (source, target) pairs for an encoder-decoder: the algorithmic tasks and a translation into
//!   a made-up language ([`translation`]).
//!
//! Same corpus, seed and size give the same text on every machine and on wasm32.

pub mod classify;
pub mod seq2seq;
pub mod stories;
pub mod tasks;
pub mod translation;

use crate::{Error, Result, invalid_input};
pub use classify::ClassifyTask;
pub use seq2seq::{Pair, Seq2SeqTask, generate_pairs, train_val_pairs};
pub use tasks::{Lengths, MAX_TASK_LEN, Task};

/// Size used when the caller gives none: a few hundred KB, enough for a tiny char-level model.
pub const DEFAULT_BYTES: usize = 300_000;

/// One built-in corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Corpus {
    Stories,
    Copy,
    Reverse,
    Sort,
    Addition,
    Brackets,
    Mixed,
}

impl Corpus {
    /// Every corpus, in the order the page lists them.
    pub fn all() -> &'static [Corpus] {
        &[
            Corpus::Stories,
            Corpus::Copy,
            Corpus::Reverse,
            Corpus::Sort,
            Corpus::Addition,
            Corpus::Brackets,
            Corpus::Mixed,
        ]
    }

    /// The name used on the command line and in the JS API.
    pub fn name(self) -> &'static str {
        match self {
            Corpus::Stories => "stories",
            Corpus::Copy => "copy",
            Corpus::Reverse => "reverse",
            Corpus::Sort => "sort",
            Corpus::Addition => "addition",
            Corpus::Brackets => "brackets",
            Corpus::Mixed => "mixed",
        }
    }

    /// One plain-language sentence for the page.
    pub fn description(self) -> &'static str {
        match self {
            Corpus::Stories => {
                "Short made-up stories with a small cast, where verbs agree with their subjects and pronouns with the person named."
            }
            Corpus::Copy => {
                "Lines like 'copy abc7d > abc7d': the model repeats a string, so attention looks back a fixed distance."
            }
            Corpus::Reverse => {
                "Lines like 'rev abc > cba': the model writes a string backwards, so attention moves in the opposite direction."
            }
            Corpus::Sort => {
                "Lines like 'sort 4132 > 1234': the model puts digits in order, so attention searches for the next smallest digit."
            }
            Corpus::Addition => {
                "Lines like 'add 47+385 = 432': the model adds two numbers, so attention pairs up digits in the same column."
            }
            Corpus::Brackets => {
                "Lines like 'brk ([]{}) : yes': the model says whether brackets are balanced, so attention tracks the ones still open."
            }
            Corpus::Mixed => {
                "All five algorithmic tasks mixed line by line, so the model must read the first word to know what to do."
            }
        }
    }

    /// The corpus called `name` (case and surrounding spaces ignored; the line prefixes `rev`, `add` and
    /// `brk` work too).
    pub fn from_name(name: &str) -> Result<Corpus> {
        let wanted = name.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "rev" => "reverse",
            "add" => "addition",
            "brk" => "brackets",
            other => other,
        };
        if let Some(&corpus) = Corpus::all().iter().find(|c| c.name() == alias) {
            return Ok(corpus);
        }
        let names: Vec<&str> = Corpus::all().iter().map(|c| c.name()).collect();
        Err(Error::InvalidInput(format!(
            "there is no built-in corpus called '{}': choose one of {}",
            name.trim(),
            names.join(", ")
        )))
    }

    /// The tasks whose lines this corpus holds (empty for stories).
    pub fn tasks(self) -> &'static [Task] {
        match self {
            Corpus::Stories => &[],
            Corpus::Copy => &[Task::Copy],
            Corpus::Reverse => &[Task::Reverse],
            Corpus::Sort => &[Task::Sort],
            Corpus::Addition => &[Task::Addition],
            Corpus::Brackets => &[Task::Brackets],
            Corpus::Mixed => &tasks::ALL_TASKS,
        }
    }
}

/// The text of `corpus`, from `seed`, of about `approx_bytes` bytes: generation stops after the line (or
/// story) that reaches the size, so the text runs over by at most one line (one story, about 1 KB, for
/// stories). Algorithmic tasks use their default lengths. `approx_bytes` 0 gives an empty string.
pub fn generate(corpus: Corpus, seed: u64, approx_bytes: usize) -> String {
    match corpus {
        Corpus::Stories => stories::generate_stories(seed, approx_bytes),
        _ => tasks::generate_tasks(corpus.tasks(), seed, approx_bytes, None),
    }
}

/// Like [`generate`], with the input lengths of the algorithmic tasks chosen by the caller (characters for
/// copy, reverse, sort and brackets; digits per operand for addition). Stories have no lengths.
pub fn generate_with_lengths(
    corpus: Corpus,
    seed: u64,
    approx_bytes: usize,
    lengths: Lengths,
) -> Result<String> {
    if corpus == Corpus::Stories {
        invalid_input!(
            "input lengths apply to the algorithmic corpora only, not to stories: leave them out"
        );
    }
    let lengths = Lengths::new(lengths.min, lengths.max)?;
    Ok(tasks::generate_tasks(
        corpus.tasks(),
        seed,
        approx_bytes,
        Some(lengths),
    ))
}

/// Splits `text` into (train, validation), validation being the last `val_fraction` of the bytes.
///
/// The split falls at the start of a line when one lies within 2% of the text's length of the exact point
/// (so no example or paragraph is cut in two), else at the nearest character boundary at or before it, so
/// both halves are always valid UTF-8. `val_fraction` is clamped to 0..=1 (NaN counts as 0); 0 gives an
/// empty validation part, 1 an empty training part. `train` followed by `val` is exactly `text`.
pub fn train_val_split(text: &str, val_fraction: f32) -> (&str, &str) {
    let fraction = if val_fraction.is_nan() {
        0.0
    } else {
        val_fraction.clamp(0.0, 1.0) as f64
    };
    let len = text.len();
    let exact = ((len as f64) * (1.0 - fraction)).round() as usize;
    if exact == 0 || exact >= len {
        return text.split_at(exact.min(len));
    }
    // Nearest line start (the byte after a '\n') to `exact`, never at either end of the text.
    let window = len / 50;
    let bytes = text.as_bytes();
    let before = bytes[..exact]
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .filter(|&p| p > 0 && exact - p <= window);
    let after = bytes[exact..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| exact + i + 1)
        .filter(|&p| p < len && p - exact <= window);
    let split = match (before, after) {
        (Some(b), Some(a)) => {
            if exact - b <= a - exact {
                b
            } else {
                a
            }
        }
        (Some(p), None) | (None, Some(p)) => p,
        (None, None) => {
            let mut p = exact;
            while !text.is_char_boundary(p) {
                p -= 1;
            }
            p
        }
    };
    text.split_at(split)
}

/// Size and character statistics of a text: what a model on it can be expected to reach.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CorpusStats {
    pub bytes: usize,
    pub chars: usize,
    pub lines: usize,
    /// Number of different characters: the vocabulary of a char-level tokenizer.
    pub distinct_chars: usize,
    /// Unigram (single character) entropy in bits: the loss, in bits per character, of a model that knows
    /// only character frequencies. In nats (the unit of cross-entropy loss) multiply by ln 2 = 0.693.
    pub unigram_entropy_bits: f64,
}

/// Statistics of `text` (see [`CorpusStats`]).
pub fn stats(text: &str) -> CorpusStats {
    let mut ascii = [0usize; 128];
    let mut other = std::collections::BTreeMap::<char, usize>::new();
    let mut chars = 0;
    for c in text.chars() {
        chars += 1;
        if c.is_ascii() {
            ascii[c as usize] += 1;
        } else {
            *other.entry(c).or_default() += 1;
        }
    }
    let counts = ascii
        .iter()
        .copied()
        .chain(other.values().copied())
        .filter(|&n| n > 0);
    let mut distinct_chars = 0;
    let mut entropy = 0.0;
    for n in counts {
        distinct_chars += 1;
        let p = n as f64 / chars as f64;
        entropy -= p * p.log2();
    }
    CorpusStats {
        bytes: text.len(),
        chars,
        lines: text.lines().count(),
        distinct_chars,
        unigram_entropy_bits: entropy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_same_seed_same_text_different_seed_different_text() {
        for &corpus in Corpus::all() {
            let a = generate(corpus, 7, 20_000);
            let b = generate(corpus, 7, 20_000);
            let c = generate(corpus, 8, 20_000);
            assert_eq!(a, b, "{}: same seed gave different text", corpus.name());
            assert_ne!(
                a,
                c,
                "{}: different seeds gave the same text",
                corpus.name()
            );
        }
    }

    #[test]
    fn corpus_size_is_roughly_the_requested_size() {
        for &corpus in Corpus::all() {
            for bytes in [1, 1000, 50_000, 300_000] {
                let text = generate(corpus, 1, bytes);
                // Over by at most one story (stories) or one line (tasks).
                let slack = if corpus == Corpus::Stories { 3000 } else { 600 };
                assert!(
                    text.len() >= bytes && text.len() <= bytes + slack,
                    "{}: asked for {bytes} bytes, got {}",
                    corpus.name(),
                    text.len()
                );
            }
            assert_eq!(generate(corpus, 1, 0), "");
        }
    }

    #[test]
    fn corpus_names_round_trip_and_errors_list_them() {
        for &corpus in Corpus::all() {
            assert_eq!(Corpus::from_name(corpus.name()).unwrap(), corpus);
            assert!(corpus.description().ends_with('.'));
        }
        assert_eq!(Corpus::from_name(" Stories ").unwrap(), Corpus::Stories);
        assert_eq!(Corpus::from_name("brk").unwrap(), Corpus::Brackets);
        let message = Corpus::from_name("poems").unwrap_err().to_string();
        assert!(message.contains("'poems'"), "{message}");
        for &corpus in Corpus::all() {
            assert!(message.contains(corpus.name()), "{message}");
        }
    }

    #[test]
    fn corpus_each_task_corpus_holds_only_its_task() {
        for &corpus in &Corpus::all()[1..6] {
            let prefix = format!("{} ", corpus.tasks()[0].prefix());
            let text = generate(corpus, 2, 5000);
            assert!(
                text.lines().all(|l| l.starts_with(&prefix)),
                "{}",
                corpus.name()
            );
        }
        let mixed = generate(Corpus::Mixed, 2, 20_000);
        for task in tasks::ALL_TASKS {
            assert!(mixed.lines().any(|l| l.starts_with(task.prefix())));
        }
    }

    #[test]
    fn corpus_lengths_are_applied_and_checked() {
        let text =
            generate_with_lengths(Corpus::Copy, 1, 5000, Lengths { min: 20, max: 20 }).unwrap();
        assert!(
            text.lines().all(|l| l.len() == "copy  > ".len() + 40),
            "{text}"
        );
        assert!(
            generate_with_lengths(Corpus::Stories, 1, 100, Lengths { min: 1, max: 2 }).is_err()
        );
        assert!(generate_with_lengths(Corpus::Sort, 1, 100, Lengths { min: 5, max: 2 }).is_err());
    }

    #[test]
    fn split_fractions_are_right_and_fall_on_line_starts() {
        for &corpus in Corpus::all() {
            let text = generate(corpus, 4, 100_000);
            for fraction in [0.05f32, 0.1, 0.25, 0.5] {
                let (train, val) = train_val_split(&text, fraction);
                assert_eq!(train.len() + val.len(), text.len());
                assert!(text.starts_with(train) && text.ends_with(val));
                let share = val.len() as f64 / text.len() as f64;
                assert!(
                    (share - fraction as f64).abs() <= 0.02,
                    "{}: asked {fraction}, got {share}",
                    corpus.name()
                );
                assert!(
                    train.ends_with('\n'),
                    "{}: split not at a line start",
                    corpus.name()
                );
            }
        }
    }

    #[test]
    fn split_never_breaks_utf8_and_handles_the_ends() {
        // No newlines and multi-byte characters everywhere: the split must walk back to a char boundary.
        let text = "héllo wörld ✓ 日本語 ".repeat(40);
        for i in 0..=100 {
            let fraction = i as f32 / 100.0;
            let (train, val) = train_val_split(&text, fraction);
            assert_eq!(format!("{train}{val}"), text);
            let share = val.len() as f64 / text.len() as f64;
            assert!(
                (share - fraction as f64).abs() < 0.01,
                "asked {fraction}, got {share}"
            );
        }
        assert_eq!(train_val_split(&text, 0.0), (text.as_str(), ""));
        assert_eq!(train_val_split(&text, 1.0), ("", text.as_str()));
        assert_eq!(train_val_split(&text, f32::NAN), (text.as_str(), ""));
        assert_eq!(train_val_split(&text, -3.0), (text.as_str(), ""));
        assert_eq!(train_val_split("", 0.5), ("", ""));
        assert_eq!(train_val_split("ab\ncd\n", 0.5), ("ab\n", "cd\n"));
    }

    #[test]
    fn stats_entropy_matches_hand_values() {
        let s = stats("aabb");
        assert_eq!((s.bytes, s.chars, s.distinct_chars, s.lines), (4, 4, 2, 1));
        assert!((s.unigram_entropy_bits - 1.0).abs() < 1e-12);
        let s = stats("abcd✓✓✓✓");
        // p = 1/8 four times, 1/2 once: 4 * (1/8 * 3) + 1/2 * 1 = 2 bits.
        assert!((s.unigram_entropy_bits - 2.0).abs() < 1e-12, "{s:?}");
        assert_eq!(stats("aaaa").unigram_entropy_bits, 0.0);
    }

    /// FNV-1a, 64 bit: a checksum with no dependency.
    fn fnv1a(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// A seed names a text for good: models, docs and saved pages refer to corpora by (name, seed, size).
    /// A change to a generator changes these sums; update them only on purpose, and say so in the docs.
    /// The same sums hold on wasm32 (checked through Node when this was written).
    #[test]
    fn corpus_text_for_a_seed_is_pinned() {
        let pinned: [(Corpus, u64); 7] = [
            (Corpus::Stories, 0x10d4_42df_768a_7ba7),
            (Corpus::Copy, 0x3ac8_fd4a_e2e1_4669),
            (Corpus::Reverse, 0x5eb6_cfab_5bad_70f1),
            (Corpus::Sort, 0x72cc_14bc_582b_5949),
            (Corpus::Addition, 0x950d_302f_cb3c_6656),
            (Corpus::Brackets, 0x53f3_2024_aa8e_7a42),
            (Corpus::Mixed, 0xa658_9fac_3026_35b6),
        ];
        let mut actual = Vec::new();
        for (corpus, _) in pinned {
            actual.push((corpus, fnv1a(&generate(corpus, 1, 100_000))));
        }
        assert_eq!(actual, pinned, "the text of a corpus for seed 1 changed");
    }

    /// Prints the entropy table for docs/corpora.md: `cargo test --lib corpus_print_stats -- --nocapture`.
    #[test]
    fn corpus_print_stats() {
        for &corpus in Corpus::all() {
            let s = stats(&generate(corpus, 1, DEFAULT_BYTES));
            println!(
                "{:<9} {:>7} bytes {:>3} chars {:.3} bits/char",
                corpus.name(),
                s.bytes,
                s.distinct_chars,
                s.unigram_entropy_bits
            );
            // Far from zero (the text varies) and below log2 of the vocabulary (it is not uniform).
            assert!(s.unigram_entropy_bits > 1.5);
            assert!(s.unigram_entropy_bits < (s.distinct_chars as f64).log2());
        }
    }
}
