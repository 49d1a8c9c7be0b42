//! attention_fast: the CPU's fast kernels of the fused attention, the contract of
//! [`attention_forward_fused_cpu`](super::attention_forward_fused::attention_forward_fused_cpu) and
//! [`attention_backward_fused_cpu`](super::attention_backward_fused::attention_backward_fused_cpu) (which
//! stay the spec they are tested against): out (B, T, C) and lse (B, NH, T) forward, dinp (B, T, 3C) back,
//! with no (B, NH, T, T) map anywhere.
//!
//! Intuition: one (batch, head) at a time, its keys (and values) copied transposed into a small (hs, T)
//! scratch, so that a query's scores are `hs` multiply-adds of whole key rows (an axpy over T that
//! vectorizes) and its output is a sum of value rows (an axpy over hs). The weights of one query row live in
//! a T-long scratch: only what one row needs is ever held, as in the GPU's online softmax, but with the
//! row's full max known before the exponentials (the CPU walks the row twice instead of rescaling).
//! The backward recomputes each weight as exp(score - lse) from the forward's lse, and the softmax's
//! row term from delta = dout . out.
//!
//! Batches run in parallel ([`super::parallel`]), each batch's heads in order on one thread: every output
//! value has one writer and a fixed order of additions, so the results do not depend on the thread count.
//! On x86-64 with AVX-512 (or AVX2) the same code is compiled a second time with those features and picked
//! at run time, so the loops vectorize 16 (or 8) lanes wide instead of SSE2's 4.

use super::attention_mask::{AttentionDropout, AttentionMask};
use super::dropout_forward::dropout_uniform;
use super::float::Float;
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

/// scratch (hs, T) = the (T, hs) head slice of `x` (rows `stride` apart, starting at column `col`), transposed.
#[inline(always)]
fn gather_transposed<R: Float>(
    scratch: &mut [R],
    x: &[R],
    stride: usize,
    col: usize,
    t: usize,
    hs: usize,
) {
    for j in 0..t {
        let row = &x[j * stride + col..][..hs];
        for (d, &value) in row.iter().enumerate() {
            scratch[d * t + j] = value;
        }
    }
}

/// s (n) = sum over d of q[d] * kt[d, 0..n], kt (hs, t) row-major: the scores of one query, as axpys.
#[inline(always)]
fn scores<R: Float>(s: &mut [R], q: &[R], kt: &[R], t: usize) {
    let n = s.len();
    s.fill(R::ZERO);
    for (d, &qd) in q.iter().enumerate() {
        for (sj, &k) in s.iter_mut().zip(&kt[d * t..d * t + n]) {
            *sj += qd * k;
        }
    }
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

multiversion! {
/// One batch of [`attention_forward_fast_cpu`]: out_b (T, C), lse_b (NH, T), x (T, 3C).
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
    let mut kt = vec![R::ZERO; hs * t]; // (hs, T) this head's keys
    let mut w = vec![R::ZERO; t]; // one query row's scores, then weights
    for h in 0..nh {
        gather_transposed(&mut kt, x, c3, c + h * hs, t, hs);
        for i in 0..t {
            let visible = mask.visible(i, t);
            let s = &mut w[..visible];
            scores(s, &x[i * c3 + h * hs..][..hs], &kt, t);
            let mut max = R::NEG_INFINITY;
            for sj in s.iter_mut() {
                *sj *= scale;
                max = max.max(*sj);
            }
            for sj in s.iter_mut() {
                *sj = (*sj - max).exp_fast();
            }
            let sum = sum_lanes(s, |e| e);
            lse_b[h * t + i] = max + sum.ln();
            let inv = R::ONE / sum;
            let o = &mut out_b[i * c + h * hs..][..hs];
            o.fill(R::ZERO);
            let row = ((bb * nh + h) * t + i) * t;
            for (j, &e) in s.iter().enumerate() {
                let weight = e * inv * dropout_scale(dropout, row + j);
                let v = &x[j * c3 + 2 * c + h * hs..][..hs];
                for (oi, &vi) in o.iter_mut().zip(v) {
                    *oi += weight * vi;
                }
            }
        }
    }
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

multiversion! {
/// One batch of [`attention_backward_fast_cpu`]: dx (T, 3C), dout_b (T, C), x (T, 3C), out_b (T, C),
/// lse_b (NH, T).
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
    let mut kt = vec![R::ZERO; hs * t]; // (hs, T) keys, transposed
    let mut vt = vec![R::ZERO; hs * t]; // (hs, T) values, transposed
    let (mut dk, mut dv) = (vec![R::ZERO; t * hs], vec![R::ZERO; t * hs]); // (T, hs) each
    let (mut p, mut dp) = (vec![R::ZERO; t], vec![R::ZERO; t]); // one query row
    for h in 0..nh {
        gather_transposed(&mut kt, x, c3, c + h * hs, t, hs);
        gather_transposed(&mut vt, x, c3, 2 * c + h * hs, t, hs);
        dk.fill(R::ZERO);
        dv.fill(R::ZERO);
        for i in 0..t {
            let visible = mask.visible(i, t);
            let q = &x[i * c3 + h * hs..][..hs];
            let g = &dout_b[i * c + h * hs..][..hs];
            // delta = sum_j att_j * datt_j = dout . out (out is exactly the weighted sum of the values).
            let delta = dot_lanes(g, &out_b[i * c + h * hs..][..hs]);
            let row_lse = lse_b[h * t + i];
            let (p, dp) = (&mut p[..visible], &mut dp[..visible]);
            scores(p, q, &kt, t);
            for pj in p.iter_mut() {
                *pj = (*pj * scale - row_lse).exp_fast();
            }
            scores(dp, g, &vt, t); // datt_j (of the dropped weights) = dout . v_j
            let row = ((bb * nh + h) * t + i) * t;
            let dq = &mut dx[i * c3 + h * hs..][..hs];
            dq.fill(R::ZERO);
            for j in 0..visible {
                let keep = dropout_scale(dropout, row + j);
                // dv_j += dropped weight * dout;  dpreatt_j = att_j (datt_j - delta), scaled into q and k.
                let ds = p[j] * (dp[j] * keep - delta) * scale;
                let pd = p[j] * keep;
                let (k, dkj, dvj) = (
                    &x[j * c3 + c + h * hs..][..hs],
                    &mut dk[j * hs..(j + 1) * hs],
                    &mut dv[j * hs..(j + 1) * hs],
                );
                for d in 0..hs {
                    dq[d] += ds * k[d];
                    dkj[d] += ds * q[d];
                    dvj[d] += pd * g[d];
                }
            }
        }
        for j in 0..t {
            dx[j * c3 + c + h * hs..][..hs].copy_from_slice(&dk[j * hs..(j + 1) * hs]);
            dx[j * c3 + 2 * c + h * hs..][..hs].copy_from_slice(&dv[j * hs..(j + 1) * hs]);
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
