//! Activation checkpointing on the CPU: the same gradients bit for bit as keeping every activation (dropout
//! masks redrawn from the same sites on recomputation), and one working set of blocks in memory.

use super::buffers::Acts;
use super::config::{Activation, ModelConfig, Positional};
use super::gpt::Gpt;
use super::lora::{LoraConfig, LoraTarget};
use super::train::{TrainOptions, Trainer};
use crate::exec::Counter;
use crate::ops::testing::TestRng;

/// B=2, T=7, C=12, NH=3, V=37, L=3 (not a multiple of 2: a short last group).
fn config() -> ModelConfig {
    ModelConfig {
        n_layer: 3,
        n_head: 3,
        n_embd: 12,
        block_size: 8,
        ..ModelConfig::reference(37)
    }
}

fn variants() -> Vec<(&'static str, ModelConfig)> {
    vec![
        ("learned, GELU", config()),
        (
            "dropout 0.2 (embeddings, attention, both branches)",
            ModelConfig {
                dropout: 0.2,
                ..config()
            },
        ),
        (
            "RoPE, ReLU, dropout 0.1",
            ModelConfig {
                positional: Positional::Rope,
                activation: Activation::Relu,
                dropout: 0.1,
                ..config()
            },
        ),
        (
            "sinusoidal, no bias",
            ModelConfig {
                positional: Positional::Sinusoidal,
                bias: false,
                ..config()
            },
        ),
        (
            "LoRA with dropout",
            ModelConfig {
                dropout: 0.1,
                lora: Some(LoraConfig {
                    r: 3,
                    alpha: 5.0,
                    dropout: 0.25,
                    targets: LoraTarget::ALL.to_vec(),
                }),
                ..config()
            },
        ),
    ]
}

/// Loss and gradients of two accumulated training micro-batches (dropout seeded) with checkpointing `every`.
fn gradients(config: &ModelConfig, every: usize) -> (Vec<f64>, Vec<f32>) {
    let (b, t, v) = (2, 7, config.vocab_size);
    let mut rng = TestRng::new(5);
    let mut model = Gpt::<f32>::new(config.clone(), 1).unwrap();
    for x in model.params.iter_mut() {
        *x += 0.05 * rng.uniform_f64() as f32; // LoRA's B away from zero: every path carries a gradient
    }
    model.checkpoint_every = every;
    model.zero_grad();
    let mut losses = Vec::new();
    for micro in 0..2 {
        let (inputs, targets) = (rng.tokens(b * t, v), rng.tokens(b * t, v));
        let loss = model
            .forward(&inputs, Some(&targets), b, t, Some(11 + micro))
            .unwrap()
            .unwrap();
        losses.push(loss);
        model.backward(0.5).unwrap();
    }
    (losses, model.grads)
}

#[test]
fn checkpointed_gradients_equal_the_full_ones_bit_for_bit() {
    for (what, config) in variants() {
        let (losses, grads) = gradients(&config, 0);
        assert!(grads.iter().any(|&g| g != 0.0), "{what}: some gradient");
        // Every block, every 2 blocks (a short last group), all 3 in one group, and more than L (clamped).
        for every in [1, 2, 3, 5] {
            let (ck_losses, ck_grads) = gradients(&config, every);
            assert_eq!(ck_losses, losses, "{what}, every {every}: losses");
            let first = grads
                .iter()
                .zip(&ck_grads)
                .position(|(a, b)| a.to_bits() != b.to_bits());
            assert_eq!(
                first, None,
                "{what}, every {every}: first gradient that differs"
            );
        }
    }
}

#[test]
fn training_with_checkpointing_takes_the_same_steps() {
    let config = ModelConfig {
        dropout: 0.1,
        ..config()
    };
    let data: Vec<u32> = (0..600u32).map(|i| (i * 7 + i / 13) % 37).collect();
    let run = |every: usize| {
        let options = TrainOptions {
            batch_size: 2,
            seq_len: 7,
            grad_accum: 2,
            steps: 4,
            eval_batches: 1,
            checkpoint_every: every,
            ..TrainOptions::default()
        };
        let model = Gpt::new(config.clone(), 3).unwrap();
        let mut trainer =
            Trainer::new(model, data[..500].to_vec(), data[500..].to_vec(), options).unwrap();
        let losses: Vec<f64> = (0..4).map(|_| trainer.step().unwrap().loss).collect();
        let val = trainer.evaluate().unwrap().val_loss;
        (losses, val, trainer.model.params)
    };
    let full = run(0);
    assert_eq!(run(1), full, "checkpointing every block");
    assert_eq!(run(2), full, "checkpointing every 2 blocks");
}

#[test]
fn checkpointing_keeps_one_working_set_of_blocks() {
    // Counted as the executors allocate: a block's activations once (k blocks' for every k), plus each group's
    // output (B, T, C).
    let count = |config: &ModelConfig, every: usize| {
        let mut counter = Counter {
            fused: true,
            ..Counter::default()
        };
        let (bt, att) = (2 * 7, 2 * 3 * 7 * 7);
        let acts = Acts::checkpointed(&mut counter, config, bt, att, true, every);
        assert_eq!(
            acts.tensors().iter().map(|t| t.len).sum::<usize>(),
            counter.numbers,
            "tensors() lists each buffer once"
        );
        counter.numbers
    };
    let residual = 2 * 7 * 12;
    for dropout in [0.0, 0.2] {
        let layers = |n_layer| ModelConfig {
            n_layer,
            dropout,
            ..config()
        };
        let (one, two, four) = (layers(1), layers(2), layers(4));
        // Every block: one block's set plus L - 1 more outputs.
        assert_eq!(count(&four, 1), count(&one, 0) + 3 * residual);
        // Every 2 of 4 blocks: two blocks' sets, and the second's output is a checkpoint, plus one more.
        assert_eq!(count(&four, 2), count(&two, 0) + residual);
        assert!(count(&four, 1) < count(&four, 2) && count(&four, 2) < count(&four, 0));
        assert_eq!(count(&four, 4), count(&four, 9), "clamped to L");
    }
}
