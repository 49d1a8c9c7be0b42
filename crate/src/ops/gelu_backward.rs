//! gelu_backward: derivative of the tanh-approximated GELU. dinp is assigned.

use super::float::Float;
use super::gelu_forward::{GELU_CUBE, GELU_SCALE};

/// dinp (N) = gelu'(inp (N)) * dout (N).
pub fn gelu_backward_cpu<R: Float>(dinp: &mut [R], inp: &[R], dout: &[R], n: usize) {
    let (s, k, half) = (
        R::from_f64(GELU_SCALE),
        R::from_f64(GELU_CUBE),
        R::from_f64(0.5),
    );
    let three = R::from_f64(3.0);
    for i in 0..n {
        let x = inp[i];
        let th = (s * (x + k * x * x * x)).tanh();
        let sech2 = R::ONE - th * th;
        let local = half * (R::ONE + th) + half * x * sech2 * s * (R::ONE + three * k * x * x);
        dinp[i] = local * dout[i];
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gelu_forward::gelu_forward_cpu;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};

    #[test]
    fn gradients_match_finite_differences() {
        let n = 2 * 7 * 12 * 4;
        let mut rng = Rng64::new(61);
        let inp: Vec<f64> = rng.vec(n).iter().map(|x| 4.0 * x).collect();
        let w = rng.vec(n);
        let mut dinp = vec![f64::NAN; n];
        gelu_backward_cpu(&mut dinp, &inp, &w, n);
        check_gradient("gelu dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; n];
            gelu_forward_cpu(&mut out, x, n);
            dot(&out, &w)
        });
    }

    #[test]
    fn forward_has_known_values() {
        let mut out = [0.0f64; 3];
        gelu_forward_cpu(&mut out, &[0.0, 1.0, -1.0], 3);
        // PyTorch: F.gelu(torch.tensor([1.0, -1.0], dtype=float64), approximate="tanh")
        assert_eq!(out[0], 0.0);
        assert!(
            (out[1] - 0.841_191_990_608_276_8).abs() < 1e-12,
            "{}",
            out[1]
        );
        assert!(
            (out[2] + 0.158_808_009_391_723_24).abs() < 1e-12,
            "{}",
            out[2]
        );
    }
}
