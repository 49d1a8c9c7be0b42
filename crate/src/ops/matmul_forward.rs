//! matmul_forward: the forward pass of a linear layer, `out = inp @ weight^T + bias`.
//!
//! Layouts follow PyTorch's `nn.Linear` (and llm.c): `weight` is (OC, C), one row per output channel, so a
//! saved model loads into PyTorch without transposes.

use super::float::Float;
use crate::gpu::{Access, GpuContext, Plan, View};
use crate::{Result, invalid_input};

/// The WGSL source, `shaders/matmul_forward.wgsl`.
pub const SHADER: &str = include_str!("../../../shaders/matmul_forward.wgsl");

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
/// Transposes the weight once (OC*C work against N*C*OC) so that the blocked kernel [`gemm_acc`] can
/// stream contiguous rows; this is the matmul the model uses.
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
    let weight_t = transpose(weight, oc, c); // (C, OC)
    for row in out[..n * oc].chunks_exact_mut(oc.max(1)) {
        match bias {
            Some(bias) => row.copy_from_slice(&bias[..oc]),
            None => row.fill(R::ZERO),
        }
    }
    gemm_acc(out, inp, &weight_t, n, c, oc);
}

/// out (cols, rows) = inp (rows, cols)^T.
pub(crate) fn transpose<R: Float>(inp: &[R], rows: usize, cols: usize) -> Vec<R> {
    let mut out = vec![R::ZERO; rows * cols];
    // Tiles of 32x32 keep both the reads and the writes within a few cache lines.
    const TB: usize = 32;
    for r0 in (0..rows).step_by(TB) {
        for c0 in (0..cols).step_by(TB) {
            for r in r0..(r0 + TB).min(rows) {
                for col in c0..(c0 + TB).min(cols) {
                    out[col * rows + r] = inp[r * cols + col];
                }
            }
        }
    }
    out
}

/// Rows of the register tile of [`gemm_acc`].
const MR: usize = 4;
/// Columns of the register tile: MR x NR accumulators stay in SIMD registers (8 4-lane vectors).
const NR: usize = 8;
/// Depth of a packed block of `b`: KC x NC floats (128 KiB in f32) stay in the L2 cache.
const KC: usize = 128;
/// Width of a packed block of `b`.
const NC: usize = 256;

/// c (M, N) += a (M, K) @ b (K, N), all row-major: the blocked kernel under every fast matmul.
///
/// `b` is copied block by block (KC x NC) into panels NR columns wide, so the inner loop reads it
/// contiguously; each MR x NR tile of `c` is held in local arrays across the whole K block, so the compiler
/// keeps it in SIMD registers and vectorizes the fixed-size loops (SSE on x86-64, simd128 on wasm).
/// The order of additions is fixed by the sizes alone, so results are deterministic.
pub(crate) fn gemm_acc<R: Float>(c: &mut [R], a: &[R], b: &[R], m: usize, k: usize, n: usize) {
    assert!(c.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    let mut packed = vec![R::ZERO; KC * NC.next_multiple_of(NR)];
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        let panels = nc.div_ceil(NR);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            // Pack b[k0..k0+kc, j0..j0+nc] as `panels` panels of (kc, NR), zero-padded on the right.
            for p in 0..panels {
                let panel = &mut packed[p * kc * NR..(p + 1) * kc * NR];
                let cols = NR.min(nc - p * NR);
                for kk in 0..kc {
                    let src = &b[(k0 + kk) * n + j0 + p * NR..][..cols];
                    let dst = &mut panel[kk * NR..(kk + 1) * NR];
                    dst[..cols].copy_from_slice(src);
                    dst[cols..].fill(R::ZERO);
                }
            }
            let mut i = 0;
            while i + MR <= m {
                for p in 0..panels {
                    micro_kernel::<R, MR>(
                        c,
                        a,
                        &packed[p * kc * NR..(p + 1) * kc * NR],
                        i,
                        k0,
                        kc,
                        j0 + p * NR,
                        NR.min(nc - p * NR),
                        k,
                        n,
                    );
                }
                i += MR;
            }
            while i < m {
                for p in 0..panels {
                    micro_kernel::<R, 1>(
                        c,
                        a,
                        &packed[p * kc * NR..(p + 1) * kc * NR],
                        i,
                        k0,
                        kc,
                        j0 + p * NR,
                        NR.min(nc - p * NR),
                        k,
                        n,
                    );
                }
                i += 1;
            }
        }
    }
}

/// c[i..i+ROWS, j..j+cols] += a[i..i+ROWS, k0..k0+kc] @ panel (kc, NR).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn micro_kernel<R: Float, const ROWS: usize>(
    c: &mut [R],
    a: &[R],
    panel: &[R],
    i: usize,
    k0: usize,
    kc: usize,
    j: usize,
    cols: usize,
    k: usize,
    n: usize,
) {
    let mut acc = [[R::ZERO; NR]; ROWS];
    for (r, acc_row) in acc.iter_mut().enumerate() {
        acc_row[..cols].copy_from_slice(&c[(i + r) * n + j..][..cols]);
    }
    let a_rows: [&[R]; ROWS] = std::array::from_fn(|r| &a[(i + r) * k + k0..][..kc]);
    for (kk, b) in panel.chunks_exact(NR).enumerate().take(kc) {
        let b: &[R; NR] = b.try_into().expect("panel rows are NR wide");
        for r in 0..ROWS {
            let x = a_rows[r][kk];
            for jj in 0..NR {
                acc[r][jj] += x * b[jj];
            }
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        c[(i + r) * n + j..][..cols].copy_from_slice(&acc_row[..cols]);
    }
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
        SHADER,
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
    matmul_forward_gpu(
        gpu,
        &mut plan,
        (&out).into(),
        (&inp).into(),
        (&weight).into(),
        bias,
        n,
        c,
        oc,
    );
    plan.run(gpu).await?;
    gpu.read(&out, n * oc).await
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::testing::{TestRng, assert_close, gpu_or_skip};

    fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize, c: usize, oc: usize, with_bias: bool) {
        let inp = rng.vec(n * c);
        let weight = rng.vec(oc * c);
        let bias = with_bias.then(|| rng.vec(oc));
        let mut expected = vec![0.0; n * oc];
        matmul_forward_cpu(&mut expected, &inp, &weight, bias.as_deref(), n, c, oc);
        let actual = pollster::block_on(matmul_forward_run(
            gpu,
            &inp,
            &weight,
            bias.as_deref(),
            n,
            c,
            oc,
        ))
        .expect("gpu matmul");
        assert_close(
            &actual,
            &expected,
            1e-5,
            1e-5,
            &format!("matmul_forward N={n} C={c} OC={oc}"),
        );
    }

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
}
