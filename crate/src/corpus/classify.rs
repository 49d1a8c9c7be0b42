//! Labelled tasks for fine-tuning an encoder with a classification head, deterministic from a seed.
//!
//! - [`ClassifyTask::Template`]: which of the four story templates ([`stories::TEMPLATES`]: a lost thing, a walk, a
//!   gift, a week) a passage comes from. A passage starts at a sentence of a story's body (the title, which names
//!   the template, is left out) and runs on; the model reads its first T tokens. Words like "gift" or "Monday"
//!   give some passages away, others ("Mira is kind.") appear in every template: an encoder that already knows the
//!   words and the grammar from masked-language pre-training on the stories has a head start over one that
//!   learns them from the labels alone, which is the point of pre-training.
//!
//! Classes are drawn uniformly, so always guessing one class scores 25%.

use super::stories::{self, TEMPLATES};
use crate::rng::Rng;
use crate::{Error, Result};

/// A built-in classification task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassifyTask {
    Template,
}

impl ClassifyTask {
    /// Every task, in the order the CLI lists them.
    pub fn all() -> &'static [ClassifyTask] {
        &[ClassifyTask::Template]
    }

    /// The name on the command line and in the JS API.
    pub fn name(self) -> &'static str {
        match self {
            ClassifyTask::Template => "template",
        }
    }

    /// One line for a person choosing a task.
    pub fn description(self) -> &'static str {
        match self {
            ClassifyTask::Template => {
                "which story template (lost, walk, gift, week) a passage of a story comes from"
            }
        }
    }

    /// The class names, in label order.
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            ClassifyTask::Template => TEMPLATES,
        }
    }

    /// The task called `name` (case and surrounding spaces ignored).
    pub fn from_name(name: &str) -> Result<ClassifyTask> {
        let wanted = name.trim().to_ascii_lowercase();
        if let Some(&task) = Self::all().iter().find(|t| t.name() == wanted) {
            return Ok(task);
        }
        let names: Vec<&str> = Self::all().iter().map(|t| t.name()).collect();
        Err(Error::InvalidInput(format!(
            "there is no classification task called '{}': choose one of {}",
            name.trim(),
            names.join(", ")
        )))
    }
}

/// `n` labelled passages of `task` from `seed`: (text, label). Each text is at least `min_chars` characters long.
pub fn generate_texts(
    task: ClassifyTask,
    seed: u64,
    n: usize,
    min_chars: usize,
) -> Vec<(String, u32)> {
    match task {
        ClassifyTask::Template => template_passages(seed, n, min_chars),
    }
}

fn template_passages(seed: u64, n: usize, min_chars: usize) -> Vec<(String, u32)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    let mut story = String::new();
    while out.len() < n {
        let template = rng.below(TEMPLATES.len());
        story.clear();
        stories::write_story(template, &mut rng, &mut story);
        // The body: everything after the title line (the story starts with "\n\n" only when appended to text).
        let story = story.trim_start();
        let Some(title_end) = story.find("\n\n") else {
            continue;
        };
        let body: Vec<char> = story[title_end + 2..].chars().collect();
        // Sentence starts: the body's first character, and each character after ". " or a newline.
        let starts: Vec<usize> = (0..body.len())
            .filter(|&i| {
                i == 0
                    || body[i - 1] == '\n' && body[i] != '\n'
                    || i >= 2 && body[i - 2] == '.' && body[i - 1] == ' '
            })
            .filter(|&i| body.len() - i >= min_chars.max(1))
            .collect();
        if starts.is_empty() {
            continue;
        }
        let start = starts[rng.below(starts.len())];
        out.push((body[start..].iter().collect(), template as u32));
    }
    out
}

/// `n` examples of `task` from `seed` for a model reading `t` tokens: each passage encoded with `encode` and cut to
/// its first `t` tokens (a passage that encodes to fewer is skipped and another drawn).
pub fn generate_examples(
    task: ClassifyTask,
    seed: u64,
    n: usize,
    t: usize,
    encode: impl Fn(&str) -> Vec<u32>,
) -> Vec<(Vec<u32>, u32)> {
    let mut out = Vec::with_capacity(n);
    let mut round = 0u64;
    while out.len() < n && round < 64 {
        let texts = generate_texts(task, seed ^ (round << 40), n - out.len(), t);
        for (text, label) in texts {
            let mut ids = encode(&text);
            if ids.len() >= t {
                ids.truncate(t);
                out.push((ids, label));
            }
        }
        round += 1;
    }
    out
}

/// The labelled passages of a fine-tuning run: `n_train` training examples of `task` from `seed` and `n_val`
/// validation examples from a seed of their own, each the first `t` tokens of a passage ([`generate_examples`]).
/// Drawn from the seed alone, so a run from new weights sees the same passages as the fine-tuned one. An error when
/// the tokenizer makes fewer than `t` tokens of too many passages.
#[allow(clippy::type_complexity)] // (train, val), each (tokens, label) pairs
pub fn train_val_examples(
    task: ClassifyTask,
    seed: u64,
    n_train: usize,
    n_val: usize,
    t: usize,
    encode: impl Fn(&str) -> Vec<u32>,
) -> Result<(Vec<(Vec<u32>, u32)>, Vec<(Vec<u32>, u32)>)> {
    let train = generate_examples(task, seed, n_train, t, &encode);
    let val = generate_examples(task, seed ^ 0x7a1d, n_val, t, &encode);
    if train.len() < n_train || val.len() < n_val {
        return Err(Error::InvalidInput(format!(
            "the tokenizer makes fewer than {t} tokens of too many of the task's passages: read fewer tokens per passage (seq_len)"
        )));
    }
    Ok((train, val))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_passages_are_seeded_balanced_and_leave_out_the_title() {
        let texts = generate_texts(ClassifyTask::Template, 5, 400, 32);
        assert_eq!(texts, generate_texts(ClassifyTask::Template, 5, 400, 32));
        assert_ne!(texts, generate_texts(ClassifyTask::Template, 6, 400, 32));
        let mut counts = [0usize; 4];
        for (text, label) in &texts {
            counts[*label as usize] += 1;
            assert!(text.chars().count() >= 32, "{text:?}");
            assert!(
                !text.starts_with(' ') && !text.starts_with('\n'),
                "{text:?}"
            );
            for title in ["The Week of", "A Gift for"] {
                assert!(!text.contains(title), "{text:?}");
            }
            assert!(
                text.ends_with("The end."),
                "a passage runs to the story's end: {text:?}"
            );
        }
        for count in counts {
            assert!((70..=130).contains(&count), "{counts:?}");
        }
        // Some passages give their template away by a word; the days are the week's.
        let week_days = texts
            .iter()
            .filter(|(text, _)| text.contains("On Monday"))
            .all(|(_, label)| *label == 3);
        assert!(week_days);
    }

    #[test]
    fn examples_are_cut_to_t_tokens() {
        let encode = |s: &str| s.bytes().map(u32::from).collect::<Vec<u32>>();
        let examples = generate_examples(ClassifyTask::Template, 1, 50, 24, encode);
        assert_eq!(examples.len(), 50);
        assert!(
            examples
                .iter()
                .all(|(ids, label)| ids.len() == 24 && *label < 4)
        );
        let err = ClassifyTask::from_name("sentiment")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'sentiment'") && err.contains("template"),
            "{err}"
        );
        assert_eq!(
            ClassifyTask::from_name(" Template ").unwrap(),
            ClassifyTask::Template
        );
    }

    #[test]
    fn train_and_validation_examples_come_from_their_own_seeds() {
        let encode = |s: &str| s.bytes().map(u32::from).collect::<Vec<u32>>();
        let (train, val) =
            train_val_examples(ClassifyTask::Template, 3, 40, 20, 16, encode).unwrap();
        assert_eq!((train.len(), val.len()), (40, 20));
        assert_eq!(
            train,
            generate_examples(ClassifyTask::Template, 3, 40, 16, encode)
        );
        assert_ne!(&train[..20], &val[..]);
        assert_eq!(
            (train.clone(), val),
            train_val_examples(ClassifyTask::Template, 3, 40, 20, 16, encode).unwrap()
        );
        // A tokenizer that makes one token of a whole passage never reaches 16.
        let err = train_val_examples(ClassifyTask::Template, 3, 4, 4, 16, |_| vec![1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("fewer than 16 tokens"), "{err}");
    }
}
