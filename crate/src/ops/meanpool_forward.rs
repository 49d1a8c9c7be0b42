//! meanpool_forward: one vector per sequence, the mean of its positions. A classification head reads it: after a
//! bidirectional encoder every position has seen the whole sequence, and the mean uses all of them (BERT pools the
//! first token instead; the mean needs no special token and learns faster on a tiny model).

use super::float::Float;

/// out (B, C) = (1/T) sum over t of inp (B, T, C).
pub fn meanpool_forward_cpu<R: Float>(out: &mut [R], inp: &[R], b: usize, t: usize, c: usize) {
    let inv_t = R::from_f64(1.0 / t as f64);
    for bi in 0..b {
        for ci in 0..c {
            let mut sum = R::ZERO;
            for ti in 0..t {
                sum += inp[(bi * t + ti) * c + ci];
            }
            out[bi * c + ci] = sum * inv_t;
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernel's dispatch and the GPU-against-CPU test (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::elementwise::ELEMENTWISE_WG;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/meanpool_forward.wgsl`.
    pub const MEANPOOL_FORWARD_SHADER: &str = shader!("meanpool_forward");

    /// The shaders' `Params` (forward and backward): N, T, C, padded to 16 bytes.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    pub(crate) struct PoolParams {
        pub n: u32,
        pub t: u32,
        pub c: u32,
        pub _pad: u32,
    }

    #[allow(clippy::too_many_arguments)]
    /// One invocation per element of the first view: binding 0 the params, then the views.
    pub(crate) fn push_pool(
        gpu: &GpuContext,
        plan: &mut Plan,
        label: &str,
        shader: &str,
        views: [View; 2],
        n: usize,
        t: usize,
        c: usize,
    ) {
        let kernel = gpu.kernel(
            label,
            shader,
            &[
                Access::Uniform,   // params: N, T, C
                Access::ReadWrite, // the output
                Access::Read,      // the input
            ],
            &[("WG", f64::from(ELEMENTWISE_WG))],
        );
        let params = PoolParams {
            n: n as u32,
            t: t as u32,
            c: c as u32,
            _pad: 0,
        };
        let workgroups = gpu.grid_1d((n as u32).div_ceil(ELEMENTWISE_WG));
        plan.push(gpu, kernel, Some(&params), &views, workgroups);
    }

    /// Adds the kernel to `plan`: out (B, C) = the mean over t of inp (B, T, C).
    pub fn meanpool_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        b: usize,
        t: usize,
        c: usize,
    ) {
        push_pool(
            gpu,
            plan,
            "meanpool_forward",
            MEANPOOL_FORWARD_SHADER,
            [out, inp],
            b * c,
            t,
            c,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::meanpool_forward::meanpool_forward_cpu;
        use crate::ops::testing::{TestRng, assert_close};

        #[test]
        fn gpu_matches_cpu_on_awkward_and_random_shapes() {
            let Some(gpu) = gpu_or_skip("meanpool_forward") else {
                return;
            };
            let mut rng = TestRng::new(91);
            let mut shapes = vec![(2, 7, 12), (1, 1, 1), (3, 64, 5)];
            for _ in 0..5 {
                shapes.push((rng.range(1, 5), rng.range(1, 70), rng.range(1, 130)));
            }
            for (b, t, c) in shapes {
                let inp = rng.vec(b * t * c);
                let mut expected = vec![0.0; b * c];
                meanpool_forward_cpu(&mut expected, &inp, b, t, c);
                let inp = gpu.upload("inp", &inp);
                let out = gpu.upload("out", &vec![f32::NAN; b * c]); // assigned: garbage before
                let mut plan = Plan::new();
                meanpool_forward_gpu(gpu, &mut plan, (&out).into(), (&inp).into(), b, t, c);
                pollster::block_on(plan.run(gpu)).expect("meanpool_forward dispatch");
                let actual = pollster::block_on(gpu.read(&out, b * c)).expect("readback");
                // The same sums in the same order; the GPU divides where the CPU multiplies by 1/T.
                assert_close(
                    &actual,
                    &expected,
                    1e-7,
                    1e-6,
                    &format!("meanpool_forward B={b} T={t} C={c}"),
                );
            }
        }
    }
}
