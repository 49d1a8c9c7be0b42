//! simd128: the wasm module's elementwise CPU kernels written out in WebAssembly SIMD, for f32.
//!
//! The module is built at opt-level "z" (scripts/build.sh), where rustc turns LLVM's vectorizers off, so loops
//! that vectorize by themselves at opt-level 3 run scalar there. These do per lane exactly the arithmetic of the
//! scalar code they stand in for, in the same order (no fused multiply-add), so results are bit-identical.

use core::arch::wasm32::*;

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
