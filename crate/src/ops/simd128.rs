//! simd128: the wasm module's elementwise CPU kernels written out in WebAssembly SIMD, for f32.
//!
//! The module is built at opt-level "z" (scripts/build.sh), where rustc turns LLVM's vectorizers off, so loops
//! that vectorize by themselves at opt-level 3 run scalar there. These do per lane exactly the arithmetic of the
//! scalar code they stand in for, in the same order (no fused multiply-add), so results are bit-identical:
//! GELU, LayerNorm forward and backward, AdamW, and attention's softmax rows (forward and backward, without
//! dropout). tests/node/cpu_kernels.test.mjs trains with them and with the scalar code and compares the bits.

use core::arch::wasm32::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the kernels below are used (on by default); off, the scalar code runs, so a test can compare the two.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Whether the simd128 kernels of this file run (see [`set_enabled`]).
#[inline]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns the kernels of this file off (the scalar code they stand in for runs instead) or on again.
pub(crate) fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

use super::gelu_forward::{GELU_CUBE, GELU_SCALE};

/// [`super::float::exp_fast_f32`] on four lanes.
#[inline(always)]
fn exp_fast(x: v128) -> v128 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0;
    // clamp(-87, 88), NaN kept: pmax(a, b) = a < b ? b : a, pmin(a, b) = b < a ? b : a.
    let x = f32x4_pmin(f32x4_pmax(x, f32x4_splat(-87.0)), f32x4_splat(88.0));
    let shifted = f32x4_add(f32x4_mul(x, f32x4_splat(LOG2E)), f32x4_splat(ROUND));
    let n = f32x4_sub(shifted, f32x4_splat(ROUND));
    let r = f32x4_sub(
        f32x4_sub(x, f32x4_mul(n, f32x4_splat(LN2_HI))),
        f32x4_mul(n, f32x4_splat(LN2_LO)),
    );
    let term = |c: f32, inner: v128| f32x4_add(f32x4_splat(c), f32x4_mul(r, inner));
    let p = term(1.0 / 120.0, f32x4_splat(1.0 / 720.0));
    let p = term(1.0 / 24.0, p);
    let p = term(1.0 / 6.0, p);
    let p = term(0.5, p);
    let p = term(1.0, p);
    let p = term(1.0, p);
    let n_int = i32x4_sub(shifted, i32x4_splat(ROUND.to_bits() as i32));
    let scale = i32x4_shl(i32x4_add(n_int, i32x4_splat(127)), 23);
    f32x4_mul(p, scale)
}

/// The fast tanh (`tanh_fast_f32`) on four lanes: sign(x) (1 - 2 / (e^{2|x|} + 1)).
#[inline(always)]
fn tanh_fast(x: v128) -> v128 {
    let one = f32x4_splat(1.0);
    let e = exp_fast(f32x4_mul(f32x4_splat(2.0), f32x4_abs(x)));
    let t = f32x4_sub(one, f32x4_div(f32x4_splat(2.0), f32x4_add(e, one)));
    v128_bitselect(f32x4_neg(t), t, f32x4_lt(x, f32x4_splat(0.0)))
}

/// The inner argument of GELU's tanh, s (x + k x^3), as `s * (x + k * x * x * x)`.
#[inline(always)]
fn gelu_arg(x: v128) -> v128 {
    let (s, k) = (
        f32x4_splat(GELU_SCALE as f32),
        f32x4_splat(GELU_CUBE as f32),
    );
    let cube = f32x4_mul(f32x4_mul(f32x4_mul(k, x), x), x);
    f32x4_mul(s, f32x4_add(x, cube))
}

/// out (n) = gelu(inp (n)), as `gelu_forward_piece`; returns how many leading values it wrote (a multiple of 4).
pub(crate) fn gelu_forward(out: &mut [f32], inp: &[f32]) -> usize {
    let whole = out.len().min(inp.len()) & !3;
    let (half, one) = (f32x4_splat(0.5), f32x4_splat(1.0));
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 <= whole <= both lengths; v128 loads and stores need no alignment.
        unsafe {
            let x = v128_load(inp.as_ptr().add(i).cast());
            let th = tanh_fast(gelu_arg(x));
            let y = f32x4_mul(f32x4_mul(half, x), f32x4_add(one, th));
            v128_store(out.as_mut_ptr().add(i).cast(), y);
        }
    }
    whole
}

/// dinp (n) = gelu'(inp (n)) * dout (n), as `gelu_backward_piece`; returns how many leading values it wrote.
pub(crate) fn gelu_backward(dinp: &mut [f32], inp: &[f32], dout: &[f32]) -> usize {
    let whole = dinp.len().min(inp.len()).min(dout.len()) & !3;
    let (s, k) = (
        f32x4_splat(GELU_SCALE as f32),
        f32x4_splat(GELU_CUBE as f32),
    );
    let (half, one, three) = (f32x4_splat(0.5), f32x4_splat(1.0), f32x4_splat(3.0));
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 <= whole <= every length; v128 loads and stores need no alignment.
        unsafe {
            let x = v128_load(inp.as_ptr().add(i).cast());
            let g = v128_load(dout.as_ptr().add(i).cast());
            let th = tanh_fast(gelu_arg(x));
            let sech2 = f32x4_sub(one, f32x4_mul(th, th));
            let left = f32x4_mul(half, f32x4_add(one, th));
            let poly = f32x4_add(one, f32x4_mul(f32x4_mul(f32x4_mul(three, k), x), x));
            let right = f32x4_mul(f32x4_mul(f32x4_mul(f32x4_mul(half, x), sech2), s), poly);
            v128_store(
                dinp.as_mut_ptr().add(i).cast(),
                f32x4_mul(f32x4_add(left, right), g),
            );
        }
    }
    whole
}

/// Lane `i` of `x`.
#[inline(always)]
fn lane(x: v128, i: usize) -> f32 {
    match i {
        0 => f32x4_extract_lane::<0>(x),
        1 => f32x4_extract_lane::<1>(x),
        2 => f32x4_extract_lane::<2>(x),
        _ => f32x4_extract_lane::<3>(x),
    }
}

/// Four values of `x` from `i` (i + 4 <= x.len()).
#[inline(always)]
fn load(x: &[f32], i: usize) -> v128 {
    assert!(i + 4 <= x.len());
    // SAFETY: in bounds (checked above); v128 loads need no alignment.
    unsafe { v128_load(x.as_ptr().add(i).cast()) }
}

/// Stores four values into `x` from `i` (i + 4 <= x.len()).
#[inline(always)]
fn store(x: &mut [f32], i: usize, value: v128) {
    assert!(i + 4 <= x.len());
    // SAFETY: in bounds (checked above); v128 stores need no alignment.
    unsafe { v128_store(x.as_mut_ptr().add(i).cast(), value) }
}

/// `parallel::sum_lanes(x, f)` for f32: the 8 partial sums as two registers (lanes 0-3 and 4-7), the tail in
/// order, combined as `((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)) + tail`. Same bits.
#[inline(always)]
fn sum_lanes(x: &[f32], f: impl Fn(v128) -> v128, f1: impl Fn(f32) -> f32) -> f32 {
    let whole = x.len() & !7;
    let mut tail = 0.0f32;
    for &v in &x[whole..] {
        tail += f1(v);
    }
    let (mut lo, mut hi) = (f32x4_splat(0.0), f32x4_splat(0.0));
    for i in (0..whole).step_by(8) {
        lo = f32x4_add(lo, f(load(x, i)));
        hi = f32x4_add(hi, f(load(x, i + 4)));
    }
    let s = f32x4_add(lo, hi);
    ((lane(s, 0) + lane(s, 1)) + (lane(s, 2) + lane(s, 3))) + tail
}

/// `layernorm_forward::layernorm_rows` for f32: out (rows, C), mean (rows), rstd (rows) from inp (rows, C),
/// the same arithmetic per value.
#[allow(clippy::too_many_arguments)]
pub(crate) fn layernorm_rows(
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    c: usize,
    eps: f32,
) {
    let inv_c = 1.0 / c as f32;
    let whole = c & !3;
    let weight = &weight[..c];
    for (row, ((o, m_out), s_out)) in out
        .chunks_exact_mut(c)
        .zip(mean.iter_mut())
        .zip(rstd.iter_mut())
        .enumerate()
    {
        let x = &inp[row * c..(row + 1) * c];
        let m = sum_lanes(x, |v| v, |v| v) * inv_c;
        let mv = f32x4_splat(m);
        let var = sum_lanes(
            x,
            |v| {
                let d = f32x4_sub(v, mv);
                f32x4_mul(d, d)
            },
            |v| (v - m) * (v - m),
        ) * inv_c;
        let s = 1.0 / (var + eps).sqrt();
        let sv = f32x4_splat(s);
        for i in (0..whole).step_by(4) {
            let y = f32x4_mul(f32x4_mul(f32x4_sub(load(x, i), mv), sv), load(weight, i));
            let y = match bias {
                Some(bias) => f32x4_add(y, load(bias, i)),
                None => y,
            };
            store(o, i, y);
        }
        for i in whole..c {
            o[i] = match bias {
                Some(bias) => (x[i] - m) * s * weight[i] + bias[i],
                None => (x[i] - m) * s * weight[i],
            };
        }
        *m_out = m;
        *s_out = s;
    }
}

/// `layernorm_backward::layernorm_dinp_rows` for f32: dx (rows, C) += the input gradient, the same arithmetic
/// per value (the 8 partial sums as two registers, added to the tail's sums lane by lane in order).
pub(crate) fn layernorm_dinp_rows(
    dx: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    mean: &[f32],
    rstd: &[f32],
    c: usize,
) {
    let inv_c = 1.0 / c as f32;
    let (whole8, whole4) = (c & !7, c & !3);
    let weight = &weight[..c];
    for (row, dx) in dx.chunks_exact_mut(c).enumerate() {
        let (x, g) = (&inp[row * c..(row + 1) * c], &dout[row * c..(row + 1) * c]);
        let (m, s) = (mean[row], rstd[row]);
        let (mv, sv) = (f32x4_splat(m), f32x4_splat(s));
        let mut dnorm_mean = 0.0f32;
        let mut dnorm_norm_mean = 0.0f32;
        for i in whole8..c {
            let dnorm = weight[i] * g[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * ((x[i] - m) * s);
        }
        let zero = f32x4_splat(0.0);
        let (mut a1, mut b1, mut a2, mut b2) = (zero, zero, zero, zero);
        for i in (0..whole8).step_by(8) {
            let dnorm = f32x4_mul(load(weight, i), load(g, i));
            a1 = f32x4_add(a1, dnorm);
            a2 = f32x4_add(
                a2,
                f32x4_mul(dnorm, f32x4_mul(f32x4_sub(load(x, i), mv), sv)),
            );
            let dnorm = f32x4_mul(load(weight, i + 4), load(g, i + 4));
            b1 = f32x4_add(b1, dnorm);
            b2 = f32x4_add(
                b2,
                f32x4_mul(dnorm, f32x4_mul(f32x4_sub(load(x, i + 4), mv), sv)),
            );
        }
        for l in 0..4 {
            dnorm_mean += lane(a1, l);
            dnorm_norm_mean += lane(a2, l);
        }
        for l in 0..4 {
            dnorm_mean += lane(b1, l);
            dnorm_norm_mean += lane(b2, l);
        }
        dnorm_mean *= inv_c;
        dnorm_norm_mean *= inv_c;
        let (dm, dnm) = (f32x4_splat(dnorm_mean), f32x4_splat(dnorm_norm_mean));
        for i in (0..whole4).step_by(4) {
            let norm = f32x4_mul(f32x4_sub(load(x, i), mv), sv);
            let inner = f32x4_sub(
                f32x4_sub(f32x4_mul(load(weight, i), load(g, i)), dm),
                f32x4_mul(norm, dnm),
            );
            store(dx, i, f32x4_add(load(dx, i), f32x4_mul(inner, sv)));
        }
        for i in whole4..c {
            let norm = (x[i] - m) * s;
            dx[i] += (weight[i] * g[i] - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

/// dw (cols) += (x - m) * s * g over one row's columns (as `layernorm_backward_fast_cpu`'s dweight pass).
pub(crate) fn layernorm_dweight_row(dw: &mut [f32], x: &[f32], g: &[f32], m: f32, s: f32) {
    let n = dw.len();
    let whole = n & !3;
    let (mv, sv) = (f32x4_splat(m), f32x4_splat(s));
    for i in (0..whole).step_by(4) {
        let d = f32x4_mul(f32x4_mul(f32x4_sub(load(x, i), mv), sv), load(g, i));
        store(dw, i, f32x4_add(load(dw, i), d));
    }
    for i in whole..n {
        dw[i] += (x[i] - m) * s * g[i];
    }
}

/// `adamw_update_cpu` for f32 with its constants: c1, c2 (bias corrections), the same arithmetic per value.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adamw(
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: &[f32],
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    wd: f32,
    c1: f32,
    c2: f32,
) {
    let n = params.len().min(m.len()).min(v.len()).min(grads.len());
    let whole = n & !3;
    let one = f32x4_splat(1.0);
    let (b1, b2) = (f32x4_splat(beta1), f32x4_splat(beta2));
    let (ob1, ob2) = (f32x4_sub(one, b1), f32x4_sub(one, b2));
    let (c1v, c2v, lrv, epsv, wdv) = (
        f32x4_splat(c1),
        f32x4_splat(c2),
        f32x4_splat(lr),
        f32x4_splat(eps),
        f32x4_splat(wd),
    );
    for i in (0..whole).step_by(4) {
        let g = load(grads, i);
        let mi = f32x4_add(f32x4_mul(b1, load(m, i)), f32x4_mul(ob1, g));
        let vi = f32x4_add(f32x4_mul(b2, load(v, i)), f32x4_mul(f32x4_mul(ob2, g), g));
        store(m, i, mi);
        store(v, i, vi);
        let m_hat = f32x4_mul(mi, c1v);
        let v_hat = f32x4_mul(vi, c2v);
        let p = load(params, i);
        let step = f32x4_add(
            f32x4_div(m_hat, f32x4_add(f32x4_sqrt(v_hat), epsv)),
            f32x4_mul(wdv, p),
        );
        store(params, i, f32x4_sub(p, f32x4_mul(lrv, step)));
    }
    for i in whole..n {
        let g = grads[i];
        m[i] = beta1 * m[i] + (1.0 - beta1) * g;
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
        let m_hat = m[i] * c1;
        let v_hat = v[i] * c2;
        params[i] -= lr * (m_hat / (v_hat.sqrt() + eps) + wd * params[i]);
    }
}

/// Attention's softmax row without dropout (`attention_fast::softmax_row`): s (visible) holds the scores,
/// scaled here; the maximum in order as the scalar code (so ties of signed zeros end alike); returns the lse.
pub(crate) fn softmax_row(s: &mut [f32], scale: f32) -> f32 {
    let n = s.len();
    let whole = n & !3;
    let sc = f32x4_splat(scale);
    for i in (0..whole).step_by(4) {
        store(s, i, f32x4_mul(load(s, i), sc));
    }
    for sj in &mut s[whole..] {
        *sj *= scale;
    }
    let mut max = f32::NEG_INFINITY;
    for &sj in s.iter() {
        max = max.max(sj);
    }
    let mv = f32x4_splat(max);
    for i in (0..whole).step_by(4) {
        store(s, i, exp_fast(f32x4_sub(load(s, i), mv)));
    }
    for sj in &mut s[whole..] {
        *sj = super::float::exp_fast_f32(*sj - max);
    }
    let sum = sum_lanes(s, |v| v, |v| v);
    let inv = 1.0 / sum;
    let iv = f32x4_splat(inv);
    for i in (0..whole).step_by(4) {
        store(s, i, f32x4_mul(load(s, i), iv));
    }
    for e in &mut s[whole..] {
        *e *= inv;
    }
    max + sum.ln()
}

/// The backward row without dropout (`attention_fast::backward_row`): p (visible) holds q . k_j and becomes
/// exp(p * scale - lse); dp (visible) becomes p * (dp - delta) * scale.
pub(crate) fn attention_backward_row(
    p: &mut [f32],
    dp: &mut [f32],
    lse: f32,
    delta: f32,
    scale: f32,
) {
    let n = p.len().min(dp.len());
    let whole = n & !3;
    let (sc, lv, dv) = (f32x4_splat(scale), f32x4_splat(lse), f32x4_splat(delta));
    for i in (0..whole).step_by(4) {
        let pj = exp_fast(f32x4_sub(f32x4_mul(load(p, i), sc), lv));
        store(p, i, pj);
        store(
            dp,
            i,
            f32x4_mul(f32x4_mul(pj, f32x4_sub(load(dp, i), dv)), sc),
        );
    }
    for i in whole..n {
        p[i] = super::float::exp_fast_f32(p[i] * scale - lse);
        dp[i] = p[i] * (dp[i] - delta) * scale;
    }
}

/// dst = src (same lengths, checked), four lanes at a time (see `float::copy_row`), with one length check instead
/// of one per load.
pub(crate) fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy: lengths differ");
    let whole = dst.len() & !3;
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 <= whole <= both lengths (equal, checked above); v128 needs no alignment.
        unsafe { v128_store(d.add(i).cast(), v128_load(s.add(i).cast())) };
    }
    for (d, &s) in dst[whole..].iter_mut().zip(&src[whole..]) {
        *d = s;
    }
}
