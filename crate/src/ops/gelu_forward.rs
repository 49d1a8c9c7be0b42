//! gelu_forward: the GELU activation, tanh approximation (Hendrycks & Gimpel 2016; GPT-2's choice).
//!
//! Intuition: a smooth ReLU that lets a little negative signal through.
//! gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). This is PyTorch's
//! `nn.GELU(approximate="tanh")`; nanoGPT's default `nn.GELU()` is the exact erf form, which differs by
//! at most 4.7e-4 (at x = -2.70; see docs/model.md).

use super::float::Float;
use super::parallel::{multiversion, par_chunks};

pub(crate) const GELU_SCALE: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)

pub(crate) const GELU_CUBE: f64 = 0.044715;

/// out (N) = gelu(inp (N)).
pub fn gelu_forward_cpu<R: Float>(out: &mut [R], inp: &[R], n: usize) {
    let (s, k, half) = (
        R::from_f64(GELU_SCALE),
        R::from_f64(GELU_CUBE),
        R::from_f64(0.5),
    );
    for (o, &x) in out[..n].iter_mut().zip(&inp[..n]) {
        *o = half * x * (R::ONE + (s * (x + k * x * x * x)).tanh());
    }
}

/// The same GELU with [`Float::tanh_fast`] (no library call, so the loop vectorizes; within 2e-7 of
/// [`gelu_forward_cpu`] times |x|), in parallel pieces: the version the model uses.
pub fn gelu_forward_fast_cpu<R: Float>(out: &mut [R], inp: &[R], n: usize) {
    const PIECE: usize = 1 << 14;
    par_chunks(&mut out[..n], PIECE, |i, out| {
        let inp = &inp[i * PIECE..][..out.len()];
        // The wasm module (built for size, not vectorized by the compiler) takes the simd128 version, same bits.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if super::simd128::enabled()
            && let (Some(out32), Some(inp32)) =
                (super::float::as_f32_mut(out), super::float::as_f32(inp))
        {
            let done = super::simd128::gelu_forward(out32, inp32);
            gelu_forward_piece(&mut out[done..], &inp[done..]);
            return;
        }
        gelu_forward_piece(out, inp);
    });
}

multiversion! {
/// out (n) = gelu(inp (n)) with the fast tanh.
fn gelu_forward_piece<R: Float>(out: &mut [R], inp: &[R]) {
    let (s, k, half) = (
        R::from_f64(GELU_SCALE),
        R::from_f64(GELU_CUBE),
        R::from_f64(0.5),
    );
    for (o, &x) in out.iter_mut().zip(inp) {
        *o = half * x * (R::ONE + (s * (x + k * x * x * x)).tanh_fast());
    }
}
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/gelu_forward.wgsl`.
    pub const GELU_FORWARD_SHADER: &str = shader!("gelu_forward");

    /// Its f16 build (f16 storage, f32 arithmetic), generated from the same file by `crate/build.rs`.
    pub const GELU_FORWARD_F16_SHADER: &str = shader!("gelu_forward_f16");

    /// Adds the kernel to `plan`: out (N) = gelu(inp (N)), tanh approximation.
    pub fn gelu_forward_gpu(gpu: &GpuContext, plan: &mut Plan, out: View, inp: View, n: usize) {
        crate::gpu::push_elementwise(
            gpu,
            plan,
            crate::gpu::variant(
                &out,
                ("gelu_forward", GELU_FORWARD_SHADER),
                ("gelu_forward_f16", GELU_FORWARD_F16_SHADER),
            ),
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
        use crate::ops::gelu_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
            // Mostly |x| < 4 where the curve bends, plus a few large values that exercise the tanh clamp.
            let mut inp: Vec<f32> = rng.vec(n).iter().map(|x| 4.0 * x).collect();
            for (i, x) in inp.iter_mut().enumerate().step_by(17) {
                *x = [30.0, -30.0, 1e3, -1e3][i % 4];
            }
            let mut out = vec![0.0; n];
            let out_buf = gpu.upload("out", &vec![f32::NAN; n]);
            let inp_buf = gpu.upload("inp", &inp);
            gelu_forward_cpu(&mut out, &inp, n);
            let mut plan = Plan::new();
            gelu_forward_gpu(gpu, &mut plan, (&out_buf).into(), (&inp_buf).into(), n);
            pollster::block_on(plan.run(gpu)).expect("gelu_forward dispatch");
            // The GPU's tanh is not Rust's (WGSL allows a few ulp): the standard tolerance.
            let out_gpu = pollster::block_on(gpu.read(&out_buf, n)).expect("readback");
            assert_close(
                &out_gpu,
                &out,
                1e-5,
                1e-4,
                &format!("gelu_forward out N={n}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("gelu_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(31);
            check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
            check(gpu, &mut rng, 2 * 7 * 4 * 12); // the MLP's hidden size 4C
            check(gpu, &mut rng, 1);
        }

        /// The f16 build against the CPU reference evaluated with f16 rounding (inputs and output rounded):
        /// within one f16 ulp (F16_RTOL) plus 1e-4 for the GPU's tanh.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{F16_RTOL, gpu_f16_or_skip, round_f16};
            let Some(gpu) = gpu_f16_or_skip("gelu_forward f16") else {
                return;
            };
            let mut rng = TestRng::new(33);
            for n in [2 * 7 * 12, 2 * 7 * 48 + 1, 1] {
                let inp = round_f16(&rng.vec(n).iter().map(|x| 4.0 * x).collect::<Vec<_>>());
                let mut out = vec![0.0; n];
                gelu_forward_cpu(&mut out, &inp, n);
                let out = round_f16(&out);
                let out_buf = gpu.zeros_f16("out", n);
                let inp_buf = gpu.upload_f16("inp", &inp);
                let mut plan = Plan::new();
                gelu_forward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&out_buf),
                    View::all_f16(&inp_buf),
                    n,
                );
                pollster::block_on(plan.run(gpu)).expect("gelu_forward_f16 dispatch");
                let out_gpu = pollster::block_on(gpu.read_f16(&out_buf, n)).expect("readback");
                assert_close(
                    &out_gpu,
                    &out,
                    1e-4,
                    F16_RTOL,
                    &format!("gelu_forward f16 N={n}"),
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("gelu_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(32);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b * t * c);
            }
        }
    }
}
