//! matmul_backward: the backward pass of a linear layer `out = inp @ weight^T + bias`.
//!
//! Intuition: each output channel's error flows back to the inputs through that channel's weights
//! (dinp = dout @ weight), and each weight's gradient is its input times its output error summed over rows
//! (dweight = dout^T @ inp).
//!
//! Gradient rule of the crate (as in llm.c): parameter gradients (`dweight`, `dbias`) accumulate with `+=`,
//! so micro-batches and tied weights add up; activation gradients (`dinp`) are assigned with `=`.

use super::float::Float;
use super::gemm::{Layout, gemm_acc_t};

/// CPU reference.
/// dinp (N, C) = dout (N, OC) @ weight (OC, C);  dweight (OC, C) += dout^T @ inp (N, C);
/// dbias (OC) += sum over rows of dout. Without dweight (a frozen weight) only dinp and dbias.
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward_cpu<R: Float>(
    dinp: &mut [R],
    dweight: Option<&mut [R]>,
    dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    n: usize,
    c: usize,
    oc: usize,
) {
    for row in 0..n {
        let dout_row = &dout[row * oc..(row + 1) * oc];
        for i in 0..c {
            let mut sum = R::ZERO;
            for o in 0..oc {
                sum += dout_row[o] * weight[o * c + i];
            }
            dinp[row * c + i] = sum;
        }
    }
    if let Some(dweight) = dweight {
        for o in 0..oc {
            for i in 0..c {
                let mut sum = R::ZERO;
                for row in 0..n {
                    sum += dout[row * oc + o] * inp[row * c + i];
                }
                dweight[o * c + i] += sum;
            }
        }
    }
    if let Some(dbias) = dbias {
        for o in 0..oc {
            let mut sum = R::ZERO;
            for row in 0..n {
                sum += dout[row * oc + o];
            }
            dbias[o] += sum;
        }
    }
}

/// The fast version of [`matmul_backward_cpu`], same contract: two products through [`gemm_acc_t`], dweight's
/// with dout read as the transposed operand (in place natively; the wasm kernel copies it once, N*OC work
/// against N*C*OC).
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward_fast_cpu<R: Float>(
    dinp: &mut [R],
    dweight: Option<&mut [R]>,
    dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    n: usize,
    c: usize,
    oc: usize,
) {
    dinp[..n * c].fill(R::ZERO);
    gemm_acc_t(
        dinp,
        dout,
        Layout::RowMajor,
        weight,
        Layout::RowMajor,
        n,
        oc,
        c,
    );
    if let Some(dweight) = dweight {
        // dout (N, OC) is dout^T (OC, N) stored transposed.
        gemm_acc_t(
            dweight,
            dout,
            Layout::Transposed,
            inp,
            Layout::RowMajor,
            oc,
            n,
            c,
        );
    }
    if let Some(dbias) = dbias {
        for row in dout[..n * oc].chunks_exact(oc.max(1)) {
            for (db, &d) in dbias[..oc].iter_mut().zip(row) {
                *db += d;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::matmul_forward::matmul_forward_cpu;
    use crate::ops::testing::{TestRng, assert_close};

    #[test]
    fn gradients_match_finite_differences() {
        // B=2, T=7 -> N=14 rows; C=12 in; V=37 out.
        let (n, c, oc) = (14, 12, 37);
        let mut rng = TestRng::new(11);
        let (inp, weight, bias, w) = (
            rng.vec_f64(n * c),
            rng.vec_f64(oc * c),
            rng.vec_f64(oc),
            rng.vec_f64(n * oc),
        );
        let loss = |inp: &[f64], weight: &[f64], bias: &[f64]| {
            let mut out = vec![0.0; n * oc];
            matmul_forward_cpu(&mut out, inp, weight, Some(bias), n, c, oc);
            dot(&out, &w)
        };
        let mut dinp = vec![f64::NAN; n * c]; // assigned: its old contents must not matter
        let mut dweight = vec![0.0; oc * c];
        let mut dbias = vec![0.0; oc];
        matmul_backward_cpu(
            &mut dinp,
            Some(&mut dweight),
            Some(&mut dbias),
            &w,
            &inp,
            &weight,
            n,
            c,
            oc,
        );
        check_gradient("matmul dinp", &inp, &dinp, |x| loss(x, &weight, &bias));
        check_gradient("matmul dweight", &weight, &dweight, |x| {
            loss(&inp, x, &bias)
        });
        check_gradient("matmul dbias", &bias, &dbias, |x| loss(&inp, &weight, x));

        // The fast version gives the same gradients, and parameter gradients accumulate.
        let mut dinp2 = vec![f64::NAN; n * c];
        let mut dweight2 = dweight.clone();
        let mut dbias2 = dbias.clone();
        matmul_backward_fast_cpu(
            &mut dinp2,
            Some(&mut dweight2),
            Some(&mut dbias2),
            &w,
            &inp,
            &weight,
            n,
            c,
            oc,
        );
        for (a, b) in dinp2.iter().zip(&dinp) {
            assert!((a - b).abs() < 1e-12, "fast dinp {a} vs {b}");
        }
        for (a, b) in dweight2.iter().zip(&dweight) {
            assert!(
                (a - 2.0 * b).abs() < 1e-12,
                "fast dweight accumulates: {a} vs 2*{b}"
            );
        }
        for (a, b) in dbias2.iter().zip(&dbias) {
            assert!(
                (a - 2.0 * b).abs() < 1e-12,
                "fast dbias accumulates: {a} vs 2*{b}"
            );
        }
    }

    #[test]
    fn fast_matches_reference_in_f32_on_blocked_shapes() {
        let mut rng = TestRng::new(5);
        for &(n, c, oc) in &[(14, 12, 37), (65, 129, 260), (3, 300, 5)] {
            let (inp, weight, dout) = (rng.vec(n * c), rng.vec(oc * c), rng.vec(n * oc));
            let mut expected = (vec![0.0f32; n * c], vec![0.5f32; oc * c], vec![0.25f32; oc]);
            let mut actual = (vec![0.0f32; n * c], vec![0.5f32; oc * c], vec![0.25f32; oc]);
            matmul_backward_cpu(
                &mut expected.0,
                Some(&mut expected.1),
                Some(&mut expected.2),
                &dout,
                &inp,
                &weight,
                n,
                c,
                oc,
            );
            matmul_backward_fast_cpu(
                &mut actual.0,
                Some(&mut actual.1),
                Some(&mut actual.2),
                &dout,
                &inp,
                &weight,
                n,
                c,
                oc,
            );
            // Sums of a few hundred products in [-1, 1] in another order: see the forward test.
            assert_close(&actual.0, &expected.0, 3e-5, 1e-5, "fast dinp");
            assert_close(&actual.1, &expected.1, 3e-5, 1e-5, "fast dweight");
            assert_close(&actual.2, &expected.2, 3e-5, 1e-5, "fast dbias");
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, MatmulTiling, Plan, View};

    /// `shaders/matmul_backward_dinp.wgsl`: dinp = dout @ weight, 64 x 64 tiles, 4 x 4 outputs per invocation.
    pub const MATMUL_BACKWARD_DINP_SHADER: &str = shader!("matmul_backward_dinp");

    /// `shaders/matmul_backward_dweight.wgsl`: dweight += dout^T @ inp, same tiling.
    pub const MATMUL_BACKWARD_DWEIGHT_SHADER: &str = shader!("matmul_backward_dweight");

    /// `shaders/matmul_backward_dinp_direct.wgsl`: dinp = dout @ weight without workgroup memory (the `direct` row).
    pub const MATMUL_BACKWARD_DINP_DIRECT_SHADER: &str = shader!("matmul_backward_dinp_direct");

    /// Its f16 build (dinp, dout and weight f16; the sums f32), generated from the same file by `crate/build.rs`.
    pub const MATMUL_BACKWARD_DINP_DIRECT_F16_SHADER: &str =
        shader!("matmul_backward_dinp_direct_f16");

    /// `shaders/matmul_backward_dweight_direct.wgsl`: dweight += dout^T @ inp without workgroup memory.
    pub const MATMUL_BACKWARD_DWEIGHT_DIRECT_SHADER: &str =
        shader!("matmul_backward_dweight_direct");

    /// Its f16 build (dout and inp f16; dweight, a parameter gradient, and the sums f32), generated from the same file by `crate/build.rs`.
    pub const MATMUL_BACKWARD_DWEIGHT_DIRECT_F16_SHADER: &str =
        shader!("matmul_backward_dweight_direct_f16");

    /// `shaders/matmul_backward_dbias.wgsl`: dbias += column sums of dout, reduced in workgroup memory.
    pub const MATMUL_BACKWARD_DBIAS_SHADER: &str = shader!("matmul_backward_dbias");

    /// Its f16 build (dout f16; dbias and the sums f32), generated from the same file by `crate/build.rs`.
    pub const MATMUL_BACKWARD_DBIAS_F16_SHADER: &str = shader!("matmul_backward_dbias_f16");

    /// Output channels per workgroup of the dbias kernel (its `WG_X`), and invocations sharing one channel's rows.
    const DBIAS_WG_X: u32 = 64;

    const DBIAS_WG_Y: u32 = 4;

    /// Sizes for the shaders; field for field their WGSL `Params` structs (dbias reads N, OC from the first two).
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        c: u32,
        oc: u32,
        _pad: u32,
    }

    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct DbiasParams {
        n: u32,
        oc: u32,
        _pad: [u32; 2],
    }

    /// Adds the backward pass to `plan`, same contract as [`matmul_backward_cpu`](super::matmul_backward_cpu): three race-free dispatches,
    /// dinp (N, C) = dout (N, OC) @ weight (OC, C);  dweight (OC, C) += dout^T @ inp (N, C);
    /// dbias (OC) += sum over rows of dout (when given); without dweight (a frozen weight) no dweight dispatch.
    /// dinp is assigned and may hold anything before; dweight and dbias accumulate into what they hold.
    /// The dinp and dweight kernels use the adapter's tiling ([`GpuContext::matmul_tiling`]).
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        dweight: Option<View>,
        dbias: Option<View>,
        dout: View,
        inp: View,
        weight: View,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        matmul_backward_with_tiling(
            gpu,
            plan,
            gpu.matmul_tiling,
            dinp,
            dweight,
            dbias,
            dout,
            inp,
            weight,
            n,
            c,
            oc,
        );
    }

    /// [`matmul_backward_gpu`] with an explicit row of the tiling table for the dinp and dweight kernels
    /// (the `direct` row runs `matmul_backward_{dinp,dweight}_direct.wgsl`, no workgroup memory).
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_backward_with_tiling(
        gpu: &GpuContext,
        plan: &mut Plan,
        tiling: MatmulTiling,
        dinp: View,
        dweight: Option<View>,
        dbias: Option<View>,
        dout: View,
        inp: View,
        weight: View,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        let params = Params {
            n: n as u32,
            c: c as u32,
            oc: oc as u32,
            _pad: 0,
        };
        // The f16 builds of dinp and dweight are the direct kernels'.
        let tiling = if dout.is_f16() {
            MatmulTiling::DIRECT
        } else {
            tiling
        };
        if tiling.direct {
            push_direct(gpu, plan, tiling, &params, dinp, dweight, dout, inp, weight);
        } else {
            push_tiled(gpu, plan, tiling, &params, dinp, dweight, dout, inp, weight);
        }
        if let Some(dbias) = dbias {
            let dbias_kernel = gpu.kernel_variant(
                &dout,
                ("matmul_backward_dbias", MATMUL_BACKWARD_DBIAS_SHADER),
                (
                    "matmul_backward_dbias_f16",
                    MATMUL_BACKWARD_DBIAS_F16_SHADER,
                ),
                &[
                    Access::Uniform,   // params: N, OC
                    Access::ReadWrite, // dbias (OC)
                    Access::Read,      // dout (N, OC)
                ],
                &[
                    ("WG_X", f64::from(DBIAS_WG_X)),
                    ("WG_Y", f64::from(DBIAS_WG_Y)),
                ],
            );
            let params = DbiasParams {
                n: n as u32,
                oc: oc as u32,
                _pad: [0; 2],
            };
            plan.push(
                gpu,
                dbias_kernel,
                Some(&params),
                &[dbias, dout],
                [(oc as u32).div_ceil(DBIAS_WG_X), 1, 1],
            );
        }
    }

    /// The dinp and dweight dispatches of the workgroup-memory tiled kernels.
    #[allow(clippy::too_many_arguments)]
    fn push_tiled(
        gpu: &GpuContext,
        plan: &mut Plan,
        tiling: MatmulTiling,
        params: &Params,
        dinp: View,
        dweight: Option<View>,
        dout: View,
        inp: View,
        weight: View,
    ) {
        let (n, c, oc) = (params.n as usize, params.c as usize, params.oc as usize);
        let dinp_kernel = gpu.kernel(
            "matmul_backward_dinp",
            MATMUL_BACKWARD_DINP_SHADER,
            &[
                Access::Uniform,   // params: N, C, OC
                Access::ReadWrite, // dinp (N, C)
                Access::Read,      // dout (N, OC)
                Access::Read,      // weight (OC, C)
            ],
            &tiling.constants(),
        );
        plan.push(
            gpu,
            dinp_kernel,
            Some(params),
            &[dinp, dout, weight],
            tiling.workgroups(n, c),
        );
        // A frozen weight (LoRA's base) has no gradient: no dweight dispatch.
        if let Some(dweight) = dweight {
            let dweight_kernel = gpu.kernel(
                "matmul_backward_dweight",
                MATMUL_BACKWARD_DWEIGHT_SHADER,
                &[
                    Access::Uniform,   // params: N, C, OC
                    Access::ReadWrite, // dweight (OC, C)
                    Access::Read,      // dout (N, OC)
                    Access::Read,      // inp (N, C)
                ],
                &tiling.constants(),
            );
            plan.push(
                gpu,
                dweight_kernel,
                Some(params),
                &[dweight, dout, inp],
                tiling.workgroups(oc, c),
            );
        }
    }

    /// The dinp and dweight dispatches of the direct kernels (no workgroup memory). Each takes its two inputs
    /// twice, as f32s and as vec4s; the vec4 views are real only when C and OC are multiples of 4 (the shaders
    /// take their vec4 paths under the same test), else a 16-byte placeholder is bound.
    #[allow(clippy::too_many_arguments)]
    fn push_direct(
        gpu: &GpuContext,
        plan: &mut Plan,
        tiling: MatmulTiling,
        params: &Params,
        dinp: View,
        dweight: Option<View>,
        dout: View,
        inp: View,
        weight: View,
    ) {
        let (n, c, oc) = (params.n as usize, params.c as usize, params.oc as usize);
        let vec4 = c.is_multiple_of(4) && oc.is_multiple_of(4) && n * c * oc > 0;
        let placeholder = View::all(gpu.placeholder());
        let (dout4, weight4, inp4) = if vec4 {
            (dout, weight, inp)
        } else {
            (placeholder, placeholder, placeholder)
        };
        let dinp_kernel = gpu.kernel_variant(
            &dout,
            (
                "matmul_backward_dinp_direct",
                MATMUL_BACKWARD_DINP_DIRECT_SHADER,
            ),
            (
                "matmul_backward_dinp_direct_f16",
                MATMUL_BACKWARD_DINP_DIRECT_F16_SHADER,
            ),
            &[
                Access::Uniform,   // params: N, C, OC
                Access::ReadWrite, // dinp (N, C)
                Access::Read,      // dout (N, OC)
                Access::Read,      // weight (OC, C)
                Access::Read,      // dout as vec4s (N, OC/4), or the placeholder
                Access::Read,      // weight as vec4s (OC, C/4), or the placeholder
            ],
            &tiling.constants(),
        );
        plan.push(
            gpu,
            dinp_kernel,
            Some(params),
            &[dinp, dout, weight, dout4, weight4],
            tiling.workgroups(n, c),
        );
        // A frozen weight (LoRA's base) has no gradient: no dweight dispatch.
        if let Some(dweight) = dweight {
            let dweight_kernel = gpu.kernel_variant(
                &dout,
                (
                    "matmul_backward_dweight_direct",
                    MATMUL_BACKWARD_DWEIGHT_DIRECT_SHADER,
                ),
                (
                    "matmul_backward_dweight_direct_f16",
                    MATMUL_BACKWARD_DWEIGHT_DIRECT_F16_SHADER,
                ),
                &[
                    Access::Uniform,   // params: N, C, OC
                    Access::ReadWrite, // dweight (OC, C)
                    Access::Read,      // dout (N, OC)
                    Access::Read,      // inp (N, C)
                    Access::Read,      // dout as vec4s (N, OC/4), or the placeholder
                    Access::Read,      // inp as vec4s (N, C/4), or the placeholder
                ],
                &tiling.constants(),
            );
            plan.push(
                gpu,
                dweight_kernel,
                Some(params),
                &[dweight, dout, inp, dout4, inp4],
                tiling.workgroups(oc, c),
            );
        }
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::matmul_backward::*;
        use crate::ops::testing::{TestRng, assert_close};

        /// Checks the backward pass with every row of the tiling table.
        fn gpu_check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            n: usize,
            c: usize,
            oc: usize,
            with_bias: bool,
        ) {
            for tiling in MatmulTiling::ALL {
                gpu_check_tiling(gpu, rng, tiling, n, c, oc, with_bias);
            }
        }

        #[allow(clippy::too_many_arguments)]
        fn gpu_check_tiling(
            gpu: &GpuContext,
            rng: &mut TestRng,
            tiling: MatmulTiling,
            n: usize,
            c: usize,
            oc: usize,
            with_bias: bool,
        ) {
            let (inp, weight, dout) = (rng.vec(n * c), rng.vec(oc * c), rng.vec(n * oc));
            // Parameter gradients start from the same nonzero values on both sides to test +=;
            // dinp starts from garbage on the GPU to test that it is assigned.
            let (dweight0, dbias0) = (rng.vec(oc * c), rng.vec(oc));
            let mut expected = (vec![0.0f32; n * c], dweight0.clone(), dbias0.clone());
            matmul_backward_cpu(
                &mut expected.0,
                Some(&mut expected.1),
                with_bias.then_some(&mut expected.2[..]),
                &dout,
                &inp,
                &weight,
                n,
                c,
                oc,
            );
            let dinp = gpu.upload("dinp", &vec![7.0; n * c]);
            let dweight = gpu.upload("dweight", &dweight0);
            let dbias = gpu.upload("dbias", &dbias0);
            let (dout_b, inp_b, weight_b) = (
                gpu.upload("dout", &dout),
                gpu.upload("inp", &inp),
                gpu.upload("weight", &weight),
            );
            let mut plan = Plan::new();
            matmul_backward_with_tiling(
                gpu,
                &mut plan,
                tiling,
                (&dinp).into(),
                Some((&dweight).into()),
                with_bias.then(|| View::all(&dbias)),
                (&dout_b).into(),
                (&inp_b).into(),
                (&weight_b).into(),
                n,
                c,
                oc,
            );
            pollster::block_on(plan.run(gpu)).expect("matmul_backward dispatch");
            let read = |b, len| pollster::block_on(gpu.read(b, len)).expect("readback");
            let what = format!("{} tiling, N={n} C={c} OC={oc}", tiling.name);
            // Sums of up to 128 products of values in [-1, 1]: the default tolerance holds (the GPU adds in the
            // same order as the CPU; only fused multiply-adds differ).
            assert_close(
                &read(&dinp, n * c),
                &expected.0,
                1e-5,
                1e-4,
                &format!("dinp {what}"),
            );
            assert_close(
                &read(&dweight, oc * c),
                &expected.1,
                1e-5,
                1e-4,
                &format!("dweight {what}"),
            );
            // Without a bias nothing may touch dbias.
            let want_dbias = if with_bias { &expected.2 } else { &dbias0 };
            assert_close(
                &read(&dbias, oc),
                want_dbias,
                1e-5,
                1e-4,
                &format!("dbias {what}"),
            );
        }

        /// The f16 builds (the direct kernels', which `matmul_backward_gpu` runs for f16 views; dinp, dout, inp
        /// and weight f16, dweight and dbias f32) against the CPU reference evaluated with f16 rounding: dinp
        /// rounded, within one f16 ulp (F16_RTOL) + 1e-3; the f32 gradients within the f32 tolerance.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{
                F16_RTOL, gpu_f16_or_skip, read_f16_now, round_f16, upload_f16_rounded,
            };
            let Some(gpu) = gpu_f16_or_skip("matmul_backward f16") else {
                return;
            };
            let mut rng = TestRng::new(57);
            // C, OC multiples of 4 take the vec4 paths; the others the scalar ones.
            for (n, c, oc) in [(14, 12, 36), (14, 13, 37), (33, 128, 64), (1, 4, 1)] {
                let (dout_buf, dout) = upload_f16_rounded(gpu, "dout", &rng.vec(n * oc));
                let (inp_buf, inp) = upload_f16_rounded(gpu, "inp", &rng.vec(n * c));
                let (weight_buf, weight) = upload_f16_rounded(gpu, "weight", &rng.vec(oc * c));
                let (mut dweight, mut dbias) = (rng.vec(oc * c), rng.vec(oc));
                let (dweight_buf, dbias_buf) =
                    (gpu.upload("dweight", &dweight), gpu.upload("dbias", &dbias));
                let mut dinp = vec![0.0; n * c];
                matmul_backward_cpu(
                    &mut dinp,
                    Some(&mut dweight),
                    Some(&mut dbias),
                    &dout,
                    &inp,
                    &weight,
                    n,
                    c,
                    oc,
                );
                let dinp_buf = gpu.zeros_f16("dinp", n * c);
                let mut plan = Plan::new();
                matmul_backward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&dinp_buf),
                    Some((&dweight_buf).into()),
                    Some((&dbias_buf).into()),
                    View::all_f16(&dout_buf),
                    View::all_f16(&inp_buf),
                    View::all_f16(&weight_buf),
                    n,
                    c,
                    oc,
                );
                pollster::block_on(plan.run(gpu)).expect("matmul_backward_f16 dispatches");
                let what = format!("matmul_backward f16 N={n} C={c} OC={oc}");
                let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("readback");
                assert_close(
                    &read_f16_now(gpu, &dinp_buf, n * c),
                    &round_f16(&dinp),
                    1e-3,
                    F16_RTOL,
                    &format!("{what} dinp"),
                );
                assert_close(
                    &read(&dweight_buf, oc * c),
                    &dweight,
                    1e-5,
                    1e-4,
                    &format!("{what} dweight"),
                );
                assert_close(
                    &read(&dbias_buf, oc),
                    &dbias,
                    1e-5,
                    1e-4,
                    &format!("{what} dbias"),
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("matmul_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(21);
            // B=2, T=7 -> N=14 rows; C=12; V=37 output channels. Then tile edges: 64, 65 and a K slice of 16/17.
            for &(n, c, oc) in &[
                (14, 12, 37),
                (1, 1, 1),
                (64, 64, 16),
                (65, 17, 65),
                (3, 130, 5),
            ] {
                gpu_check(gpu, &mut rng, n, c, oc, true);
                gpu_check(gpu, &mut rng, n, c, oc, false);
            }
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("matmul_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(22);
            for _ in 0..10 {
                let (n, c, oc) = (rng.range(1, 128), rng.range(1, 128), rng.range(1, 128));
                let with_bias = rng.next_u64().is_multiple_of(2);
                gpu_check(gpu, &mut rng, n, c, oc, with_bias);
            }
        }

        #[test]
        fn direct_kernels_match_cpu_on_aligned_and_ragged_shapes() {
            let Some(gpu) = gpu_or_skip("matmul_backward direct kernels") else {
                return;
            };
            let mut rng = TestRng::new(23);
            // The vec4 paths need C and OC multiples of 4 (rows past N are clamped): aligned shapes with ragged
            // N, then C or OC ragged (the scalar paths), then the reference model's lm_head shape (OC = 65).
            for &(n, c, oc) in &[
                (64, 128, 64),
                (33, 128, 68),
                (14, 12, 36),
                (1, 4, 4),
                (14, 12, 37),
                (7, 13, 8),
                (70, 32, 65),
            ] {
                for with_bias in [true, false] {
                    gpu_check_tiling(gpu, &mut rng, MatmulTiling::DIRECT, n, c, oc, with_bias);
                }
            }
        }
    }
}
