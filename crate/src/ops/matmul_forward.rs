//! matmul_forward: the forward pass of a linear layer, `out = inp @ weight^T + bias`.
//!
//! Layouts follow PyTorch's `nn.Linear` (and llm.c): `weight` is (OC, C), one row per output channel, so a
//! saved model loads into PyTorch without transposes.

use super::float::{Float, copy_row};
use super::gemm::{Layout, gemm_acc_t};
use crate::{Result, invalid_input};

/// CPU reference. out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias (OC).
/// Intuition: every output channel is a dot product of the input row with that channel's weight row.
pub fn matmul_forward_cpu<R: Float>(
    out: &mut [R],
    inp: &[R],
    weight: &[R],
    bias: Option<&[R]>,
    n: usize,
    c: usize,
    oc: usize,
) {
    for row in 0..n {
        let inp_row = &inp[row * c..(row + 1) * c];
        for o in 0..oc {
            let weight_row = &weight[o * c..(o + 1) * c];
            let dot: R = inp_row.iter().zip(weight_row).map(|(&x, &w)| x * w).sum();
            out[row * oc + o] = dot + bias.map_or(R::ZERO, |b| b[o]);
        }
    }
}

/// The fast CPU matmul, same contract as [`matmul_forward_cpu`]: out (N, OC) = inp (N, C) @ weight^T + bias.
/// One product through [`gemm_acc_t`], which reads the weight in place as the transposed operand (the
/// gemm crate natively, the blocked simd128 kernel in wasm); this is the matmul the model uses.
#[allow(clippy::too_many_arguments)]
pub fn matmul_forward_fast_cpu<R: Float>(
    out: &mut [R],
    inp: &[R],
    weight: &[R],
    bias: Option<&[R]>,
    n: usize,
    c: usize,
    oc: usize,
) {
    if n < 8 {
        // A few rows (generation: one position at a time): transposing the weight would cost as much as
        // the product, so take dot products along the contiguous weight rows instead.
        for row in 0..n {
            let inp_row = &inp[row * c..(row + 1) * c];
            for o in 0..oc {
                let dot = dot_lanes(inp_row, &weight[o * c..(o + 1) * c]);
                out[row * oc + o] = dot + bias.map_or(R::ZERO, |b| b[o]);
            }
        }
        return;
    }
    for row in out[..n * oc].chunks_exact_mut(oc.max(1)) {
        match bias {
            Some(bias) => copy_row(row, &bias[..oc]),
            None => row.fill(R::ZERO),
        }
    }
    // weight (OC, C) is weight^T (C, OC) stored transposed.
    gemm_acc_t(
        out,
        inp,
        Layout::RowMajor,
        weight,
        Layout::Transposed,
        n,
        c,
        oc,
    );
}

/// A dot product summed in 16 interleaved partial sums, so the compiler can keep them in SIMD lanes
/// (a single running sum has to be added in order and cannot be vectorized).
#[inline]
fn dot_lanes<R: Float>(a: &[R], b: &[R]) -> R {
    const L: usize = 16;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if std::any::TypeId::of::<R>() == std::any::TypeId::of::<f32>() {
        // SAFETY: R is f32 (checked on the line above), so the slices are f32 slices of the same lengths.
        let (a32, b32) = unsafe {
            (
                std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len()),
                std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len()),
            )
        };
        return R::from_f64(f64::from(dot_lanes_simd128(a32, b32)));
    }
    let mut acc = [R::ZERO; L];
    let (a_chunks, b_chunks) = (a.chunks_exact(L), b.chunks_exact(L));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = a_rest.iter().zip(b_rest).map(|(&x, &y)| x * y).sum::<R>();
    for partial in acc {
        sum += partial;
    }
    sum
}

/// [`dot_lanes`] in wasm simd128, the same sums in the same order (lane i of the four registers is partial
/// sum i), spelled out so the wasm build, optimized for size, does not leave the partial sums in memory.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn dot_lanes_simd128(a: &[f32], b: &[f32]) -> f32 {
    use core::arch::wasm32::{
        f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, v128, v128_load,
    };
    let n = a.len().min(b.len());
    let whole = n - n % 16;
    let z = f32x4_splat(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 16 <= whole <= len of a and of b; v128_load has no alignment requirement.
        unsafe {
            let ld = |p: *const f32, at: usize| v128_load(p.add(at).cast::<v128>());
            s0 = f32x4_add(s0, f32x4_mul(ld(pa, i), ld(pb, i)));
            s1 = f32x4_add(s1, f32x4_mul(ld(pa, i + 4), ld(pb, i + 4)));
            s2 = f32x4_add(s2, f32x4_mul(ld(pa, i + 8), ld(pb, i + 8)));
            s3 = f32x4_add(s3, f32x4_mul(ld(pa, i + 12), ld(pb, i + 12)));
        }
        i += 16;
    }
    let acc = [s0, s1, s2, s3];
    let mut sum = a[whole..n]
        .iter()
        .zip(&b[whole..n])
        .map(|(&x, &y)| x * y)
        .sum::<f32>();
    for v in acc {
        sum += f32x4_extract_lane::<0>(v);
        sum += f32x4_extract_lane::<1>(v);
        sum += f32x4_extract_lane::<2>(v);
        sum += f32x4_extract_lane::<3>(v);
    }
    sum
}

/// Checks that the slices have the lengths the sizes claim, so a bad call is an error and not a panic.
pub fn check_shapes(
    out: usize,
    inp: usize,
    weight: usize,
    bias: Option<usize>,
    n: usize,
    c: usize,
    oc: usize,
) -> Result<()> {
    if inp != n * c {
        invalid_input!("matmul: inp has {inp} values, expected N*C = {n}*{c}");
    }
    if weight != oc * c {
        invalid_input!("matmul: weight has {weight} values, expected OC*C = {oc}*{c}");
    }
    if let Some(bias) = bias
        && bias != oc
    {
        invalid_input!("matmul: bias has {bias} values, expected OC = {oc}");
    }
    if out != n * oc {
        invalid_input!("matmul: out has {out} values, expected N*OC = {n}*{oc}");
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::testing::{TestRng, assert_close};

    #[test]
    fn cpu_reference_matches_hand_computed_values() {
        // inp (2, 3), weight (2, 3), bias (2)
        let inp = [1.0, 2.0, 3.0, -1.0, 0.5, 0.0];
        let weight = [1.0, 0.0, -1.0, 2.0, 1.0, 1.0];
        let bias = [0.5, -1.0];
        let mut out = [0.0; 4];
        matmul_forward_cpu(&mut out, &inp, &weight, Some(&bias), 2, 3, 2);
        assert_eq!(
            out,
            [
                1.0 - 3.0 + 0.5,
                2.0 + 2.0 + 3.0 - 1.0,
                -1.0 + 0.5,
                -2.0 + 0.5 - 1.0
            ]
        );
    }

    #[test]
    fn fast_matches_reference_on_awkward_and_blocked_shapes() {
        let mut rng = TestRng::new(3);
        // Awkward shapes, then shapes crossing the MR/NR/KC/NC block edges.
        for &(n, c, oc) in &[
            (14, 12, 37),
            (1, 1, 1),
            (5, 130, 9),
            (9, 257, 270),
            (64, 128, 384),
        ] {
            for with_bias in [true, false] {
                let inp = rng.vec(n * c);
                let weight = rng.vec(oc * c);
                let bias = with_bias.then(|| rng.vec(oc));
                let mut expected = vec![0.0; n * oc];
                matmul_forward_cpu(&mut expected, &inp, &weight, bias.as_deref(), n, c, oc);
                let mut actual = vec![f32::NAN; n * oc];
                matmul_forward_fast_cpu(&mut actual, &inp, &weight, bias.as_deref(), n, c, oc);
                // Sums of up to 257 products of values in [-1, 1] taken in another order: 1e-5 relative
                // plus 2e-5 absolute covers f32 reassociation (about sqrt(C) * 6e-8 * |terms|).
                assert_close(
                    &actual,
                    &expected,
                    2e-5,
                    1e-5,
                    &format!("fast matmul N={n} C={c} OC={oc}"),
                );
            }
        }
    }

    #[test]
    fn gemm_accumulates_into_c() {
        use crate::ops::gemm::gemm_acc;
        // c (2, 2) += a (2, 3) @ b (3, 2)
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c = [10.0f64, 20.0, 30.0, 40.0];
        gemm_acc(&mut c, &a, &b, 2, 3, 2);
        assert_eq!(c, [10.0 + 4.0, 20.0 + 5.0, 30.0 + 10.0, 40.0 + 11.0]);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let err = check_shapes(4, 5, 6, Some(2), 2, 3, 2).unwrap_err();
        assert!(err.to_string().contains("inp has 5 values"), "{err}");
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, MatmulTiling, Plan, View};

    /// The WGSL source, `shaders/matmul_forward.wgsl`.
    pub const MATMUL_FORWARD_SHADER: &str = shader!("matmul_forward");

    /// Side of the square workgroup tile (the `TILE` override of the shader).
    const TILE: u32 = 8;

    /// Sizes for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        c: u32,
        oc: u32,
        has_bias: u32,
    }

    /// Adds the kernel to `plan`: out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias (OC).
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        weight: View,
        bias: Option<View>,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        let kernel = gpu.kernel(
            "matmul_forward",
            MATMUL_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: N, C, OC, has_bias
                Access::Read,      // inp (N, C)
                Access::Read,      // weight (OC, C)
                Access::Read,      // bias (OC) or the placeholder
                Access::ReadWrite, // out (N, OC)
            ],
            &[("TILE", f64::from(TILE))],
        );
        let params = Params {
            n: n as u32,
            c: c as u32,
            oc: oc as u32,
            has_bias: u32::from(bias.is_some()),
        };
        let bias = bias.unwrap_or(View::all(gpu.placeholder()));
        let workgroups = [(oc as u32).div_ceil(TILE), (n as u32).div_ceil(TILE), 1];
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[inp, weight, bias, out],
            workgroups,
        );
    }

    /// The WGSL source of the register-blocked kernel, `shaders/matmul_forward_tiled.wgsl`.
    pub const MATMUL_FORWARD_TILED_SHADER: &str = shader!("matmul_forward_tiled");

    /// Adds the model's fast forward matmul to `plan`, same contract as [`matmul_forward_gpu`]:
    /// out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias (OC).
    /// Chosen at run time: the direct kernel where the adapter's tiling is `direct` (software adapters), else the
    /// subgroup kernel where the device has subgroups ([`GpuContext::subgroups`]), else the tiled kernel with the
    /// adapter's tiling ([`GpuContext::matmul_tiling`]). All are register-blocked (4 x 4 outputs per invocation);
    /// they differ in how a workgroup shares the values it loads (the direct one shares nothing).
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_forward_fast_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        weight: View,
        bias: Option<View>,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        if out.is_f16() {
            // The one f16 build of the forward matmul is the direct kernel's (f16 inputs, f32 sums).
            matmul_forward_with_tiling(
                gpu,
                plan,
                MatmulTiling::DIRECT,
                out,
                inp,
                weight,
                bias,
                n,
                c,
                oc,
            );
        } else if gpu.subgroup_matmul() {
            matmul_forward_subgroup_gpu(gpu, plan, out, inp, weight, bias, n, c, oc);
        } else {
            matmul_forward_with_tiling(
                gpu,
                plan,
                gpu.matmul_tiling,
                out,
                inp,
                weight,
                bias,
                n,
                c,
                oc,
            );
        }
    }

    /// The WGSL source of the kernel without workgroup memory, `shaders/matmul_forward_direct.wgsl`.
    pub const MATMUL_FORWARD_DIRECT_SHADER: &str = shader!("matmul_forward_direct");

    /// Its f16 build (out, inp, weight and bias f16; the sums f32), generated by `crate/build.rs`.
    pub const MATMUL_FORWARD_DIRECT_F16_SHADER: &str = shader!("matmul_forward_direct_f16");

    /// The workgroup-memory tiled kernel with an explicit tiling, same contract as [`matmul_forward_gpu`].
    /// A workgroup computes a (4*WG_Y) x (4*WG_X) tile of `out` from C slices of BK staged in workgroup memory;
    /// each invocation keeps a 4 x 4 block of outputs in registers (see the shader's header).
    /// With the `direct` row ([`MatmulTiling::DIRECT`]) it is `matmul_forward_direct.wgsl` instead: the same
    /// 4 x 4 blocks read straight from the storage buffers, no workgroup memory (same bindings).
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_forward_with_tiling(
        gpu: &GpuContext,
        plan: &mut Plan,
        tiling: MatmulTiling,
        out: View,
        inp: View,
        weight: View,
        bias: Option<View>,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        let f16 = out.is_f16();
        assert!(
            [inp, weight]
                .iter()
                .chain(&bias)
                .all(|v| v.elem == out.elem),
            "matmul_forward: out, inp, weight and bias share one element type"
        );
        assert!(
            !f16 || tiling.direct,
            "matmul_forward: the f16 build is the direct kernel's"
        );
        let (label, source) = if f16 {
            (
                "matmul_forward_direct_f16",
                MATMUL_FORWARD_DIRECT_F16_SHADER,
            )
        } else if tiling.direct {
            ("matmul_forward_direct", MATMUL_FORWARD_DIRECT_SHADER)
        } else {
            ("matmul_forward_tiled", MATMUL_FORWARD_TILED_SHADER)
        };
        let kernel = gpu.kernel(
            label,
            source,
            &[
                Access::Uniform,   // params: N, C, OC, has_bias
                Access::ReadWrite, // out (N, OC)
                Access::Read,      // inp (N, C)
                Access::Read,      // weight (OC, C)
                Access::Read,      // bias (OC) or the placeholder
                Access::Read,      // inp as vec4s (N, C/4) when C % 4 == 0, else the placeholder
                Access::Read, // weight as vec4s (OC, C/4) when C % 4 == 0, else the placeholder
            ],
            &tiling.constants(),
        );
        // The vec4 views alias the scalar ones; the shader takes the vec4 path under the same test (C % 4 == 0).
        // Otherwise a placeholder is bound: a vec4 binding must hold at least 16 bytes.
        let placeholder = View::all(gpu.placeholder());
        let (inp4, weight4) = if c.is_multiple_of(4) && n * c * oc > 0 {
            (inp, weight)
        } else {
            (placeholder, placeholder)
        };
        let params = Params {
            n: n as u32,
            c: c as u32,
            oc: oc as u32,
            has_bias: u32::from(bias.is_some()),
        };
        let bias = bias.unwrap_or(View::all(gpu.placeholder()));
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, inp, weight, bias, inp4, weight4],
            tiling.workgroups(n, oc),
        );
    }

    /// The WGSL source of the subgroup kernel, `shaders/matmul_forward_subgroup.wgsl`.
    pub const MATMUL_FORWARD_SUBGROUP_SHADER: &str = shader!("matmul_forward_subgroup");

    /// Workgroup shape of the subgroup kernel: 16 x 8 invocations, each owning 4 x 4 outputs, so a workgroup owns
    /// a 32 x 64 tile. WG_X must be a power of two >= 4 (the shader's teams are min(subgroup size, WG_X) lanes).
    const SUBGROUP_WG_X: u32 = 16;

    const SUBGROUP_WG_Y: u32 = 8;

    /// Adds the subgroup kernel to `plan`, same contract as [`matmul_forward_gpu`]. Only valid on a device opened
    /// with `Features::SUBGROUP` ([`GpuContext::subgroups`]); the shader's header says how lanes share inp.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_forward_subgroup_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        weight: View,
        bias: Option<View>,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        let kernel = gpu.kernel(
            "matmul_forward_subgroup",
            MATMUL_FORWARD_SUBGROUP_SHADER,
            &[
                Access::Uniform,   // params: N, C, OC, has_bias
                Access::ReadWrite, // out (N, OC)
                Access::Read,      // inp (N, C)
                Access::Read,      // weight (OC, C)
                Access::Read,      // bias (OC) or the placeholder
                Access::Read,      // inp as vec4s (N, C/4) when C % 4 == 0, else the placeholder
                Access::Read, // weight as vec4s (OC, C/4) when C % 4 == 0, else the placeholder
            ],
            &[
                ("WG_X", f64::from(SUBGROUP_WG_X)),
                ("WG_Y", f64::from(SUBGROUP_WG_Y)),
                ("WG", f64::from(SUBGROUP_WG_X * SUBGROUP_WG_Y)),
            ],
        );
        let placeholder = View::all(gpu.placeholder());
        let (inp4, weight4) = if c.is_multiple_of(4) && n * c * oc > 0 {
            (inp, weight)
        } else {
            (placeholder, placeholder)
        };
        let params = Params {
            n: n as u32,
            c: c as u32,
            oc: oc as u32,
            has_bias: u32::from(bias.is_some()),
        };
        let bias = bias.unwrap_or(placeholder);
        let workgroups = [
            (oc as u32).div_ceil(SUBGROUP_WG_X * 4),
            (n as u32).div_ceil(SUBGROUP_WG_Y * 4),
            1,
        ];
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, inp, weight, bias, inp4, weight4],
            workgroups,
        );
    }

    /// Which GPU kernel [`matmul_forward_run_with`] uses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum MatmulKernel {
        /// `matmul_forward.wgsl`: one output per invocation, the readable one.
        Readable,
        /// `matmul_forward_tiled.wgsl` with one row of the tiling table: 4 x 4 outputs per invocation.
        Tiled(MatmulTiling),
        /// `matmul_forward_subgroup.wgsl`: needs a device with subgroups ([`GpuContext::subgroups`]).
        Subgroup,
        /// What the model uses on this device ([`matmul_forward_fast_gpu`]).
        Model,
    }

    /// Uploads, runs and reads back in one call: the end-to-end check used by the page and the tests.
    pub async fn matmul_forward_run(
        gpu: &GpuContext,
        inp: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        n: usize,
        c: usize,
        oc: usize,
    ) -> Result<Vec<f32>> {
        matmul_forward_run_with(gpu, MatmulKernel::Readable, inp, weight, bias, n, c, oc).await
    }

    /// [`matmul_forward_run`] with a choice of kernel.
    #[allow(clippy::too_many_arguments)]
    pub async fn matmul_forward_run_with(
        gpu: &GpuContext,
        kernel: MatmulKernel,
        inp: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        n: usize,
        c: usize,
        oc: usize,
    ) -> Result<Vec<f32>> {
        check_shapes(
            n * oc,
            inp.len(),
            weight.len(),
            bias.map(<[f32]>::len),
            n,
            c,
            oc,
        )?;
        let inp = gpu.upload("inp", inp);
        let weight = gpu.upload("weight", weight);
        let bias = bias.map(|b| gpu.upload("bias", b));
        let out = gpu.zeros("out", n * oc);
        let mut plan = Plan::new();
        let bias = bias.as_ref().map(View::all);
        let (out_v, inp_v, weight_v) = ((&out).into(), (&inp).into(), (&weight).into());
        match kernel {
            MatmulKernel::Readable => {
                matmul_forward_gpu(gpu, &mut plan, out_v, inp_v, weight_v, bias, n, c, oc);
            }
            MatmulKernel::Tiled(tiling) => matmul_forward_with_tiling(
                gpu, &mut plan, tiling, out_v, inp_v, weight_v, bias, n, c, oc,
            ),
            MatmulKernel::Subgroup => {
                if !gpu.subgroups {
                    return Err(crate::Error::Gpu(
                        "the subgroup matmul needs an adapter with subgroups; this one has none"
                            .into(),
                    ));
                }
                matmul_forward_subgroup_gpu(gpu, &mut plan, out_v, inp_v, weight_v, bias, n, c, oc);
            }
            MatmulKernel::Model => {
                matmul_forward_fast_gpu(gpu, &mut plan, out_v, inp_v, weight_v, bias, n, c, oc);
            }
        }
        plan.run(gpu).await?;
        gpu.read(&out, n * oc).await
    }

    /// The kernel named `name`: "readable", "subgroup", "model", or the name of a row of the tiling table
    /// ("large", "medium", "small", "direct"): how the benchmarks and the wasm API pick one.
    pub fn matmul_kernel_by_name(name: &str) -> Result<MatmulKernel> {
        Ok(match name {
            "readable" => MatmulKernel::Readable,
            "subgroup" => MatmulKernel::Subgroup,
            "model" => MatmulKernel::Model,
            _ => match MatmulTiling::ALL.into_iter().find(|t| t.name == name) {
                Some(tiling) => MatmulKernel::Tiled(tiling),
                None => invalid_input!(
                    "no matmul kernel named {name:?}: use readable, subgroup, model, large, medium, small or direct"
                ),
            },
        })
    }

    /// For benchmarks (the browser's, where only the caller can time): runs one kernel `repeats` times at
    /// (N, C, OC) on constant data in one submit and waits until the GPU is done (a one-value readback).
    /// The first call for a kernel also compiles its pipeline: call once before timing.
    pub async fn matmul_forward_repeat(
        gpu: &GpuContext,
        kernel: MatmulKernel,
        n: usize,
        c: usize,
        oc: usize,
        repeats: usize,
    ) -> Result<()> {
        if n * c * oc == 0 || repeats == 0 {
            invalid_input!("matmul_forward_repeat: N, C, OC and repeats must be positive");
        }
        if kernel == MatmulKernel::Subgroup && !gpu.subgroups {
            return Err(crate::Error::Gpu(
                "the subgroup matmul needs an adapter with subgroups; this one has none".into(),
            ));
        }
        let inp = gpu.upload("inp", &vec![0.5; n * c]);
        let weight = gpu.upload("weight", &vec![0.25; oc * c]);
        let out = gpu.zeros("out", n * oc);
        let mut plan = Plan::new();
        let (out_v, inp_v, weight_v) = ((&out).into(), (&inp).into(), (&weight).into());
        match kernel {
            MatmulKernel::Readable => {
                matmul_forward_gpu(gpu, &mut plan, out_v, inp_v, weight_v, None, n, c, oc)
            }
            MatmulKernel::Tiled(tiling) => matmul_forward_with_tiling(
                gpu, &mut plan, tiling, out_v, inp_v, weight_v, None, n, c, oc,
            ),
            MatmulKernel::Subgroup => {
                matmul_forward_subgroup_gpu(gpu, &mut plan, out_v, inp_v, weight_v, None, n, c, oc)
            }
            MatmulKernel::Model => {
                matmul_forward_fast_gpu(gpu, &mut plan, out_v, inp_v, weight_v, None, n, c, oc)
            }
        }
        gpu.checked(|encoder| {
            for _ in 0..repeats {
                plan.encode(encoder);
            }
        })
        .await?;
        let last = gpu.read(&out, 1).await?;
        // Every output is C * 0.5 * 0.25: a wrong kernel is an error, not a fast number.
        let expected = c as f32 * 0.125;
        if (last[0] - expected).abs() > 1e-3 * expected.max(1.0) {
            return Err(crate::Error::Gpu(format!(
                "matmul_forward_repeat: {kernel:?} gave {} where {expected} was expected",
                last[0]
            )));
        }
        Ok(())
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::testing::{TestRng, assert_close};

        /// Every GPU kernel this device can run: the readable one, the tiled one with each row of the tiling
        /// table (the direct kernel included), and the subgroup one where the device has subgroups (said on stderr where it has not).
        fn kernels(gpu: &GpuContext) -> Vec<MatmulKernel> {
            let mut kernels = vec![MatmulKernel::Readable];
            kernels.extend(MatmulTiling::ALL.map(MatmulKernel::Tiled));
            if gpu.subgroups {
                kernels.push(MatmulKernel::Subgroup);
            }
            kernels
        }

        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            n: usize,
            c: usize,
            oc: usize,
            with_bias: bool,
        ) {
            for kernel in kernels(gpu) {
                check_one(gpu, rng, kernel, n, c, oc, with_bias);
            }
        }

        fn check_one(
            gpu: &GpuContext,
            rng: &mut TestRng,
            kernel: MatmulKernel,
            n: usize,
            c: usize,
            oc: usize,
            with_bias: bool,
        ) {
            let inp = rng.vec(n * c);
            let weight = rng.vec(oc * c);
            let bias = with_bias.then(|| rng.vec(oc));
            let mut expected = vec![0.0; n * oc];
            matmul_forward_cpu(&mut expected, &inp, &weight, bias.as_deref(), n, c, oc);
            let actual = pollster::block_on(matmul_forward_run_with(
                gpu,
                kernel,
                &inp,
                &weight,
                bias.as_deref(),
                n,
                c,
                oc,
            ))
            .expect("gpu matmul");
            // Sums of up to 384 products of values in [-1, 1] in another order (vec4 dots, fused multiply-adds):
            // 1e-5 absolute + 1e-5 relative holds with margin at these sizes.
            assert_close(
                &actual,
                &expected,
                1e-5,
                1e-5,
                &format!("matmul_forward {kernel:?} N={n} C={c} OC={oc}"),
            );
        }

        #[test]
        fn kernels_by_name_and_repeated_runs() {
            assert_eq!(
                matmul_kernel_by_name("small").expect("a row"),
                MatmulKernel::Tiled(MatmulTiling::SMALL)
            );
            assert_eq!(
                matmul_kernel_by_name("direct").expect("a row"),
                MatmulKernel::Tiled(MatmulTiling::DIRECT)
            );
            let err = matmul_kernel_by_name("huge").unwrap_err();
            assert!(err.to_string().contains("no matmul kernel named"), "{err}");
            let Some(gpu) = gpu_or_skip("matmul_forward_repeat") else {
                return;
            };
            for name in ["readable", "large", "small", "direct", "model"] {
                let kernel = matmul_kernel_by_name(name).expect("a kernel");
                pollster::block_on(matmul_forward_repeat(gpu, kernel, 33, 20, 70, 3))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("matmul_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(1);
            // B=2, T=7 -> N=14 rows; C=12 in, V=37 out: nothing divides the tile.
            check(gpu, &mut rng, 2 * 7, 12, 37, true);
            check(gpu, &mut rng, 2 * 7, 12, 37, false);
            check(gpu, &mut rng, 1, 1, 1, true);
            // Exactly one tile, one past a tile and a K slice, and a tall thin one for the tiled kernel.
            check(gpu, &mut rng, 64, 16, 64, true);
            check(gpu, &mut rng, 65, 17, 65, false);
            check(gpu, &mut rng, 130, 33, 3, true);
        }

        #[test]
        fn subgroup_kernel_matches_cpu() {
            let Some(gpu) = gpu_or_skip("matmul_forward subgroup kernel") else {
                return;
            };
            if !gpu.subgroups {
                // A missing feature is not a failure (CI=true only insists on an adapter): say it did not run.
                eprintln!(
                    "\n!!! NOT RUN: matmul_forward subgroup kernel: {} offers no subgroups (sizes {:?})\n",
                    gpu.summary.name, gpu.summary.subgroup_sizes
                );
                return;
            }
            let mut rng = TestRng::new(11);
            // Awkward shapes (C % 4 != 0 takes the scalar loads), tile edges, a C shorter than one team slice,
            // and random shapes; each against the CPU.
            for &(n, c, oc, with_bias) in &[
                (14, 12, 37, true),
                (14, 13, 37, false),
                (1, 1, 1, true),
                (32, 64, 64, true),
                (33, 65, 65, false),
                (130, 3, 7, true),
                (64, 128, 384, true),
            ] {
                check_one(gpu, &mut rng, MatmulKernel::Subgroup, n, c, oc, with_bias);
            }
            for _ in 0..8 {
                let (n, c, oc) = (rng.range(1, 128), rng.range(1, 128), rng.range(1, 128));
                let with_bias = rng.next_u64().is_multiple_of(2);
                check_one(gpu, &mut rng, MatmulKernel::Subgroup, n, c, oc, with_bias);
            }
            // And it is what the model runs on this device, unless the tiling is `direct` (software adapters).
            assert_eq!(gpu.summary.subgroup_matmul, gpu.subgroup_matmul());
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("matmul_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(7);
            for _ in 0..12 {
                let (n, c, oc) = (rng.range(1, 128), rng.range(1, 128), rng.range(1, 128));
                let with_bias = rng.next_u64().is_multiple_of(2);
                check(gpu, &mut rng, n, c, oc, with_bias);
            }
        }

        /// The f16 build (the direct kernel's, what `matmul_forward_fast_gpu` runs for f16 views) against the
        /// CPU reference evaluated with f16 rounding: inputs rounded to f16, summed in f32 as the kernel does,
        /// the output rounded to f16. Within one f16 ulp (F16_RTOL) + 1e-3 (a sum in another order near a
        /// rounding boundary or near zero).
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{F16_RTOL, gpu_f16_or_skip, round_f16};
            let Some(gpu) = gpu_f16_or_skip("matmul_forward f16") else {
                return;
            };
            let mut rng = TestRng::new(17);
            for &(n, c, oc, with_bias) in &[
                (14, 12, 37, true),  // B*T = 2*7, C = 12: the vec4 path
                (14, 13, 37, false), // C % 4 != 0: the scalar path
                (33, 128, 65, true),
                (1, 4, 1, true),
                (130, 3, 7, false),
            ] {
                let inp = round_f16(&rng.vec(n * c));
                let weight = round_f16(&rng.vec(oc * c));
                let bias = with_bias.then(|| round_f16(&rng.vec(oc)));
                let mut expected = vec![0.0; n * oc];
                matmul_forward_cpu(&mut expected, &inp, &weight, bias.as_deref(), n, c, oc);
                let out = gpu.zeros_f16("out", n * oc);
                let (inp_buf, weight_buf) = (
                    gpu.upload_f16("inp", &inp),
                    gpu.upload_f16("weight", &weight),
                );
                let bias_buf = bias.as_ref().map(|bias| gpu.upload_f16("bias", bias));
                let mut plan = Plan::new();
                matmul_forward_fast_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&out),
                    View::all_f16(&inp_buf),
                    View::all_f16(&weight_buf),
                    bias_buf.as_ref().map(View::all_f16),
                    n,
                    c,
                    oc,
                );
                pollster::block_on(plan.run(gpu)).expect("matmul_forward_direct_f16 dispatch");
                let actual = pollster::block_on(gpu.read_f16(&out, n * oc)).expect("readback");
                assert_close(
                    &actual,
                    &round_f16(&expected),
                    1e-3,
                    F16_RTOL,
                    &format!("matmul_forward f16 N={n} C={c} OC={oc} bias={with_bias}"),
                );
            }
        }

        #[test]
        fn direct_kernel_matches_cpu_on_aligned_and_ragged_shapes() {
            let Some(gpu) = gpu_or_skip("matmul_forward direct kernel") else {
                return;
            };
            let mut rng = TestRng::new(13);
            // C % 4 == 0 takes the vec4 path; ragged N and OC are clamped on load and masked on store.
            let direct = MatmulKernel::Tiled(MatmulTiling::DIRECT);
            for &(n, c, oc, with_bias) in &[
                (64, 128, 64, true),
                (33, 128, 65, false),
                (14, 12, 37, true),
                (14, 13, 37, false),
                (1, 4, 1, true),
                (130, 3, 7, true),
            ] {
                check_one(gpu, &mut rng, direct, n, c, oc, with_bias);
            }
        }
    }
}
