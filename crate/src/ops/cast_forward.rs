//! cast_forward: numbers from one element type to another. Mixed precision keeps f32 master weights and runs
//! the model on an f16 copy of them, refreshed after every optimizer step (f32 -> f16, rounding to nearest);
//! an f16 activation that an f32-only kernel must read is widened (f16 -> f32, exact).

/// out (N) = inp (N) rounded to f16 (to nearest, ties to even) and widened back: what an f16 buffer holds.
pub fn cast_forward_f16_cpu(out: &mut [f32], inp: &[f32], n: usize) {
    for (o, &x) in out[..n].iter_mut().zip(&inp[..n]) {
        *o = half::f16::from_f32(x).to_f32();
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// `shaders/cast_forward.wgsl` (f32 -> elem); its f32 build copies.
    pub const CAST_FORWARD_SHADER: &str = shader!("cast_forward");

    /// Its f16 build (f32 -> f16), generated from the same file by `crate/build.rs`.
    pub const CAST_FORWARD_F16_SHADER: &str = shader!("cast_forward_f16");

    /// `shaders/cast_forward_widen.wgsl` (elem -> f32); its f32 build copies.
    pub const CAST_FORWARD_WIDEN_SHADER: &str = shader!("cast_forward_widen");

    /// Its f16 build (f16 -> f32), generated from the same file by `crate/build.rs`.
    pub const CAST_FORWARD_WIDEN_F16_SHADER: &str = shader!("cast_forward_widen_f16");

    /// Adds the kernel to `plan`: out (N) = inp (N) in out's element type. One of the two is f32: f32 -> f16
    /// rounds, f16 -> f32 widens, f32 -> f32 copies.
    pub fn cast_forward_gpu(gpu: &GpuContext, plan: &mut Plan, out: View, inp: View, n: usize) {
        assert!(
            !(out.is_f16() && inp.is_f16()),
            "cast_forward: one side is f32"
        );
        let shader = if inp.is_f16() {
            ("cast_forward_widen_f16", CAST_FORWARD_WIDEN_F16_SHADER)
        } else {
            crate::gpu::variant(
                &out,
                ("cast_forward", CAST_FORWARD_SHADER),
                ("cast_forward_f16", CAST_FORWARD_F16_SHADER),
            )
        };
        // push_elementwise wants one element type across its views; the kernel's bindings say which is which.
        let kernel = gpu.kernel(
            shader.0,
            shader.1,
            &[Access::Uniform, Access::ReadWrite, Access::Read],
            &[("WG", f64::from(crate::gpu::elementwise::ELEMENTWISE_WG))],
        );
        let params = [n as u32, 0, 0, 0];
        let workgroups = gpu.grid_1d((n as u32).div_ceil(crate::gpu::elementwise::ELEMENTWISE_WG));
        plan.push(gpu, kernel, Some(&params), &[out, inp], workgroups);
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::{gpu_f16_or_skip, round_f16};
        use crate::ops::cast_forward::cast_forward_f16_cpu;
        use crate::ops::testing::{TestRng, assert_close};

        /// f32 -> f16 against the CPU's rounding (WGSL lets a conversion round either way when not exact:
        /// within one f16 ulp), and f16 -> f32 back exactly.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            let Some(gpu) = gpu_f16_or_skip("cast_forward f16") else {
                return;
            };
            let mut rng = TestRng::new(71);
            for n in [1, 2 * 7 * 12, 1001] {
                let inp: Vec<f32> = rng.vec(n).iter().map(|x| 100.0 * x * x * x).collect();
                let mut expected = vec![0.0; n];
                cast_forward_f16_cpu(&mut expected, &inp, n);
                let inp_buf = gpu.upload("inp", &inp);
                let half_buf = gpu.zeros_f16("half", n);
                let back_buf = gpu.zeros("back", n);
                let mut plan = Plan::new();
                cast_forward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&half_buf),
                    View::all(&inp_buf),
                    n,
                );
                cast_forward_gpu(
                    gpu,
                    &mut plan,
                    View::all(&back_buf),
                    View::all_f16(&half_buf),
                    n,
                );
                pollster::block_on(plan.run(gpu)).expect("cast dispatches");
                let halves = pollster::block_on(gpu.read_f16(&half_buf, n)).expect("readback");
                assert_close(
                    &halves,
                    &expected,
                    0.0,
                    1.0 / 1024.0,
                    &format!("cast_forward f16 N={n}"),
                );
                assert_eq!(halves, round_f16(&halves), "f16 values");
                let back = pollster::block_on(gpu.read(&back_buf, n)).expect("readback");
                assert_eq!(back, halves, "widening is exact N={n}");
            }
        }
    }
}
