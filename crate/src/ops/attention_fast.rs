//! attention_fast: the CPU's fast kernels of the fused attention, the contract of
//! [`attention_forward_fused_cpu`](super::attention_forward_fused::attention_forward_fused_cpu) and
//! [`attention_backward_fused_cpu`](super::attention_backward_fused::attention_backward_fused_cpu) (which
//! stay the spec they are tested against): out (B, T, C) and lse (B, NH, T) forward, dinp (B, T, 3C) back,
//! with no (B, NH, T, T) map anywhere.
//!
//! Intuition: one (batch, head) at a time, as four or five small matrix products on its (T, hs) slices of q,
//! k, v (gathered into contiguous scratch) through [`gemm_acc_t`]: scores S = q k^T (T, T), the softmax of
//! each row in place (its lse kept), out = P v; back: dP = dout v^T, dS = P * (dP - delta) (delta = dout .
//! out per row, the softmax's row term), dq = dS k, dk = dS^T q, dv = P^T dout. The (T, T) block is scratch
//! of the thread working on that head, reused head after head: no (B, NH, T, T) map is ever stored. With a
//! causal mask the products still run over the full square (the masked weights are 0): at T <= a few
//! hundred a dense product is faster than skipping its upper triangle in small pieces.
//!
//! Batches run in parallel ([`super::parallel`]), each batch's heads in order on one thread: every output
//! value has one writer and a fixed order of additions, so the results do not depend on the thread count.
//! On x86-64 with AVX-512 (or AVX2) the same code is compiled a second time with those features and picked
//! at run time, so the loops vectorize 16 (or 8) lanes wide instead of SSE2's 4.

use super::attention_mask::{AttentionDropout, AttentionMask};
use super::dropout_forward::dropout_uniform;
use super::float::{Float, copy_row};
use super::gemm::{Layout, gemm_acc_t};
use super::parallel::{dot_lanes, multiversion, par_chunks, par_chunks2, sum_lanes};

/// Attention dropout's multiplier of weight `index` of the (B, NH, T, T) index space: 0 or 1/(1-p), the
/// value [`dropout_mask_cpu`](super::dropout_forward::dropout_mask_cpu) writes there.
#[inline(always)]
fn dropout_scale<R: Float>(dropout: Option<(AttentionDropout, R)>, index: usize) -> R {
    match dropout {
        Some((d, _)) if dropout_uniform(d.seed, index as u32) < d.p => R::ZERO,
        Some((_, keep)) => keep,
        None => R::ONE,
    }
}

/// out (T, hs) = the (T, hs) head slice of `x` starting at column `col` (rows `stride` apart).
#[inline(always)]
fn gather<R: Float>(out: &mut [R], x: &[R], stride: usize, col: usize, hs: usize) {
    for (j, row) in out.chunks_exact_mut(hs).enumerate() {
        copy_row(row, &x[j * stride + col..][..hs]);
    }
}

/// The (T, hs) head slice of `x` starting at column `col` (rows `stride` apart) = src (T, hs).
#[inline(always)]
fn scatter<R: Float>(x: &mut [R], src: &[R], stride: usize, col: usize, hs: usize) {
    for (j, row) in src.chunks_exact(hs).enumerate() {
        copy_row(&mut x[j * stride + col..][..hs], row);
    }
}

/// dst (M, N) = op(a) @ op(b) (overwritten), through the crate's products.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn product<R: Float>(
    dst: &mut [R],
    a: &[R],
    a_layout: Layout,
    b: &[R],
    b_layout: Layout,
    m: usize,
    k: usize,
    n: usize,
) {
    dst[..m * n].fill(R::ZERO);
    gemm_acc_t(dst, a, a_layout, b, b_layout, m, k, n);
}

/// The forward, same contract as `attention_forward_fused_cpu`: out (B, T, C), lse (B, NH, T) from inp
/// (B, T, 3C), attention dropout drawn from `dropout`'s seed at the reference's (B, NH, T, T) indices.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_fast_cpu<R: Float>(
    out: &mut [R],
    lse: &mut [R],
    inp: &[R],
    dropout: Option<AttentionDropout>,
    mask: AttentionMask,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let (out, lse) = (&mut out[..b * t * c], &mut lse[..b * nh * t]);
    par_chunks2(out, t * c, lse, nh * t, |bb, out_b, lse_b| {
        forward_batch(
            out_b,
            lse_b,
            &inp[bb * t * 3 * c..(bb + 1) * t * 3 * c],
            dropout,
            mask,
            bb,
            t,
            c,
            nh,
        );
    });
}

/// One batch of [`attention_forward_fast_cpu`]: out_b (T, C), lse_b (NH, T), x (T, 3C).
#[allow(clippy::too_many_arguments)]
fn forward_batch<R: Float>(
    out_b: &mut [R],
    lse_b: &mut [R],
    x: &[R],
    dropout: Option<AttentionDropout>,
    mask: AttentionMask,
    bb: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let (hs, c3) = (c / nh, 3 * c);
    let scale = R::ONE / R::from_usize(hs).sqrt();
    let dropout = dropout.map(|d| (d, R::from_f64(1.0 / (1.0 - f64::from(d.p)))));
    let head = || vec![R::ZERO; t * hs];
    let (mut q, mut k, mut v, mut o) = (head(), head(), head(), head()); // (T, hs) each
    let mut p = vec![R::ZERO; t * t]; // (T, T) scores, then weights
    for h in 0..nh {
        gather(&mut q, x, c3, h * hs, hs);
        gather(&mut k, x, c3, c + h * hs, hs);
        gather(&mut v, x, c3, 2 * c + h * hs, hs);
        // S (T, T) = q (T, hs) @ k^T; k (T, hs) is k^T stored transposed.
        product(
            &mut p,
            &q,
            Layout::RowMajor,
            &k,
            Layout::Transposed,
            t,
            hs,
            t,
        );
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let visible = mask.visible(i, t);
            let base = ((bb * nh + h) * t + i) * t;
            lse_b[h * t + i] = softmax_row(row, visible, scale, dropout, base);
        }
        // out (T, hs) = P (T, T) @ v (T, hs); masked weights are 0.
        product(&mut o, &p, Layout::RowMajor, &v, Layout::RowMajor, t, t, hs);
        scatter(out_b, &o, c, h * hs, hs);
    }
}

multiversion! {
/// One row of attention weights in place: row (T) holds q . k_j; on return the first `visible` entries hold
/// softmax(scale * row) times the dropout multiplier of index base + j, the rest 0. Returns the row's lse.
fn softmax_row<R: Float>(
    row: &mut [R],
    visible: usize,
    scale: R,
    dropout: Option<(AttentionDropout, R)>,
    base: usize,
) -> R {
    let (s, masked) = row.split_at_mut(visible);
    masked.fill(R::ZERO);
    // The wasm module (built for size, not vectorized by the compiler) takes the simd128 version, same bits.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if dropout.is_none()
        && super::simd128::enabled()
        && let (Some(s32), Some(scale32)) = (
            super::float::as_f32_mut(s),
            super::float::as_f32(std::slice::from_ref(&scale)),
        )
    {
        return R::from_f64(f64::from(super::simd128::softmax_row(s32, scale32[0])));
    }
    let mut max = R::NEG_INFINITY;
    for sj in s.iter_mut() {
        *sj *= scale;
        max = max.max(*sj);
    }
    for sj in s.iter_mut() {
        *sj = (*sj - max).exp_fast();
    }
    let sum = sum_lanes(s, |e| e);
    let inv = R::ONE / sum;
    match dropout {
        None => s.iter_mut().for_each(|e| *e *= inv),
        Some(_) => {
            for (j, e) in s.iter_mut().enumerate() {
                *e = *e * inv * dropout_scale(dropout, base + j);
            }
        }
    }
    max + sum.ln()
}
}

/// The backward, same contract as `attention_backward_fused_cpu`: dinp (B, T, 3C) (assigned) from dout
/// (B, T, C), inp (B, T, 3C) and the forward's out (B, T, C) and lse (B, NH, T).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_fast_cpu<R: Float>(
    dinp: &mut [R],
    dout: &[R],
    inp: &[R],
    out: &[R],
    lse: &[R],
    dropout: Option<AttentionDropout>,
    mask: AttentionMask,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let c3 = 3 * c;
    par_chunks(&mut dinp[..b * t * c3], t * c3, |bb, dx| {
        let rows = bb * t * c..(bb + 1) * t * c;
        backward_batch(
            dx,
            &dout[rows.clone()],
            &inp[bb * t * c3..(bb + 1) * t * c3],
            &out[rows],
            &lse[bb * nh * t..(bb + 1) * nh * t],
            dropout,
            mask,
            bb,
            t,
            c,
            nh,
        );
    });
}

/// One batch of [`attention_backward_fast_cpu`]: dx (T, 3C), dout_b (T, C), x (T, 3C), out_b (T, C),
/// lse_b (NH, T).
#[allow(clippy::too_many_arguments)]
fn backward_batch<R: Float>(
    dx: &mut [R],
    dout_b: &[R],
    x: &[R],
    out_b: &[R],
    lse_b: &[R],
    dropout: Option<AttentionDropout>,
    mask: AttentionMask,
    bb: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let (hs, c3) = (c / nh, 3 * c);
    let scale = R::ONE / R::from_usize(hs).sqrt();
    let dropout = dropout.map(|d| (d, R::from_f64(1.0 / (1.0 - f64::from(d.p)))));
    let head = || vec![R::ZERO; t * hs];
    let (mut q, mut k, mut v, mut g, mut o) = (head(), head(), head(), head(), head()); // (T, hs)
    let (mut dq, mut dk, mut dv) = (head(), head(), head()); // (T, hs)
    let (mut p, mut dp) = (vec![R::ZERO; t * t], vec![R::ZERO; t * t]); // (T, T)
    for h in 0..nh {
        gather(&mut q, x, c3, h * hs, hs);
        gather(&mut k, x, c3, c + h * hs, hs);
        gather(&mut v, x, c3, 2 * c + h * hs, hs);
        gather(&mut g, dout_b, c, h * hs, hs);
        gather(&mut o, out_b, c, h * hs, hs);
        product(
            &mut p,
            &q,
            Layout::RowMajor,
            &k,
            Layout::Transposed,
            t,
            hs,
            t,
        ); // q k^T
        product(
            &mut dp,
            &g,
            Layout::RowMajor,
            &v,
            Layout::Transposed,
            t,
            hs,
            t,
        ); // dout v^T
        for (i, (p_row, dp_row)) in p
            .chunks_exact_mut(t)
            .zip(dp.chunks_exact_mut(t))
            .enumerate()
        {
            let visible = mask.visible(i, t);
            let base = ((bb * nh + h) * t + i) * t;
            // delta = sum_j att_j * datt_j = dout . out (out is exactly the weighted sum of the values).
            let delta = dot_lanes(&g[i * hs..(i + 1) * hs], &o[i * hs..(i + 1) * hs]);
            backward_row(
                p_row,
                dp_row,
                visible,
                lse_b[h * t + i],
                delta,
                scale,
                dropout,
                base,
            );
        }
        // p now holds the dropped weights, dp the score gradients dS (scaled): the three products.
        product(
            &mut dv,
            &p,
            Layout::Transposed,
            &g,
            Layout::RowMajor,
            t,
            t,
            hs,
        ); // P^T dout
        product(
            &mut dq,
            &dp,
            Layout::RowMajor,
            &k,
            Layout::RowMajor,
            t,
            t,
            hs,
        ); // dS k
        product(
            &mut dk,
            &dp,
            Layout::Transposed,
            &q,
            Layout::RowMajor,
            t,
            t,
            hs,
        ); // dS^T q
        scatter(dx, &dq, c3, h * hs, hs);
        scatter(dx, &dk, c3, c + h * hs, hs);
        scatter(dx, &dv, c3, 2 * c + h * hs, hs);
    }
}

multiversion! {
/// One query row of the backward in place: p_row (T) holds q . k_j and becomes the dropped weight
/// att_j * drop_j; dp_row (T) holds dout . v_j and becomes scale * att_j * (dout . v_j * drop_j - delta), the
/// gradient of the score before scaling. Entries past `visible` become 0.
fn backward_row<R: Float>(
    p_row: &mut [R],
    dp_row: &mut [R],
    visible: usize,
    lse: R,
    delta: R,
    scale: R,
    dropout: Option<(AttentionDropout, R)>,
    base: usize,
) {
    let (p, p_masked) = p_row.split_at_mut(visible);
    let (dp, dp_masked) = dp_row.split_at_mut(visible);
    p_masked.fill(R::ZERO);
    dp_masked.fill(R::ZERO);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if dropout.is_none()
        && super::simd128::enabled()
        && let (Some(p32), Some(dp32), Some(k)) = (
            super::float::as_f32_mut(p),
            super::float::as_f32_mut(dp),
            super::float::as_f32(&[lse, delta, scale]),
        )
    {
        super::simd128::attention_backward_row(p32, dp32, k[0], k[1], k[2]);
        return;
    }
    for pj in p.iter_mut() {
        *pj = (*pj * scale - lse).exp_fast();
    }
    match dropout {
        None => {
            for (pj, dpj) in p.iter().zip(dp.iter_mut()) {
                *dpj = *pj * (*dpj - delta) * scale;
            }
        }
        Some(_) => {
            for (j, (pj, dpj)) in p.iter_mut().zip(dp.iter_mut()).enumerate() {
                let keep = dropout_scale(dropout, base + j);
                *dpj = *pj * (*dpj * keep - delta) * scale;
                *pj *= keep;
            }
        }
    }
}
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::attention_backward_fused::attention_backward_fused_cpu;
    use crate::ops::attention_forward_fused::attention_forward_fused_cpu;
    use crate::ops::testing::{TestRng, assert_close, on_threads};

    /// The fast kernels against the composed references, on awkward shapes, both masks, with and without
    /// dropout, on one thread and on a pool of three (whose results must be identical).
    #[test]
    fn fast_attention_matches_the_reference_on_one_and_several_threads() {
        let mut rng = TestRng::new(77);
        for &(b, t, c, nh) in &[(2, 7, 12, 3), (1, 1, 4, 1), (3, 13, 20, 5), (2, 33, 64, 2)] {
            for mask in [AttentionMask::Causal, AttentionMask::Bidirectional] {
                for dropout in [None, Some(AttentionDropout { p: 0.2, seed: 9 })] {
                    let inp: Vec<f32> = rng.vec(b * t * 3 * c).iter().map(|x| 2.0 * x).collect();
                    let dout = rng.vec(b * t * c);
                    let (mut out, mut lse) = (vec![0.0f32; b * t * c], vec![0.0f32; b * nh * t]);
                    attention_forward_fused_cpu(
                        &mut out, &mut lse, &inp, dropout, mask, b, t, c, nh,
                    );
                    let mut dinp = vec![0.0f32; b * t * 3 * c];
                    attention_backward_fused_cpu(
                        &mut dinp, &dout, &inp, dropout, mask, b, t, c, nh,
                    );
                    let run = |threads: usize| {
                        on_threads(threads, || {
                            let (mut o, mut l) =
                                (vec![f32::NAN; b * t * c], vec![f32::NAN; b * nh * t]);
                            attention_forward_fast_cpu(
                                &mut o, &mut l, &inp, dropout, mask, b, t, c, nh,
                            );
                            let mut dx = vec![f32::NAN; b * t * 3 * c];
                            attention_backward_fast_cpu(
                                &mut dx, &dout, &inp, &o, &l, dropout, mask, b, t, c, nh,
                            );
                            (o, l, dx)
                        })
                    };
                    let (o1, l1, dx1) = run(1);
                    let what = format!("B={b} T={t} C={c} NH={nh} {mask:?} {dropout:?}");
                    // Sums of up to 33 products of values in [-2, 2] reordered, exp_fast within 3e-7.
                    assert_close(&o1, &out, 2e-5, 1e-5, &format!("out, {what}"));
                    assert_close(&l1, &lse, 2e-5, 1e-5, &format!("lse, {what}"));
                    assert_close(&dx1, &dinp, 5e-5, 1e-4, &format!("dinp, {what}"));
                    let (o3, l3, dx3) = run(3);
                    assert!(
                        o3 == o1 && l3 == l1 && dx3 == dx1,
                        "three threads differ from one: {what}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_attention_in_f64_matches_the_reference_closely() {
        // In f64 only the reordering remains (exp_fast is the exact exp there): agreement to 1e-12.
        let (b, t, c, nh) = (2, 9, 12, 3);
        let mut rng = TestRng::new(78);
        let inp = rng.vec_f64(b * t * 3 * c);
        let dout = rng.vec_f64(b * t * c);
        let dropout = Some(AttentionDropout { p: 0.3, seed: 4 });
        let mask = AttentionMask::Causal;
        let (mut out, mut lse) = (vec![0.0; b * t * c], vec![0.0; b * nh * t]);
        attention_forward_fused_cpu(&mut out, &mut lse, &inp, dropout, mask, b, t, c, nh);
        let mut dinp = vec![0.0; b * t * 3 * c];
        attention_backward_fused_cpu(&mut dinp, &dout, &inp, dropout, mask, b, t, c, nh);
        let (mut o, mut l) = (vec![0.0; b * t * c], vec![0.0; b * nh * t]);
        attention_forward_fast_cpu(&mut o, &mut l, &inp, dropout, mask, b, t, c, nh);
        let mut dx = vec![0.0; b * t * 3 * c];
        attention_backward_fast_cpu(&mut dx, &dout, &inp, &o, &l, dropout, mask, b, t, c, nh);
        for (name, got, want) in [("out", &o, &out), ("lse", &l, &lse), ("dinp", &dx, &dinp)] {
            for (i, (a, e)) in got.iter().zip(want.iter()).enumerate() {
                assert!((a - e).abs() < 1e-12, "{name}[{i}]: {a} vs {e}");
            }
        }
    }
}
