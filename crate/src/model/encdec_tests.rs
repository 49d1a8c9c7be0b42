//! Whole-model finite-difference checks of the encoder-decoder: every parameter gradient in f64 (encoder,
//! decoder, cross-attention, shared embeddings), without and with dropout masks (a function of the seed, so
//! the loss stays a deterministic function of the weights), and the source length differing from the target's.

use super::config::{Activation, ModelConfig, Positional};
use super::encdec::EncDec;
use crate::ops::attention_mask::AttentionMask;
use crate::ops::crossentropy_forward::IGNORE_INDEX;
use crate::ops::testing::TestRng;

fn small_config() -> ModelConfig {
    // B=2, Ts=5, Tt=4 over block_size 8, C=8, NH=2 (hs=4), V=11, L=2, F=16.
    ModelConfig {
        vocab_size: 11,
        n_layer: 2,
        n_head: 2,
        n_embd: 8,
        block_size: 8,
        ffn_mult: 2,
        activation: Activation::Gelu,
        positional: Positional::Learned,
        dropout: 0.0,
        bias: true,
        attention_mask: AttentionMask::Causal,
        lora: None,
        objective: Default::default(),
        classifier: None,
    }
}

fn check_model(config: ModelConfig, dropout_seed: Option<u64>, stride: usize) {
    let (b, ts, tt) = (2, 5, 4);
    let mut rng = TestRng::new(17);
    let mut model = EncDec::<f64>::new(config.clone(), 1).expect("valid config");
    for x in model.params.iter_mut() {
        *x += 0.3 * rng.uniform_f64();
    }
    let source = rng.tokens(b * ts, config.vocab_size);
    let inputs = rng.tokens(b * tt, config.vocab_size);
    let mut targets = rng.tokens(b * tt, config.vocab_size);
    // Padding positions do not count.
    targets[tt - 1] = IGNORE_INDEX;
    let loss = |model: &mut EncDec<f64>| {
        model
            .forward(&source, &inputs, Some(&targets), b, ts, tt, dropout_seed)
            .expect("forward")
            .expect("a loss")
    };
    model.zero_grad();
    loss(&mut model);
    model.backward(1.0).expect("backward");
    let analytic = model.grads.clone();
    let eps = 1e-5;
    let mut worst = 0.0f64;
    for i in (0..model.params.len()).step_by(stride) {
        let x = model.params[i];
        model.params[i] = x + eps;
        let plus = loss(&mut model);
        model.params[i] = x - eps;
        let minus = loss(&mut model);
        model.params[i] = x;
        let numeric = (plus - minus) / (2.0 * eps);
        let diff = (numeric - analytic[i]).abs();
        let name = &model
            .layout
            .specs()
            .iter()
            .rfind(|s| s.offset <= i)
            .expect("a tensor")
            .name;
        assert!(
            diff <= 1e-7 + 1e-5 * numeric.abs(),
            "parameter {i} ({name}): analytic {} vs finite difference {numeric}",
            analytic[i]
        );
        worst = worst.max(diff);
    }
    // Every tensor, the encoder's and the cross-attention's included, carries gradient.
    for spec in model.layout.specs() {
        let g = &analytic[spec.offset..spec.offset + spec.len];
        assert!(
            g.iter().any(|x| x.abs() > 1e-8),
            "{} has no gradient",
            spec.name
        );
    }
    eprintln!("encoder-decoder dropout={dropout_seed:?}: worst |diff| {worst:e}");
}

#[test]
fn whole_encoder_decoder_every_parameter() {
    check_model(small_config(), None, 1);
}

#[test]
fn whole_encoder_decoder_with_dropout_masks() {
    let config = ModelConfig {
        dropout: 0.2,
        ..small_config()
    };
    check_model(config, Some(5), 2);
}

#[test]
fn whole_encoder_decoder_relu_sinusoidal_no_bias() {
    let config = ModelConfig {
        activation: Activation::Relu,
        positional: Positional::Sinusoidal,
        bias: false,
        ..small_config()
    };
    check_model(config, None, 3);
}

#[test]
fn cross_attention_maps_are_distributions_over_the_source() {
    let config = small_config();
    let (b, ts, tt) = (2, 7, 3);
    let mut rng = TestRng::new(18);
    let mut model = EncDec::<f32>::new(config.clone(), 2).expect("valid config");
    let source = rng.tokens(b * ts, config.vocab_size);
    let inputs = rng.tokens(b * tt, config.vocab_size);
    model
        .forward(&source, &inputs, None, b, ts, tt, None)
        .expect("forward");
    let att = model.cross_attention(1);
    assert_eq!(att.len(), b * config.n_head * tt * ts);
    for row in att.chunks(ts) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // Names as PyTorch's nn.Transformer.
    let names: Vec<&str> = model
        .layout
        .specs()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for name in [
        "encoder.layers.0.self_attn.in_proj_weight",
        "encoder.layers.1.linear2.bias",
        "encoder.norm.weight",
        "decoder.layers.0.multihead_attn.out_proj.weight",
        "decoder.layers.1.norm3.weight",
        "decoder.norm.bias",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[test]
fn bad_sources_are_clear_errors() {
    let config = small_config();
    let mut model = EncDec::<f32>::new(config, 2).expect("valid config");
    let err = model
        .forward(&[], &[1, 2], None, 1, 0, 2, None)
        .unwrap_err();
    assert!(err.to_string().contains("source is empty"), "{err}");
    let err = model
        .forward(&[1; 9], &[1, 2], None, 1, 9, 2, None)
        .unwrap_err();
    assert!(err.to_string().contains("encoder's context of 8"), "{err}");
}

#[test]
fn decoding_with_the_caches_matches_the_full_forward_pass() {
    let config = ModelConfig {
        block_size: 12,
        ..small_config()
    };
    let (ts, v) = (6, config.vocab_size);
    let mut rng = TestRng::new(19);
    let mut model = EncDec::<f32>::new(config.clone(), 3).expect("valid config");
    for x in model.params.iter_mut() {
        *x += 0.2 * rng.uniform();
    }
    let source = rng.tokens(ts, v);
    let fed = rng.tokens(5, v);
    let mut state = model.start_decoding(&source, fed[0]).expect("start");
    let mut cached = Vec::new();
    for &token in &fed {
        cached.extend_from_slice(model.decode_next(&mut state, token).expect("step"));
    }
    model
        .forward(&source, &fed, None, 1, ts, fed.len(), None)
        .expect("forward");
    crate::ops::testing::assert_close(
        &cached,
        model.logits(),
        1e-5,
        1e-4,
        "decode vs forward logits",
    );
    // Greedy decoding stops at the context.
    let out = model
        .generate_greedy(&source, 1, u32::MAX, 100)
        .expect("generate");
    assert_eq!(out.len(), config.block_size);
}

#[test]
fn beam_of_width_one_is_greedy() {
    let config = ModelConfig {
        block_size: 12,
        ..small_config()
    };
    let mut rng = TestRng::new(20);
    let mut model = EncDec::<f32>::new(config.clone(), 5).expect("valid config");
    for x in model.params.iter_mut() {
        *x += 0.3 * rng.uniform();
    }
    for _ in 0..3 {
        let source = rng.tokens(5, config.vocab_size);
        let greedy = model.generate_greedy(&source, 1, 2, 10).expect("greedy");
        let beams = model
            .generate_beam(&source, 1, 2, 1, 10, 0.0)
            .expect("beam");
        assert_eq!(beams[0].tokens, greedy);
        let wide = model
            .generate_beam(&source, 1, 2, 4, 10, 0.0)
            .expect("beam");
        assert!(!wide.is_empty() && wide.len() <= 4);
        assert!(wide.windows(2).all(|w| w[0].score >= w[1].score));
    }
}
