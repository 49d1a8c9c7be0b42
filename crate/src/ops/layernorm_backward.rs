//! layernorm_backward: gradients of LayerNorm through its saved mean and rstd.
//!
//! Intuition: normalising removes the mean and the scale of a row, so the gradient reaching the input has
//! the components along "shift everything" and "scale everything" projected out.
//!
//! `dinp` ACCUMULATES (`+=`): a LayerNorm's input is the residual stream, whose gradient already holds the
//! contribution of the skip connection. `dweight` and `dbias` accumulate as every parameter gradient.

use super::float::Float;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::float::{as_f32, as_f32_mut};
use super::parallel::{multiversion, par_chunks, rows_per_piece};

/// dinp (B, T, C) += ...;  dweight (C) += sum dout * norm;  dbias (C) += sum dout,
/// where norm = (inp - mean) * rstd, from the forward's mean (B, T) and rstd (B, T).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward_cpu<R: Float>(
    dinp: &mut [R],
    dweight: &mut [R],
    mut dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    mean: &[R],
    rstd: &[R],
    b: usize,
    t: usize,
    c: usize,
) {
    let inv_c = R::ONE / R::from_usize(c);
    for bt in 0..b * t {
        let x = &inp[bt * c..(bt + 1) * c];
        let g = &dout[bt * c..(bt + 1) * c];
        let (m, s) = (mean[bt], rstd[bt]);
        // Two reductions: the mean of dnorm and the mean of dnorm * norm.
        let mut dnorm_mean = R::ZERO;
        let mut dnorm_norm_mean = R::ZERO;
        for i in 0..c {
            let norm = (x[i] - m) * s;
            let dnorm = weight[i] * g[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean *= inv_c;
        dnorm_norm_mean *= inv_c;
        let dx = &mut dinp[bt * c..(bt + 1) * c];
        for i in 0..c {
            let norm = (x[i] - m) * s;
            let dnorm = weight[i] * g[i];
            dweight[i] += norm * g[i];
            if let Some(dbias) = dbias.as_deref_mut() {
                dbias[i] += g[i];
            }
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

/// The fast CPU version, same contract as [`layernorm_backward_cpu`], in two parallel passes: dinp by pieces
/// of rows (each row's two reductions in interleaved partial sums), then dweight and dbias by pieces of 16
/// columns, each summing its columns over all rows in order (one writer per value, whatever the threads).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward_fast_cpu<R: Float>(
    dinp: &mut [R],
    dweight: &mut [R],
    dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    mean: &[R],
    rstd: &[R],
    b: usize,
    t: usize,
    c: usize,
) {
    let n = b * t;
    let rows = rows_per_piece(c, 1 << 14);
    par_chunks(&mut dinp[..n * c], rows * c, |piece, dx| {
        let first = piece * rows;
        let count = dx.len() / c.max(1);
        let range = first * c..(first + count) * c;
        // The wasm module (built for size, not vectorized by the compiler) takes the simd128 version, same bits.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if super::simd128::enabled()
            && let (Some(dx), Some(g), Some(x), Some(w), Some(m), Some(s)) = (
                as_f32_mut(dx),
                as_f32(&dout[range.clone()]),
                as_f32(&inp[range.clone()]),
                as_f32(&weight[..c]),
                as_f32(&mean[first..first + count]),
                as_f32(&rstd[first..first + count]),
            )
        {
            super::simd128::layernorm_dinp_rows(dx, g, x, w, m, s, c);
            return;
        }
        layernorm_dinp_rows(
            dx,
            &dout[range.clone()],
            &inp[range],
            &weight[..c],
            &mean[first..first + count],
            &rstd[first..first + count],
            c,
        );
    });
    const COLS: usize = 16;
    par_chunks(&mut dweight[..c], COLS, |piece, dw| {
        let col = piece * COLS;
        for bt in 0..n {
            let (m, s) = (mean[bt], rstd[bt]);
            let x = &inp[bt * c + col..][..dw.len()];
            let g = &dout[bt * c + col..][..dw.len()];
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if super::simd128::enabled()
                && let (Some(dw), Some(x), Some(g), Some(m), Some(s)) = (
                    as_f32_mut(dw),
                    as_f32(x),
                    as_f32(g),
                    as_f32(std::slice::from_ref(&m)),
                    as_f32(std::slice::from_ref(&s)),
                )
            {
                super::simd128::layernorm_dweight_row(dw, x, g, m[0], s[0]);
                continue;
            }
            for ((d, &xi), &gi) in dw.iter_mut().zip(x).zip(g) {
                *d += (xi - m) * s * gi;
            }
        }
    });
    if let Some(dbias) = dbias {
        par_chunks(&mut dbias[..c], COLS, |piece, db| {
            let col = piece * COLS;
            let cols = db.len();
            for bt in 0..n {
                for (d, &gi) in db.iter_mut().zip(&dout[bt * c + col..][..cols]) {
                    *d += gi;
                }
            }
        });
    }
}

multiversion! {
/// Rows of [`layernorm_backward_fast_cpu`]: dx (rows, C) += the input gradient.
fn layernorm_dinp_rows<R: Float>(
    dx: &mut [R],
    dout: &[R],
    inp: &[R],
    weight: &[R],
    mean: &[R],
    rstd: &[R],
    c: usize,
) {
    let inv_c = R::ONE / R::from_usize(c);
    for (row, dx) in dx.chunks_exact_mut(c).enumerate() {
        let (x, g) = (&inp[row * c..(row + 1) * c], &dout[row * c..(row + 1) * c]);
        let (m, s) = (mean[row], rstd[row]);
        let mut dnorm_mean = R::ZERO;
        let mut dnorm_norm_mean = R::ZERO;
        // The two reductions, 8 lanes each.
        let (mut acc1, mut acc2) = ([R::ZERO; 8], [R::ZERO; 8]);
        let (cx, cg, cw) = (x.chunks_exact(8), g.chunks_exact(8), weight.chunks_exact(8));
        for ((&xi, &gi), &wi) in cx.remainder().iter().zip(cg.remainder()).zip(cw.remainder()) {
            let dnorm = wi * gi;
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * ((xi - m) * s);
        }
        for ((xs, gs), ws) in cx.zip(cg).zip(cw) {
            for i in 0..8 {
                let dnorm = ws[i] * gs[i];
                acc1[i] += dnorm;
                acc2[i] += dnorm * ((xs[i] - m) * s);
            }
        }
        for i in 0..8 {
            dnorm_mean += acc1[i];
            dnorm_norm_mean += acc2[i];
        }
        dnorm_mean *= inv_c;
        dnorm_norm_mean *= inv_c;
        for (((d, &xi), &gi), &wi) in dx.iter_mut().zip(x).zip(g).zip(weight) {
            let norm = (xi - m) * s;
            *d += (wi * gi - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod fast_tests {
    use super::*;
    use crate::ops::testing::{TestRng, assert_close, on_threads};

    #[test]
    fn fast_matches_the_reference_on_one_and_several_threads() {
        let mut rng = TestRng::new(43);
        for &(b, t, c) in &[(2, 7, 12), (1, 1, 3), (3, 5, 37), (4, 300, 64)] {
            for with_bias in [true, false] {
                let n = b * t;
                let (inp, dout, w) = (rng.vec(n * c), rng.vec(n * c), rng.vec(c));
                let mean = rng.vec(n);
                let rstd: Vec<f32> = rng.vec(n).iter().map(|x| 1.5 + x).collect();
                // Everything accumulates: start from non-zero gradients.
                let start = (rng.vec(n * c), rng.vec(c), rng.vec(c));
                let mut want = start.clone();
                let db = with_bias.then_some(&mut want.2[..]);
                layernorm_backward_cpu(
                    &mut want.0,
                    &mut want.1,
                    db,
                    &dout,
                    &inp,
                    &w,
                    &mean,
                    &rstd,
                    b,
                    t,
                    c,
                );
                let run = |threads| {
                    on_threads(threads, || {
                        let mut got = start.clone();
                        let db = with_bias.then_some(&mut got.2[..]);
                        layernorm_backward_fast_cpu(
                            &mut got.0, &mut got.1, db, &dout, &inp, &w, &mean, &rstd, b, t, c,
                        );
                        got
                    })
                };
                let got = run(1);
                let what = format!("layernorm backward B={b} T={t} C={c} bias={with_bias}");
                // dweight sums up to 1200 products of values in [-2.5, 2.5] in another order.
                assert_close(&got.0, &want.0, 1e-5, 1e-5, &format!("dinp, {what}"));
                assert_close(&got.1, &want.1, 1e-4, 1e-5, &format!("dweight, {what}"));
                assert_close(&got.2, &want.2, 1e-4, 1e-5, &format!("dbias, {what}"));
                assert!(run(3) == got, "{what}: three threads differ from one");
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::layernorm_forward::layernorm_forward_cpu;
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, c) = (2, 7, 12);
        let mut rng = TestRng::new(41);
        let (inp, weight, bias, w) = (
            rng.vec_f64(b * t * c),
            rng.vec_f64(c),
            rng.vec_f64(c),
            rng.vec_f64(b * t * c),
        );
        let loss = |inp: &[f64], weight: &[f64], bias: &[f64]| {
            let (mut out, mut mean, mut rstd) =
                (vec![0.0; b * t * c], vec![0.0; b * t], vec![0.0; b * t]);
            layernorm_forward_cpu(
                &mut out,
                &mut mean,
                &mut rstd,
                inp,
                weight,
                Some(bias),
                b,
                t,
                c,
            );
            dot(&out, &w)
        };
        let (mut out, mut mean, mut rstd) =
            (vec![0.0; b * t * c], vec![0.0; b * t], vec![0.0; b * t]);
        layernorm_forward_cpu(
            &mut out,
            &mut mean,
            &mut rstd,
            &inp,
            &weight,
            Some(&bias),
            b,
            t,
            c,
        );
        // dinp accumulates: start it at 1 and subtract that afterwards.
        let mut dinp = vec![1.0; b * t * c];
        let (mut dweight, mut dbias) = (vec![0.0; c], vec![0.0; c]);
        layernorm_backward_cpu(
            &mut dinp,
            &mut dweight,
            Some(&mut dbias),
            &w,
            &inp,
            &weight,
            &mean,
            &rstd,
            b,
            t,
            c,
        );
        let dinp: Vec<f64> = dinp.iter().map(|d| d - 1.0).collect();
        check_gradient("layernorm dinp", &inp, &dinp, |x| loss(x, &weight, &bias));
        check_gradient("layernorm dweight", &weight, &dweight, |x| {
            loss(&inp, x, &bias)
        });
        check_gradient("layernorm dbias", &bias, &dbias, |x| loss(&inp, &weight, x));
    }

    #[test]
    fn forward_normalises_rows() {
        let (b, t, c) = (1, 2, 4);
        let inp = [1.0f64, 2.0, 3.0, 4.0, -2.0, 0.0, 2.0, 4.0];
        let (mut out, mut mean, mut rstd) = (vec![0.0; 8], vec![0.0; 2], vec![0.0; 2]);
        layernorm_forward_cpu(
            &mut out, &mut mean, &mut rstd, &inp, &[1.0; 4], None, b, t, c,
        );
        assert_eq!(mean, [2.5, 1.0]);
        assert!((rstd[0] - 1.0 / (1.25f64 + 1e-5).sqrt()).abs() < 1e-12);
        for row in out.chunks(4) {
            let m: f64 = row.iter().sum::<f64>() / 4.0;
            let v: f64 = row.iter().map(|x| x * x).sum::<f64>() / 4.0;
            assert!(
                m.abs() < 1e-12 && (v - 1.0).abs() < 1e-4,
                "mean {m} var {v}"
            );
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL sources: `shaders/layernorm_backward.wgsl` (dinp, one workgroup per row) and
    /// `shaders/layernorm_backward_dweight.wgsl` (dweight and dbias, a reduction over rows per channel).
    pub const LAYERNORM_BACKWARD_SHADER: &str = shader!("layernorm_backward");

    /// Its f16 build (dinp, dout, inp and weight f16; mean, rstd and the sums f32), generated from the same file by `crate/build.rs`.
    pub const LAYERNORM_BACKWARD_F16_SHADER: &str = shader!("layernorm_backward_f16");

    pub const LAYERNORM_BACKWARD_DWEIGHT_SHADER: &str = shader!("layernorm_backward_dweight");

    /// Its f16 build (dout and inp f16; dweight, dbias and the sums f32), generated from the same file by `crate/build.rs`.
    pub const LAYERNORM_BACKWARD_DWEIGHT_F16_SHADER: &str =
        shader!("layernorm_backward_dweight_f16");

    /// Sizes for the shaders; field for field their WGSL `Params` structs (`has_bias` unused by dinp).
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        rows: u32,
        c: u32,
        has_bias: u32,
        _pad: u32,
    }

    /// Invocations per workgroup of the dinp kernel, one workgroup per row (a power of two for the tree).
    const WG: u32 = 64;

    /// The dweight kernel's workgroup: CX channels by RY row lanes (RY a power of two for the tree).
    const CX: u32 = 16;

    const RY: u32 = 16;

    /// Adds the kernels to `plan`: dinp (B, T, C) +=, dweight (C) +=, dbias (C) += from dout (B, T, C),
    /// inp (B, T, C), weight (C) and the forward's mean (B, T) and rstd (B, T). Two dispatches: the input
    /// gradient row by row, then the parameter gradients reduced over rows channel by channel (race-free).
    #[allow(clippy::too_many_arguments)]
    pub fn layernorm_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        dweight: View,
        dbias: Option<View>,
        dout: View,
        inp: View,
        weight: View,
        mean: View,
        rstd: View,
        b: usize,
        t: usize,
        c: usize,
    ) {
        let params = Params {
            rows: (b * t) as u32,
            c: c as u32,
            has_bias: u32::from(dbias.is_some()),
            _pad: 0,
        };
        let kernel = gpu.kernel_variant(
            &dout,
            ("layernorm_backward", LAYERNORM_BACKWARD_SHADER),
            ("layernorm_backward_f16", LAYERNORM_BACKWARD_F16_SHADER),
            &[
                Access::Uniform,   // params: rows = B*T, C
                Access::ReadWrite, // dinp (B, T, C), accumulated
                Access::Read,      // dout (B, T, C)
                Access::Read,      // inp (B, T, C)
                Access::Read,      // weight (C)
                Access::Read,      // mean (B, T)
                Access::Read,      // rstd (B, T)
            ],
            &[("WG", f64::from(WG))],
        );
        let workgroups = gpu.grid_1d((b * t) as u32);
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[dinp, dout, inp, weight, mean, rstd],
            workgroups,
        );

        let kernel = gpu.kernel_variant(
            &dout,
            (
                "layernorm_backward_dweight",
                LAYERNORM_BACKWARD_DWEIGHT_SHADER,
            ),
            (
                "layernorm_backward_dweight_f16",
                LAYERNORM_BACKWARD_DWEIGHT_F16_SHADER,
            ),
            &[
                Access::Uniform,   // params: rows = B*T, C, has_bias
                Access::ReadWrite, // dweight (C), accumulated
                Access::ReadWrite, // dbias (C), accumulated, or the placeholder
                Access::Read,      // dout (B, T, C)
                Access::Read,      // inp (B, T, C)
                Access::Read,      // mean (B, T)
                Access::Read,      // rstd (B, T)
            ],
            &[("CX", f64::from(CX)), ("RY", f64::from(RY))],
        );
        let dbias = dbias.unwrap_or(View::all(gpu.placeholder()));
        let workgroups = [(c as u32).div_ceil(CX), 1, 1];
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[dweight, dbias, dout, inp, mean, rstd],
            workgroups,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::layernorm_backward::*;
        use crate::ops::layernorm_forward::layernorm_forward_cpu;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            c: usize,
            with_bias: bool,
        ) {
            let (n, rows) = (b * t * c, b * t);
            let inp: Vec<f32> = rng.vec(n).iter().map(|x| 0.5 + 2.0 * x).collect();
            let weight = rng.vec(c);
            let dout = rng.vec(n);
            let (mut out, mut mean, mut rstd) = (vec![0.0; n], vec![0.0; rows], vec![0.0; rows]);
            layernorm_forward_cpu(&mut out, &mut mean, &mut rstd, &inp, &weight, None, b, t, c);
            // All three outputs accumulate: start them at nonzero random values.
            let mut dinp = rng.vec(n);
            let mut dweight = rng.vec(c);
            let mut dbias = with_bias.then(|| rng.vec(c));
            let dinp_buf = gpu.upload("dinp", &dinp);
            let dweight_buf = gpu.upload("dweight", &dweight);
            let dbias_buf = dbias.as_ref().map(|d| gpu.upload("dbias", d));
            layernorm_backward_cpu(
                &mut dinp,
                &mut dweight,
                dbias.as_deref_mut(),
                &dout,
                &inp,
                &weight,
                &mean,
                &rstd,
                b,
                t,
                c,
            );
            let dout_buf = gpu.upload("dout", &dout);
            let inp_buf = gpu.upload("inp", &inp);
            let weight_buf = gpu.upload("weight", &weight);
            let mean_buf = gpu.upload("mean", &mean);
            let rstd_buf = gpu.upload("rstd", &rstd);
            let mut plan = Plan::new();
            layernorm_backward_gpu(
                gpu,
                &mut plan,
                (&dinp_buf).into(),
                (&dweight_buf).into(),
                dbias_buf.as_ref().map(View::all),
                (&dout_buf).into(),
                (&inp_buf).into(),
                (&weight_buf).into(),
                (&mean_buf).into(),
                (&rstd_buf).into(),
                b,
                t,
                c,
            );
            pollster::block_on(plan.run(gpu)).expect("layernorm_backward dispatch");
            let what = format!("layernorm_backward B={b} T={t} C={c} bias={with_bias}");
            let actual = pollster::block_on(gpu.read(&dinp_buf, n)).expect("readback");
            assert_close(&actual, &dinp, 1e-5, 1e-4, &format!("{what}: dinp"));
            // dweight and dbias sum up to B*T = 512 terms of size ~1 in another order (a tree over 16 lanes
            // of strided partial sums instead of one line): f32 reassociation error grows like
            // sqrt(rows) * 6e-8 * sum|terms|, a few 1e-5 at 512 rows, so the absolute tolerance is 1e-4 here.
            let actual = pollster::block_on(gpu.read(&dweight_buf, c)).expect("readback");
            assert_close(&actual, &dweight, 1e-4, 1e-4, &format!("{what}: dweight"));
            if let (Some(buf), Some(dbias)) = (&dbias_buf, &dbias) {
                let actual = pollster::block_on(gpu.read(buf, c)).expect("readback");
                assert_close(&actual, dbias, 1e-4, 1e-4, &format!("{what}: dbias"));
            }
        }

        /// The f16 build (dinp, dout, inp and weight f16; mean, rstd, dweight and dbias f32) against the CPU
        /// reference evaluated with f16 rounding: dinp (accumulated, then rounded) within one f16 ulp (F16_RTOL)
        /// + 2e-3; the f32 parameter gradients within the f32 tolerance.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{
                F16_RTOL, gpu_f16_or_skip, read_f16_now, round_f16, upload_f16_rounded,
            };
            use crate::ops::layernorm_forward::layernorm_forward_cpu;
            let Some(gpu) = gpu_f16_or_skip("layernorm_backward f16") else {
                return;
            };
            let mut rng = TestRng::new(133);
            for (b, t, c) in [(2, 7, 12), (1, 3, 200), (3, 5, 37)] {
                let n = b * t * c;
                let (inp_buf, inp) = upload_f16_rounded(gpu, "inp", &rng.vec(n));
                let (weight_buf, weight) = upload_f16_rounded(gpu, "weight", &rng.vec(c));
                let (dout_buf, dout) = upload_f16_rounded(gpu, "dout", &rng.vec(n));
                let (dinp_buf, mut dinp) = upload_f16_rounded(gpu, "dinp", &rng.vec(n));
                let (mut mean, mut rstd, mut out) =
                    (vec![0.0; b * t], vec![0.0; b * t], vec![0.0; n]);
                layernorm_forward_cpu(&mut out, &mut mean, &mut rstd, &inp, &weight, None, b, t, c);
                let (mut dweight, mut dbias) = (rng.vec(c), rng.vec(c));
                let (dweight_buf, dbias_buf) =
                    (gpu.upload("dweight", &dweight), gpu.upload("dbias", &dbias));
                let (mean_buf, rstd_buf) = (gpu.upload("mean", &mean), gpu.upload("rstd", &rstd));
                layernorm_backward_cpu(
                    &mut dinp,
                    &mut dweight,
                    Some(&mut dbias),
                    &dout,
                    &inp,
                    &weight,
                    &mean,
                    &rstd,
                    b,
                    t,
                    c,
                );
                let mut plan = Plan::new();
                layernorm_backward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&dinp_buf),
                    (&dweight_buf).into(),
                    Some((&dbias_buf).into()),
                    View::all_f16(&dout_buf),
                    View::all_f16(&inp_buf),
                    View::all_f16(&weight_buf),
                    (&mean_buf).into(),
                    (&rstd_buf).into(),
                    b,
                    t,
                    c,
                );
                pollster::block_on(plan.run(gpu)).expect("layernorm_backward_f16 dispatch");
                let what = format!("layernorm_backward f16 B={b} T={t} C={c}");
                let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("readback");
                assert_close(
                    &read_f16_now(gpu, &dinp_buf, n),
                    &round_f16(&dinp),
                    2e-3,
                    F16_RTOL,
                    &format!("{what} dinp"),
                );
                assert_close(
                    &read(&dweight_buf, c),
                    &dweight,
                    1e-5,
                    1e-4,
                    &format!("{what} dweight"),
                );
                assert_close(
                    &read(&dbias_buf, c),
                    &dbias,
                    1e-5,
                    1e-4,
                    &format!("{what} dbias"),
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("layernorm_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(131);
            check(gpu, &mut rng, 2, 7, 12, true);
            check(gpu, &mut rng, 2, 7, 12, false);
            check(gpu, &mut rng, 2, 7, 200, true);
            check(gpu, &mut rng, 1, 3, 1, true);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("layernorm_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(132);
            for k in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                check(gpu, &mut rng, b, t, c, k % 2 == 0);
            }
        }
    }
}
