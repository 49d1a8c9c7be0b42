//! encoder_forward: token embedding plus positional information, the input of the first block.
//!
//! Intuition: each position starts as the vector of its token, plus a vector saying where it is.
//! The position table is either learned (nanoGPT's `wpe`, a parameter), fixed sinusoids
//! ([`sinusoidal_table`], not a parameter), or absent when the model uses rotary positions inside
//! attention instead (see `rope_forward`).

use super::float::Float;

/// out (B, T, C) = wte[inp[b, t]] (V, C) + pos[t] (T, C) when a position table is given.
/// `inp` (B, T) holds token ids, each below V (the model checks this before calling).
#[allow(clippy::too_many_arguments)]
pub fn encoder_forward_cpu<R: Float>(
    out: &mut [R],
    inp: &[u32],
    wte: &[R],
    pos: Option<&[R]>,
    b: usize,
    t: usize,
    c: usize,
) {
    for bt in 0..b * t {
        let token = inp[bt] as usize;
        let out_bt = &mut out[bt * c..(bt + 1) * c];
        out_bt.copy_from_slice(&wte[token * c..(token + 1) * c]);
        if let Some(pos) = pos {
            let pos_t = &pos[(bt % t) * c..(bt % t + 1) * c];
            for (o, &p) in out_bt.iter_mut().zip(pos_t) {
                *o += p;
            }
        }
    }
}

/// The fixed sinusoidal position table (Vaswani et al. 2017), out (T, C):
/// PE(pos, 2i) = sin(pos / 10000^(2i/C)), PE(pos, 2i+1) = cos(pos / 10000^(2i/C)).
/// Computed in f64 and rounded, so f32 and f64 models see the same table up to rounding.
/// `pos0` offsets the positions (generation with a KV cache asks for rows pos0..pos0+T).
pub fn sinusoidal_table<R: Float>(out: &mut [R], pos0: usize, t: usize, c: usize) {
    for p in 0..t {
        for i in 0..c {
            let pair = (i / 2) * 2;
            let angle = (pos0 + p) as f64 / 10000f64.powf(pair as f64 / c as f64);
            let value = if i % 2 == 0 { angle.sin() } else { angle.cos() };
            out[p * c + i] = R::from_f64(value);
        }
    }
}
