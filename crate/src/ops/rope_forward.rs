//! rope_forward: rotary position embedding (RoFormer, Su et al. 2021) applied to the queries and keys.
//!
//! Intuition: each pair of channels of a query or key is rotated by an angle proportional to its position,
//! so the score q.k depends on how far apart the two positions are, not where they are.
//!
//! Convention (written down because implementations differ): within each head of size hs, channels
//! (2i, 2i+1) form pair i (the interleaved, RoFormer/GPT-J layout, not GPT-NeoX's split halves), rotated by
//! angle (pos0 + t) * 10000^(-2i/hs). The values (third C of qkv) pass through unchanged.

use super::float::Float;

/// The base of the rotation frequencies.
pub const ROPE_BASE: f64 = 10000.0;

/// cos and sin tables (T, hs/2) for positions pos0..pos0+T, computed in f64.
pub(crate) fn rope_tables<R: Float>(pos0: usize, t: usize, hs: usize) -> (Vec<R>, Vec<R>) {
    let half = hs / 2;
    let mut cos = Vec::with_capacity(t * half);
    let mut sin = Vec::with_capacity(t * half);
    for p in 0..t {
        for i in 0..half {
            let angle = (pos0 + p) as f64 * ROPE_BASE.powf(-2.0 * i as f64 / hs as f64);
            cos.push(R::from_f64(angle.cos()));
            sin.push(R::from_f64(angle.sin()));
        }
    }
    (cos, sin)
}

/// out (B, T, 3C) = inp (B, T, 3C) with q and k of every head rotated; hs = C / NH must be even.
#[allow(clippy::too_many_arguments)]
pub fn rope_forward_cpu<R: Float>(
    out: &mut [R],
    inp: &[R],
    pos0: usize,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let (cos, sin) = rope_tables::<R>(pos0, t, hs);
    out[..b * t * 3 * c].copy_from_slice(&inp[..b * t * 3 * c]);
    for bt in 0..b * t {
        let tt = bt % t;
        // q is qkv[0..C], k is qkv[C..2C]: rotate both, head by head, pair by pair.
        for part in 0..2 {
            for h in 0..nh {
                let base = bt * 3 * c + part * c + h * hs;
                for i in 0..hs / 2 {
                    let (co, si) = (cos[tt * (hs / 2) + i], sin[tt * (hs / 2) + i]);
                    let (x0, x1) = (inp[base + 2 * i], inp[base + 2 * i + 1]);
                    out[base + 2 * i] = x0 * co - x1 * si;
                    out[base + 2 * i + 1] = x0 * si + x1 * co;
                }
            }
        }
    }
}
