//! rope_backward: a rotation's gradient is the rotation back (its transpose), so dinp = R(-angle) dout
//! for q and k; the values' gradient passes through. dinp is assigned.

use super::float::Float;
use super::rope_forward::rope_tables;

/// dinp (B, T, 3C) from dout (B, T, 3C); the same pos0 and sizes as the forward call.
#[allow(clippy::too_many_arguments)]
pub fn rope_backward_cpu<R: Float>(
    dinp: &mut [R],
    dout: &[R],
    pos0: usize,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let (cos, sin) = rope_tables::<R>(pos0, t, hs);
    dinp[..b * t * 3 * c].copy_from_slice(&dout[..b * t * 3 * c]);
    for bt in 0..b * t {
        let tt = bt % t;
        for part in 0..2 {
            for h in 0..nh {
                let base = bt * 3 * c + part * c + h * hs;
                for i in 0..hs / 2 {
                    let (co, si) = (cos[tt * (hs / 2) + i], sin[tt * (hs / 2) + i]);
                    let (g0, g1) = (dout[base + 2 * i], dout[base + 2 * i + 1]);
                    dinp[base + 2 * i] = g0 * co + g1 * si;
                    dinp[base + 2 * i + 1] = -g0 * si + g1 * co;
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::rope_forward::rope_forward_cpu;
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        // C=12, NH=3 -> hs=4 (two pairs per head); pos0 = 3 as in generation with a cache.
        let (b, t, c, nh) = (2, 7, 12, 3);
        let mut rng = TestRng::new(31);
        let (inp, w) = (rng.vec_f64(b * t * 3 * c), rng.vec_f64(b * t * 3 * c));
        let mut dinp = vec![f64::NAN; inp.len()];
        rope_backward_cpu(&mut dinp, &w, 3, b, t, c, nh);
        check_gradient("rope dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; x.len()];
            rope_forward_cpu(&mut out, x, 3, b, t, c, nh);
            dot(&out, &w)
        });
    }

    #[test]
    fn scores_depend_only_on_relative_position() {
        // One head (C = hs = 4): the same q and k placed at positions (2, 5) and (6, 9) give the same q.k.
        let (c, nh) = (4, 1);
        let q = [0.3f64, -1.2, 0.7, 0.5];
        let k = [1.1f64, 0.4, -0.6, 0.9];
        let rotated = |pos: usize, x: &[f64; 4]| {
            let mut qkv = vec![0.0; 3 * c];
            qkv[..4].copy_from_slice(x);
            let mut out = vec![0.0; 3 * c];
            rope_forward_cpu(&mut out, &qkv, pos, 1, 1, c, nh);
            [out[0], out[1], out[2], out[3]]
        };
        let score = |pq: usize, pk: usize| {
            let (a, b) = (rotated(pq, &q), rotated(pk, &k));
            a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>()
        };
        assert!((score(5, 2) - score(9, 6)).abs() < 1e-12);
        assert!(
            (score(5, 2) - score(5, 3)).abs() > 1e-3,
            "position must matter"
        );
        // Position 0 is the identity.
        assert_eq!(rotated(0, &q), q);
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{GpuContext, Plan, View};

    /// The WGSL source, `shaders/rope_backward.wgsl`.
    pub const ROPE_BACKWARD_SHADER: &str = shader!("rope_backward");

    /// Adds the kernel to `plan`: dinp (B, T, 3C) = the inverse rotation of dout (B, T, 3C) (assigned).
    ///
    /// The (cos, sin) table (T, hs/2, 2) for positions pos0..pos0+T is computed here on the CPU in f64, the
    /// CPU reference's table, and uploaded once while the plan is recorded; the plan's bind group keeps the
    /// buffer alive (wgpu reference-counts bound buffers natively; on the web the GPUBindGroup holds it).
    #[allow(clippy::too_many_arguments)]
    pub fn rope_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        dout: View,
        pos0: usize,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) {
        // The same bindings, sizes and table as the forward kernel: only the rotation's sign differs.
        let kernel = ("rope_backward", ROPE_BACKWARD_SHADER);
        crate::ops::rope_forward::record_rope(gpu, plan, kernel, dinp, dout, pos0, b, t, c, nh);
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::super::*; // the CPU reference
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::testing::{TestRng, assert_close};

        #[allow(clippy::too_many_arguments)]
        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            pos0: usize,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) {
            let n = b * t * 3 * c;
            let inp = rng.vec(n);
            let mut expected = vec![0.0; n];
            rope_backward_cpu(&mut expected, &inp, pos0, b, t, c, nh);
            let out = gpu.upload("out", &vec![f32::NAN; n]);
            let inp = gpu.upload("inp", &inp);
            let mut plan = Plan::new();
            rope_backward_gpu(
                gpu,
                &mut plan,
                (&out).into(),
                (&inp).into(),
                pos0,
                b,
                t,
                c,
                nh,
            );
            // The table buffer made inside rope_backward_gpu is gone from Rust by now: the plan must still run.
            pollster::block_on(plan.run(gpu)).expect("rope_backward dispatch");
            let actual = pollster::block_on(gpu.read(&out, n)).expect("readback");
            // The same f32 table as the CPU; the GPU may fuse x0*co - x1*si into one FMA (1 ulp).
            assert_close(
                &actual,
                &expected,
                1e-5,
                1e-4,
                &format!("rope_backward pos0={pos0} B={b} T={t} C={c} NH={nh}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("rope_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(151);
            check(gpu, &mut rng, 0, 2, 7, 12, 3); // hs = 4
            check(gpu, &mut rng, 3, 2, 7, 12, 3); // generation with a cache: positions 3..10
            check(gpu, &mut rng, 0, 1, 1, 2, 1); // one pair
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("rope_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(152);
            for _ in 0..8 {
                let (nh, half) = (rng.range(1, 4), rng.range(1, 16));
                let c = nh * 2 * half;
                // Large pos0 too: the table is the CPU's f64 one, so far positions stay exact.
                let pos0 = [0, rng.range(1, 2000)][rng.range(0, 1)];
                let (b, t) = (rng.range(1, 4), rng.range(1, 64));
                check(gpu, &mut rng, pos0, b, t, c, nh);
            }
        }
    }
}
