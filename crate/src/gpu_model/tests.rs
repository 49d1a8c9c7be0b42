//! The whole model on the GPU against the CPU reference: the same seeded training run on both.

use super::*;
use crate::gpu::testing::gpu_or_skip;
use crate::model::{Activation, Positional, TrainOptions, Trainer};
use crate::ops::attention_mask::AttentionMask;
use crate::ops::testing::TestRng;

/// An awkward small model: C=12, NH=3 (hs=4), V=37, T=7.
pub(super) fn small_config(positional: Positional, activation: Activation) -> ModelConfig {
    ModelConfig {
        vocab_size: 37,
        n_layer: 2,
        n_head: 3,
        n_embd: 12,
        block_size: 7,
        ffn_mult: 4,
        activation,
        positional,
        dropout: 0.0,
        bias: true,
        attention_mask: AttentionMask::Causal,
        lora: None,
        objective: Default::default(),
        classifier: None,
    }
}

/// A token stream with some structure (so the loss moves): a noisy repeating ramp over the vocabulary.
pub(super) fn token_stream(len: usize, v: usize, seed: u64) -> Vec<u32> {
    let mut rng = TestRng::new(seed);
    (0..len)
        .map(|i| {
            if rng.next_u64().is_multiple_of(4) {
                (rng.next_u64() % v as u64) as u32
            } else {
                (i % v) as u32
            }
        })
        .collect()
}

pub(super) fn options(grad_accum: usize) -> TrainOptions {
    TrainOptions {
        batch_size: 2,
        seq_len: 7,
        grad_accum,
        steps: 10,
        lr: 1e-2,
        min_lr: 1e-3,
        warmup_steps: 2,
        eval_batches: 2,
        seed: 7,
        ..TrainOptions::default()
    }
}

/// Relative distance of two parameter vectors: |a - b| / |b|.
pub(super) fn relative_distance(a: &[f32], b: &[f32]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
    (diff / norm).sqrt()
}

fn compare_training(gpu: &GpuContext, config: ModelConfig, grad_accum: usize) {
    let what = format!(
        "{:?}/{:?}, grad_accum {grad_accum}",
        config.positional, config.activation
    );
    // A masked-language model's data never holds its [MASK] token (the last id).
    let data_vocab = config.vocab_size - usize::from(config.mask_token().is_some());
    let train = token_stream(400, data_vocab, 1);
    let val = token_stream(100, data_vocab, 2);
    let model = Gpt::<f32>::new(config, 3).expect("model");
    let mut gpu_trainer =
        GpuTrainer::new(gpu, &model, train.clone(), val.clone(), options(grad_accum))
            .expect("gpu trainer");
    let mut cpu_trainer =
        Trainer::new(model, train, val, options(grad_accum)).expect("cpu trainer");
    for step in 1..=10 {
        let cpu = cpu_trainer.step().expect("cpu step");
        let gpu_stats = pollster::block_on(gpu_trainer.step(gpu)).expect("gpu step");
        let relative = (gpu_stats.loss - cpu.loss).abs() / cpu.loss.abs();
        eprintln!(
            "[gpu] {what} step {step}: cpu loss {:.6}, gpu loss {:.6}",
            cpu.loss, gpu_stats.loss
        );
        assert!(
            relative <= 1e-4,
            "{what} step {step}: gpu loss {} vs cpu {} (relative {relative:e})",
            gpu_stats.loss,
            cpu.loss
        );
        let norm_relative = (gpu_stats.grad_norm - cpu.grad_norm).abs() / cpu.grad_norm;
        assert!(
            norm_relative <= 1e-3,
            "{what} step {step}: grad norm {} vs {}",
            gpu_stats.grad_norm,
            cpu.grad_norm
        );
    }
    let gpu_params = pollster::block_on(gpu_trainer.model.download_params(gpu)).expect("params");
    let distance = relative_distance(&gpu_params, &cpu_trainer.model.params);
    eprintln!("[gpu] {what}: final parameters differ by {distance:e} (relative)");
    assert!(
        distance <= 1e-3,
        "{what}: final parameters differ by {distance:e}"
    );
    let cpu_eval = cpu_trainer.evaluate().expect("cpu eval");
    let gpu_eval = pollster::block_on(gpu_trainer.evaluate(gpu)).expect("gpu eval");
    assert!(
        (gpu_eval.val_loss - cpu_eval.val_loss).abs() / cpu_eval.val_loss <= 1e-4,
        "{what}: val loss {} on the GPU, {} on the CPU",
        gpu_eval.val_loss,
        cpu_eval.val_loss
    );
    // Masked-token accuracy: the same argmax on both devices (up to a near tie or two).
    match (gpu_eval.val_accuracy, cpu_eval.val_accuracy) {
        (Some(g), Some(c)) => assert!((g - c).abs() <= 0.05, "{what}: accuracy {g} vs {c}"),
        (None, None) => assert!(cpu_trainer.model.config.mask_token().is_none()),
        other => panic!("{what}: accuracy on one device only: {other:?}"),
    }
}

#[test]
fn training_matches_the_cpu_learned_gelu() {
    let Some(gpu) = gpu_or_skip("whole model, learned + GELU") else {
        return;
    };
    compare_training(gpu, small_config(Positional::Learned, Activation::Gelu), 1);
}

#[test]
fn training_matches_the_cpu_sinusoidal_relu_with_accumulation() {
    let Some(gpu) = gpu_or_skip("whole model, sinusoidal + ReLU, grad_accum 2") else {
        return;
    };
    compare_training(
        gpu,
        small_config(Positional::Sinusoidal, Activation::Relu),
        2,
    );
}

#[test]
fn training_matches_the_cpu_masked_language_model_with_accumulation() {
    let Some(gpu) = gpu_or_skip("whole model, MLM (ignored targets), grad_accum 2") else {
        return;
    };
    // Micro-batches with different numbers of masked positions: each keeps its own mean, as on the CPU.
    let config = ModelConfig {
        objective: crate::model::Objective::Mlm,
        attention_mask: AttentionMask::Bidirectional,
        dropout: 0.1,
        ..small_config(Positional::Learned, Activation::Gelu)
    };
    compare_training(gpu, config, 2);
}

#[test]
fn training_matches_the_cpu_rope() {
    let Some(gpu) = gpu_or_skip("whole model, RoPE + GELU") else {
        return;
    };
    compare_training(gpu, small_config(Positional::Rope, Activation::Gelu), 1);
}

#[test]
fn forward_logits_and_attention_match_the_cpu() {
    let Some(gpu) = gpu_or_skip("whole model forward") else {
        return;
    };
    let config = small_config(Positional::Learned, Activation::Gelu);
    let mut cpu = Gpt::<f32>::new(config, 11).expect("model");
    let mut gpu_model = GpuGpt::from_cpu(gpu, &cpu).expect("gpu model");
    let tokens: Vec<u32> = vec![1, 5, 9, 2, 36, 0, 4];
    cpu.forward(&tokens, None, 1, 7, None).expect("cpu forward");
    pollster::block_on(gpu_model.forward(gpu, &tokens, None, 1, 7)).expect("gpu forward");
    let logits = pollster::block_on(gpu_model.last_logits(gpu)).expect("logits");
    let v = 37;
    crate::ops::testing::assert_close(
        &logits,
        &cpu.act(cpu.acts().logits)[6 * v..7 * v],
        1e-5,
        1e-4,
        "last logits",
    );
    let maps = pollster::block_on(gpu_model.attention_maps(gpu)).expect("maps");
    for (l, map) in maps.iter().enumerate() {
        crate::ops::testing::assert_close(
            map,
            cpu.act(cpu.acts().layers[l].att.expect("maps")),
            1e-6,
            1e-4,
            "attention map",
        );
    }
}

#[test]
fn divergence_keeps_the_last_good_weights() {
    let Some(gpu) = gpu_or_skip("whole model divergence") else {
        return;
    };
    let config = small_config(Positional::Learned, Activation::Gelu);
    let model = Gpt::<f32>::new(config, 3).expect("model");
    let train = token_stream(400, 37, 1);
    // A learning rate that overflows the weights within a few steps, and no clipping.
    let options = TrainOptions {
        lr: 1e30,
        min_lr: 1e30,
        warmup_steps: 0,
        grad_clip: 0.0,
        ..options(1)
    };
    let mut trainer = GpuTrainer::new(gpu, &model, train, Vec::new(), options).expect("trainer");
    let mut last_good = pollster::block_on(trainer.model.download_params(gpu)).expect("params");
    let mut error = None;
    for _ in 0..20 {
        match pollster::block_on(trainer.step(gpu)) {
            Ok(_) => {
                last_good = pollster::block_on(trainer.model.download_params(gpu)).expect("params")
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let error = error.expect("training with lr 1e30 diverges");
    assert!(error.to_string().contains("training diverged"), "{error}");
    let kept = pollster::block_on(trainer.model.download_params(gpu)).expect("params");
    assert_eq!(
        kept, last_good,
        "the weights of the last good step are kept"
    );
    assert!(kept.iter().all(|x| x.is_finite()));
    let again = pollster::block_on(trainer.step(gpu)).unwrap_err();
    assert!(
        again.to_string().contains("diverged"),
        "a diverged run refuses further steps: {again}"
    );
}

#[test]
fn a_config_beyond_the_limits_is_refused_with_a_reason() {
    let Some(gpu) = gpu_or_skip("whole model limits") else {
        return;
    };
    let max = gpu.summary.max_storage_buffer_binding_size;
    // T x V floats beyond the largest binding.
    let vocab = (max / 4 / 64 + 1) as usize;
    let config = ModelConfig {
        vocab_size: vocab,
        block_size: 64,
        ..small_config(Positional::Learned, Activation::Gelu)
    };
    let error = check_limits(gpu, &config).unwrap_err().to_string();
    assert!(error.contains("shrink"), "{error}");
    assert!(error.contains("logits"), "{error}");
}

#[test]
fn evaluation_loss_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("whole model evaluation loss") else {
        return;
    };
    let config = small_config(Positional::Learned, Activation::Gelu);
    let mut cpu = Gpt::<f32>::new(config, 11).expect("model");
    let mut gpu_model = GpuGpt::from_cpu(gpu, &cpu).expect("gpu model");
    let stream = token_stream(40, 37, 5);
    let (inputs, targets) = (&stream[..14], &stream[1..15]);
    let cpu_loss = cpu
        .forward(inputs, Some(targets), 2, 7, None)
        .expect("cpu")
        .expect("loss");
    let gpu_loss =
        pollster::block_on(gpu_model.loss(gpu, inputs, targets, 2, 7)).expect("gpu loss");
    assert!(
        (gpu_loss - cpu_loss).abs() <= 1e-5 * cpu_loss,
        "gpu {gpu_loss} vs cpu {cpu_loss}"
    );
}

#[test]
fn generation_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("whole model generation (KV cache)") else {
        return;
    };
    for positional in [
        Positional::Learned,
        Positional::Sinusoidal,
        Positional::Rope,
    ] {
        let config = small_config(positional, Activation::Gelu);
        let mut cpu = Gpt::<f32>::new(config, 5).expect("model");
        let mut gpu_model = GpuGpt::from_cpu(gpu, &cpu).expect("gpu model");
        let prompt = [3u32, 1, 4];
        for options in [
            SampleOptions {
                max_tokens: 12,
                top_k: 1,
                seed: 1,
                ..SampleOptions::default()
            },
            SampleOptions {
                max_tokens: 12,
                temperature: 0.8,
                top_k: 10,
                top_p: 0.9,
                seed: 9,
                ..SampleOptions::default()
            },
        ] {
            // 12 tokens after a 3-token prompt overflow the 7-token window: the cache is rebuilt on the way.
            let expected = cpu.generate(&prompt, &options).expect("cpu");
            let cached =
                pollster::block_on(gpu_model.generate(gpu, &prompt, &options)).expect("gpu");
            let uncached = pollster::block_on(gpu_model.generate_uncached(gpu, &prompt, &options))
                .expect("gpu");
            assert_eq!(
                cached, expected,
                "{positional:?} {options:?}: KV-cache generation on the GPU"
            );
            assert_eq!(
                uncached, expected,
                "{positional:?} {options:?}: uncached generation on the GPU"
            );
        }
    }
}

#[test]
fn training_with_dropout_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("whole model with dropout 0.2, grad_accum 2") else {
        return;
    };
    // Every dropout site (embeddings, attention weights, both residual branches) draws its mask from the same
    // seeds on both devices, so the runs stay identical.
    let config = ModelConfig {
        dropout: 0.2,
        ..small_config(Positional::Learned, Activation::Gelu)
    };
    compare_training(gpu, config, 2);
}

#[test]
fn fused_and_readable_attention_train_alike() {
    let Some(gpu) = gpu_or_skip("whole model, fused vs readable attention (RoPE, dropout)") else {
        return;
    };
    // RoPE: attention reads the rotated qkv; dropout 0.2: the fused kernels redraw the attention mask inline.
    let config = ModelConfig {
        dropout: 0.2,
        ..small_config(Positional::Rope, Activation::Gelu)
    };
    // A masked-language model's data never holds its [MASK] token (the last id).
    let data_vocab = config.vocab_size - usize::from(config.mask_token().is_some());
    let train = token_stream(400, data_vocab, 1);
    let val = token_stream(100, data_vocab, 2);
    let model = Gpt::<f32>::new(config, 3).expect("model");
    let mut fused = GpuTrainer::new(gpu, &model, train.clone(), val.clone(), options(2))
        .expect("fused trainer");
    let mut readable = GpuTrainer::new(gpu, &model, train.clone(), val.clone(), options(2))
        .expect("readable trainer");
    readable
        .model
        .set_fused_attention(false)
        .expect("readable attention");
    assert!(fused.model.fused_attention() && !readable.model.fused_attention());
    let mut cpu_trainer = Trainer::new(model, train, val, options(2)).expect("cpu trainer");
    for step in 1..=5 {
        let cpu = cpu_trainer.step().expect("cpu step").loss;
        let f = pollster::block_on(fused.step(gpu))
            .expect("fused step")
            .loss;
        let r = pollster::block_on(readable.step(gpu))
            .expect("readable step")
            .loss;
        for (what, loss) in [("fused", f), ("readable", r)] {
            assert!(
                (loss - cpu).abs() / cpu <= 1e-4,
                "step {step}: {what} loss {loss} vs cpu {cpu}"
            );
        }
    }
    // The maps of the last forward: recomputed on demand (fused) or read from the forward (readable).
    let fused_maps = pollster::block_on(fused.model.attention_maps(gpu)).expect("fused maps");
    let readable_maps =
        pollster::block_on(readable.model.attention_maps(gpu)).expect("readable maps");
    assert_eq!(fused_maps.len(), 2);
    for (f, r) in fused_maps.iter().zip(&readable_maps) {
        assert_eq!(f.len(), 2 * 3 * 7 * 7);
        crate::ops::testing::assert_close(f, r, 1e-5, 1e-3, "fused vs readable attention map");
    }
    // Memory: per layer the readable path holds preatt, att and the dropout mask (B, NH, T, T), plus the
    // shared dpreatt and datt; the fused one an lse per layer and one delta, each (B, NH, T).
    let (map, rows, layers) = (2 * 3 * 7 * 7, 2 * 3 * 7, 2);
    let saved = (layers * 3 + 2) * map * 4 - (layers + 1) * rows * 4;
    assert_eq!(
        readable.model.memory_bytes() - fused.model.memory_bytes(),
        saved as u64
    );
}

#[test]
fn a_head_beyond_the_fused_limit_falls_back_to_the_readable_path() {
    let Some(gpu) = gpu_or_skip("whole model, hs > fused limit") else {
        return;
    };
    // hs = 72 > 64: the readable kernels, which still match the CPU.
    let config = ModelConfig {
        n_head: 1,
        n_embd: 72,
        ..small_config(Positional::Learned, Activation::Gelu)
    };
    let mut cpu = Gpt::<f32>::new(config, 11).expect("model");
    let mut gpu_model = GpuGpt::from_cpu(gpu, &cpu).expect("gpu model");
    assert!(!gpu_model.fused_attention());
    let error = gpu_model.set_fused_attention(true).unwrap_err().to_string();
    assert!(error.contains("at most 64"), "{error}");
    let stream = token_stream(40, 37, 5);
    let (inputs, targets) = (&stream[..14], &stream[1..15]);
    let cpu_loss = cpu
        .forward(inputs, Some(targets), 2, 7, None)
        .expect("cpu")
        .expect("loss");
    let gpu_loss =
        pollster::block_on(gpu_model.loss(gpu, inputs, targets, 2, 7)).expect("gpu loss");
    assert!(
        (gpu_loss - cpu_loss).abs() <= 1e-5 * cpu_loss,
        "gpu {gpu_loss} vs cpu {cpu_loss}"
    );
    let maps = pollster::block_on(gpu_model.attention_maps(gpu)).expect("maps");
    crate::ops::testing::assert_close(
        &maps[1],
        cpu.act(cpu.acts().layers[1].att.expect("maps")),
        1e-6,
        1e-4,
        "attention map",
    );
}

#[test]
fn training_with_lora_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("whole model with LoRA adapters (dropout 0.1), grad_accum 2")
    else {
        return;
    };
    // Every adapter, with its own dropout and the model's: the same ten steps as the CPU, the base frozen.
    let config = ModelConfig {
        dropout: 0.1,
        lora: Some(crate::model::lora::LoraConfig {
            r: 2,
            alpha: 4.0,
            dropout: 0.1,
            targets: crate::model::lora::LoraTarget::ALL.to_vec(),
        }),
        ..small_config(Positional::Learned, Activation::Gelu)
    };
    compare_training(gpu, config.clone(), 2);
    let model = Gpt::<f32>::new(config, 3).expect("model");
    let start = model.layout.trainable_offset();
    let mut trainer = GpuTrainer::new(
        gpu,
        &model,
        token_stream(400, 37, 1),
        token_stream(100, 37, 2),
        options(1),
    )
    .expect("gpu trainer");
    for _ in 0..3 {
        pollster::block_on(trainer.step(gpu)).expect("gpu step");
    }
    let params = pollster::block_on(trainer.model.download_params(gpu)).expect("params");
    assert_eq!(
        &params[..start],
        &model.params[..start],
        "the base stays frozen on the GPU"
    );
    assert_ne!(
        &params[start..],
        &model.params[start..],
        "the adapters train"
    );
}

#[test]
fn lora_holds_less_gpu_memory_than_full_training() {
    let Some(gpu) = gpu_or_skip("GPU memory with and without LoRA") else {
        return;
    };
    // A model whose weights outweigh one small batch's activations, as fine-tuning a real model is.
    let config = ModelConfig {
        n_layer: 2,
        n_head: 4,
        n_embd: 128,
        block_size: 8,
        ..ModelConfig::reference(512)
    };
    let lora = ModelConfig {
        lora: Some(crate::model::lora::LoraConfig {
            r: 4,
            alpha: 8.0,
            dropout: 0.0,
            targets: vec![crate::model::lora::LoraTarget::Qkv],
        }),
        ..config.clone()
    };
    let bytes = |config: &ModelConfig| {
        let model = Gpt::<f32>::new(config.clone(), 1).expect("model");
        let o = TrainOptions {
            batch_size: 2,
            seq_len: 8,
            ..options(1)
        };
        let mut trainer = GpuTrainer::new(
            gpu,
            &model,
            token_stream(400, 512, 1),
            token_stream(100, 512, 2),
            o,
        )
        .expect("gpu trainer");
        pollster::block_on(trainer.step(gpu)).expect("gpu step");
        trainer.model.memory_bytes()
    };
    let (full, adapted) = (bytes(&config), bytes(&lora));
    eprintln!(
        "[gpu] GPU memory after one step (B=2, T=8): full {full} bytes, LoRA r=4 on c_attn {adapted} bytes ({} of {} parameters train)",
        lora.trainable_count(),
        lora.param_count()
    );
    // The frozen weights have no gradient and no moments: about 3 x 4 bytes per parameter fewer.
    let saved = full as f64 - adapted as f64;
    assert!(
        saved > 0.9 * 12.0 * config.param_count() as f64,
        "full {full}, LoRA {adapted}"
    );
}

#[test]
fn generation_with_lora_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("generation with LoRA adapters (KV cache)") else {
        return;
    };
    let base =
        Gpt::<f32>::new(small_config(Positional::Learned, Activation::Gelu), 5).expect("model");
    let lora = crate::model::lora::LoraConfig {
        r: 2,
        alpha: 4.0,
        dropout: 0.1, // not applied when generating
        targets: crate::model::lora::LoraTarget::ALL.to_vec(),
    };
    let mut cpu = base.with_lora(lora, 3).expect("adapters");
    // Trained-looking adapters (B away from zero), so the update shows in every token.
    let start = cpu.layout.trainable_offset();
    let mut rng = TestRng::new(4);
    for x in &mut cpu.params[start..] {
        *x = 0.5 * (rng.uniform_f64() as f32 - 0.5);
    }
    let mut gpu_model = GpuGpt::from_cpu(gpu, &cpu).expect("gpu model");
    let options = SampleOptions {
        max_tokens: 12,
        temperature: 0.8,
        top_k: 10,
        seed: 9,
        ..SampleOptions::default()
    };
    let expected = cpu.generate(&[3, 1, 4], &options).expect("cpu");
    let cached = pollster::block_on(gpu_model.generate(gpu, &[3, 1, 4], &options)).expect("gpu");
    assert_eq!(
        cached, expected,
        "KV-cache generation with adapters on the GPU"
    );
}
