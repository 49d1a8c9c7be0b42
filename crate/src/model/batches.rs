//! The seeded batch sampler shared by the CPU and GPU trainers, so that both draw the same windows of the
//! same data from the same seed (the GPU model is checked against the CPU step by step).

use super::augment::Augment;
use super::mlm::mask_tokens;
use super::{ModelConfig, TrainOptions};
use crate::ops::crossentropy_forward::IGNORE_INDEX;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// Training windows drawn at random from a token stream, and fixed validation windows drawn once.
pub struct Batches {
    train: Vec<u32>,
    val: Vec<u32>,
    /// Validation window starts, drawn once so evaluations compare.
    val_starts: Vec<usize>,
    rng: Rng,
    /// B: sequences per batch.
    pub batch_size: usize,
    /// T: tokens per sequence.
    pub seq_len: usize,
    /// A masked-language model's `[MASK]` id: windows are masked as BERT does ([`mask_tokens`]) instead of
    /// shifted by one; None for the next-token objective.
    mask_id: Option<u32>,
    /// Draws the training masks (apart from the window starts, so both objectives see the same windows).
    mask_rng: Rng,
    /// Seed of the validation masks, fixed per validation batch so evaluations compare.
    val_mask_seed: u64,
    /// A classifier's labelled sequences (each T tokens and a label) in place of the two streams.
    labelled: Option<Labelled>,
    /// Augmentation of the training windows (never of validation) and its mask token.
    augment: Augment,
    augment_mask_id: u32,
    /// Draws the augmentation (apart from the window starts, so windows are the same with and without it).
    augment_rng: Rng,
}

/// Labelled sequences for a classifier: (T tokens, class).
pub type Example = (Vec<u32>, u32);

struct Labelled {
    train: Vec<Example>,
    val: Vec<Example>,
}

impl Batches {
    /// `eval_batches` validation batches are drawn when `val` is longer than one sequence.
    pub fn new(
        train: Vec<u32>,
        val: Vec<u32>,
        batch_size: usize,
        seq_len: usize,
        eval_batches: usize,
        seed: u64,
    ) -> Result<Self> {
        if batch_size == 0 {
            invalid_input!("batch_size must be at least 1");
        }
        if train.len() <= seq_len {
            invalid_input!(
                "the training text has {} tokens; it needs more than seq_len = {seq_len} for one example",
                train.len()
            );
        }
        let mut val_rng = Rng::new(seed ^ 0x0005_eed0_f7a1);
        let val_starts = if val.len() > seq_len {
            (0..eval_batches * batch_size)
                .map(|_| val_rng.below_by_remainder(val.len() - seq_len))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            train,
            val,
            val_starts,
            rng: Rng::new(seed),
            batch_size,
            seq_len,
            mask_id: None,
            mask_rng: Rng::new(seed ^ 0x4d41_534b),
            val_mask_seed: seed ^ 0x5641_4c4d_4153_4b53,
            labelled: None,
            augment: Augment::default(),
            augment_mask_id: 0,
            augment_rng: Rng::new(seed ^ 0x4155_474d),
        })
    }

    /// Augments the training windows (next-token objective) of a model with `vocab_size` tokens.
    pub fn with_augment(mut self, augment: Augment, vocab_size: usize) -> Result<Self> {
        if augment.is_off() {
            return Ok(self);
        }
        augment.validate(vocab_size)?;
        if self.mask_id.is_some() || self.labelled.is_some() {
            invalid_input!(
                "augmentation applies to the next-token objective: a masked-language model already masks and replaces its inputs, and a classifier's examples are not windows of a stream"
            );
        }
        self.augment_mask_id = augment.mask_token(vocab_size);
        self.augment = augment;
        Ok(self)
    }

    /// The sampler of a classifier's training run: B random `train` examples per batch, and the `val` examples
    /// in order as the validation batches (as many whole batches as `eval_batches` and `val` allow). A batch's
    /// targets (B, T) are its B labels followed by the ignore index (see `model::classifier`).
    pub fn labelled(
        config: &ModelConfig,
        train: Vec<Example>,
        val: Vec<Example>,
        options: &TrainOptions,
    ) -> Result<Self> {
        let Some(head) = &config.classifier else {
            invalid_input!(
                "labelled examples train a classifier: the model has no classification head"
            );
        };
        let (b, t) = (options.batch_size, train.first().map_or(0, |e| e.0.len()));
        if b == 0 || options.grad_accum == 0 {
            invalid_input!("batch_size and grad_accum must be at least 1");
        }
        if train.is_empty() || t == 0 {
            invalid_input!(
                "a classifier needs at least one labelled training example of one token or more"
            );
        }
        if t > config.block_size {
            invalid_input!(
                "the examples are {t} tokens long, more than the model's block_size {}",
                config.block_size
            );
        }
        for (tokens, label) in train.iter().chain(&val) {
            if tokens.len() != t {
                invalid_input!(
                    "every example must be {t} tokens long (one is {})",
                    tokens.len()
                );
            }
            if *label as usize >= head.classes {
                invalid_input!(
                    "label {label} is not one of the classifier's {} classes",
                    head.classes
                );
            }
            if let Some(&bad) = tokens.iter().find(|&&x| x as usize >= config.vocab_size) {
                invalid_input!(
                    "token id {bad} in the data is outside the model's vocabulary of {}; use the tokenizer the model was trained with",
                    config.vocab_size
                );
            }
        }
        let whole = (val.len() / b).min(options.eval_batches) * b;
        Ok(Self {
            train: Vec::new(),
            val: Vec::new(),
            val_starts: (0..whole).collect(),
            rng: Rng::new(options.seed),
            batch_size: b,
            seq_len: t,
            mask_id: None,
            mask_rng: Rng::new(0),
            val_mask_seed: 0,
            labelled: Some(Labelled { train, val }),
            augment: Augment::default(),
            augment_mask_id: 0,
            augment_rng: Rng::new(0),
        })
    }

    /// Appends the examples' tokens to `inputs` and their labels, then the ignore index up to B*T, to `targets`.
    fn push_examples<'a>(
        examples: impl Iterator<Item = &'a Example>,
        inputs: &mut Vec<u32>,
        targets: &mut Vec<u32>,
    ) {
        for (tokens, label) in examples {
            inputs.extend_from_slice(tokens);
            targets.push(*label);
        }
        targets.resize(inputs.len(), IGNORE_INDEX);
    }

    /// Masks the windows as BERT does (for a masked-language model whose `[MASK]` is `mask_id`).
    pub fn with_masks(mut self, mask_id: u32) -> Self {
        self.mask_id = Some(mask_id);
        self
    }

    /// The sampler of a training run of `config` with `options`, after the checks both trainers make: T (0 means
    /// the block size) fits the model, B and the accumulation are at least 1, every token is in the vocabulary.
    pub fn for_training(
        config: &ModelConfig,
        train: Vec<u32>,
        val: Vec<u32>,
        options: &TrainOptions,
    ) -> Result<Self> {
        let seq_len = if options.seq_len == 0 {
            config.block_size
        } else {
            options.seq_len
        };
        if seq_len > config.block_size {
            invalid_input!(
                "seq_len {seq_len} is longer than the model's block_size {}",
                config.block_size
            );
        }
        if options.batch_size == 0 || options.grad_accum == 0 {
            invalid_input!("batch_size and grad_accum must be at least 1");
        }
        let mut batches = Self::new(
            train,
            val,
            options.batch_size,
            seq_len,
            options.eval_batches,
            options.seed,
        )?;
        if let Some(mask_id) = config.mask_token() {
            if let Some(bad) = batches.tokens().find(|&t| t == mask_id) {
                invalid_input!(
                    "token id {bad} in the data is the model's [MASK] token: the data must come from the tokenizer alone (a masked-language model's vocabulary is the tokenizer's plus one)"
                );
            }
            batches = batches.with_masks(mask_id);
        }
        let batches = batches.with_augment(options.augment.clone(), config.vocab_size)?;
        let v = config.vocab_size;
        if let Some(bad) = batches.tokens().find(|&t| t as usize >= v) {
            invalid_input!(
                "token id {bad} in the data is outside the model's vocabulary of {v}; train the model with the tokenizer that made the data"
            );
        }
        Ok(batches)
    }

    /// All token ids of both streams (for checking them against a vocabulary).
    pub fn tokens(&self) -> impl Iterator<Item = u32> + '_ {
        self.train.iter().chain(&self.val).copied()
    }

    /// Whether validation windows exist.
    pub fn has_validation(&self) -> bool {
        !self.val_starts.is_empty()
    }

    /// Number of validation batches.
    pub fn val_batches(&self) -> usize {
        self.val_starts.len() / self.batch_size
    }

    /// Fills `inputs` and `targets` (B, T) with `batch_size` random windows of the training stream: the next
    /// token as target, or (masked-language model) the masked window and the original tokens where masked.
    pub fn sample(&mut self, inputs: &mut Vec<u32>, targets: &mut Vec<u32>) {
        inputs.clear();
        targets.clear();
        if let Some(l) = &self.labelled {
            let picks: Vec<usize> = (0..self.batch_size)
                .map(|_| self.rng.below(l.train.len()))
                .collect();
            Self::push_examples(picks.iter().map(|&i| &l.train[i]), inputs, targets);
            return;
        }
        let mut rngs = (
            self.rng.clone(),
            self.mask_rng.clone(),
            self.augment_rng.clone(),
        );
        for _ in 0..self.batch_size {
            self.row(&mut rngs, inputs, targets);
        }
        (self.rng, self.mask_rng, self.augment_rng) = rngs;
    }

    /// The next training batch as [`Batches::sample`] will draw it, without drawing it: for each of its B rows
    /// the plain window (T tokens) and the inputs the model will read (augmented when augmentation is on).
    /// Windows of a token stream only (a classifier's examples are shown as they are).
    pub fn preview(&self) -> Vec<(Vec<u32>, Vec<u32>)> {
        let t = self.seq_len;
        if self.labelled.is_some() {
            return Vec::new();
        }
        let mut rngs = (
            self.rng.clone(),
            self.mask_rng.clone(),
            self.augment_rng.clone(),
        );
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        (0..self.batch_size)
            .map(|_| {
                inputs.clear();
                targets.clear();
                let start = self.row(&mut rngs, &mut inputs, &mut targets);
                (self.train[start..start + t].to_vec(), inputs.clone())
            })
            .collect()
    }

    /// Appends one training row (T inputs, T targets) drawn with `rngs` (window starts, masks, augmentation);
    /// returns the window's start.
    fn row(
        &self,
        (rng, mask_rng, augment_rng): &mut (Rng, Rng, Rng),
        inputs: &mut Vec<u32>,
        targets: &mut Vec<u32>,
    ) -> usize {
        let t = self.seq_len;
        let start = rng.below_by_remainder(self.train.len() - t);
        match self.mask_id {
            Some(mask_id) => mask_tokens(
                &self.train[start..start + t],
                mask_id,
                mask_rng,
                inputs,
                targets,
            ),
            None if !self.augment.is_off() => self.augment.window(
                &self.train,
                start,
                t,
                self.augment_mask_id,
                augment_rng,
                inputs,
                targets,
            ),
            None => {
                inputs.extend_from_slice(&self.train[start..start + t]);
                targets.extend_from_slice(&self.train[start + 1..start + t + 1]);
            }
        }
        start
    }

    /// Fills `inputs` and `targets` (B, T) with validation batch `index`.
    pub fn val_batch(&self, index: usize, inputs: &mut Vec<u32>, targets: &mut Vec<u32>) {
        inputs.clear();
        targets.clear();
        let (b, t) = (self.batch_size, self.seq_len);
        if let Some(l) = &self.labelled {
            let batch = &self.val_starts[index * b..(index + 1) * b];
            Self::push_examples(batch.iter().map(|&i| &l.val[i]), inputs, targets);
            return;
        }
        let mut mask_rng = Rng::new(self.val_mask_seed ^ index as u64);
        for &start in &self.val_starts[index * b..(index + 1) * b] {
            match self.mask_id {
                Some(mask_id) => mask_tokens(
                    &self.val[start..start + t],
                    mask_id,
                    &mut mask_rng,
                    inputs,
                    targets,
                ),
                None => {
                    inputs.extend_from_slice(&self.val[start..start + t]);
                    targets.extend_from_slice(&self.val[start + 1..start + t + 1]);
                }
            }
        }
    }
}
