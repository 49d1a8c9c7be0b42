//! The classifier (an encoder with a classification head) on the GPU against the CPU reference: the same seeded
//! fine-tuning run on both, on awkward shapes, with dropout and gradient accumulation.

use super::*;
use crate::gpu::testing::gpu_or_skip;
use crate::model::batches::Batches;
use crate::model::train::TrainLoop;
use crate::model::{ClassifierConfig, Objective, TrainOptions};
use crate::ops::attention_mask::AttentionMask;
use crate::ops::testing::TestRng;

#[test]
fn fine_tuning_a_classifier_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("classifier fine-tuning") else {
        return;
    };
    // C=12, NH=3, V=37 ([MASK] = 36), K=5, T=7, B=3, grad_accum 2, dropout 0.1.
    let config = ModelConfig {
        vocab_size: 37,
        n_layer: 2,
        n_head: 3,
        n_embd: 12,
        block_size: 8,
        dropout: 0.1,
        attention_mask: AttentionMask::Bidirectional,
        objective: Objective::Mlm,
        classifier: Some(ClassifierConfig { classes: 5 }),
        ..ModelConfig::reference(37)
    };
    let (t, mut rng) = (7, TestRng::new(5));
    // The label is a function of the tokens (the most common token mod 5), so the loss moves.
    let mut example = || {
        let tokens = rng.tokens(t, 36);
        let label = tokens.iter().map(|&x| x % 5).max().unwrap_or(0);
        (tokens, label)
    };
    let train: Vec<_> = (0..40).map(|_| example()).collect();
    let val: Vec<_> = (0..9).map(|_| example()).collect();
    let options = TrainOptions {
        batch_size: 3,
        grad_accum: 2,
        steps: 10,
        lr: 1e-2,
        min_lr: 1e-3,
        warmup_steps: 2,
        eval_batches: 3,
        seed: 7,
        ..TrainOptions::default()
    };
    let model = Gpt::<f32>::new(config.clone(), 3).expect("model");
    let batches = || Batches::labelled(&config, train.clone(), val.clone(), &options).unwrap();
    let mut cpu = TrainLoop::from_batches(
        Gpt::from_params(config.clone(), model.params.clone()).unwrap(),
        batches(),
        options.clone(),
    );
    let mut gpu_trainer = TrainLoop::from_batches(
        GpuGpt::from_cpu(gpu, &model).expect("gpu model"),
        batches(),
        options.clone(),
    );
    for step in 1..=10 {
        let c = cpu.step().expect("cpu step");
        let g = pollster::block_on(gpu_trainer.step(gpu)).expect("gpu step");
        eprintln!(
            "[gpu] classifier step {step}: cpu loss {:.6}, gpu loss {:.6}",
            c.loss, g.loss
        );
        assert!(
            (g.loss - c.loss).abs() <= 1e-4 * c.loss.abs(),
            "step {step}: {} vs {}",
            g.loss,
            c.loss
        );
        assert!(
            (g.grad_norm - c.grad_norm).abs() <= 1e-3 * c.grad_norm,
            "step {step}: grad norm"
        );
    }
    let gpu_params = pollster::block_on(gpu_trainer.model.download_params(gpu)).expect("params");
    let diff: f64 = gpu_params
        .iter()
        .zip(&cpu.model.params)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum();
    let norm: f64 = cpu.model.params.iter().map(|y| f64::from(*y).powi(2)).sum();
    assert!(
        (diff / norm).sqrt() <= 1e-3,
        "parameters differ by {}",
        (diff / norm).sqrt()
    );
    let (ce, ge) = (
        cpu.evaluate().unwrap(),
        pollster::block_on(gpu_trainer.evaluate(gpu)).unwrap(),
    );
    assert!(
        (ge.val_loss - ce.val_loss).abs() <= 1e-4 * ce.val_loss,
        "{ge:?} vs {ce:?}"
    );
    let (ca, ga) = (ce.val_accuracy.unwrap(), ge.val_accuracy.unwrap());
    assert!((ca - ga).abs() <= 1.0 / 9.0 + 1e-9, "accuracy {ga} vs {ca}");
}
