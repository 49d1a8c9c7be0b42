//! Masked-language modelling, as BERT pre-trains its encoder: choose 15% of the positions of a window; of
//! those, 80% become `[MASK]`, 10% a random token and 10% stay as they are; the model (reading both ways)
//! predicts the original token at the chosen positions only. Every other position's target is the
//! cross-entropy's [`IGNORE_INDEX`], so it adds nothing to the loss or the gradients.
//!
//! The `[MASK]` token is the last id of a masked-language model's vocabulary (one more than its tokenizer's),
//! so the tokenizer never produces it and text names it as `[MASK]` ([`encode_with_masks`]).

use serde::{Deserialize, Serialize};

use super::config::ModelConfig;
use crate::ops::crossentropy_forward::IGNORE_INDEX;
use crate::rng::Rng;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result, invalid_input};

/// How `[MASK]` is written in text given to a masked-language model.
pub const MASK_TOKEN: &str = "[MASK]";

/// The share of positions chosen for prediction (BERT's 15%).
pub const MASK_CHOSEN: f64 = 0.15;

/// What a model learns to predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The next token from the ones before (a decoder, GPT): causal attention, every position a target.
    #[default]
    Causal,
    /// The chosen (masked) tokens from the whole window (an encoder, BERT): bidirectional attention, `[MASK]`
    /// as the last token id.
    Mlm,
}

impl Objective {
    /// Every objective, in the order the CLI lists them.
    pub fn all() -> &'static [Objective] {
        &[Objective::Causal, Objective::Mlm]
    }

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Causal => "causal",
            Objective::Mlm => "mlm",
        }
    }

    /// The objective called `name` (case and surrounding spaces ignored).
    pub fn from_name(name: &str) -> Result<Objective> {
        let wanted = name.trim().to_ascii_lowercase();
        if let Some(&objective) = Objective::all().iter().find(|o| o.name() == wanted) {
            return Ok(objective);
        }
        Err(Error::InvalidInput(format!(
            "there is no training objective called '{}': choose causal (next token, GPT), mlm (masked tokens, BERT) or seq2seq (an encoder-decoder on a built-in --task)",
            name.trim()
        )))
    }

    /// True for the default, so configs of causal models serialise as they always did.
    pub fn is_causal(&self) -> bool {
        *self == Objective::Causal
    }
}

/// BERT's masking of one window `tokens`, appended to `inputs` (what the model reads) and `targets` (the
/// original token at each chosen position, [`IGNORE_INDEX`] elsewhere). Each position is chosen with
/// probability 15%; a window where none was drawn gets one chosen position, so every window has a target.
/// Random replacements are drawn from the real tokens `0..mask_id` (never `[MASK]` itself).
pub fn mask_tokens(
    tokens: &[u32],
    mask_id: u32,
    rng: &mut Rng,
    inputs: &mut Vec<u32>,
    targets: &mut Vec<u32>,
) {
    let start = inputs.len();
    let mut chosen_any = false;
    for &token in tokens {
        if rng.chance(MASK_CHOSEN) {
            chosen_any = true;
            inputs.push(corrupt(token, mask_id, rng));
            targets.push(token);
        } else {
            inputs.push(token);
            targets.push(IGNORE_INDEX);
        }
    }
    if !chosen_any && !tokens.is_empty() {
        let i = rng.below(tokens.len());
        inputs[start + i] = corrupt(tokens[i], mask_id, rng);
        targets[start + i] = tokens[i];
    }
}

/// What a chosen position shows the model: `[MASK]` 80% of the time, a random real token 10%, itself 10%.
fn corrupt(token: u32, mask_id: u32, rng: &mut Rng) -> u32 {
    let draw = rng.uniform();
    if draw < 0.8 {
        mask_id
    } else if draw < 0.9 && mask_id > 0 {
        rng.below(mask_id as usize) as u32
    } else {
        token
    }
}

/// (correct, counted): how many of the positions that count (target not [`IGNORE_INDEX`]) the model's most
/// likely token (`predictions`, one per position) gets right.
pub fn masked_accuracy(predictions: &[u32], targets: &[u32]) -> (usize, usize) {
    let mut correct = 0;
    let mut counted = 0;
    for (&p, &t) in predictions.iter().zip(targets) {
        if t != IGNORE_INDEX {
            counted += 1;
            correct += usize::from(p == t);
        }
    }
    (correct, counted)
}

/// The id of the most likely token of each row of `probs` (rows of `v`); the first one on ties.
pub fn argmax_rows<R: PartialOrd + Copy>(probs: &[R], v: usize) -> Vec<u32> {
    probs
        .chunks(v)
        .map(|row| {
            let mut best = 0;
            for (i, x) in row.iter().enumerate() {
                if *x > row[best] {
                    best = i;
                }
            }
            best as u32
        })
        .collect()
}

/// What a model that knows only token frequencies scores at masked positions: it always guesses the most
/// frequent token (accuracy = its share) and its loss is the unigram entropy (nats).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnigramBaseline {
    pub accuracy: f64,
    pub loss: f64,
}

/// The unigram baseline of `tokens`.
pub fn unigram_baseline(tokens: &[u32]) -> UnigramBaseline {
    let mut counts = std::collections::HashMap::<u32, usize>::new();
    for &t in tokens {
        *counts.entry(t).or_default() += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    UnigramBaseline {
        accuracy: most as f64 / tokens.len().max(1) as f64,
        loss: super::train::unigram_entropy(tokens),
    }
}

/// The ids of `text` for `config`'s model, with each `[MASK]` in the text as the model's mask token. A causal
/// model has no mask token: text with `[MASK]` is an error for it rather than six literal characters.
pub fn encode_with_masks(
    tokenizer: &Tokenizer,
    config: &ModelConfig,
    text: &str,
) -> Result<Vec<u32>> {
    let Some(mask_id) = config.mask_token() else {
        if text.contains(MASK_TOKEN) {
            invalid_input!(
                "the text contains {MASK_TOKEN}, but this model was trained with the causal objective (next token) and has no mask token: use a model trained with --objective mlm, or remove {MASK_TOKEN}"
            );
        }
        return Ok(tokenizer.encode(text));
    };
    let mut ids = Vec::new();
    for (i, piece) in text.split(MASK_TOKEN).enumerate() {
        if i > 0 {
            ids.push(mask_id);
        }
        ids.extend(tokenizer.encode(piece));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_follows_bert_shares() {
        let (v, mask_id) = (50u32, 50u32);
        let tokens: Vec<u32> = (0..200_000u32).map(|i| (i * 7) % v).collect();
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let mut rng = Rng::new(3);
        for window in tokens.chunks(64) {
            mask_tokens(window, mask_id, &mut rng, &mut inputs, &mut targets);
        }
        let n = tokens.len() as f64;
        let chosen: Vec<usize> = (0..tokens.len())
            .filter(|&i| targets[i] != IGNORE_INDEX)
            .collect();
        let share = |k: usize| k as f64 / chosen.len() as f64;
        let masked = chosen.iter().filter(|&&i| inputs[i] == mask_id).count();
        let kept = chosen.iter().filter(|&&i| inputs[i] == tokens[i]).count();
        // A random replacement equals the original 1 time in 50: counted as kept.
        let random = chosen.len() - masked - kept;
        assert!(
            (chosen.len() as f64 / n - 0.15).abs() < 0.005,
            "{}",
            chosen.len() as f64 / n
        );
        assert!((share(masked) - 0.8).abs() < 0.01, "{}", share(masked));
        assert!(
            (share(kept) - 0.1 - 0.1 / 50.0).abs() < 0.01,
            "{}",
            share(kept)
        );
        assert!(
            (share(random) - 0.1 + 0.1 / 50.0).abs() < 0.01,
            "{}",
            share(random)
        );
        // Targets hold the original token where chosen; unchosen inputs are untouched; no random [MASK].
        for i in 0..tokens.len() {
            if targets[i] == IGNORE_INDEX {
                assert_eq!(inputs[i], tokens[i]);
            } else {
                assert_eq!(targets[i], tokens[i]);
            }
            assert!(inputs[i] <= mask_id);
        }
    }

    #[test]
    fn masking_is_seeded_and_every_window_has_a_target() {
        let tokens: Vec<u32> = (0..40).collect();
        let run = |seed| {
            let (mut inputs, mut targets) = (Vec::new(), Vec::new());
            let mut rng = Rng::new(seed);
            for window in tokens.chunks(2) {
                mask_tokens(window, 99, &mut rng, &mut inputs, &mut targets);
            }
            (inputs, targets)
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let (_, targets) = run(1);
        for window in targets.chunks(2) {
            assert!(window.iter().any(|&t| t != IGNORE_INDEX), "{targets:?}");
        }
    }

    #[test]
    fn accuracy_counts_only_targets_that_count() {
        let targets = [IGNORE_INDEX, 3, 4, IGNORE_INDEX, 5];
        assert_eq!(masked_accuracy(&[3, 3, 0, 9, 5], &targets), (2, 3));
        assert_eq!(
            argmax_rows(&[0.1f32, 0.7, 0.2, 0.5, 0.5, 0.0], 3),
            vec![1, 0]
        );
        let baseline = unigram_baseline(&[1, 1, 1, 2]);
        assert_eq!(baseline.accuracy, 0.75);
    }

    #[test]
    fn objective_names_and_errors() {
        assert_eq!(Objective::from_name(" MLM ").unwrap(), Objective::Mlm);
        let err = Objective::from_name("seq2seqq").unwrap_err().to_string();
        assert!(
            err.contains("'seq2seqq'") && err.contains("causal") && err.contains("mlm"),
            "{err}"
        );
    }
}
