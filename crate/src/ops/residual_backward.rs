//! residual_backward: a sum passes its gradient unchanged to both inputs.
//!
//! The exception to "activation gradients are assigned": both `dinp1` and `dinp2` ACCUMULATE (`+=`),
//! because the residual stream's gradient is the sum of what the skip path and the block send back.

use super::float::Float;
use crate::gpu::{Access, GpuContext, Plan, View};

/// dinp1 (N) += dout (N);  dinp2 (N) += dout (N).
pub fn residual_backward_cpu<R: Float>(dinp1: &mut [R], dinp2: &mut [R], dout: &[R], n: usize) {
    for i in 0..n {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}

/// The WGSL source, `shaders/residual_backward.wgsl`.
pub const RESIDUAL_BACKWARD_SHADER: &str = shader!("residual_backward");

/// Adds the kernel to `plan`: dinp1 (N) += dout (N);  dinp2 (N) += dout (N).
pub fn residual_backward_gpu(
    gpu: &GpuContext,
    plan: &mut Plan,
    dinp1: View,
    dinp2: View,
    dout: View,
    n: usize,
) {
    super::push_elementwise(
        gpu,
        plan,
        "residual_backward",
        RESIDUAL_BACKWARD_SHADER,
        &[
            (dinp1, Access::ReadWrite), // dinp1 (N), accumulated
            (dinp2, Access::ReadWrite), // dinp2 (N), accumulated
            (dout, Access::Read),       // dout (N)
        ],
        n,
    );
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};
    use crate::ops::residual_forward::residual_forward_cpu;

    #[test]
    fn gradients_match_finite_differences_and_accumulate() {
        let n = 2 * 7 * 12;
        let mut rng = Rng64::new(81);
        let (a, b, w) = (rng.vec(n), rng.vec(n), rng.vec(n));
        let loss = |a: &[f64], b: &[f64]| {
            let mut out = vec![0.0; n];
            residual_forward_cpu(&mut out, a, b, n);
            dot(&out, &w)
        };
        let (mut da, mut db) = (vec![0.0; n], vec![0.5; n]);
        residual_backward_cpu(&mut da, &mut db, &w, n);
        check_gradient("residual dinp1", &a, &da, |x| loss(x, &b));
        let db: Vec<f64> = db.iter().map(|d| d - 0.5).collect();
        check_gradient("residual dinp2 (accumulated onto 0.5)", &b, &db, |x| {
            loss(&a, x)
        });
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod gpu_tests {
    use super::*;
    use crate::gpu::testing::{TestRng, assert_close, gpu_or_skip};

    fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
        let dout = rng.vec(n);
        // Both outputs accumulate: start them at nonzero random values.
        let (mut dinp1, mut dinp2) = (rng.vec(n), rng.vec(n));
        let dinp1_buf = gpu.upload("dinp1", &dinp1);
        let dinp2_buf = gpu.upload("dinp2", &dinp2);
        let dout_buf = gpu.upload("dout", &dout);
        residual_backward_cpu(&mut dinp1, &mut dinp2, &dout, n);
        let mut plan = Plan::new();
        residual_backward_gpu(
            gpu,
            &mut plan,
            (&dinp1_buf).into(),
            (&dinp2_buf).into(),
            (&dout_buf).into(),
            n,
        );
        pollster::block_on(plan.run(gpu)).expect("residual_backward dispatch");
        // One f32 addition per element on both sides: identical results.
        let dinp1_gpu = pollster::block_on(gpu.read(&dinp1_buf, n)).expect("readback");
        assert_close(
            &dinp1_gpu,
            &dinp1,
            0.0,
            0.0,
            &format!("residual_backward dinp1 N={n}"),
        );
        let dinp2_gpu = pollster::block_on(gpu.read(&dinp2_buf, n)).expect("readback");
        assert_close(
            &dinp2_gpu,
            &dinp2,
            0.0,
            0.0,
            &format!("residual_backward dinp2 N={n}"),
        );
    }

    #[test]
    fn gpu_matches_cpu_on_awkward_shapes() {
        let Some(gpu) = gpu_or_skip("residual_backward awkward shapes") else {
            return;
        };
        let mut rng = TestRng::new(21);
        check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
        check(gpu, &mut rng, 2 * 7 * 4 * 12); // the MLP's hidden size 4C
        check(gpu, &mut rng, 1);
    }

    #[test]
    fn gpu_matches_cpu_on_random_shapes() {
        let Some(gpu) = gpu_or_skip("residual_backward random shapes") else {
            return;
        };
        let mut rng = TestRng::new(22);
        for _ in 0..8 {
            let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
            check(gpu, &mut rng, b * t * c);
        }
    }
}
