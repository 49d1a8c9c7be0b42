//! dropout_backward: the gradient flows through the kept values with the same scale. dinp is assigned.

use super::float::Float;

/// dinp (N) = dout (N) * mask (N), the mask written by the forward pass.
pub fn dropout_backward_cpu<R: Float>(dinp: &mut [R], dout: &[R], mask: &[R], n: usize) {
    for i in 0..n {
        dinp[i] = dout[i] * mask[i];
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::dropout_forward::{dropout_forward_cpu, dropout_mask_cpu};
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};

    #[test]
    fn gradients_match_finite_differences() {
        let n = 2 * 7 * 12;
        let mut rng = Rng64::new(91);
        let (inp, w) = (rng.vec(n), rng.vec(n));
        let mut mask = vec![0.0; n];
        let mut out = vec![0.0; n];
        dropout_forward_cpu(&mut out, &mut mask, &inp, 0.3, 7, n);
        let mut dinp = vec![f64::NAN; n];
        dropout_backward_cpu(&mut dinp, &w, &mask, n);
        check_gradient("dropout dinp", &inp, &dinp, |x| {
            let (mut out, mut mask) = (vec![0.0; n], vec![0.0; n]);
            dropout_forward_cpu(&mut out, &mut mask, x, 0.3, 7, n);
            dot(&out, &w)
        });
    }

    #[test]
    fn mask_is_seeded_and_has_the_right_rate() {
        let n = 100_000;
        let (mut a, mut b, mut c) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
        dropout_mask_cpu(&mut a, 0.2, 42, n);
        dropout_mask_cpu(&mut b, 0.2, 42, n);
        dropout_mask_cpu(&mut c, 0.2, 43, n);
        assert_eq!(a, b, "same seed, same mask");
        assert_ne!(a, c, "another seed, another mask");
        let dropped = a.iter().filter(|&&m| m == 0.0).count() as f64 / n as f64;
        assert!((dropped - 0.2).abs() < 0.01, "dropped fraction {dropped}");
        assert!(a.iter().all(|&m| m == 0.0 || m == 1.25));
        // The kept values are scaled so the expected value is unchanged.
        let mean = a.iter().map(|&m| f64::from(m)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "mean of mask {mean}");
        // p = 0 keeps everything.
        dropout_mask_cpu(&mut a, 0.0, 42, n);
        assert!(a.iter().all(|&m| m == 1.0));
    }
}
