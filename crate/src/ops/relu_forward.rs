//! relu_forward: max(0, x), the original transformer's feed-forward activation.
//! Intuition: pass positive signals, silence negative ones.

use super::float::Float;

/// out (N) = max(0, inp (N)).
pub fn relu_forward_cpu<R: Float>(out: &mut [R], inp: &[R], n: usize) {
    for (o, &x) in out[..n].iter_mut().zip(&inp[..n]) {
        *o = if x > R::ZERO { x } else { R::ZERO };
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/relu_forward.wgsl`.
    pub const RELU_FORWARD_SHADER: &str = shader!("relu_forward");

    /// Adds the kernel to `plan`: out (N) = max(0, inp (N)).
    pub fn relu_forward_gpu(gpu: &GpuContext, plan: &mut Plan, out: View, inp: View, n: usize) {
        crate::gpu::push_elementwise(
            gpu,
            plan,
            ("relu_forward", RELU_FORWARD_SHADER),
            &[
                (out, Access::ReadWrite), // out (N)
                (inp, Access::Read),      // inp (N)
            ],
            n,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::relu_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
            // Random signs, plus exact zeros (the kink: both sides must send 0 there).
            let mut inp = rng.vec(n);
            for x in inp.iter_mut().step_by(13) {
                *x = 0.0;
            }
            let mut out = vec![0.0; n];
            let out_buf = gpu.upload("out", &vec![f32::NAN; n]);
            let inp_buf = gpu.upload("inp", &inp);
            relu_forward_cpu(&mut out, &inp, n);
            let mut plan = Plan::new();
            relu_forward_gpu(gpu, &mut plan, (&out_buf).into(), (&inp_buf).into(), n);
            pollster::block_on(plan.run(gpu)).expect("relu_forward dispatch");
            // A comparison and a copy: identical results.
            let out_gpu = pollster::block_on(gpu.read(&out_buf, n)).expect("readback");
            assert_close(&out_gpu, &out, 0.0, 0.0, &format!("relu_forward out N={n}"));
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("relu_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(51);
            check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
            check(gpu, &mut rng, 2 * 7 * 4 * 12); // the MLP's hidden size 4C
            check(gpu, &mut rng, 1);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("relu_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(52);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b * t * c);
            }
        }
    }
}
