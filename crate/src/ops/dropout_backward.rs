//! dropout_backward: the gradient flows through the kept values with the same scale. dinp is assigned.

use super::float::Float;

/// dinp (N) = dout (N) * mask (N), the mask written by the forward pass.
pub fn dropout_backward_cpu<R: Float>(dinp: &mut [R], dout: &[R], mask: &[R], n: usize) {
    for i in 0..n {
        dinp[i] = dout[i] * mask[i];
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::dropout_forward::{dropout_forward_cpu, dropout_mask_cpu};
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let n = 2 * 7 * 12;
        let mut rng = TestRng::new(91);
        let (inp, w) = (rng.vec_f64(n), rng.vec_f64(n));
        let mut mask = vec![0.0; n];
        let mut out = vec![0.0; n];
        dropout_forward_cpu(&mut out, &mut mask, &inp, 0.3, 7, n);
        let mut dinp = vec![f64::NAN; n];
        dropout_backward_cpu(&mut dinp, &w, &mask, n);
        check_gradient("dropout dinp", &inp, &dinp, |x| {
            let (mut out, mut mask) = (vec![0.0; n], vec![0.0; n]);
            dropout_forward_cpu(&mut out, &mut mask, x, 0.3, 7, n);
            dot(&out, &w)
        });
    }

    #[test]
    fn mask_is_seeded_and_has_the_right_rate() {
        let n = 100_000;
        let (mut a, mut b, mut c) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
        dropout_mask_cpu(&mut a, 0.2, 42, n);
        dropout_mask_cpu(&mut b, 0.2, 42, n);
        dropout_mask_cpu(&mut c, 0.2, 43, n);
        assert_eq!(a, b, "same seed, same mask");
        assert_ne!(a, c, "another seed, another mask");
        let dropped = a.iter().filter(|&&m| m == 0.0).count() as f64 / n as f64;
        assert!((dropped - 0.2).abs() < 0.01, "dropped fraction {dropped}");
        assert!(a.iter().all(|&m| m == 0.0 || m == 1.25));
        // The kept values are scaled so the expected value is unchanged.
        let mean = a.iter().map(|&m| f64::from(m)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "mean of mask {mean}");
        // p = 0 keeps everything.
        dropout_mask_cpu(&mut a, 0.0, 42, n);
        assert!(a.iter().all(|&m| m == 1.0));
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/dropout_backward.wgsl`.
    pub const DROPOUT_BACKWARD_SHADER: &str = shader!("dropout_backward");

    /// Adds the kernel to `plan`: dinp (N) = dout (N) * mask (N) (assigned).
    pub fn dropout_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        dout: View,
        mask: View,
        n: usize,
    ) {
        crate::gpu::push_elementwise(
            gpu,
            plan,
            ("dropout_backward", DROPOUT_BACKWARD_SHADER),
            &[
                (dinp, Access::ReadWrite), // dinp (N)
                (dout, Access::Read),      // dout (N)
                (mask, Access::Read),      // mask (N)
            ],
            n,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::dropout_backward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
            let dout = rng.vec(n);
            let mut mask = vec![0.0; n];
            crate::ops::dropout_forward::dropout_mask_cpu(&mut mask, 0.3, 5, n);
            let mut dinp = vec![0.0; n];
            let dinp_buf = gpu.upload("dinp", &vec![f32::NAN; n]);
            let dout_buf = gpu.upload("dout", &dout);
            let mask_buf = gpu.upload("mask", &mask);
            dropout_backward_cpu(&mut dinp, &dout, &mask, n);
            let mut plan = Plan::new();
            dropout_backward_gpu(
                gpu,
                &mut plan,
                (&dinp_buf).into(),
                (&dout_buf).into(),
                (&mask_buf).into(),
                n,
            );
            pollster::block_on(plan.run(gpu)).expect("dropout_backward dispatch");
            // One f32 product per element on both sides: identical results.
            let dinp_gpu = pollster::block_on(gpu.read(&dinp_buf, n)).expect("readback");
            assert_close(
                &dinp_gpu,
                &dinp,
                0.0,
                0.0,
                &format!("dropout_backward dinp N={n}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("dropout_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(71);
            check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
            check(gpu, &mut rng, 2 * 7 * 4 * 12); // the MLP's hidden size 4C
            check(gpu, &mut rng, 1);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("dropout_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(72);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b * t * c);
            }
        }
    }
}
