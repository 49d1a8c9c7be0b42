//! crossentropy_backward: the gradient of -ln softmax(logits)[target] is probs - onehot(target).
//! Intuition: push the target's logit up and every other logit down by how much it was believed.
//! dlogits is assigned; a position whose target is [`IGNORE_INDEX`] gets 0.

use super::crossentropy_forward::IGNORE_INDEX;
use super::float::Float;

/// dlogits (B, T, V) = (probs (B, T, V) - onehot(targets (B, T))) * dlosses (B, T), and 0 on the rows whose
/// target is [`IGNORE_INDEX`]. For the mean loss over the batch, dlosses = 1 / (positions that count).
#[allow(clippy::too_many_arguments)]
pub fn crossentropy_backward_cpu<R: Float>(
    dlogits: &mut [R],
    dlosses: &[R],
    probs: &[R],
    targets: &[u32],
    b: usize,
    t: usize,
    v: usize,
) {
    for bt in 0..b * t {
        let p = &probs[bt * v..(bt + 1) * v];
        let dl = &mut dlogits[bt * v..(bt + 1) * v];
        if targets[bt] == IGNORE_INDEX {
            dl.fill(R::ZERO);
            continue;
        }
        let d = dlosses[bt];
        for (g, &pi) in dl.iter_mut().zip(p) {
            *g = pi * d;
        }
        dl[targets[bt] as usize] -= d;
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::crossentropy_forward::crossentropy_forward_cpu;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, v) = (2, 7, 37);
        let mut rng = TestRng::new(101);
        let logits: Vec<f64> = rng.vec_f64(b * t * v).iter().map(|x| 3.0 * x).collect();
        let mut targets = rng.tokens(b * t, v);
        // Ignored positions count for nothing: their losses and gradients are 0.
        for bt in [0, 3, 4, 13] {
            targets[bt] = IGNORE_INDEX;
        }
        let w = rng.vec_f64(b * t);
        let forward = |logits: &[f64]| {
            let (mut losses, mut probs) = (vec![0.0; b * t], vec![0.0; b * t * v]);
            crossentropy_forward_cpu(&mut losses, &mut probs, logits, &targets, b, t, v);
            (losses, probs)
        };
        let (_, probs) = forward(&logits);
        let mut dlogits = vec![f64::NAN; logits.len()];
        crossentropy_backward_cpu(&mut dlogits, &w, &probs, &targets, b, t, v);
        check_gradient("crossentropy dlogits", &logits, &dlogits, |x| {
            dot(&forward(x).0, &w)
        });
    }

    #[test]
    fn ignored_positions_have_zero_loss_and_gradient() {
        let (b, t, v) = (1, 3, 5);
        let logits: Vec<f32> = (0..b * t * v).map(|i| (i as f32 * 0.37).sin()).collect();
        let targets = [2, IGNORE_INDEX, 4];
        let (mut losses, mut probs) = (vec![f32::NAN; 3], vec![0.0f32; 15]);
        crossentropy_forward_cpu(&mut losses, &mut probs, &logits, &targets, b, t, v);
        assert_eq!(losses[1], 0.0);
        assert!(losses[0] > 0.0 && losses[2] > 0.0);
        let mut dlogits = vec![f32::NAN; 15];
        crossentropy_backward_cpu(&mut dlogits, &[0.5; 3], &probs, &targets, b, t, v);
        assert!(dlogits[5..10].iter().all(|&g| g == 0.0), "{dlogits:?}");
        assert!(dlogits[..5].iter().all(|g| g.is_finite() && *g != 0.0));
        assert_eq!(
            crate::ops::crossentropy_forward::counted_targets(&targets),
            2
        );
    }

    #[test]
    fn uniform_logits_give_ln_v_and_huge_logits_stay_finite() {
        let v = 37;
        let (mut losses, mut probs) = (vec![0.0f32; 2], vec![0.0f32; 2 * v]);
        let mut logits = vec![0.0f32; 2 * v];
        logits[v + 3] = 1000.0; // row 1: certain of token 3
        crossentropy_forward_cpu(&mut losses, &mut probs, &logits, &[5, 4], 1, 2, v);
        assert!((losses[0] - (v as f32).ln()).abs() < 1e-6, "{}", losses[0]);
        assert!((probs[..v].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(losses[1], 1000.0, "target 4 has logit 0 against 1000");
        assert!(probs.iter().all(|p| p.is_finite()));
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::crossentropy_forward::{CROSSENTROPY_WG, CrossentropyParams};

    /// The WGSL source, `shaders/crossentropy_backward.wgsl`.
    pub const CROSSENTROPY_BACKWARD_SHADER: &str = shader!("crossentropy_backward");

    /// Its f16 build (dlogits and probs f16; dlosses f32), generated from the same file by `crate/build.rs`.
    pub const CROSSENTROPY_BACKWARD_F16_SHADER: &str = shader!("crossentropy_backward_f16");

    /// Adds the kernel to `plan`: dlogits (B, T, V) = (probs (B, T, V) - onehot(targets (B, T))) * dlosses (B, T),
    /// assigned, as [`crossentropy_backward_cpu`](super::crossentropy_backward_cpu); targets is a view of a buffer of u32 token ids.
    /// Check the lengths and ids with [`crate::ops::crossentropy_forward::check_shapes`].
    #[allow(clippy::too_many_arguments)]
    pub fn crossentropy_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dlogits: View,
        dlosses: View,
        probs: View,
        targets: View,
        b: usize,
        t: usize,
        v: usize,
    ) {
        let kernel = gpu.kernel_variant(
            &dlogits,
            ("crossentropy_backward", CROSSENTROPY_BACKWARD_SHADER),
            (
                "crossentropy_backward_f16",
                CROSSENTROPY_BACKWARD_F16_SHADER,
            ),
            &[
                Access::Uniform,   // params: B, T, V
                Access::ReadWrite, // dlogits (B, T, V)
                Access::Read,      // dlosses (B, T)
                Access::Read,      // probs (B, T, V)
                Access::Read,      // targets (B, T) u32
            ],
            &[("WG", f64::from(CROSSENTROPY_WG))],
        );
        let params = CrossentropyParams {
            b: b as u32,
            t: t as u32,
            v: v as u32,
            _pad: 0,
        };
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[dlogits, dlosses, probs, targets],
            [(v as u32).div_ceil(CROSSENTROPY_WG), t as u32, b as u32],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::crossentropy_backward::*;
        use crate::ops::crossentropy_forward::{
            IGNORE_INDEX, check_shapes, crossentropy_forward_cpu,
        };
        use crate::ops::testing::{TestRng, assert_close};

        fn check_gpu(gpu: &GpuContext, rng: &mut TestRng, b: usize, t: usize, v: usize) {
            let logits: Vec<f32> = rng.vec(b * t * v).iter().map(|x| 3.0 * x).collect();
            let targets: Vec<u32> = (0..b * t)
                .map(|_| match rng.range(0, 4) {
                    0 => IGNORE_INDEX,
                    _ => rng.range(0, v - 1) as u32,
                })
                .collect();
            check_shapes(logits.len(), b * t, &targets, b, t, v).expect("shapes");
            let dlosses = rng.vec(b * t);
            let (mut losses, mut probs) = (vec![0.0f32; b * t], vec![0.0f32; b * t * v]);
            crossentropy_forward_cpu(&mut losses, &mut probs, &logits, &targets, b, t, v);
            let mut dlogits = vec![0.0f32; b * t * v];
            crossentropy_backward_cpu(&mut dlogits, &dlosses, &probs, &targets, b, t, v);
            // dlogits starts as garbage: it is assigned, not accumulated.
            let dlogits_gpu = gpu.upload("dlogits", &rng.vec(dlogits.len()));
            let dlosses_gpu = gpu.upload("dlosses", &dlosses);
            let probs_gpu = gpu.upload("probs", &probs);
            let targets_gpu = gpu.upload_u32("targets", &targets);
            let mut plan = Plan::new();
            crossentropy_backward_gpu(
                gpu,
                &mut plan,
                (&dlogits_gpu).into(),
                (&dlosses_gpu).into(),
                (&probs_gpu).into(),
                (&targets_gpu).into(),
                b,
                t,
                v,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let actual = pollster::block_on(gpu.read(&dlogits_gpu, dlogits.len())).expect("read");
            assert_close(
                &actual,
                &dlogits,
                1e-5,
                1e-4,
                &format!("crossentropy_backward B={b} T={t} V={v}"),
            );
        }

        /// The f16 build (probs and dlogits f16, dlosses f32) against the CPU reference evaluated with f16
        /// rounding: within one f16 ulp (F16_RTOL) + 1e-7.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{
                F16_RTOL, gpu_f16_or_skip, read_f16_now, round_f16, upload_f16_rounded,
            };
            use crate::ops::crossentropy_forward::IGNORE_INDEX;
            let Some(gpu) = gpu_f16_or_skip("crossentropy_backward f16") else {
                return;
            };
            let mut rng = TestRng::new(53);
            for (b, t, v) in [(2, 7, 37), (1, 1, 1), (2, 3, 300)] {
                let probs: Vec<f32> = rng.vec(b * t * v).iter().map(|x| 0.5 * (x + 1.0)).collect();
                let (probs_buf, probs) = upload_f16_rounded(gpu, "probs", &probs);
                let dlosses: Vec<f32> = rng.vec(b * t).iter().map(|x| x / (b * t) as f32).collect();
                let targets: Vec<u32> = (0..b * t)
                    .map(|i| {
                        if i % 4 == 3 {
                            IGNORE_INDEX
                        } else {
                            rng.range(0, v - 1) as u32
                        }
                    })
                    .collect();
                let mut expected = vec![0.0; b * t * v];
                crossentropy_backward_cpu(&mut expected, &dlosses, &probs, &targets, b, t, v);
                let dlogits = gpu.zeros_f16("dlogits", b * t * v);
                let (dlosses_buf, targets_buf) = (
                    gpu.upload("dlosses", &dlosses),
                    gpu.upload_u32("targets", &targets),
                );
                let mut plan = Plan::new();
                crossentropy_backward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&dlogits),
                    (&dlosses_buf).into(),
                    View::all_f16(&probs_buf),
                    (&targets_buf).into(),
                    b,
                    t,
                    v,
                );
                pollster::block_on(plan.run(gpu)).expect("crossentropy_backward_f16 dispatch");
                let actual = read_f16_now(gpu, &dlogits, b * t * v);
                let what = format!("crossentropy_backward f16 B={b} T={t} V={v}");
                assert_close(&actual, &round_f16(&expected), 1e-7, F16_RTOL, &what);
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("crossentropy_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(43);
            check_gpu(gpu, &mut rng, 2, 7, 37);
            check_gpu(gpu, &mut rng, 1, 1, 1);
            check_gpu(gpu, &mut rng, 2, 3, 300);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("crossentropy_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(44);
            for _ in 0..10 {
                let (b, t, v) = (rng.range(1, 4), rng.range(1, 64), rng.range(1, 128));
                check_gpu(gpu, &mut rng, b, t, v);
            }
        }
    }
}
