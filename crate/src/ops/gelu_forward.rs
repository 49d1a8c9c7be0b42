//! gelu_forward: the GELU activation, tanh approximation (Hendrycks & Gimpel 2016; GPT-2's choice).
//!
//! Intuition: a smooth ReLU that lets a little negative signal through.
//! gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). This is PyTorch's
//! `nn.GELU(approximate="tanh")`; nanoGPT's default `nn.GELU()` is the exact erf form, which differs by
//! at most about 3e-4 (see docs/model.md).

use super::float::Float;

pub(crate) const GELU_SCALE: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
pub(crate) const GELU_CUBE: f64 = 0.044715;

/// out (N) = gelu(inp (N)).
pub fn gelu_forward_cpu<R: Float>(out: &mut [R], inp: &[R], n: usize) {
    let (s, k, half) = (
        R::from_f64(GELU_SCALE),
        R::from_f64(GELU_CUBE),
        R::from_f64(0.5),
    );
    for (o, &x) in out[..n].iter_mut().zip(&inp[..n]) {
        *o = half * x * (R::ONE + (s * (x + k * x * x * x)).tanh());
    }
}
