//! scale_forward: out = scale * inp. Intuition: LoRA's update is scaled by alpha / r so that changing the rank
//! does not change how far a learning rate moves the model; the backward of a scaling is the same scaling.

use super::float::Float;

/// out (N) = scale * inp (N).
pub fn scale_forward_cpu<R: Float>(out: &mut [R], inp: &[R], scale: f32, n: usize) {
    let s = R::from_f64(f64::from(scale));
    for (o, &x) in out[..n].iter_mut().zip(&inp[..n]) {
        *o = s * x;
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernel's dispatch and the GPU-against-CPU test (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::elementwise::ELEMENTWISE_WG;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/scale_forward.wgsl`.
    pub const SCALE_FORWARD_SHADER: &str = shader!("scale_forward");

    /// The shader's `Params`: N and the scale, padded to 16 bytes.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        scale: f32,
        _pad: [u32; 2],
    }

    /// Adds the kernel to `plan`: out (N) = scale * inp (N).
    pub fn scale_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        scale: f32,
        n: usize,
    ) {
        let kernel = gpu.kernel(
            "scale_forward",
            SCALE_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: N, scale
                Access::ReadWrite, // out (N)
                Access::Read,      // inp (N)
            ],
            &[("WG", f64::from(ELEMENTWISE_WG))],
        );
        let params = Params {
            n: n as u32,
            scale,
            _pad: [0; 2],
        };
        let workgroups = gpu.grid_1d((n as u32).div_ceil(ELEMENTWISE_WG));
        plan.push(gpu, kernel, Some(&params), &[out, inp], workgroups);
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::scale_forward::scale_forward_cpu;
        use crate::ops::testing::{TestRng, assert_close};

        #[test]
        fn gpu_matches_cpu() {
            let Some(gpu) = gpu_or_skip("scale_forward") else {
                return;
            };
            let mut rng = TestRng::new(21);
            for (n, scale) in [(2 * 7 * 3, 2.0), (1, -0.5), (65, 0.125), (1000, 16.0 / 3.0)] {
                let inp = rng.vec(n);
                let mut expected = vec![0.0; n];
                scale_forward_cpu(&mut expected, &inp, scale, n);
                let inp = gpu.upload("inp", &inp);
                let out = gpu.upload("out", &vec![f32::NAN; n]); // assigned: garbage before
                let mut plan = Plan::new();
                scale_forward_gpu(gpu, &mut plan, (&out).into(), (&inp).into(), scale, n);
                pollster::block_on(plan.run(gpu)).expect("scale_forward dispatch");
                let actual = pollster::block_on(gpu.read(&out, n)).expect("readback");
                // One f32 product on both sides.
                assert_close(
                    &actual,
                    &expected,
                    0.0,
                    0.0,
                    &format!("scale_forward N={n}"),
                );
            }
        }
    }
}
