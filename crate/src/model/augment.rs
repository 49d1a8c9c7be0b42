//! Data augmentation for text, applied on the fly to the training batches only (never to validation), each
//! kind with its own probability, so that a model sees a slightly different version of the same text at every
//! step and cannot memorise it as easily:
//!
//! - span deletion: before each token of the window a span of 1..=`max_span` tokens is skipped with
//!   probability `delete`, so the window reads as text with pieces missing (inputs and targets
//!   both come from the shortened text: the model learns to continue what it sees);
//! - random token replacement: each input token becomes, with probability `replace`, a token drawn from the
//!   training stream (its unigram distribution, so only real tokens of the data appear);
//! - token masking: each input token becomes, with probability `mask`, the mask token (`mask_id`; by default
//!   the last id of the vocabulary, which for the character tokenizer is its unknown token, never in the data).
//!
//! Replacement and masking touch the inputs only: the target stays the true next token, so the model learns
//! to predict through the noise. Everything is drawn from a seed of its own, so a run is deterministic and
//! the windows (their starts) are the same with and without augmentation.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::{Result, invalid_input};

/// The augmentation of a training run (JSON field `augment` of the training options; every field has a default
/// and all probabilities 0 means none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Probability that an input token is replaced by a random token of the training stream.
    pub replace: f32,
    /// Probability that an input token is replaced by the mask token.
    pub mask: f32,
    /// Probability that a span of tokens is deleted at each position of the stream.
    pub delete: f32,
    /// The longest deleted span (lengths uniform in 1..=max_span).
    pub max_span: usize,
    /// The token that stands for a masked one; None: the last id of the model's vocabulary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_id: Option<u32>,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            replace: 0.0,
            mask: 0.0,
            delete: 0.0,
            max_span: 3,
            mask_id: None,
        }
    }
}

impl Augment {
    /// True when nothing is augmented (every probability 0).
    pub fn is_off(&self) -> bool {
        self.replace == 0.0 && self.mask == 0.0 && self.delete == 0.0
    }

    /// Parses the CLI's `replace=0.1,mask=0.05,delete=0.05,max_span=3,mask_id=64` (any subset, any order).
    pub fn parse(spec: &str) -> Result<Self> {
        let mut augment = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                invalid_input!(
                    "augmentation '{part}' is not key=value: write e.g. replace=0.1,mask=0.05,delete=0.05"
                );
            };
            let (key, value) = (key.trim(), value.trim());
            let number = |what: &str| -> Result<f64> {
                value.parse::<f64>().map_err(|_| {
                    crate::Error::InvalidInput(format!("augmentation {what}={value}: not a number"))
                })
            };
            match key {
                "replace" => augment.replace = number(key)? as f32,
                "mask" => augment.mask = number(key)? as f32,
                "delete" => augment.delete = number(key)? as f32,
                "max_span" => augment.max_span = number(key)? as usize,
                "mask_id" => augment.mask_id = Some(number(key)? as u32),
                _ => invalid_input!(
                    "there is no augmentation called '{key}': choose replace, mask, delete, max_span or mask_id"
                ),
            }
        }
        Ok(augment)
    }

    /// Checks the probabilities and the mask token against a vocabulary of `vocab_size` tokens.
    pub fn validate(&self, vocab_size: usize) -> Result<()> {
        for (name, p) in [
            ("replace", self.replace),
            ("mask", self.mask),
            ("delete", self.delete),
        ] {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                invalid_input!("augmentation {name} is a probability: between 0 and 1 (got {p})");
            }
        }
        if self.replace + self.mask > 1.0 {
            invalid_input!(
                "augmentation replace + mask is {} : a token is replaced or masked, not both, so they must sum to at most 1",
                self.replace + self.mask
            );
        }
        if self.delete >= 1.0 {
            invalid_input!("augmentation delete must be below 1 (1 would delete everything)");
        }
        if self.delete > 0.0 && self.max_span == 0 {
            invalid_input!("augmentation max_span must be at least 1 when delete is on");
        }
        if let Some(id) = self.mask_id.filter(|&id| id as usize >= vocab_size) {
            invalid_input!(
                "augmentation mask_id {id} is outside the model's vocabulary of {vocab_size}"
            );
        }
        Ok(())
    }

    /// The mask token in a vocabulary of `vocab_size` tokens.
    pub fn mask_token(&self, vocab_size: usize) -> u32 {
        self.mask_id.unwrap_or(vocab_size.saturating_sub(1) as u32)
    }

    /// One augmented training example from `stream` at `start`: appends T inputs and T targets. Reads the
    /// stream from `start` skipping deleted spans until T + 1 tokens are gathered (wrapping to the stream's
    /// start at its end), then replaces or masks inputs. `mask_id` is [`Augment::mask_token`]'s.
    #[allow(clippy::too_many_arguments)]
    pub fn window(
        &self,
        stream: &[u32],
        start: usize,
        t: usize,
        mask_id: u32,
        rng: &mut Rng,
        inputs: &mut Vec<u32>,
        targets: &mut Vec<u32>,
    ) {
        let n = stream.len();
        let mut kept = Vec::with_capacity(t + 1);
        let mut i = start;
        while kept.len() < t + 1 {
            if self.delete > 0.0 && rng.chance(f64::from(self.delete)) {
                // A deleted span is followed by a kept token, so no gap is longer than max_span.
                i += rng.range(1, self.max_span);
            }
            kept.push(stream[i % n]);
            i += 1;
        }
        let (replace, mask) = (f64::from(self.replace), f64::from(self.mask));
        for &token in &kept[..t] {
            let draw = if replace + mask > 0.0 {
                rng.uniform()
            } else {
                1.0
            };
            inputs.push(if draw < replace {
                stream[rng.below(n)]
            } else if draw < replace + mask {
                mask_id
            } else {
                token
            });
        }
        targets.extend_from_slice(&kept[1..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> Vec<u32> {
        (0..500u32).map(|i| i % 50).collect()
    }

    fn run(a: &Augment, seed: u64) -> (Vec<u32>, Vec<u32>) {
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let mut rng = Rng::new(seed);
        for start in [0, 100, 490] {
            a.window(
                &stream(),
                start,
                16,
                99,
                &mut rng,
                &mut inputs,
                &mut targets,
            );
        }
        (inputs, targets)
    }

    #[test]
    fn off_is_the_plain_window() {
        let (inputs, targets) = run(&Augment::default(), 1);
        let s = stream();
        assert_eq!(&inputs[..16], &s[..16]);
        assert_eq!(&targets[..16], &s[1..17]);
        assert_eq!(&inputs[16..32], &s[100..116]);
        // Near the end the window wraps to the stream's start.
        assert_eq!(inputs[32..42], s[490..500]);
        assert_eq!(inputs[42..48], s[..6]);
    }

    #[test]
    fn replace_and_mask_touch_inputs_only_with_about_their_probability() {
        let a = Augment {
            replace: 0.2,
            mask: 0.1,
            ..Augment::default()
        };
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let mut rng = Rng::new(7);
        let s = stream();
        let (mut masked, mut changed, mut total) = (0, 0, 0);
        for start in 0..400 {
            inputs.clear();
            targets.clear();
            a.window(&s, start, 32, 99, &mut rng, &mut inputs, &mut targets);
            assert_eq!(targets, s[start + 1..start + 33], "targets stay the text");
            for (k, &x) in inputs.iter().enumerate() {
                total += 1;
                if x == 99 {
                    masked += 1;
                } else if x != s[start + k] {
                    changed += 1;
                    assert!(x < 50, "replacements come from the stream");
                }
            }
        }
        let (masked, changed) = (masked as f64 / total as f64, changed as f64 / total as f64);
        assert!((masked - 0.1).abs() < 0.01, "masked {masked}");
        // A replacement draws the same token 1 time in 50.
        assert!((changed - 0.2 * 0.98).abs() < 0.01, "replaced {changed}");
    }

    #[test]
    fn deletion_skips_spans_and_keeps_targets_the_next_kept_token() {
        let a = Augment {
            delete: 0.1,
            max_span: 3,
            ..Augment::default()
        };
        let s: Vec<u32> = (0..1000).collect(); // every token distinct: gaps are visible
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let mut rng = Rng::new(3);
        let mut gaps = Vec::new();
        for start in (0..800).step_by(40) {
            inputs.clear();
            targets.clear();
            a.window(&s, start, 32, 999, &mut rng, &mut inputs, &mut targets);
            assert_eq!(
                inputs[1..],
                targets[..31],
                "the targets are the kept text shifted by one"
            );
            for w in inputs.windows(2) {
                let gap = w[1] - w[0] - 1;
                assert!(gap <= 3, "gap {gap}");
                gaps.push(gap);
            }
            assert!(inputs[0] >= start as u32);
        }
        let deleted: u32 = gaps.iter().sum();
        let per_token = f64::from(deleted) / gaps.len() as f64;
        // About delete * mean span (2) per kept token.
        assert!(per_token > 0.15 && per_token < 0.25, "{per_token}");
    }

    #[test]
    fn the_same_seed_gives_the_same_batch() {
        let a = Augment {
            replace: 0.1,
            mask: 0.05,
            delete: 0.05,
            ..Augment::default()
        };
        assert_eq!(run(&a, 5), run(&a, 5));
        assert_ne!(run(&a, 5), run(&a, 6));
    }

    #[test]
    fn parse_and_validate() {
        let a = Augment::parse("replace=0.1, mask=0.05,delete=0.05,max_span=4,mask_id=7").unwrap();
        assert_eq!(
            a,
            Augment {
                replace: 0.1,
                mask: 0.05,
                delete: 0.05,
                max_span: 4,
                mask_id: Some(7)
            }
        );
        a.validate(8).unwrap();
        assert!(a.validate(7).unwrap_err().to_string().contains("mask_id 7"));
        assert!(
            Augment::parse("swap=0.1")
                .unwrap_err()
                .to_string()
                .contains("swap")
        );
        assert!(
            Augment::parse("mask")
                .unwrap_err()
                .to_string()
                .contains("key=value")
        );
        assert!(
            Augment::parse("mask=x")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        let e = Augment::parse("mask=1.5")
            .unwrap()
            .validate(10)
            .unwrap_err();
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
        let e = Augment::parse("mask=0.6,replace=0.6")
            .unwrap()
            .validate(10)
            .unwrap_err();
        assert!(e.to_string().contains("at most 1"), "{e}");
        assert!(Augment::parse("delete=1").unwrap().validate(10).is_err());
        assert_eq!(Augment::default().mask_token(65), 64);
        assert!(Augment::parse("").unwrap().is_off());
    }
}
