//! dropout_forward: during training, zero each value with probability p and scale the rest by 1/(1-p).
//!
//! Intuition: a unit cannot rely on any single other unit being present, so the model spreads what it
//! learns. The mask is an explicit output (0 or 1/(1-p) per value), kept for the backward pass.
//!
//! The random numbers are counter-based: value i of a call with seed s is decided by hash(hash(s) ^ i)
//! alone, using the PCG output permutation as a 32-bit hash (Jarzynski & Olano 2020, "Hash Functions for
//! GPU Rendering"). So the mask depends only on (seed, index): a GPU kernel computing the same hash gives
//! the same mask bit for bit, in any order, and a training run is reproducible from its seed.

use super::float::Float;

/// A 32-bit integer hash (the "pcg" hash): state step of a PCG generator, then its output permutation.
#[inline]
pub fn pcg_hash(input: u32) -> u32 {
    let state = input.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The uniform number in [0, 1) that decides value `index` of the call seeded with `seed` (24 bits).
#[inline]
pub fn dropout_uniform(seed: u32, index: u32) -> f32 {
    (pcg_hash(pcg_hash(seed) ^ index) >> 8) as f32 / (1u32 << 24) as f32
}

/// mask (N) = 0 where the uniform number is below p, else 1/(1-p). p = 0 gives a mask of ones.
pub fn dropout_mask_cpu<R: Float>(mask: &mut [R], p: f32, seed: u32, n: usize) {
    let keep = R::from_f64(1.0 / (1.0 - f64::from(p)));
    for (i, m) in mask[..n].iter_mut().enumerate() {
        *m = if dropout_uniform(seed, i as u32) < p {
            R::ZERO
        } else {
            keep
        };
    }
}

/// out (N) = inp (N) * mask (N), with mask (N) written by [`dropout_mask_cpu`] from (p, seed).
pub fn dropout_forward_cpu<R: Float>(
    out: &mut [R],
    mask: &mut [R],
    inp: &[R],
    p: f32,
    seed: u32,
    n: usize,
) {
    dropout_mask_cpu(mask, p, seed, n);
    for ((o, &x), &m) in out[..n].iter_mut().zip(&inp[..n]).zip(&mask[..n]) {
        *o = x * m;
    }
}
