//! Mixed precision on the GPU (lavapipe offers shader-f16): the f16 model against the f32 one, loss scaling's
//! backoff and recovery, and the clear refusals.

use super::*;
use crate::gpu::testing::{gpu_f16_or_skip, gpu_or_skip};
use crate::model::{Precision, StepStats, TrainOptions};
use crate::ops::attention_mask::AttentionMask;
use crate::ops::testing::TestRng;

/// The small awkward model of the other GPU tests: C=12, NH=3 (hs=4), V=37, T=7.
fn small_config() -> ModelConfig {
    ModelConfig {
        vocab_size: 37,
        n_layer: 2,
        n_head: 3,
        n_embd: 12,
        block_size: 7,
        attention_mask: AttentionMask::Causal,
        ..ModelConfig::reference(37)
    }
}

fn token_stream(len: usize, v: usize, seed: u64) -> Vec<u32> {
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

fn small_options(precision: Precision) -> TrainOptions {
    TrainOptions {
        batch_size: 2,
        seq_len: 7,
        steps: 40,
        lr: 1e-2,
        min_lr: 1e-3,
        warmup_steps: 2,
        eval_batches: 2,
        seed: 7,
        precision,
        ..TrainOptions::default()
    }
}

/// One step's gradients in f16 are the f32 ones up to f16's rounding of the activations (about 2^-11 relative
/// per stored tensor, a few percent through a whole backward pass at worst); the weights after the step agree
/// as closely.
#[test]
fn f16_gradients_follow_the_f32_ones() {
    let Some(gpu) = gpu_f16_or_skip("f16 gradients") else {
        return;
    };
    let model = Gpt::<f32>::new(small_config(), 3).expect("model");
    let (train, val) = (token_stream(400, 37, 1), token_stream(100, 37, 2));
    let mut grads = Vec::new();
    for precision in [Precision::F32, Precision::F16] {
        let mut trainer = GpuTrainer::new(
            gpu,
            &model,
            train.clone(),
            val.clone(),
            small_options(precision),
        )
        .expect("trainer");
        assert_eq!(trainer.model.precision(), precision);
        let stats = pollster::block_on(trainer.step(gpu)).expect("step");
        assert!(!stats.skipped, "{precision}: 2^16 does not overflow here");
        assert_eq!(
            stats.loss_scale,
            (precision == Precision::F16).then_some(65536.0)
        );
        grads.push(pollster::block_on(trainer.model.download_grads(gpu)).expect("grads"));
    }
    let distance = super::tests::relative_distance(&grads[1], &grads[0]);
    eprintln!("[gpu] f16 against f32 gradients: relative distance {distance:.2e}");
    assert!(
        distance < 2e-2,
        "f16 gradients are {distance} away from the f32 ones"
    );
}

/// A run forced to overflow: a first loss scale of 2^40 makes d logits overflow f16 (2^40 / (B*T) > 65504), so
/// the first steps are skipped (weights untouched) and the scale halves each time until the gradients fit;
/// then training proceeds, and with a growth interval of 5 the scale doubles after 5 good steps, overflows
/// again and backs off again, as GradScaler does (measured: 2^40 down to 2^17 in 23 skipped steps, then 2^18,
/// 2^19, back to 2^18). The loss goes down across it all.
#[test]
fn loss_scaling_backs_off_from_an_overflow_and_recovers() {
    let Some(gpu) = gpu_f16_or_skip("loss scaling backoff") else {
        return;
    };
    let model = Gpt::<f32>::new(small_config(), 3).expect("model");
    let options = TrainOptions {
        loss_scale_init: 2f64.powi(40),
        loss_scale_growth_interval: 5,
        steps: 40,
        ..small_options(Precision::F16)
    };
    let (train, val) = (token_stream(400, 37, 1), token_stream(100, 37, 2));
    let mut trainer = GpuTrainer::new(gpu, &model, train, val, options).expect("trainer");
    let before = pollster::block_on(trainer.model.download_params(gpu)).expect("params");
    let first = pollster::block_on(trainer.step(gpu)).expect("a skipped step is no error");
    assert!(first.skipped, "2^40 overflows f16: {first:?}");
    let after = pollster::block_on(trainer.model.download_params(gpu)).expect("params");
    assert_eq!(before, after, "a skipped step leaves the weights alone");
    let mut log: Vec<StepStats> = vec![first];
    for _ in 1..40 {
        log.push(pollster::block_on(trainer.step(gpu)).expect("step"));
    }
    let scales: Vec<f64> = log
        .iter()
        .map(|s| s.loss_scale.expect("f16 reports its scale"))
        .collect();
    eprintln!(
        "[gpu] loss scales: {:?}",
        scales.iter().map(|s| s.log2() as i32).collect::<Vec<_>>()
    );
    // Every step follows GradScaler's rule from the one before it.
    for (i, pair) in log.windows(2).enumerate() {
        let (prev, next) = (&pair[0], &pair[1]);
        let prev_scale = prev.loss_scale.expect("scale");
        let next_scale = next.loss_scale.expect("scale");
        if prev.skipped {
            assert_eq!(
                next_scale,
                prev_scale / 2.0,
                "step {}: backoff after a skip",
                i + 2
            );
        } else {
            assert!(
                next_scale == prev_scale || next_scale == prev_scale * 2.0,
                "step {}: {prev_scale} -> {next_scale}",
                i + 2
            );
        }
    }
    let first_good = log
        .iter()
        .position(|s| !s.skipped)
        .expect("the scale comes down until a step fits");
    assert!(
        first_good >= 10,
        "2^40 needs many halvings before f16 holds d logits, not {first_good}"
    );
    let grown = scales
        .windows(2)
        .skip(first_good)
        .any(|w| w[1] == w[0] * 2.0);
    assert!(
        grown,
        "after 5 good steps the scale doubles again: {scales:?}"
    );
    let skipped = log.last().expect("steps").skipped_steps;
    assert!(
        skipped > first_good as u64,
        "the grown scale overflowed again and backed off: {skipped}"
    );
    let good_losses: Vec<f64> = log.iter().filter(|s| !s.skipped).map(|s| s.loss).collect();
    let (early, late) = (good_losses[0], *good_losses.last().expect("good steps"));
    assert!(
        late < early,
        "training proceeds through the backoffs: loss {early} -> {late}"
    );
}

/// The reference config trained in f16 ends within 2% of the same run in f32. The CI version trains a
/// 1-layer model (C=64, T=32, B=4) for 40 steps on the stories (lavapipe is slow); `LONG_RUN_FULL=1` runs the issue's
/// 200 steps of the reference config itself (L=4, C=128, T=64, B=16), whose numbers docs/precision.md records.
#[test]
fn f16_training_ends_within_2_percent_of_f32() {
    let Some(gpu) = gpu_f16_or_skip("f16 against f32 training") else {
        return;
    };
    let full = matches!(std::env::var("LONG_RUN_FULL").as_deref(), Ok("1" | "true"));
    let text = crate::corpus::generate(crate::corpus::Corpus::Stories, 1, 200_000);
    let mut vocab: Vec<char> = text.chars().collect();
    vocab.sort_unstable();
    vocab.dedup();
    let ids: Vec<u32> = text
        .chars()
        .map(|ch| vocab.binary_search(&ch).expect("in vocab") as u32)
        .collect();
    let split = ids.len() * 9 / 10;
    let (train, val) = (ids[..split].to_vec(), ids[split..].to_vec());
    let (config, steps, b) = if full {
        (ModelConfig::reference(vocab.len()), 200, 16)
    } else {
        let config = ModelConfig {
            n_layer: 1,
            n_embd: 64,
            block_size: 32,
            ..ModelConfig::reference(vocab.len())
        };
        (config, 40, 4)
    };
    let model = Gpt::<f32>::new(config, 1337).expect("model");
    let mut results = Vec::new();
    for precision in [Precision::F32, Precision::F16] {
        let options = TrainOptions {
            batch_size: b,
            steps,
            lr: 2e-3,
            min_lr: 2e-4,
            warmup_steps: 10,
            eval_interval: 0,
            eval_batches: 4,
            precision,
            ..TrainOptions::default()
        };
        let mut trainer =
            GpuTrainer::new(gpu, &model, train.clone(), val.clone(), options).expect("trainer");
        let start = std::time::Instant::now();
        let mut last = Vec::new();
        let mut skipped = 0;
        for _ in 0..steps {
            let stats = pollster::block_on(trainer.step(gpu)).expect("step");
            skipped = stats.skipped_steps;
            last.push(stats.loss);
        }
        let seconds = start.elapsed().as_secs_f64();
        // The mean of the last 10 training losses (one batch's loss is noisy) and the validation loss.
        let train_loss = last[last.len() - 10..].iter().sum::<f64>() / 10.0;
        let val_loss = pollster::block_on(trainer.evaluate(gpu))
            .expect("evaluation")
            .val_loss;
        eprintln!(
            "[gpu] {precision}: {steps} steps B={b}: last-10 train loss {train_loss:.4}, val loss {val_loss:.4}, skipped {skipped}, {seconds:.1} s, {:.0} tokens/s, {} bytes",
            (steps as usize * b * trainer.seq_len()) as f64 / seconds,
            trainer.model.memory_bytes()
        );
        results.push((train_loss, val_loss));
    }
    let (f32_run, f16_run) = (results[0], results[1]);
    for (what, a, b) in [
        ("train", f16_run.0, f32_run.0),
        ("val", f16_run.1, f32_run.1),
    ] {
        let gap = (a - b).abs() / b;
        assert!(
            gap < 0.02,
            "{what} loss in f16 {a} is {:.1}% from f32 {b}",
            100.0 * gap
        );
    }
}

/// Mixed precision is refused with a sentence, never a WebGPU error: on an adapter without shader-f16 (the
/// flag cleared on a context of this test's own), and for a part of the model that has no f16 kernels yet.
#[test]
fn f16_is_refused_with_a_reason() {
    if gpu_or_skip("f16 refusals").is_none() {
        return;
    }
    let mut gpu = pollster::block_on(GpuContext::new()).expect("an adapter was just found");
    let model = Gpt::<f32>::new(small_config(), 3).expect("model");
    let (train, val) = (token_stream(400, 37, 1), token_stream(100, 37, 2));
    gpu.f16 = false;
    let error = GpuTrainer::new(
        &gpu,
        &model,
        train.clone(),
        val.clone(),
        small_options(Precision::F16),
    )
    .err()
    .expect("no shader-f16, no f16")
    .to_string();
    assert!(
        error.contains("shader-f16") && error.contains("stays f32"),
        "{error}"
    );
    gpu.f16 = gpu.device.features().contains(wgpu::Features::SHADER_F16);
    if gpu.f16 {
        let dropout = Gpt::<f32>::new(
            ModelConfig {
                dropout: 0.1,
                ..small_config()
            },
            3,
        )
        .expect("model");
        let error = GpuTrainer::new(
            &gpu,
            &dropout,
            train.clone(),
            val.clone(),
            small_options(Precision::F16),
        )
        .err()
        .expect("dropout has no f16 kernels yet")
        .to_string();
        assert!(
            error.contains("dropout") && error.contains("precision f32"),
            "{error}"
        );
    }
    let error = crate::model::Trainer::new(model, train, val, small_options(Precision::F16))
        .err()
        .expect("the CPU trains in f32")
        .to_string();
    assert!(error.contains("GPU with shader-f16"), "{error}");
}
