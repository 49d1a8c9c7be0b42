//! layernorm_forward: normalise each position's vector to mean 0 and variance 1, then scale and shift.
//!
//! Intuition: keeps the scale of the residual stream in check so every block sees inputs of the same size.
//! The mean and reciprocal standard deviation of every row are outputs: the backward pass and the page's
//! introspection both read them.

use super::float::Float;
use super::parallel::{multiversion, par_chunks3, rows_per_piece, sum_lanes};

/// PyTorch's default, used by nanoGPT.
pub const LAYERNORM_EPS: f64 = 1e-5;

/// out (B, T, C) = (inp - mean) * rstd * weight (C) + bias (C);  mean (B, T), rstd (B, T) = 1/sqrt(var + eps)
/// with the biased variance (divided by C), as `torch.nn.LayerNorm`.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward_cpu<R: Float>(
    out: &mut [R],
    mean: &mut [R],
    rstd: &mut [R],
    inp: &[R],
    weight: &[R],
    bias: Option<&[R]>,
    b: usize,
    t: usize,
    c: usize,
) {
    let eps = R::from_f64(LAYERNORM_EPS);
    let inv_c = R::ONE / R::from_usize(c);
    for bt in 0..b * t {
        let x = &inp[bt * c..(bt + 1) * c];
        let m = x.iter().copied().sum::<R>() * inv_c;
        let var = x.iter().map(|&xi| (xi - m) * (xi - m)).sum::<R>() * inv_c;
        let s = R::ONE / (var + eps).sqrt();
        let o = &mut out[bt * c..(bt + 1) * c];
        for i in 0..c {
            o[i] = (x[i] - m) * s * weight[i] + bias.map_or(R::ZERO, |bias| bias[i]);
        }
        mean[bt] = m;
        rstd[bt] = s;
    }
}

/// The fast CPU version, same contract as [`layernorm_forward_cpu`]: rows in parallel pieces, each row's sums
/// in 8 interleaved partial sums so they vectorize (the reference adds in order). The model's version.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward_fast_cpu<R: Float>(
    out: &mut [R],
    mean: &mut [R],
    rstd: &mut [R],
    inp: &[R],
    weight: &[R],
    bias: Option<&[R]>,
    b: usize,
    t: usize,
    c: usize,
) {
    let rows = rows_per_piece(c, 1 << 14);
    par_chunks3(
        (&mut out[..b * t * c], rows * c),
        (&mut mean[..b * t], rows),
        (&mut rstd[..b * t], rows),
        |piece, out, mean, rstd| {
            let first = piece * rows;
            let inp = &inp[first * c..(first + mean.len()) * c];
            // The wasm module (built for size, not vectorized by the compiler) takes the simd128 version, same bits.
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if super::simd128::enabled()
                && let (Some(o), Some(m), Some(s), Some(x), Some(w)) = (
                    super::float::as_f32_mut(out),
                    super::float::as_f32_mut(mean),
                    super::float::as_f32_mut(rstd),
                    super::float::as_f32(inp),
                    super::float::as_f32(weight),
                )
            {
                // R is f32 here, so the bias is too.
                let bias = bias.and_then(super::float::as_f32);
                let eps = LAYERNORM_EPS as f32;
                super::simd128::layernorm_rows(o, m, s, x, &w[..c], bias, c, eps);
                return;
            }
            layernorm_rows(out, mean, rstd, inp, &weight[..c], bias.map(|x| &x[..c]), c);
        },
    );
}

multiversion! {
/// Rows of [`layernorm_forward_fast_cpu`]: out (rows, C), mean (rows), rstd (rows) from inp (rows, C).
fn layernorm_rows<R: Float>(
    out: &mut [R],
    mean: &mut [R],
    rstd: &mut [R],
    inp: &[R],
    weight: &[R],
    bias: Option<&[R]>,
    c: usize,
) {
    let eps = R::from_f64(LAYERNORM_EPS);
    let inv_c = R::ONE / R::from_usize(c);
    for (row, ((o, m_out), s_out)) in out
        .chunks_exact_mut(c)
        .zip(mean.iter_mut())
        .zip(rstd.iter_mut())
        .enumerate()
    {
        let x = &inp[row * c..(row + 1) * c];
        let m = sum_lanes(x, |xi| xi) * inv_c;
        let var = sum_lanes(x, |xi| (xi - m) * (xi - m)) * inv_c;
        let s = R::ONE / (var + eps).sqrt();
        match bias {
            Some(bias) => {
                for (((o, &xi), &w), &bi) in o.iter_mut().zip(x).zip(weight).zip(bias) {
                    *o = (xi - m) * s * w + bi;
                }
            }
            None => {
                for ((o, &xi), &w) in o.iter_mut().zip(x).zip(weight) {
                    *o = (xi - m) * s * w;
                }
            }
        }
        *m_out = m;
        *s_out = s;
    }
}
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod fast_tests {
    use super::*;
    use crate::ops::testing::{TestRng, assert_close, on_threads};

    #[test]
    fn fast_matches_the_reference_on_one_and_several_threads() {
        let mut rng = TestRng::new(42);
        // Awkward widths (not multiples of 8), one row, and enough rows for several pieces.
        for &(b, t, c) in &[(2, 7, 12), (1, 1, 3), (3, 5, 37), (4, 300, 64)] {
            for with_bias in [true, false] {
                let inp: Vec<f32> = rng.vec(b * t * c).iter().map(|x| 3.0 * x + 0.5).collect();
                let (w, bias) = (rng.vec(c), with_bias.then(|| rng.vec(c)));
                let n = b * t;
                let (mut out, mut mean, mut rstd) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
                layernorm_forward_cpu(
                    &mut out,
                    &mut mean,
                    &mut rstd,
                    &inp,
                    &w,
                    bias.as_deref(),
                    b,
                    t,
                    c,
                );
                let run = |threads| {
                    on_threads(threads, || {
                        let (mut o, mut m, mut s) =
                            (vec![f32::NAN; n * c], vec![f32::NAN; n], vec![f32::NAN; n]);
                        layernorm_forward_fast_cpu(
                            &mut o,
                            &mut m,
                            &mut s,
                            &inp,
                            &w,
                            bias.as_deref(),
                            b,
                            t,
                            c,
                        );
                        (o, m, s)
                    })
                };
                let (o1, m1, s1) = run(1);
                let what = format!("layernorm B={b} T={t} C={c} bias={with_bias}");
                // Sums of C values reordered into 8 lanes: a few ulps of values of size 1-4.
                assert_close(&o1, &out, 1e-5, 1e-5, &what);
                assert_close(&m1, &mean, 1e-6, 1e-6, &what);
                assert_close(&s1, &rstd, 1e-6, 1e-5, &what);
                assert!(
                    run(3) == (o1, m1, s1),
                    "{what}: three threads differ from one"
                );
            }
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/layernorm_forward.wgsl`.
    pub const LAYERNORM_FORWARD_SHADER: &str = shader!("layernorm_forward");

    /// Its f16 build (out, inp, weight, bias f16; sums, mean and rstd f32), generated by `crate/build.rs`.
    pub const LAYERNORM_FORWARD_F16_SHADER: &str = shader!("layernorm_forward_f16");

    /// Sizes for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        rows: u32,
        c: u32,
        has_bias: u32,
        eps: f32,
    }

    /// Invocations per workgroup, one workgroup per row (the `WG` override; a power of two for the tree).
    const WG: u32 = 64;

    /// Adds the kernel to `plan`: out (B, T, C), mean (B, T), rstd (B, T) from inp (B, T, C),
    /// weight (C) and bias (C).
    #[allow(clippy::too_many_arguments)]
    pub fn layernorm_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        mean: View,
        rstd: View,
        inp: View,
        weight: View,
        bias: Option<View>,
        b: usize,
        t: usize,
        c: usize,
    ) {
        // out, inp, weight and bias share the element type; mean and rstd are f32 in both builds.
        let (label, source) = crate::gpu::variant(
            &out,
            ("layernorm_forward", LAYERNORM_FORWARD_SHADER),
            ("layernorm_forward_f16", LAYERNORM_FORWARD_F16_SHADER),
        );
        let kernel = gpu.kernel(
            label,
            source,
            &[
                Access::Uniform,   // params: rows = B*T, C, has_bias, eps
                Access::ReadWrite, // out (B, T, C)
                Access::ReadWrite, // mean (B, T)
                Access::ReadWrite, // rstd (B, T)
                Access::Read,      // inp (B, T, C)
                Access::Read,      // weight (C)
                Access::Read,      // bias (C) or the placeholder
            ],
            &[("WG", f64::from(WG))],
        );
        let params = Params {
            rows: (b * t) as u32,
            c: c as u32,
            has_bias: u32::from(bias.is_some()),
            eps: LAYERNORM_EPS as f32,
        };
        assert!(
            [inp, weight]
                .iter()
                .chain(&bias)
                .all(|v| v.elem == out.elem)
                && !mean.is_f16()
                && !rstd.is_f16(),
            "layernorm_forward: out, inp, weight and bias share one element type, mean and rstd are f32"
        );
        let bias = bias.unwrap_or(View::all(gpu.placeholder()));
        let workgroups = gpu.grid_1d((b * t) as u32);
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, mean, rstd, inp, weight, bias],
            workgroups,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            c: usize,
            with_bias: bool,
        ) {
            check_elem(gpu, rng, b, t, c, with_bias, false);
        }

        /// With `f16`, the f16 build against the reference evaluated with f16 rounding: inputs rounded to f16,
        /// out rounded again and compared within one f16 ulp (F16_RTOL) + 1e-3 (a normalised value near zero),
        /// mean and rstd (f32 in both builds) with the standard tolerance.
        fn check_elem(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            c: usize,
            with_bias: bool,
            f16: bool,
        ) {
            use crate::gpu::testing::{F16_RTOL, round_f16};
            let round = |x: Vec<f32>| if f16 { round_f16(&x) } else { x };
            let upload = |label: &str, data: &[f32]| {
                if f16 {
                    gpu.upload_f16(label, data)
                } else {
                    gpu.upload(label, data)
                }
            };
            let view = |buffer| {
                if f16 {
                    View::all_f16(buffer)
                } else {
                    View::all(buffer)
                }
            };
            // An offset and a scale per row, so the mean and the variance both matter.
            let mut inp = rng.vec(b * t * c);
            for row in inp.chunks_mut(c.max(1)) {
                let (shift, scale) = (3.0 * rng.uniform(), 1.5 + rng.uniform());
                row.iter_mut().for_each(|x| *x = shift + scale * *x);
            }
            let inp = round(inp);
            let weight = round(rng.vec(c));
            let bias = with_bias.then(|| round(rng.vec(c)));
            let (mut out, mut mean, mut rstd) =
                (vec![0.0; b * t * c], vec![0.0; b * t], vec![0.0; b * t]);
            layernorm_forward_cpu(
                &mut out,
                &mut mean,
                &mut rstd,
                &inp,
                &weight,
                bias.as_deref(),
                b,
                t,
                c,
            );
            let out_buf = upload("out", &vec![f32::NAN; b * t * c]);
            let mean_buf = gpu.upload("mean", &vec![f32::NAN; b * t]);
            let rstd_buf = gpu.upload("rstd", &vec![f32::NAN; b * t]);
            let inp_buf = upload("inp", &inp);
            let weight_buf = upload("weight", &weight);
            let bias_buf = bias.as_ref().map(|bias| upload("bias", bias));
            let mut plan = Plan::new();
            layernorm_forward_gpu(
                gpu,
                &mut plan,
                view(&out_buf),
                (&mean_buf).into(),
                (&rstd_buf).into(),
                view(&inp_buf),
                view(&weight_buf),
                bias_buf.as_ref().map(view),
                b,
                t,
                c,
            );
            pollster::block_on(plan.run(gpu)).expect("layernorm_forward dispatch");
            let what = format!("layernorm_forward B={b} T={t} C={c} bias={with_bias} f16={f16}");
            if f16 {
                let out_gpu =
                    pollster::block_on(gpu.read_f16(&out_buf, b * t * c)).expect("readback");
                assert_close(
                    &out_gpu,
                    &round_f16(&out),
                    1e-3,
                    F16_RTOL,
                    &format!("{what}: out"),
                );
                for (buf, expected, name) in
                    [(&mean_buf, &mean, "mean"), (&rstd_buf, &rstd, "rstd")]
                {
                    let actual =
                        pollster::block_on(gpu.read(buf, expected.len())).expect("readback");
                    assert_close(&actual, expected, 1e-5, 1e-4, &format!("{what}: {name}"));
                }
                return;
            }
            // Sums of C values in a tree instead of a line: a few ulp apart, inside the standard tolerance.
            for (buf, expected, name) in [
                (&out_buf, &out, "out"),
                (&mean_buf, &mean, "mean"),
                (&rstd_buf, &rstd, "rstd"),
            ] {
                let actual = pollster::block_on(gpu.read(buf, expected.len())).expect("readback");
                assert_close(&actual, expected, 1e-5, 1e-4, &format!("{what}: {name}"));
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("layernorm_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(121);
            check(gpu, &mut rng, 2, 7, 12, true);
            check(gpu, &mut rng, 2, 7, 12, false);
            // More channels than invocations (each strides over several), and a single channel.
            check(gpu, &mut rng, 2, 7, 200, true);
            check(gpu, &mut rng, 1, 3, 1, true);
        }

        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            let Some(gpu) = crate::gpu::testing::gpu_f16_or_skip("layernorm_forward f16") else {
                return;
            };
            let mut rng = TestRng::new(123);
            check_elem(gpu, &mut rng, 2, 7, 12, true, true);
            check_elem(gpu, &mut rng, 2, 7, 12, false, true);
            check_elem(gpu, &mut rng, 2, 7, 200, true, true);
            check_elem(gpu, &mut rng, 1, 3, 1, true, true);
            check_elem(gpu, &mut rng, 3, 5, 37, true, true);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("layernorm_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(122);
            for k in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b, t, c, k % 2 == 0);
            }
        }
    }
}
