//! LoRA: f64 finite differences through the adapters (with their dropout), only the adapters train, PEFT's
//! initialisation, merge and unmerge, and generation with the KV cache.

use super::config::{ModelConfig, Positional};
use super::generate::SampleOptions;
use super::gpt::Gpt;
use super::lora::{LoraConfig, LoraTarget};
use super::train::{TrainOptions, Trainer};
use crate::ops::testing::TestRng;

fn base_config() -> ModelConfig {
    // B=2, T=7 over block_size 8, C=12, NH=3, V=37, L=2, F=48.
    ModelConfig {
        n_layer: 2,
        n_head: 3,
        n_embd: 12,
        block_size: 8,
        ..ModelConfig::reference(37)
    }
}

fn lora(targets: &[LoraTarget], dropout: f32) -> LoraConfig {
    LoraConfig {
        r: 3,
        alpha: 5.0,
        dropout,
        targets: targets.to_vec(),
    }
}

#[test]
fn adapter_gradients_match_finite_differences_in_f64() {
    for (targets, dropout, seed) in [
        (&LoraTarget::ALL[..], 0.0, None),
        (&[LoraTarget::Qkv, LoraTarget::FcProj][..], 0.25, Some(42)),
        (&[LoraTarget::AttnProj, LoraTarget::Fc][..], 0.0, None),
    ] {
        let config = ModelConfig {
            dropout: 0.1,
            lora: Some(lora(targets, dropout)),
            ..base_config()
        };
        let (b, t) = (2, 7);
        let mut rng = TestRng::new(3);
        let mut model = Gpt::<f64>::new(config.clone(), 1).unwrap();
        for x in model.params.iter_mut() {
            *x += 0.3 * rng.uniform_f64(); // B away from zero, every path sizeable
        }
        let inputs = rng.tokens(b * t, 37);
        let targets_ids = rng.tokens(b * t, 37);
        // The model's own dropout is on too (seeded): the adapters' gradient flows through it.
        let seed = seed.or(Some(7));
        model.zero_grad();
        model
            .forward(&inputs, Some(&targets_ids), b, t, seed)
            .unwrap();
        model.backward(1.0).unwrap();
        let start = model.layout.trainable_offset();
        assert_eq!(model.grads.len(), model.layout.total - start);
        assert_eq!(model.grads.len(), config.trainable_count());
        let analytic = model.grads.clone();
        let eps = 1e-5;
        for (k, &g) in analytic.iter().enumerate() {
            let i = start + k;
            let x = model.params[i];
            model.params[i] = x + eps;
            let plus = model
                .forward(&inputs, Some(&targets_ids), b, t, seed)
                .unwrap()
                .unwrap();
            model.params[i] = x - eps;
            let minus = model
                .forward(&inputs, Some(&targets_ids), b, t, seed)
                .unwrap()
                .unwrap();
            model.params[i] = x;
            let numeric = (plus - minus) / (2.0 * eps);
            assert!(
                (numeric - g).abs() <= 1e-7 + 1e-5 * numeric.abs(),
                "{targets:?} dropout {dropout}: adapter number {k}: analytic {g} vs finite difference {numeric}"
            );
        }
        assert!(analytic.iter().filter(|g| g.abs() > 1e-6).count() > analytic.len() / 2);
    }
}

#[test]
fn fresh_adapters_are_pefts_and_leave_the_model_as_it_was() {
    let mut base = Gpt::<f32>::new(base_config(), 4).unwrap();
    let mut adapted = base.with_lora(lora(&LoraTarget::ALL, 0.0), 9).unwrap();
    assert_eq!(&adapted.params[..base.params.len()], &base.params[..]);
    let lay = &adapted.layout;
    for spec in &lay.specs[lay.first_trainable..] {
        let values = &adapted.params[spec.offset..spec.offset + spec.len];
        if spec.name.ends_with("lora_B.weight") {
            assert!(values.iter().all(|&x| x == 0.0), "{}", spec.name);
        } else {
            // PEFT's kaiming_uniform(a = sqrt(5)): uniform in +-1/sqrt(fan_in).
            let bound = 1.0 / (spec.shape[1] as f32).sqrt();
            assert!(values.iter().all(|x| x.abs() <= bound), "{}", spec.name);
            let max = values.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(max > 0.8 * bound, "{}: {max} vs {bound}", spec.name);
        }
    }
    let ids: Vec<u32> = (0..14).map(|i| (i * 5 % 37) as u32).collect();
    base.forward(&ids, None, 2, 7, None).unwrap();
    adapted.forward(&ids, None, 2, 7, None).unwrap();
    // B = 0: the update is exactly zero, the logits are the base model's bit for bit.
    assert_eq!(
        base.act(base.acts().logits),
        adapted.act(adapted.acts().logits)
    );
}

#[test]
fn only_the_adapters_train_with_less_memory() {
    let text: Vec<u32> = (0..3000u32).map(|i| (i * 7 + i / 13) % 37).collect();
    let base = Gpt::<f32>::new(base_config(), 4).unwrap();
    let adapted = base.with_lora(lora(&LoraTarget::ALL, 0.1), 9).unwrap();
    let config = adapted.config.clone();
    // 2 blocks x r=3 x ((12+36) + (12+12) + (12+48) + (48+12)).
    assert_eq!(config.trainable_count(), 2 * 3 * (48 + 24 + 60 + 60));
    assert_eq!(
        config.param_count(),
        base.config.param_count() + config.trainable_count()
    );
    // Memory: no gradients or moments for the frozen base. At GPT-2 small's shape (124 M parameters, B=4, T=64)
    // with rank 8 on c_attn, training needs a fraction of full fine-tuning's bytes.
    let gpt2 = ModelConfig {
        n_layer: 12,
        n_head: 12,
        n_embd: 768,
        block_size: 1024,
        ..ModelConfig::reference(50257)
    };
    let gpt2_lora = ModelConfig {
        lora: Some(LoraConfig {
            r: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: vec![LoraTarget::Qkv],
        }),
        ..gpt2.clone()
    };
    assert_eq!(gpt2_lora.trainable_count(), 12 * 8 * (768 + 3 * 768));
    let (full, lora_bytes) = (gpt2.training_bytes(4, 64), gpt2_lora.training_bytes(4, 64));
    let saved = (full - lora_bytes) as f64;
    eprintln!(
        "GPT-2 small, B=4, T=64: full fine-tuning {full} bytes, LoRA r=8 on c_attn {lora_bytes} bytes ({} trainable)",
        gpt2_lora.trainable_count()
    );
    // Gradients and two moments of 124.4 M frozen numbers: 3 x 4 bytes each, less the adapters' scratch.
    assert!(
        saved > 0.95 * 12.0 * 124_439_808.0,
        "LoRA {lora_bytes} vs full {full}"
    );
    let options = TrainOptions {
        batch_size: 4,
        seq_len: 8,
        steps: 10,
        lr: 1e-2,
        eval_batches: 1,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::new(
        adapted,
        text[..2700].to_vec(),
        text[2700..].to_vec(),
        options,
    )
    .unwrap();
    let before = trainer.evaluate().unwrap().val_loss;
    for _ in 0..10 {
        trainer.step().unwrap();
    }
    let model = &trainer.model;
    let start = model.layout.trainable_offset();
    assert_eq!(
        &model.params[..start],
        &base.params[..],
        "the base is frozen"
    );
    assert_eq!(
        model.grads.len(),
        config.trainable_count(),
        "gradients for the adapters alone"
    );
    let b_moved = model.layout.specs[model.layout.first_trainable..]
        .iter()
        .filter(|s| s.name.ends_with("lora_B.weight"))
        .all(|s| {
            model.params[s.offset..s.offset + s.len]
                .iter()
                .any(|&x| x != 0.0)
        });
    assert!(b_moved, "every B left zero");
    let after = trainer.evaluate().unwrap().val_loss;
    assert!(after < before, "validation loss {before} -> {after}");
}

#[test]
fn merge_then_unmerge_returns_the_base_weights() {
    let mut rng = TestRng::new(5);
    let base = Gpt::<f32>::new(base_config(), 4).unwrap();
    let mut adapted = base.with_lora(lora(&LoraTarget::ALL, 0.0), 9).unwrap();
    let start = adapted.layout.trainable_offset();
    for x in &mut adapted.params[start..] {
        *x = rng.uniform_f64() as f32 - 0.5; // a trained-looking adapter
    }
    let mut merged = adapted.merge_lora().unwrap();
    assert!(merged.config.lora.is_none());
    assert_ne!(merged.params, base.params, "the merge changed the weights");
    let ids: Vec<u32> = (0..14).map(|i| (i * 3 % 37) as u32).collect();
    merged.forward(&ids, None, 2, 7, None).unwrap();
    adapted.forward(&ids, None, 2, 7, None).unwrap();
    let (a, b) = (
        merged.act(merged.acts().logits),
        adapted.act(adapted.acts().logits),
    );
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "merged logits differ by {diff}");
    let unmerged = Gpt::unmerge_lora(&merged, &adapted).unwrap();
    assert_eq!(unmerged.config, adapted.config);
    assert_eq!(&unmerged.params[start..], &adapted.params[start..]);
    let worst = unmerged.params[..start]
        .iter()
        .zip(&base.params)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-6, "unmerge is off the base weights by {worst}");
}

#[test]
fn cached_generation_with_adapters_matches_the_uncached_path() {
    let base = Gpt::<f32>::new(base_config(), 4).unwrap();
    let mut adapted = base
        .with_lora(lora(&[LoraTarget::Qkv, LoraTarget::FcProj], 0.2), 9)
        .unwrap();
    let start = adapted.layout.trainable_offset();
    let mut rng = TestRng::new(8);
    for x in &mut adapted.params[start..] {
        *x = 0.5 * (rng.uniform_f64() as f32 - 0.5);
    }
    let options = SampleOptions {
        max_tokens: 12,
        temperature: 0.8,
        top_k: 0,
        top_p: 1.0,
        seed: 3,
        end_token: None,
    };
    let cached = adapted.generate(&[1, 2, 3], &options).unwrap();
    let uncached = adapted.generate_uncached(&[1, 2, 3], &options).unwrap();
    assert_eq!(cached, uncached);
    let mut plain = Gpt::from_params(base.config.clone(), base.params.clone()).unwrap();
    let plain = plain.generate(&[1, 2, 3], &options).unwrap();
    assert_ne!(cached, plain, "the adapters change what the model says");
}

#[test]
fn bad_lora_options_are_explained() {
    let with = |l: LoraConfig| {
        ModelConfig {
            lora: Some(l),
            ..base_config()
        }
        .validate()
        .unwrap_err()
        .to_string()
    };
    assert!(
        with(LoraConfig {
            r: 0,
            ..lora(&LoraTarget::ALL, 0.0)
        })
        .contains("rank r is 0")
    );
    assert!(
        with(LoraConfig {
            r: 13,
            ..lora(&LoraTarget::ALL, 0.0)
        })
        .contains("larger than the smallest")
    );
    assert!(with(lora(&[], 0.0)).contains("no target"));
    assert!(with(lora(&LoraTarget::ALL, 1.0)).contains("dropout"));
    let e = LoraTarget::parse_list(&["q_proj"]).unwrap_err().to_string();
    assert!(e.contains("\"q_proj\"") && e.contains("c_attn"), "{e}");
    assert_eq!(
        LoraTarget::parse_list(&["c_proj", "c_attn"]).unwrap(),
        [LoraTarget::Qkv, LoraTarget::AttnProj, LoraTarget::FcProj]
    );
    // A RoPE model takes adapters as well: LoRA wraps the linear layers, whatever the positions.
    let rope = ModelConfig {
        positional: Positional::Rope,
        lora: Some(lora(&LoraTarget::ALL, 0.0)),
        ..base_config()
    };
    rope.validate().unwrap();
}
