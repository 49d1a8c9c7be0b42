//! Whole-model finite-difference checks: every parameter gradient of a small GPT in f64, for each
//! positional option, ReLU and GELU, with and without biases, both attention masks, and with dropout
//! (the masks are a function of the seed, so the loss is still a deterministic function of the weights).

use super::config::{Activation, ModelConfig, Positional};
use super::gpt::Gpt;
use super::mlm::Objective;
use crate::ops::attention_mask::AttentionMask;
use crate::ops::crossentropy_forward::IGNORE_INDEX;
use crate::ops::testing::TestRng;

fn small_config() -> ModelConfig {
    // B=2, T=7 over block_size 8, C=12, NH=3 (hs=4), V=37, L=2, F=48.
    ModelConfig {
        vocab_size: 37,
        n_layer: 2,
        n_head: 3,
        n_embd: 12,
        block_size: 8,
        ffn_mult: 4,
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

/// Compares the analytic gradient of every `stride`-th parameter with a central difference.
fn check_model(config: ModelConfig, dropout_seed: Option<u64>, stride: usize) {
    let (b, t) = (2, 7);
    let mut rng = TestRng::new(7);
    let mut model = Gpt::<f64>::new(config.clone(), 1).expect("valid config");
    // Larger weights than the 0.02 initialisation so every path carries a sizeable gradient.
    for x in model.params.iter_mut() {
        *x += 0.3 * rng.uniform_f64();
    }
    let mut inputs = rng.tokens(b * t, config.vocab_size);
    let mut targets = rng.tokens(b * t, config.vocab_size);
    if let Some(mask_id) = config.mask_token() {
        // Masked-language modelling: only some positions count (the rest are the ignore index), and some
        // inputs are [MASK].
        for i in (0..b * t).step_by(3) {
            targets[i] = IGNORE_INDEX;
        }
        for i in (1..b * t).step_by(4) {
            inputs[i] = mask_id;
        }
    }
    model.zero_grad();
    model
        .forward(&inputs, Some(&targets), b, t, dropout_seed)
        .expect("forward");
    model.backward(1.0).expect("backward");
    let analytic = model.grads.clone();
    let eps = 1e-5;
    let mut worst = 0.0f64;
    for i in (0..model.params.len()).step_by(stride) {
        let x = model.params[i];
        model.params[i] = x + eps;
        let plus = model
            .forward(&inputs, Some(&targets), b, t, dropout_seed)
            .unwrap()
            .unwrap();
        model.params[i] = x - eps;
        let minus = model
            .forward(&inputs, Some(&targets), b, t, dropout_seed)
            .unwrap()
            .unwrap();
        model.params[i] = x;
        let numeric = (plus - minus) / (2.0 * eps);
        let diff = (numeric - analytic[i]).abs();
        let name = &model
            .layout
            .specs
            .iter()
            .rfind(|s| s.offset <= i)
            .expect("a tensor")
            .name;
        // See ops::gradcheck for the tolerance: f64 central differences are good to about 1e-9 here.
        assert!(
            diff <= 1e-7 + 1e-5 * numeric.abs(),
            "{config:?}\nparameter {i} ({name}): analytic {} vs finite difference {numeric}",
            analytic[i]
        );
        worst = worst.max(diff);
    }
    let nonzero = analytic.iter().filter(|g| g.abs() > 1e-6).count();
    assert!(
        nonzero > analytic.len() / 2,
        "only {nonzero} of {} gradients are non-zero",
        analytic.len()
    );
    eprintln!(
        "{:?}/{:?} bias={} dropout={:?}: worst |diff| {worst:e}",
        config.positional, config.activation, config.bias, dropout_seed
    );
}

#[test]
fn whole_model_learned_gelu_every_parameter() {
    check_model(small_config(), None, 1);
}

#[test]
fn whole_model_training_forward_runs_the_fused_attention() {
    // A training forward (a dropout seed, here with dropout 0) takes the CPU's fast fused attention.
    check_model(small_config(), Some(3), 2);
}

#[test]
fn whole_model_sinusoidal_relu() {
    let config = ModelConfig {
        positional: Positional::Sinusoidal,
        activation: Activation::Relu,
        ..small_config()
    };
    check_model(config, None, 3);
}

#[test]
fn whole_model_rope_gelu_and_relu() {
    let config = ModelConfig {
        positional: Positional::Rope,
        ..small_config()
    };
    check_model(config.clone(), None, 3);
    check_model(
        ModelConfig {
            activation: Activation::Relu,
            ..config
        },
        None,
        5,
    );
}

#[test]
fn whole_model_learned_relu_without_bias() {
    let config = ModelConfig {
        activation: Activation::Relu,
        bias: false,
        ..small_config()
    };
    check_model(config, None, 3);
}

#[test]
fn whole_model_bidirectional_mask() {
    let config = ModelConfig {
        attention_mask: AttentionMask::Bidirectional,
        ..small_config()
    };
    check_model(config, None, 5);
}

#[test]
fn whole_model_with_dropout_masks() {
    let config = ModelConfig {
        dropout: 0.2,
        ..small_config()
    };
    check_model(config, Some(42), 3);
}

#[test]
fn whole_model_masked_language_model_with_ignored_targets() {
    let config = ModelConfig {
        objective: Objective::Mlm,
        attention_mask: AttentionMask::Bidirectional,
        ..small_config()
    };
    check_model(config.clone(), None, 3);
    check_model(
        ModelConfig {
            dropout: 0.2,
            ..config
        },
        Some(9),
        5,
    );
}
