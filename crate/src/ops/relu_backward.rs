//! relu_backward: the gradient passes where the input was positive. dinp is assigned.
//! (At exactly 0 the derivative is taken as 0, as PyTorch does.)

use super::float::Float;

/// dinp (N) = dout (N) where inp (N) > 0, else 0.
pub fn relu_backward_cpu<R: Float>(dinp: &mut [R], inp: &[R], dout: &[R], n: usize) {
    for i in 0..n {
        dinp[i] = if inp[i] > R::ZERO { dout[i] } else { R::ZERO };
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};
    use crate::ops::relu_forward::relu_forward_cpu;

    #[test]
    fn gradients_match_finite_differences() {
        let n = 2 * 7 * 12;
        let mut rng = Rng64::new(71);
        // Keep inputs away from the kink at 0, where the finite difference straddles two slopes.
        let inp: Vec<f64> = rng
            .vec(n)
            .iter()
            .map(|&x| if x.abs() < 0.01 { 0.5 } else { x })
            .collect();
        let w = rng.vec(n);
        let mut dinp = vec![f64::NAN; n];
        relu_backward_cpu(&mut dinp, &inp, &w, n);
        check_gradient("relu dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; n];
            relu_forward_cpu(&mut out, x, n);
            dot(&out, &w)
        });
        assert!(
            dinp.iter().filter(|&&d| d == 0.0).count() > n / 4,
            "about half the inputs are negative"
        );
    }
}
