//! relu_forward: max(0, x), the original transformer's feed-forward activation.
//! Intuition: pass positive signals, silence negative ones.

use super::float::Float;

/// out (N) = max(0, inp (N)).
pub fn relu_forward_cpu<R: Float>(out: &mut [R], inp: &[R], n: usize) {
    for (o, &x) in out[..n].iter_mut().zip(&inp[..n]) {
        *o = if x > R::ZERO { x } else { R::ZERO };
    }
}
