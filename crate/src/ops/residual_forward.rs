//! residual_forward: the skip connection, out = inp1 + inp2.
//! Intuition: a block adds its contribution to the stream instead of replacing it.

use super::float::Float;

/// out (N) = inp1 (N) + inp2 (N).
pub fn residual_forward_cpu<R: Float>(out: &mut [R], inp1: &[R], inp2: &[R], n: usize) {
    for ((o, &a), &b) in out[..n].iter_mut().zip(&inp1[..n]).zip(&inp2[..n]) {
        *o = a + b;
    }
}
