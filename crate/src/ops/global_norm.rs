//! global_norm: the L2 norm of all gradients together, and clipping by it.
//!
//! Intuition: when one step's gradient is unusually large, shrink the whole step (not each tensor
//! separately), so its direction is kept and a single bad batch cannot throw the weights far away.

use super::float::Float;

/// sqrt(sum of squares) of grads (N), accumulated in f64 so the result does not depend on the length.
pub fn global_norm_cpu<R: Float>(grads: &[R]) -> f64 {
    grads
        .iter()
        .map(|g| g.to_f64() * g.to_f64())
        .sum::<f64>()
        .sqrt()
}

/// Scales grads (N) by max_norm / norm when the global norm exceeds max_norm (as PyTorch's
/// `clip_grad_norm_`). Returns the norm before clipping; a non-finite norm is returned untouched, for the
/// caller to report.
pub fn clip_by_global_norm_cpu<R: Float>(grads: &mut [R], max_norm: f64) -> f64 {
    let norm = global_norm_cpu(grads);
    if norm.is_finite() && norm > max_norm {
        let scale = R::from_f64(max_norm / (norm + 1e-6));
        for g in grads.iter_mut() {
            *g *= scale;
        }
    }
    norm
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn clips_only_above_the_threshold() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_by_global_norm_cpu(&mut g, 10.0), 5.0);
        assert_eq!(g, [3.0, 4.0]);
        assert_eq!(clip_by_global_norm_cpu(&mut g, 1.0), 5.0);
        assert!(
            (g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6,
            "{g:?}"
        );
        assert!((global_norm_cpu(&g) - 1.0).abs() < 1e-6);
        let mut bad = vec![1.0f32, f32::NAN];
        assert!(clip_by_global_norm_cpu(&mut bad, 1.0).is_nan());
    }
}
