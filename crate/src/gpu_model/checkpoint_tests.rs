//! Activation checkpointing on the GPU: the same training as the CPU (which keeps every activation) within the
//! whole-model tolerance, less memory, and the memory report equal to what the GPU context counts.

use super::tests::{options, small_config, token_stream};
use super::*;
use crate::gpu::testing::gpu_or_skip;
use crate::model::generate::SampleOptions;
use crate::model::memory::{MemoryReport, Precision, footprint};
use crate::model::{Activation, Positional, TrainOptions, Trainer};

fn checkpointed(every: usize, grad_accum: usize) -> TrainOptions {
    TrainOptions {
        checkpoint_every: every,
        ..options(grad_accum)
    }
}

#[test]
fn training_with_checkpointing_matches_the_cpu() {
    let Some(gpu) = gpu_or_skip("whole model with activation checkpointing (RoPE, dropout 0.2)")
    else {
        return;
    };
    // L=3: every 2 blocks leaves a short last group. Dropout 0.2 at every site: the recomputed blocks redraw the
    // masks of their forward pass (same sites, same seeds), for both attention paths.
    let config = ModelConfig {
        n_layer: 3,
        dropout: 0.2,
        ..small_config(Positional::Rope, Activation::Gelu)
    };
    let train = token_stream(400, 37, 1);
    let val = token_stream(100, 37, 2);
    let model = Gpt::<f32>::new(config.clone(), 3).expect("model");
    let same = Gpt::<f32>::new(config, 3).expect("model");
    let mut cpu = Trainer::new(same, train.clone(), val.clone(), options(2)).expect("cpu");
    let mut runs = Vec::new();
    for (every, fused) in [(0, true), (1, true), (2, true), (1, false)] {
        let mut trainer = GpuTrainer::new(
            gpu,
            &model,
            train.clone(),
            val.clone(),
            checkpointed(every, 2),
        )
        .expect("gpu trainer");
        trainer
            .model
            .set_fused_attention(fused)
            .expect("attention path");
        runs.push(((every, fused), trainer));
    }
    for step in 1..=4 {
        let expected = cpu.step().expect("cpu step");
        for ((every, fused), trainer) in &mut runs {
            let stats = pollster::block_on(trainer.step(gpu)).expect("gpu step");
            let relative = (stats.loss - expected.loss).abs() / expected.loss;
            assert!(
                relative <= 1e-4,
                "every {every} (fused {fused}) step {step}: loss {} vs cpu {}",
                stats.loss,
                expected.loss
            );
            let norm = (stats.grad_norm - expected.grad_norm).abs() / expected.grad_norm;
            assert!(norm <= 1e-3, "every {every} step {step}: grad norm");
        }
    }
    let cpu_grads = cpu.model.grads.clone();
    let plain = pollster::block_on(runs[0].1.model.download_grads(gpu)).expect("grads");
    for ((every, fused), trainer) in &runs {
        let grads = pollster::block_on(trainer.model.download_grads(gpu)).expect("grads");
        crate::ops::testing::assert_close(&grads, &cpu_grads, 1e-5, 2e-3, "gradients vs the cpu");
        let same = grads.iter().zip(&plain).filter(|(a, b)| a == b).count();
        eprintln!(
            "[gpu] checkpoint every {every} (fused {fused}): {same} of {} gradients equal the unchecked run's bit for bit",
            grads.len()
        );
        let params = pollster::block_on(trainer.model.download_params(gpu)).expect("params");
        crate::ops::testing::assert_close(&params, &cpu.model.params, 1e-5, 1e-3, "weights");
    }
    // Less memory: one working set of blocks instead of three.
    let bytes: Vec<u64> = runs.iter().map(|(_, t)| t.model.memory_bytes()).collect();
    assert!(bytes[1] < bytes[2] && bytes[2] < bytes[0], "{bytes:?}");
    // Evaluation runs through the shared working set; attention maps are refused with a reason.
    let (_, trainer) = &mut runs[1];
    let eval = pollster::block_on(trainer.evaluate(gpu)).expect("eval");
    let cpu_eval = cpu.evaluate().expect("cpu eval");
    assert!((eval.val_loss - cpu_eval.val_loss).abs() / cpu_eval.val_loss <= 1e-4);
    let err = pollster::block_on(trainer.model.attention_maps(gpu)).unwrap_err();
    assert!(err.to_string().contains("checkpointing"), "{err}");
}

#[test]
fn generation_with_checkpointing_matches_the_cpu() {
    let Some(gpu) =
        gpu_or_skip("generation from a checkpointed model (prefill one position at a time)")
    else {
        return;
    };
    let config = small_config(Positional::Learned, Activation::Gelu);
    let mut cpu = Gpt::<f32>::new(config, 5).expect("model");
    let mut gpu_model = GpuGpt::from_cpu(gpu, &cpu).expect("gpu model");
    gpu_model.set_checkpoint_every(1);
    let options = SampleOptions {
        max_tokens: 12,
        top_k: 1,
        seed: 1,
        ..SampleOptions::default()
    };
    let prompt = [3u32, 1, 4];
    let expected = cpu.generate(&prompt, &options).expect("cpu");
    let got = pollster::block_on(gpu_model.generate(gpu, &prompt, &options)).expect("gpu");
    assert_eq!(got, expected);
}

#[test]
fn the_memory_report_is_what_the_gpu_allocates() {
    let Some(_) = gpu_or_skip("memory report against GpuContext::buffer_bytes") else {
        return;
    };
    // A context of its own, so that its byte count is this model's alone.
    let gpu = pollster::block_on(GpuContext::new()).expect("a second context");
    let base = || small_config(Positional::Learned, Activation::Gelu);
    let cases = [
        (base(), 0, true, 1),
        (base(), 0, true, 2),
        (
            ModelConfig {
                dropout: 0.1,
                ..base()
            },
            0,
            true,
            1,
        ),
        (small_config(Positional::Rope, Activation::Relu), 0, true, 1),
        (
            ModelConfig {
                n_layer: 4,
                ..base()
            },
            1,
            true,
            1,
        ),
        (
            ModelConfig {
                n_layer: 4,
                dropout: 0.1,
                ..small_config(Positional::Rope, Activation::Relu)
            },
            1,
            true,
            2,
        ),
        (
            ModelConfig {
                n_layer: 5,
                dropout: 0.1,
                ..small_config(Positional::Sinusoidal, Activation::Gelu)
            },
            2,
            false,
            1,
        ),
    ];
    for (config, every, fused, grad_accum) in cases {
        let before = gpu.buffer_bytes();
        let model = Gpt::<f32>::new(config.clone(), 1).expect("model");
        let o = checkpointed(every, grad_accum);
        let mut trainer = GpuTrainer::new(
            &gpu,
            &model,
            token_stream(400, 37, 1),
            token_stream(100, 37, 2),
            o.clone(),
        )
        .expect("gpu trainer");
        trainer.model.set_fused_attention(fused).expect("path");
        pollster::block_on(trainer.step(&gpu)).expect("step");
        let made = gpu.buffer_bytes() - before;
        let report = footprint(
            &config,
            o.batch_size,
            7,
            grad_accum,
            every,
            fused,
            Precision::F32,
        );
        let what = format!("L={} every {every} fused {fused}", config.n_layer);
        assert_eq!(
            report.total,
            trainer.model.memory_bytes(),
            "{what}: memory_bytes"
        );
        // Besides the report's buffers the plans hold their uniforms and each RoPE dispatch its (T, hs) table.
        let plans = trainer
            .model
            .step_plans(o.batch_size, 7, grad_accum)
            .expect("plans");
        let ropes = plans
            .iter()
            .flat_map(|p| p.labels())
            .filter(|l| l.starts_with("rope"))
            .count() as u64;
        let rope_table = (7 * (config.n_embd / config.n_head) * 4) as u64;
        assert_eq!(
            report.total + trainer.model.plan_uniform_bytes() + ropes * rope_table,
            made,
            "{what}: buffer_bytes ({report:?})"
        );
        let full = MemoryReport::new(&config, o.batch_size, 7, grad_accum, every, fused, None);
        assert_eq!(full.footprints[usize::from(every > 0)].total, report.total);
    }
}

/// The report's f16 footprints are what the f16 path allocates: the f16 activations and activation gradients,
/// the f16 copy of the weights and the f32 statistics, master weights, gradients and moments, without and with
/// checkpointing. Batch 1 with T = 7 and V = 37 gives f16 buffers of an odd length (the logits: 259 numbers), which
/// the GPU rounds up to whole 4-byte words.
#[test]
fn the_f16_memory_report_is_what_the_gpu_allocates() {
    if crate::gpu::testing::gpu_f16_or_skip("f16 memory report against GpuContext::buffer_bytes")
        .is_none()
    {
        return;
    }
    // A context of its own, so that its byte count is this model's alone.
    let gpu = pollster::block_on(GpuContext::new()).expect("a second context");
    let base = || small_config(Positional::Learned, Activation::Gelu);
    let deeper = |n_layer| ModelConfig { n_layer, ..base() };
    // (config, checkpoint every, grad_accum, batch)
    let cases = [
        (base(), 0, 1, 2),
        (base(), 0, 2, 1),
        (deeper(4), 1, 1, 2),
        (deeper(5), 2, 2, 1),
    ];
    for (config, every, grad_accum, batch_size) in cases {
        let before = gpu.buffer_bytes();
        let model = Gpt::<f32>::new(config.clone(), 1).expect("model");
        let o = TrainOptions {
            batch_size,
            precision: crate::model::Precision::F16,
            ..checkpointed(every, grad_accum)
        };
        let mut trainer = GpuTrainer::new(
            &gpu,
            &model,
            token_stream(400, 37, 1),
            token_stream(100, 37, 2),
            o,
        )
        .expect("gpu trainer");
        pollster::block_on(trainer.step(&gpu)).expect("step");
        let made = gpu.buffer_bytes() - before;
        let report = footprint(
            &config,
            batch_size,
            7,
            grad_accum,
            every,
            true,
            Precision::F16,
        );
        let what = format!(
            "f16 L={} every {every} B={batch_size} accumulating {grad_accum}",
            config.n_layer
        );
        assert_eq!(
            report.total,
            trainer.model.memory_bytes(),
            "{what}: memory_bytes ({report:?})"
        );
        // Besides the report's buffers: the plans' uniforms, and the 4-number uniform of the one-dispatch plan that
        // made the first f16 copy of the weights (`set_precision`; dropped after its submit).
        let first_cast = 16;
        assert_eq!(
            report.total + trainer.model.plan_uniform_bytes() + first_cast,
            made,
            "{what}: buffer_bytes ({report:?})"
        );
        let full = MemoryReport::new(&config, batch_size, 7, grad_accum, every, true, None);
        assert_eq!(full.footprints[2 + usize::from(every > 0)], report);
        drop(trainer);
    }
}
