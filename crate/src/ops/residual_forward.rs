//! residual_forward: the skip connection, out = inp1 + inp2.
//! Intuition: a block adds its contribution to the stream instead of replacing it.

use super::float::Float;

/// out (N) = inp1 (N) + inp2 (N).
pub fn residual_forward_cpu<R: Float>(out: &mut [R], inp1: &[R], inp2: &[R], n: usize) {
    for ((o, &a), &b) in out[..n].iter_mut().zip(&inp1[..n]).zip(&inp2[..n]) {
        *o = a + b;
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/residual_forward.wgsl`.
    pub const RESIDUAL_FORWARD_SHADER: &str = shader!("residual_forward");

    /// Its f16 build (f16 storage, f32 arithmetic), generated from the same file by `crate/build.rs`.
    pub const RESIDUAL_FORWARD_F16_SHADER: &str = shader!("residual_forward_f16");

    /// Adds the kernel to `plan`: out (N) = inp1 (N) + inp2 (N).
    pub fn residual_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp1: View,
        inp2: View,
        n: usize,
    ) {
        crate::gpu::push_elementwise(
            gpu,
            plan,
            crate::gpu::variant(
                &out,
                ("residual_forward", RESIDUAL_FORWARD_SHADER),
                ("residual_forward_f16", RESIDUAL_FORWARD_F16_SHADER),
            ),
            &[
                (out, Access::ReadWrite), // out (N)
                (inp1, Access::Read),     // inp1 (N)
                (inp2, Access::Read),     // inp2 (N)
            ],
            n,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::residual_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
            let (inp1, inp2) = (rng.vec(n), rng.vec(n));
            let mut expected = vec![0.0; n];
            residual_forward_cpu(&mut expected, &inp1, &inp2, n);
            let (inp1, inp2) = (gpu.upload("inp1", &inp1), gpu.upload("inp2", &inp2));
            // Start the output with garbage: the op assigns.
            let out = gpu.upload("out", &vec![f32::NAN; n]);
            let mut plan = Plan::new();
            residual_forward_gpu(
                gpu,
                &mut plan,
                (&out).into(),
                (&inp1).into(),
                (&inp2).into(),
                n,
            );
            pollster::block_on(plan.run(gpu)).expect("residual_forward dispatch");
            let actual = pollster::block_on(gpu.read(&out, n)).expect("readback");
            // One f32 addition on both sides: identical results.
            assert_close(
                &actual,
                &expected,
                0.0,
                0.0,
                &format!("residual_forward N={n}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("residual_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(11);
            check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
            check(gpu, &mut rng, 1);
            check(gpu, &mut rng, 65);
        }

        /// The f16 build against the CPU reference evaluated with f16 rounding: one addition of two f16 values
        /// done in f32 and rounded once is the correctly rounded f16 sum, so the results are identical.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{gpu_f16_or_skip, round_f16};
            let Some(gpu) = gpu_f16_or_skip("residual_forward f16") else {
                return;
            };
            let mut rng = TestRng::new(13);
            for n in [2 * 7 * 12, 65, 1] {
                let (inp1, inp2) = (round_f16(&rng.vec(n)), round_f16(&rng.vec(n)));
                let mut expected = vec![0.0; n];
                residual_forward_cpu(&mut expected, &inp1, &inp2, n);
                let expected = round_f16(&expected);
                let (inp1, inp2) = (gpu.upload_f16("inp1", &inp1), gpu.upload_f16("inp2", &inp2));
                let out = gpu.zeros_f16("out", n);
                let mut plan = Plan::new();
                residual_forward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&out),
                    View::all_f16(&inp1),
                    View::all_f16(&inp2),
                    n,
                );
                pollster::block_on(plan.run(gpu)).expect("residual_forward_f16 dispatch");
                let actual = pollster::block_on(gpu.read_f16(&out, n)).expect("readback");
                assert_close(
                    &actual,
                    &expected,
                    0.0,
                    0.0,
                    &format!("residual_forward f16 N={n}"),
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("residual_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(12);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b * t * c);
            }
        }

        #[test]
        fn gpu_folds_a_long_launch_into_two_dimensions() {
            let Some(gpu) = gpu_or_skip("residual_forward long launch") else {
                return;
            };
            // More workgroups than one dimension may hold (65535 x 64 invocations), so the grid is folded
            // and the kernel must rebuild the flat index from (wid.y, wid.x).
            let max = gpu.summary.max_compute_workgroups_per_dimension as usize;
            let n = max * crate::gpu::elementwise::ELEMENTWISE_WG as usize
                + 3 * crate::gpu::elementwise::ELEMENTWISE_WG as usize
                + 5;
            assert!(
                gpu.grid_1d((n as u32).div_ceil(crate::gpu::elementwise::ELEMENTWISE_WG))[1] > 1,
                "the launch must fold"
            );
            check(gpu, &mut TestRng::new(13), n);
        }
    }
}
