//! Sequence-to-sequence tasks: (source, target) pairs for an encoder-decoder, deterministic from a seed.
//!
//! - `copy`, `reverse`, `sort`, `addition`: the algorithmic tasks of [`super::tasks`] with the task word and the
//!   separator taken off (`rev abc > cba` becomes (`abc`, `cba`); `add 47+385 = 432` becomes (`47+385`,
//!   `432`)): the same generator, so the same inputs for the same seed and lengths.
//! - `translate`: English-like sentences into a made-up language with another word order
//!   ([`super::translation`]), so the alignment between source and target words is not monotonic.

use serde::Serialize;

use super::tasks::{self, Lengths, Task};
use super::translation;
use crate::rng::Rng;
use crate::{Error, Result, invalid_input};

/// One seq2seq task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seq2SeqTask {
    Copy,
    Reverse,
    Sort,
    Addition,
    Translate,
}

/// One example: what the encoder reads and what the decoder must write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pair {
    pub source: String,
    pub target: String,
}

impl Seq2SeqTask {
    /// Every task, in the order the page lists them.
    pub fn all() -> &'static [Seq2SeqTask] {
        &[
            Seq2SeqTask::Copy,
            Seq2SeqTask::Reverse,
            Seq2SeqTask::Sort,
            Seq2SeqTask::Addition,
            Seq2SeqTask::Translate,
        ]
    }

    /// The name used on the command line and in the JS API.
    pub fn name(self) -> &'static str {
        match self {
            Seq2SeqTask::Copy => "copy",
            Seq2SeqTask::Reverse => "reverse",
            Seq2SeqTask::Sort => "sort",
            Seq2SeqTask::Addition => "addition",
            Seq2SeqTask::Translate => "translate",
        }
    }

    /// One plain-language sentence for the page.
    pub fn description(self) -> &'static str {
        match self {
            Seq2SeqTask::Copy => {
                "abc7d -> abc7d: the decoder looks at the same position of the source."
            }
            Seq2SeqTask::Reverse => {
                "abc -> cba: the decoder's cross-attention walks the source backwards."
            }
            Seq2SeqTask::Sort => {
                "4132 -> 1234: the decoder searches the source for the next smallest digit."
            }
            Seq2SeqTask::Addition => {
                "47+385 -> 432: the decoder pairs up digits of the same column, right to left."
            }
            Seq2SeqTask::Translate => {
                "English-like sentences into a made-up language where verbs come last and adjectives after nouns: the alignment jumps around."
            }
        }
    }

    /// The task called `name` (case and surrounding spaces ignored; `rev`, `add` and `translation` work too).
    pub fn from_name(name: &str) -> Result<Seq2SeqTask> {
        let wanted = name.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "rev" => "reverse",
            "add" => "addition",
            "translation" => "translate",
            other => other,
        };
        if let Some(&task) = Seq2SeqTask::all().iter().find(|t| t.name() == alias) {
            return Ok(task);
        }
        let names: Vec<&str> = Seq2SeqTask::all().iter().map(|t| t.name()).collect();
        Err(Error::InvalidInput(format!(
            "there is no seq2seq task called '{}': choose one of {}",
            name.trim(),
            names.join(", ")
        )))
    }

    /// The algorithmic task this one comes from (None for translate).
    fn algorithmic(self) -> Option<Task> {
        match self {
            Seq2SeqTask::Copy => Some(Task::Copy),
            Seq2SeqTask::Reverse => Some(Task::Reverse),
            Seq2SeqTask::Sort => Some(Task::Sort),
            Seq2SeqTask::Addition => Some(Task::Addition),
            Seq2SeqTask::Translate => None,
        }
    }

    /// The target of `source` by the task's rule: what a perfect model writes (an error when the source is
    /// not a valid input of the task).
    pub fn solve(self, source: &str) -> Result<String> {
        let check = |ok: bool, what: &str| -> Result<()> {
            if !ok || source.is_empty() {
                invalid_input!(
                    "'{source}' is not an input of the {} task: {what}",
                    self.name()
                );
            }
            Ok(())
        };
        match self {
            Seq2SeqTask::Copy | Seq2SeqTask::Reverse => {
                check(
                    source
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                    "it takes lowercase letters and digits",
                )?;
                Ok(if self == Seq2SeqTask::Copy {
                    source.to_string()
                } else {
                    source.chars().rev().collect()
                })
            }
            Seq2SeqTask::Sort => {
                check(
                    source.bytes().all(|b| b.is_ascii_digit()),
                    "it takes digits",
                )?;
                let mut digits: Vec<u8> = source.bytes().collect();
                crate::sort::sort_bytes(&mut digits);
                Ok(digits.into_iter().map(char::from).collect())
            }
            Seq2SeqTask::Addition => {
                let operands = source.split_once('+');
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                check(
                    operands.is_some_and(|(a, b)| digits(a) && digits(b)),
                    "it takes two numbers joined by '+'",
                )?;
                let (a, b) = operands.expect("checked above");
                Ok(tasks::add_decimal(a, b))
            }
            Seq2SeqTask::Translate => translation::translate(source),
        }
    }
}

/// `count` pairs of `task` from `seed`. `lengths` (characters for copy, reverse and sort; digits per operand
/// for addition) applies to the algorithmic tasks; None gives their default lengths. Translate takes none.
pub fn generate_pairs(
    task: Seq2SeqTask,
    seed: u64,
    count: usize,
    lengths: Option<Lengths>,
) -> Result<Vec<Pair>> {
    let mut rng = Rng::new(seed);
    let Some(algorithmic) = task.algorithmic() else {
        if lengths.is_some() {
            invalid_input!(
                "input lengths apply to the algorithmic tasks only, not to translate: leave them out"
            );
        }
        return Ok((0..count)
            .map(|_| {
                let (source, target) = translation::random_pair(&mut rng);
                Pair { source, target }
            })
            .collect());
    };
    let lengths = match lengths {
        Some(l) => Lengths::new(l.min, l.max)?,
        None => algorithmic.default_lengths(),
    };
    let separator = if algorithmic == Task::Addition {
        " = "
    } else {
        " > "
    };
    let mut line = String::new();
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        line.clear();
        // generate_tasks draws each line's task first (a choice of one here): drawing it too keeps the same
        // inputs as the text corpus for the same seed.
        let task = rng.pick(&[algorithmic]);
        tasks::write_line(task, &mut rng, lengths, &mut line);
        let body = &line[algorithmic.prefix().len() + 1..line.len() - 1];
        let (source, target) = body
            .split_once(separator)
            .expect("every task line has its separator");
        pairs.push(Pair {
            source: source.to_string(),
            target: target.to_string(),
        });
    }
    Ok(pairs)
}

/// Training and validation pairs of one task from one seed: `train` pairs, then `val` pairs whose sources do
/// occur neither among the training sources nor twice (so validation measures generalisation, not recall). Fewer than
/// `val` validation pairs come back only when the task has too few distinct inputs (tiny lengths).
pub fn train_val_pairs(
    task: Seq2SeqTask,
    seed: u64,
    train: usize,
    val: usize,
    lengths: Option<Lengths>,
) -> Result<(Vec<Pair>, Vec<Pair>)> {
    let train_pairs = generate_pairs(task, seed, train, lengths)?;
    let mut seen: std::collections::HashSet<String> =
        train_pairs.iter().map(|p| p.source.clone()).collect();
    // Validation draws from a seed of its own, a few rounds at most, and keeps unseen sources in order.
    let mut val_pairs: Vec<Pair> = Vec::with_capacity(val);
    for round in 0..4u64 {
        if val_pairs.len() >= val {
            break;
        }
        let val_seed = seed ^ 0x005e_ed0f_7a11_da7e ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for pair in generate_pairs(task, val_seed, 2 * val, lengths)? {
            if val_pairs.len() == val {
                break;
            }
            if seen.insert(pair.source.clone()) {
                val_pairs.push(pair);
            }
        }
    }
    Ok((train_pairs, val_pairs))
}

#[cfg(test)]
#[path = "seq2seq_tests.rs"]
mod tests;
