//! The encoder-decoder on the GPU against the CPU reference: the same seeded seq2seq run on both (10 steps of
//! AdamW with clipping, with and without dropout), and greedy decoding of the validation sources.

use super::encdec::GpuEncDec;
use super::seq2seq::GpuSeq2SeqTrainer;
use super::tests::relative_distance;
use crate::corpus::seq2seq::Seq2SeqTask;
use crate::corpus::tasks::Lengths;
use crate::gpu::GpuContext;
use crate::gpu::testing::gpu_or_skip;
use crate::model::encdec::EncDec;
use crate::model::seq2seq_train::{BOS, EOS, PAD, Seq2SeqTrainer, translate};
use crate::model::{ModelConfig, TrainOptions};

/// An awkward small encoder-decoder: C=12, NH=3 (hs=4), 2 + 2 blocks; sources of 3-6 characters padded to the
/// context of 7, batches of 5 pairs.
fn trainer(task: Seq2SeqTask, dropout: f32, steps: u32, lr: f32) -> Seq2SeqTrainer {
    let mut config = ModelConfig::reference(1);
    config.n_layer = 2;
    config.n_embd = 12;
    config.n_head = 3;
    config.block_size = 7;
    config.dropout = dropout;
    let options = TrainOptions {
        batch_size: 5,
        steps,
        lr,
        min_lr: lr / 10.0,
        warmup_steps: 2,
        weight_decay: 0.01,
        grad_clip: 1.0,
        seed: 11,
        ..TrainOptions::default()
    };
    let lengths = Lengths::new(3, 6).expect("lengths");
    Seq2SeqTrainer::new(task, config, options, 300, 12, Some(lengths)).expect("trainer")
}

fn compare_training(gpu: &GpuContext, dropout: f32) {
    let what = format!("encoder-decoder, dropout {dropout}");
    let mut cpu = trainer(Seq2SeqTask::Reverse, dropout, 10, 1e-2);
    let mut gpu_trainer =
        GpuSeq2SeqTrainer::new(gpu, trainer(Seq2SeqTask::Reverse, dropout, 10, 1e-2))
            .expect("gpu trainer");
    assert_eq!(cpu.model.params, gpu_trainer.data.model.params);
    for step in 1..=10 {
        let c = cpu.train_step().expect("cpu step");
        let g = pollster::block_on(gpu_trainer.train_step(gpu)).expect("gpu step");
        eprintln!(
            "[gpu] {what} step {step}: cpu loss {:.6} norm {:.6}, gpu loss {:.6} norm {:.6}",
            c.loss, c.grad_norm, g.loss, g.grad_norm
        );
        let relative = (g.loss - c.loss).abs() / c.loss.abs();
        assert!(
            relative <= 1e-4,
            "{what} step {step}: gpu loss {} vs cpu {} (relative {relative:e})",
            g.loss,
            c.loss
        );
        let norm_relative = (g.grad_norm - c.grad_norm).abs() / c.grad_norm;
        assert!(
            norm_relative <= 1e-3,
            "{what} step {step}: grad norm {} vs {}",
            g.grad_norm,
            c.grad_norm
        );
    }
    let params = pollster::block_on(gpu_trainer.model.download_params(gpu)).expect("params");
    let distance = relative_distance(&params, &cpu.model.params);
    eprintln!("[gpu] {what}: final parameters differ by {distance:e} (relative)");
    assert!(
        distance <= 1e-3,
        "{what}: final parameters differ by {distance:e}"
    );
    let c = cpu.evaluate(12).expect("cpu eval");
    let g = pollster::block_on(gpu_trainer.evaluate(gpu, 12)).expect("gpu eval");
    assert!(
        (g.val_loss - c.val_loss).abs() / c.val_loss <= 1e-4,
        "{what}: val loss {} on the GPU, {} on the CPU",
        g.val_loss,
        c.val_loss
    );
}

#[test]
fn encdec_training_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("encoder-decoder, 10 training steps") else {
        return;
    };
    compare_training(gpu, 0.0);
}

#[test]
fn encdec_training_with_dropout_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("encoder-decoder with dropout 0.2, 10 training steps") else {
        return;
    };
    // Both stacks' dropout sites (embeddings, attention weights, residual branches, cross-attention's out_proj)
    // draw their masks from the seeds the CPU draws them from: the encoder's and the decoder's.
    compare_training(gpu, 0.2);
}

#[test]
fn greedy_decoding_on_the_gpu_equals_the_cpus() {
    let Some(gpu) = gpu_or_skip("encoder-decoder greedy decoding") else {
        return;
    };
    // A model that has started to learn (outputs of several lengths, not one repeated token): 60 CPU steps.
    let mut cpu = trainer(Seq2SeqTask::Copy, 0.0, 60, 1e-2);
    for _ in 0..60 {
        cpu.train_step().expect("cpu step");
    }
    let mut model = GpuEncDec::from_cpu(gpu, &cpu.model).expect("gpu model");
    let (pairs, batch) = cpu.eval_batch(12).expect("eval batch");
    let outputs = pollster::block_on(model.generate_greedy(
        gpu,
        &batch.source,
        batch.b,
        batch.ts,
        BOS,
        EOS,
        cpu.model.config.block_size,
    ))
    .expect("gpu decoding");
    let mut exact = 0;
    for (pair, output) in pairs.iter().zip(&outputs) {
        let expected = translate(&mut cpu.model, &cpu.vocab, &pair.source).expect("cpu decoding");
        let got = cpu.vocab.decode(output);
        eprintln!("[gpu] {} -> cpu {expected:?}, gpu {got:?}", pair.source);
        assert_eq!(got, expected, "source {}", pair.source);
        exact += usize::from(got == pair.target);
    }
    eprintln!("[gpu] greedy decoding: {exact} of {} exact", pairs.len());
    // The cross-attention maps of the last forward pass are distributions over the source.
    let source = &batch.source[..batch.ts];
    pollster::block_on(model.forward(gpu, source, &[BOS, 3], None, 1, batch.ts, 2)).expect("fwd");
    let maps = pollster::block_on(model.cross_attention(gpu, 1)).expect("maps");
    let cpu_model = &mut cpu.model;
    cpu_model
        .forward(source, &[BOS, 3], None, 1, batch.ts, 2, None)
        .expect("cpu forward");
    let expected = cpu_model.cross_attention(1);
    let worst = maps
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "cross-attention maps differ by {worst}");
}

#[test]
fn bad_batches_are_clear_errors() {
    let Some(gpu) = gpu_or_skip("encoder-decoder bad batches") else {
        return;
    };
    let cpu = trainer(Seq2SeqTask::Reverse, 0.0, 1, 1e-2);
    let mut model = GpuEncDec::from_cpu(gpu, &cpu.model).expect("gpu model");
    let err = pollster::block_on(model.forward(gpu, &[], &[BOS], None, 1, 0, 1)).unwrap_err();
    assert!(err.to_string().contains("source is empty"), "{err}");
    let long = vec![PAD; 40];
    let err = pollster::block_on(model.forward(gpu, &long, &[BOS], None, 1, 40, 1)).unwrap_err();
    assert!(err.to_string().contains("encoder's context"), "{err}");
    let err = pollster::block_on(model.logits(gpu)).unwrap_err();
    assert!(err.to_string().contains("no forward pass"), "{err}");
    let wrong = EncDec::<f32>::new(cpu.model.config.clone(), 1).expect("model");
    let err = model.upload_params(gpu, &wrong.params[1..]).unwrap_err();
    assert!(err.to_string().contains("parameter values"), "{err}");
}
