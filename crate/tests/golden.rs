//! Golden runs: the CPU path must reproduce, bit for bit, the per-step losses and final weights of three fixed-seed
//! training runs. Any change to the order of floating-point operations in the CPU forward, backward or optimizer
//! shows up here. First recorded before the model was rewritten over an executor (issue 14); recorded again when
//! the CPU path moved to the gemm crate's products, the fast fused attention in training and the vectorized
//! LayerNorm (issue 21), which sum in another order. The bits were recorded on an x86-64 CPU with AVX-512 (the
//! gemm crate's microkernel there); on another CPU the products round differently and the runs are compared to a
//! tolerance. The thread count does not matter: every fast kernel sums each value on one thread in a fixed order.
//!
//! To re-record after an intended numerical change: `GOLDEN_PRINT=1 cargo test --test golden -- --nocapture`,
//! and paste the printed tables below (and say why in the commit).

use transformer_playground::model::{
    Activation, Gpt, ModelConfig, Positional, TrainOptions, Trainer,
};

/// What one run leaves behind: each step's mean loss as f64 bits, and checksums of the final weights.
#[derive(Debug, PartialEq)]
struct Golden {
    loss_bits: Vec<u64>,
    /// Sum of the weights, in f64, in layout order.
    sum_bits: u64,
    /// Sum of |weight|, in f64, in layout order.
    abs_sum_bits: u64,
    /// The exact f32 bits of a few weights spread over the buffer (first, a quarter in, half, last).
    sample_bits: [u32; 4],
}

fn data() -> Vec<u32> {
    // A stream with structure, so the loss moves.
    (0..3000u32)
        .map(|i| (i * 7 + i / 13 + i / 101) % 13)
        .collect()
}

fn run(config: ModelConfig, options: TrainOptions, steps: usize) -> Golden {
    let tokens = data();
    let model = Gpt::new(config, 11).expect("model");
    let mut trainer = Trainer::new(
        model,
        tokens[..2600].to_vec(),
        tokens[2600..].to_vec(),
        options,
    )
    .expect("trainer");
    let loss_bits = (0..steps)
        .map(|_| trainer.step().expect("step").loss.to_bits())
        .collect();
    let params = &trainer.model.params;
    let n = params.len();
    Golden {
        loss_bits,
        sum_bits: params.iter().map(|&x| f64::from(x)).sum::<f64>().to_bits(),
        abs_sum_bits: params
            .iter()
            .map(|&x| f64::from(x).abs())
            .sum::<f64>()
            .to_bits(),
        sample_bits: [0, n / 4, n / 2, n - 1].map(|i| params[i].to_bits()),
    }
}

fn small(positional: Positional, activation: Activation, dropout: f32) -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_head: 2,
        n_embd: 16,
        block_size: 16,
        positional,
        activation,
        dropout,
        ..ModelConfig::reference(13)
    }
}

fn options(grad_accum: usize) -> TrainOptions {
    TrainOptions {
        batch_size: 3,
        seq_len: 12,
        grad_accum,
        steps: 10,
        lr: 3e-3,
        warmup_steps: 3,
        eval_batches: 1,
        ..TrainOptions::default()
    }
}

fn check(name: &str, got: Golden, want: Golden) {
    if std::env::var_os("GOLDEN_PRINT").is_some() {
        println!("{name}: {got:#x?}");
        return;
    }
    if recorded_kernels() {
        assert_eq!(
            got, want,
            "{name}: the CPU run no longer reproduces its recorded losses and weights bit for bit"
        );
        return;
    }
    // Another CPU picks another matmul kernel (the gemm crate chooses AVX-512, AVX2+FMA or SSE at run time), which
    // rounds differently: the run must still match closely, but bit for bit is not defined there.
    println!(
        "{name}: not an AVX-512 CPU, so the recorded bits cannot apply; compared to a tolerance instead"
    );
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{name}: {what} is {a}, the recorded run has {b}"
        );
    };
    for (step, (&a, &b)) in got.loss_bits.iter().zip(&want.loss_bits).enumerate() {
        close(
            f64::from_bits(a),
            f64::from_bits(b),
            &format!("the loss of step {step}"),
        );
    }
    close(
        f64::from_bits(got.sum_bits),
        f64::from_bits(want.sum_bits),
        "the weights' sum",
    );
    close(
        f64::from_bits(got.abs_sum_bits),
        f64::from_bits(want.abs_sum_bits),
        "the sum of |weight|",
    );
}

/// Whether this CPU runs the matmul kernel the golden runs were recorded with: the gemm crate's AVX-512 one
/// (its x86-v4 level: AVX-512 F, BW, CD, DQ and VL).
fn recorded_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512cd")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[test]
fn learned_gelu_reproduces_its_recorded_run() {
    let got = run(
        small(Positional::Learned, Activation::Gelu, 0.0),
        options(1),
        10,
    );
    check("learned_gelu", got, LEARNED_GELU());
}

#[test]
fn sinusoidal_relu_with_accumulation_reproduces_its_recorded_run() {
    let got = run(
        small(Positional::Sinusoidal, Activation::Relu, 0.0),
        options(2),
        10,
    );
    check("sinusoidal_relu_accum", got, SINUSOIDAL_RELU_ACCUM());
}

#[test]
fn rope_with_dropout_reproduces_its_recorded_run() {
    let config = ModelConfig {
        bias: false,
        ..small(Positional::Rope, Activation::Gelu, 0.1)
    };
    let got = run(config, options(1), 10);
    check("rope_dropout", got, ROPE_DROPOUT());
}

#[allow(non_snake_case)]
fn LEARNED_GELU() -> Golden {
    Golden {
        loss_bits: vec![
            0x400508b1f638e38e,
            0x4004d195d38e38e4,
            0x40049f9f8e38e38e,
            0x40043ec76aaaaaab,
            0x40042f79a38e38e4,
            0x4003fbbf2f1c71c7,
            0x4003deae82aaaaab,
            0x4003af7c69c71c72,
            0x4003884260e38e39,
            0x40039e8425555555,
        ],
        sum_bits: 0x4053b711f670b020,
        abs_sum_bits: 0x4066f83a69dc5c50,
        sample_bits: [0x3c1567ed, 0xbd2f5c17, 0x3c66ece2, 0x3bb65dcc],
    }
}

#[allow(non_snake_case)]
fn SINUSOIDAL_RELU_ACCUM() -> Golden {
    Golden {
        loss_bits: vec![
            0x40049016f2aaaaaa,
            0x40048b7e731c71c7,
            0x4004902592aaaaaa,
            0x40048dd491555556,
            0x400486c9b71c71c7,
            0x4004866821c71c72,
            0x400482cd6238e38e,
            0x40048ca476aaaaaa,
            0x4004a102f638e38e,
            0x4004a0b132aaaaaa,
        ],
        sum_bits: 0x405322773aa3e12a,
        abs_sum_bits: 0x4064ddb0462769f5,
        sample_bits: [0xbbbd6887, 0xbbb775b0, 0xbcf2264e, 0x3b75ea2e],
    }
}

#[allow(non_snake_case)]
fn ROPE_DROPOUT() -> Golden {
    Golden {
        loss_bits: vec![
            0x400510405aaaaaab,
            0x4004c9ead0e38e39,
            0x40044e07eaaaaaab,
            0x4003c217fd555555,
            0x40038636b8000000,
            0x400350865b8e38e4,
            0x4002fcc188e38e39,
            0x4002ff2df0e38e39,
            0x400300b3d9c71c72,
            0x4002f8a5d471c71c,
        ],
        sum_bits: 0x40538923d1e1ec80,
        abs_sum_bits: 0x40669dbbdd081cc0,
        sample_bits: [0x3c0235e9, 0xbbf08e58, 0x3c147d7b, 0x3f7ff3c0],
    }
}
