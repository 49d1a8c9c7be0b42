//! meanpool_backward: each position gets an equal share, 1/T, of its sequence's pooled gradient. dinp is assigned.

use super::float::Float;

/// dinp (B, T, C) = dout (B, C) / T at every t.
pub fn meanpool_backward_cpu<R: Float>(dinp: &mut [R], dout: &[R], b: usize, t: usize, c: usize) {
    let inv_t = R::from_f64(1.0 / t as f64);
    for bi in 0..b {
        for ti in 0..t {
            for ci in 0..c {
                dinp[(bi * t + ti) * c + ci] = dout[bi * c + ci] * inv_t;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::meanpool_forward::meanpool_forward_cpu;
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, c) = (2, 7, 12);
        let mut rng = TestRng::new(92);
        let inp = rng.vec_f64(b * t * c);
        let w = rng.vec_f64(b * c);
        let mut dinp = vec![f64::NAN; b * t * c];
        meanpool_backward_cpu(&mut dinp, &w, b, t, c);
        check_gradient("meanpool dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; b * c];
            meanpool_forward_cpu(&mut out, x, b, t, c);
            dot(&out, &w)
        });
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernel's dispatch and the GPU-against-CPU test (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{GpuContext, Plan, View};
    use crate::ops::meanpool_forward::push_pool;

    /// The WGSL source, `shaders/meanpool_backward.wgsl`.
    pub const MEANPOOL_BACKWARD_SHADER: &str = shader!("meanpool_backward");

    /// Adds the kernel to `plan`: dinp (B, T, C) = dout (B, C) / T (assigned).
    pub fn meanpool_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        dout: View,
        b: usize,
        t: usize,
        c: usize,
    ) {
        push_pool(
            gpu,
            plan,
            "meanpool_backward",
            MEANPOOL_BACKWARD_SHADER,
            [dinp, dout],
            b * t * c,
            t,
            c,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::meanpool_backward::meanpool_backward_cpu;
        use crate::ops::testing::{TestRng, assert_close};

        #[test]
        fn gpu_matches_cpu_on_awkward_and_random_shapes() {
            let Some(gpu) = gpu_or_skip("meanpool_backward") else {
                return;
            };
            let mut rng = TestRng::new(93);
            let mut shapes = vec![(2, 7, 12), (1, 1, 1), (3, 64, 5)];
            for _ in 0..5 {
                shapes.push((rng.range(1, 5), rng.range(1, 70), rng.range(1, 130)));
            }
            for (b, t, c) in shapes {
                let dout = rng.vec(b * c);
                let mut expected = vec![0.0; b * t * c];
                meanpool_backward_cpu(&mut expected, &dout, b, t, c);
                let dout = gpu.upload("dout", &dout);
                let dinp = gpu.upload("dinp", &vec![f32::NAN; b * t * c]);
                let mut plan = Plan::new();
                meanpool_backward_gpu(gpu, &mut plan, (&dinp).into(), (&dout).into(), b, t, c);
                pollster::block_on(plan.run(gpu)).expect("meanpool_backward dispatch");
                let actual = pollster::block_on(gpu.read(&dinp, b * t * c)).expect("readback");
                assert_close(
                    &actual,
                    &expected,
                    1e-7,
                    1e-6,
                    &format!("meanpool_backward B={b} T={t} C={c}"),
                );
            }
        }
    }
}
