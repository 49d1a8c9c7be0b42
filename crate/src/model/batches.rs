//! The seeded batch sampler shared by the CPU and GPU trainers, so that both draw the same windows of the
//! same data from the same seed (the GPU model is checked against the CPU step by step).

use super::{ModelConfig, TrainOptions};
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
        })
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
        let batches = Self::new(
            train,
            val,
            options.batch_size,
            seq_len,
            options.eval_batches,
            options.seed,
        )?;
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

    /// Fills `inputs` and `targets` (B, T) with `batch_size` random windows of the training stream.
    pub fn sample(&mut self, inputs: &mut Vec<u32>, targets: &mut Vec<u32>) {
        inputs.clear();
        targets.clear();
        let t = self.seq_len;
        for _ in 0..self.batch_size {
            let start = self.rng.below_by_remainder(self.train.len() - t);
            inputs.extend_from_slice(&self.train[start..start + t]);
            targets.extend_from_slice(&self.train[start + 1..start + t + 1]);
        }
    }

    /// Fills `inputs` and `targets` (B, T) with validation batch `index`.
    pub fn val_batch(&self, index: usize, inputs: &mut Vec<u32>, targets: &mut Vec<u32>) {
        inputs.clear();
        targets.clear();
        let (b, t) = (self.batch_size, self.seq_len);
        for &start in &self.val_starts[index * b..(index + 1) * b] {
            inputs.extend_from_slice(&self.val[start..start + t]);
            targets.extend_from_slice(&self.val[start + 1..start + t + 1]);
        }
    }
}
