//! gelu_backward: derivative of the tanh-approximated GELU. dinp is assigned.

use super::float::Float;
use super::gelu_forward::{GELU_CUBE, GELU_SCALE};
use super::parallel::{multiversion, par_chunks};

/// dinp (N) = gelu'(inp (N)) * dout (N).
pub fn gelu_backward_cpu<R: Float>(dinp: &mut [R], inp: &[R], dout: &[R], n: usize) {
    let (s, k, half) = (
        R::from_f64(GELU_SCALE),
        R::from_f64(GELU_CUBE),
        R::from_f64(0.5),
    );
    let three = R::from_f64(3.0);
    for i in 0..n {
        let x = inp[i];
        let th = (s * (x + k * x * x * x)).tanh();
        let sech2 = R::ONE - th * th;
        let local = half * (R::ONE + th) + half * x * sech2 * s * (R::ONE + three * k * x * x);
        dinp[i] = local * dout[i];
    }
}

/// The same derivative with [`Float::tanh_fast`], in parallel pieces: the version the model uses.
pub fn gelu_backward_fast_cpu<R: Float>(dinp: &mut [R], inp: &[R], dout: &[R], n: usize) {
    const PIECE: usize = 1 << 14;
    par_chunks(&mut dinp[..n], PIECE, |i, dinp| {
        let range = i * PIECE..i * PIECE + dinp.len();
        let (inp, dout) = (&inp[range.clone()], &dout[range]);
        // The wasm module (built for size, not vectorized by the compiler) takes the simd128 version, same bits.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if super::simd128::enabled()
            && let (Some(d32), Some(x32), Some(g32)) = (
                super::float::as_f32_mut(dinp),
                super::float::as_f32(inp),
                super::float::as_f32(dout),
            )
        {
            let done = super::simd128::gelu_backward(d32, x32, g32);
            gelu_backward_piece(&mut dinp[done..], &inp[done..], &dout[done..]);
            return;
        }
        gelu_backward_piece(dinp, inp, dout);
    });
}

multiversion! {
/// dinp (n) = gelu'(inp (n)) * dout (n) with the fast tanh.
fn gelu_backward_piece<R: Float>(dinp: &mut [R], inp: &[R], dout: &[R]) {
    let n = dinp.len();
    let (s, k, half) = (
        R::from_f64(GELU_SCALE),
        R::from_f64(GELU_CUBE),
        R::from_f64(0.5),
    );
    let three = R::from_f64(3.0);
    for ((d, &x), &g) in dinp[..n].iter_mut().zip(&inp[..n]).zip(&dout[..n]) {
        let th = (s * (x + k * x * x * x)).tanh_fast();
        let sech2 = R::ONE - th * th;
        *d = (half * (R::ONE + th) + half * x * sech2 * s * (R::ONE + three * k * x * x)) * g;
    }
}
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gelu_forward::gelu_forward_cpu;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let n = 2 * 7 * 12 * 4;
        let mut rng = TestRng::new(61);
        let inp: Vec<f64> = rng.vec_f64(n).iter().map(|x| 4.0 * x).collect();
        let w = rng.vec_f64(n);
        let mut dinp = vec![f64::NAN; n];
        gelu_backward_cpu(&mut dinp, &inp, &w, n);
        check_gradient("gelu dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; n];
            gelu_forward_cpu(&mut out, x, n);
            dot(&out, &w)
        });
    }

    #[test]
    fn fast_versions_match_the_reference_in_f32() {
        use crate::ops::gelu_forward::gelu_forward_fast_cpu;
        use crate::ops::testing::{TestRng, assert_close};
        let n = 10_000;
        let mut rng = TestRng::new(3);
        let inp: Vec<f32> = rng.vec(n).iter().map(|x| 8.0 * x).collect();
        let dout = rng.vec(n);
        let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
        gelu_forward_cpu(&mut a, &inp, n);
        gelu_forward_fast_cpu(&mut b, &inp, n);
        // |x| <= 8 times the tanh error (2e-7) plus f32 rounding of values up to 8.
        assert_close(&b, &a, 3e-6, 1e-6, "gelu fast forward");
        gelu_backward_cpu(&mut a, &inp, &dout, n);
        gelu_backward_fast_cpu(&mut b, &inp, &dout, n);
        assert_close(&b, &a, 3e-6, 1e-5, "gelu fast backward");
    }

    #[test]
    fn forward_has_known_values() {
        let mut out = [0.0f64; 3];
        gelu_forward_cpu(&mut out, &[0.0, 1.0, -1.0], 3);
        // PyTorch: F.gelu(torch.tensor([1.0, -1.0], dtype=float64), approximate="tanh")
        assert_eq!(out[0], 0.0);
        assert!(
            (out[1] - 0.841_191_990_608_276_8).abs() < 1e-12,
            "{}",
            out[1]
        );
        assert!(
            (out[2] + 0.158_808_009_391_723_24).abs() < 1e-12,
            "{}",
            out[2]
        );
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/gelu_backward.wgsl`.
    pub const GELU_BACKWARD_SHADER: &str = shader!("gelu_backward");

    /// Its f16 build (f16 storage, f32 arithmetic), generated from the same file by `crate/build.rs`.
    pub const GELU_BACKWARD_F16_SHADER: &str = shader!("gelu_backward_f16");

    /// Adds the kernel to `plan`: dinp (N) = gelu'(inp (N)) * dout (N) (assigned).
    pub fn gelu_backward_gpu(
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
            crate::gpu::variant(
                &dinp,
                ("gelu_backward", GELU_BACKWARD_SHADER),
                ("gelu_backward_f16", GELU_BACKWARD_F16_SHADER),
            ),
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
        use crate::ops::gelu_backward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize) {
            // Mostly |x| < 4 where the curve bends, plus a few large values that exercise the tanh clamp.
            let mut inp: Vec<f32> = rng.vec(n).iter().map(|x| 4.0 * x).collect();
            for (i, x) in inp.iter_mut().enumerate().step_by(17) {
                *x = [30.0, -30.0, 1e3, -1e3][i % 4];
            }
            let dout = rng.vec(n);
            let mut dinp = vec![0.0; n];
            let dinp_buf = gpu.upload("dinp", &vec![f32::NAN; n]);
            let inp_buf = gpu.upload("inp", &inp);
            let dout_buf = gpu.upload("dout", &dout);
            gelu_backward_cpu(&mut dinp, &inp, &dout, n);
            let mut plan = Plan::new();
            gelu_backward_gpu(
                gpu,
                &mut plan,
                (&dinp_buf).into(),
                (&inp_buf).into(),
                (&dout_buf).into(),
                n,
            );
            pollster::block_on(plan.run(gpu)).expect("gelu_backward dispatch");
            // The GPU's tanh is not Rust's (WGSL allows a few ulp): the standard tolerance.
            let dinp_gpu = pollster::block_on(gpu.read(&dinp_buf, n)).expect("readback");
            assert_close(
                &dinp_gpu,
                &dinp,
                1e-5,
                1e-4,
                &format!("gelu_backward dinp N={n}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("gelu_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(41);
            check(gpu, &mut rng, 2 * 7 * 12); // B=2, T=7, C=12
            check(gpu, &mut rng, 2 * 7 * 4 * 12); // the MLP's hidden size 4C
            check(gpu, &mut rng, 1);
        }

        /// The f16 build against the CPU reference evaluated with f16 rounding (inputs and output rounded):
        /// within one f16 ulp (F16_RTOL) plus 1e-4 for the GPU's tanh.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{F16_RTOL, gpu_f16_or_skip, round_f16};
            let Some(gpu) = gpu_f16_or_skip("gelu_backward f16") else {
                return;
            };
            let mut rng = TestRng::new(43);
            for n in [2 * 7 * 12, 2 * 7 * 48 + 1, 1] {
                let inp = round_f16(&rng.vec(n).iter().map(|x| 4.0 * x).collect::<Vec<_>>());
                let dout = round_f16(&rng.vec(n));
                let mut dinp = vec![0.0; n];
                gelu_backward_cpu(&mut dinp, &inp, &dout, n);
                let dinp = round_f16(&dinp);
                let dinp_buf = gpu.zeros_f16("dinp", n);
                let inp_buf = gpu.upload_f16("inp", &inp);
                let dout_buf = gpu.upload_f16("dout", &dout);
                let mut plan = Plan::new();
                gelu_backward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&dinp_buf),
                    View::all_f16(&inp_buf),
                    View::all_f16(&dout_buf),
                    n,
                );
                pollster::block_on(plan.run(gpu)).expect("gelu_backward_f16 dispatch");
                let dinp_gpu = pollster::block_on(gpu.read_f16(&dinp_buf, n)).expect("readback");
                assert_close(
                    &dinp_gpu,
                    &dinp,
                    1e-4,
                    F16_RTOL,
                    &format!("gelu_backward f16 N={n}"),
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("gelu_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(42);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b * t * c);
            }
        }
    }
}
