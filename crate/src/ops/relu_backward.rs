//! relu_backward: the gradient passes where the input was positive. dinp is assigned.
//! (At exactly 0 the derivative is taken as 0, as PyTorch does.)

use super::float::Float;

/// dinp (N) = dout (N) where inp (N) > 0, else 0.
pub fn relu_backward_cpu<R: Float>(dinp: &mut [R], inp: &[R], dout: &[R], n: usize) {
    for i in 0..n {
        dinp[i] = if inp[i] > R::ZERO { dout[i] } else { R::ZERO };
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::relu_forward::relu_forward_cpu;
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let n = 2 * 7 * 12;
        let mut rng = TestRng::new(71);
        // Keep inputs away from the kink at 0, where the finite difference straddles two slopes.
        let inp: Vec<f64> = rng
            .vec_f64(n)
            .iter()
            .map(|&x| if x.abs() < 0.01 { 0.5 } else { x })
            .collect();
        let w = rng.vec_f64(n);
        let mut dinp = vec![f64::NAN; n];
        relu_backward_cpu(&mut dinp, &inp, &w, n);
        check_gradient("relu dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; n];
            relu_forward_cpu(&mut out, x, n);
            dot(&out, &w)
        });
        assert!(
            dinp.iter().filter(|&&d| d == 0.0).count() > n / 4,
            "about half the inputs are negative"
        );
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/relu_backward.wgsl`.
    pub const RELU_BACKWARD_SHADER: &str = shader!("relu_backward");

    /// Adds the kernel to `plan`: dinp (N) = dout (N) where inp (N) > 0, else 0 (assigned).
    pub fn relu_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        inp: View,
        dout: View,
        n: usize,
    ) {
        crate::gpu::push_elementwise(
            gpu,
            plan,
            ("relu_backward", RELU_BACKWARD_SHADER),
            &[
                (dinp, Access::ReadWrite), // dinp (N)
                (inp, Access::Read),       // inp (N)
                (dout, Access::Read),      // dout (N)
            ],
            n,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::relu_backward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
            // Random signs, plus exact zeros (the kink: both sides must send 0 there).
            let mut inp = rng.vec(n);
            for x in inp.iter_mut().step_by(13) {
                *x = 0.0;
            }
            let dout = rng.vec(n);
            let mut dinp = vec![0.0; n];
            let dinp_buf = gpu.upload("dinp", &vec![f32::NAN; n]);
            let inp_buf = gpu.upload("inp", &inp);
            let dout_buf = gpu.upload("dout", &dout);
            relu_backward_cpu(&mut dinp, &inp, &dout, n);
            let mut plan = Plan::new();
            relu_backward_gpu(
                gpu,
                &mut plan,
                (&dinp_buf).into(),
                (&inp_buf).into(),
                (&dout_buf).into(),
                n,
            );
            pollster::block_on(plan.run(gpu)).expect("relu_backward dispatch");
            // A comparison and a copy: identical results.
            let dinp_gpu = pollster::block_on(gpu.read(&dinp_buf, n)).expect("readback");
            assert_close(
                &dinp_gpu,
                &dinp,
                0.0,
                0.0,
                &format!("relu_backward dinp N={n}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("relu_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(61);
            check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
            check(gpu, &mut rng, 2 * 7 * 4 * 12); // the MLP's hidden size 4C
            check(gpu, &mut rng, 1);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("relu_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(62);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b * t * c);
            }
        }
    }
}
