//! crossentropy_forward: softmax over the vocabulary fused with the cross-entropy of the target token.
//!
//! Intuition: the loss at a position is the surprise, -ln p(target), of the model's next-token
//! distribution. probs is kept: the backward pass and the page's top-k view read it.

use super::float::Float;

/// probs (B, T, V) = softmax(logits (B, T, V));  losses (B, T) = -ln probs[b, t, targets[b, t]].
/// The softmax subtracts the row maximum first, so large logits do not overflow.
#[allow(clippy::too_many_arguments)]
pub fn crossentropy_forward_cpu<R: Float>(
    losses: &mut [R],
    probs: &mut [R],
    logits: &[R],
    targets: &[u32],
    b: usize,
    t: usize,
    v: usize,
) {
    for bt in 0..b * t {
        let x = &logits[bt * v..(bt + 1) * v];
        let p = &mut probs[bt * v..(bt + 1) * v];
        let max = x.iter().fold(R::NEG_INFINITY, |m, &xi| m.max(xi));
        let mut sum = R::ZERO;
        for (pi, &xi) in p.iter_mut().zip(x) {
            *pi = (xi - max).exp();
            sum += *pi;
        }
        let inv = R::ONE / sum;
        for pi in p.iter_mut() {
            *pi *= inv;
        }
        // -ln softmax computed from the logits (log-sum-exp) rather than ln(p), so a tiny probability does
        // not round to 0 and give an infinite loss.
        losses[bt] = sum.ln() + max - x[targets[bt] as usize];
    }
}
