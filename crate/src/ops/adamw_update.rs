//! adamw_update: one step of AdamW (Loshchilov & Hutter 2019), decoupled weight decay.
//!
//! Intuition: move each parameter against a running average of its gradient (m), divided by a running
//! average of the gradient's size (sqrt v), so every parameter takes steps of about `lr`; separately shrink
//! the weight itself a little toward zero (weight decay, not added to the gradient).

use super::float::Float;

/// params (N) -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * params), updating m (N) and v (N)
/// from grads (N); `step` counts from 1 (bias correction m_hat = m / (1 - beta1^step), as PyTorch).
/// Call it per parameter group with weight_decay = 0 for the groups that are not decayed.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update_cpu<R: Float>(
    params: &mut [R],
    m: &mut [R],
    v: &mut [R],
    grads: &[R],
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step: u32,
) {
    let (b1, b2) = (f64::from(beta1), f64::from(beta2));
    let c1 = R::from_f64(1.0 / (1.0 - b1.powi(step as i32)));
    let c2 = R::from_f64(1.0 / (1.0 - b2.powi(step as i32)));
    let (lr, eps, wd) = (
        R::from_f64(f64::from(lr)),
        R::from_f64(f64::from(eps)),
        R::from_f64(f64::from(weight_decay)),
    );
    let (beta1, beta2) = (R::from_f64(b1), R::from_f64(b2));
    for i in 0..params.len() {
        let g = grads[i];
        m[i] = beta1 * m[i] + (R::ONE - beta1) * g;
        v[i] = beta2 * v[i] + (R::ONE - beta2) * g * g;
        let m_hat = m[i] * c1;
        let v_hat = v[i] * c2;
        params[i] -= lr * (m_hat / (v_hat.sqrt() + eps) + wd * params[i]);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_lr() {
        // At step 1, m_hat = g and v_hat = g^2, so the step is lr * sign(g) (plus decay).
        let mut p = vec![1.0f64, -2.0, 0.5];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        adamw_update_cpu(
            &mut p,
            &mut m,
            &mut v,
            &[0.3, -4.0, 1e-3],
            0.1,
            0.9,
            0.999,
            1e-8,
            0.0,
            1,
        );
        assert!(
            (p[0] - 0.9).abs() < 1e-6 && (p[1] + 1.9).abs() < 1e-6 && (p[2] - 0.4).abs() < 1e-5,
            "{p:?}"
        );
        // Decoupled decay: a zero gradient still shrinks the weight by lr * wd * w.
        let mut p = vec![2.0f64];
        let (mut m, mut v) = (vec![0.0], vec![0.0]);
        adamw_update_cpu(
            &mut p,
            &mut m,
            &mut v,
            &[0.0],
            0.1,
            0.9,
            0.999,
            1e-8,
            0.5,
            1,
        );
        assert!((p[0] - (2.0 - 0.1 * 0.5 * 2.0)).abs() < 1e-7, "{p:?}");
    }

    #[test]
    fn minimises_a_quadratic() {
        // f(p) = sum (p - target)^2, gradient 2 (p - target).
        let target = [3.0f32, -1.0, 0.25];
        let mut p = vec![0.0f32; 3];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        for step in 1..=500 {
            let g: Vec<f32> = p.iter().zip(&target).map(|(p, t)| 2.0 * (p - t)).collect();
            adamw_update_cpu(
                &mut p, &mut m, &mut v, &g, 0.05, 0.9, 0.999, 1e-8, 0.0, step,
            );
        }
        for (p, t) in p.iter().zip(&target) {
            assert!((p - t).abs() < 1e-2, "{p} vs {t}");
        }
    }
}
