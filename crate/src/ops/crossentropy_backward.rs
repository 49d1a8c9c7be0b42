//! crossentropy_backward: the gradient of -ln softmax(logits)[target] is probs - onehot(target).
//! Intuition: push the target's logit up and every other logit down by how much it was believed.
//! dlogits is assigned.

use super::float::Float;

/// dlogits (B, T, V) = (probs (B, T, V) - onehot(targets (B, T))) * dlosses (B, T).
/// For the mean loss over the batch, dlosses = 1 / (B*T) everywhere.
#[allow(clippy::too_many_arguments)]
pub fn crossentropy_backward_cpu<R: Float>(
    dlogits: &mut [R],
    dlosses: &[R],
    probs: &[R],
    targets: &[u32],
    b: usize,
    t: usize,
    v: usize,
) {
    for bt in 0..b * t {
        let d = dlosses[bt];
        let p = &probs[bt * v..(bt + 1) * v];
        let dl = &mut dlogits[bt * v..(bt + 1) * v];
        for (g, &pi) in dl.iter_mut().zip(p) {
            *g = pi * d;
        }
        dl[targets[bt] as usize] -= d;
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::crossentropy_forward::crossentropy_forward_cpu;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, v) = (2, 7, 37);
        let mut rng = Rng64::new(101);
        let logits: Vec<f64> = rng.vec(b * t * v).iter().map(|x| 3.0 * x).collect();
        let targets = rng.tokens(b * t, v);
        let w = rng.vec(b * t);
        let forward = |logits: &[f64]| {
            let (mut losses, mut probs) = (vec![0.0; b * t], vec![0.0; b * t * v]);
            crossentropy_forward_cpu(&mut losses, &mut probs, logits, &targets, b, t, v);
            (losses, probs)
        };
        let (_, probs) = forward(&logits);
        let mut dlogits = vec![f64::NAN; logits.len()];
        crossentropy_backward_cpu(&mut dlogits, &w, &probs, &targets, b, t, v);
        check_gradient("crossentropy dlogits", &logits, &dlogits, |x| {
            dot(&forward(x).0, &w)
        });
    }

    #[test]
    fn uniform_logits_give_ln_v_and_huge_logits_stay_finite() {
        let v = 37;
        let (mut losses, mut probs) = (vec![0.0f32; 2], vec![0.0f32; 2 * v]);
        let mut logits = vec![0.0f32; 2 * v];
        logits[v + 3] = 1000.0; // row 1: certain of token 3
        crossentropy_forward_cpu(&mut losses, &mut probs, &logits, &[5, 4], 1, 2, v);
        assert!((losses[0] - (v as f32).ln()).abs() < 1e-6, "{}", losses[0]);
        assert!((probs[..v].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(losses[1], 1000.0, "target 4 has logit 0 against 1000");
        assert!(probs.iter().all(|p| p.is_finite()));
    }
}
