//! residual_backward: a sum passes its gradient unchanged to both inputs.
//!
//! The exception to "activation gradients are assigned": both `dinp1` and `dinp2` ACCUMULATE (`+=`),
//! because the residual stream's gradient is the sum of what the skip path and the block send back.

use super::float::Float;

/// dinp1 (N) += dout (N);  dinp2 (N) += dout (N).
pub fn residual_backward_cpu<R: Float>(dinp1: &mut [R], dinp2: &mut [R], dout: &[R], n: usize) {
    for i in 0..n {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};
    use crate::ops::residual_forward::residual_forward_cpu;

    #[test]
    fn gradients_match_finite_differences_and_accumulate() {
        let n = 2 * 7 * 12;
        let mut rng = Rng64::new(81);
        let (a, b, w) = (rng.vec(n), rng.vec(n), rng.vec(n));
        let loss = |a: &[f64], b: &[f64]| {
            let mut out = vec![0.0; n];
            residual_forward_cpu(&mut out, a, b, n);
            dot(&out, &w)
        };
        let (mut da, mut db) = (vec![0.0; n], vec![0.5; n]);
        residual_backward_cpu(&mut da, &mut db, &w, n);
        check_gradient("residual dinp1", &a, &da, |x| loss(x, &b));
        let db: Vec<f64> = db.iter().map(|d| d - 0.5).collect();
        check_gradient("residual dinp2 (accumulated onto 0.5)", &b, &db, |x| {
            loss(&a, x)
        });
    }
}
