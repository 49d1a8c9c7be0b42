//! layernorm_forward: normalise each position's vector to mean 0 and variance 1, then scale and shift.
//!
//! Intuition: keeps the scale of the residual stream in check so every block sees inputs of the same size.
//! The mean and reciprocal standard deviation of every row are outputs: the backward pass and the page's
//! introspection both read them.

use super::float::Float;

/// PyTorch's default, used by nanoGPT.
pub const LAYERNORM_EPS: f64 = 1e-5;

/// out (B, T, C) = (inp - mean) * rstd * weight (C) + bias (C);  mean (B, T), rstd (B, T) = 1/sqrt(var + eps)
/// with the biased variance (divided by C), as `torch.nn.LayerNorm`.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward_cpu<R: Float>(
    out: &mut [R],
    mean: &mut [R],
    rstd: &mut [R],
    inp: &[R],
    weight: &[R],
    bias: Option<&[R]>,
    b: usize,
    t: usize,
    c: usize,
) {
    let eps = R::from_f64(LAYERNORM_EPS);
    let inv_c = R::ONE / R::from_usize(c);
    for bt in 0..b * t {
        let x = &inp[bt * c..(bt + 1) * c];
        let m = x.iter().copied().sum::<R>() * inv_c;
        let var = x.iter().map(|&xi| (xi - m) * (xi - m)).sum::<R>() * inv_c;
        let s = R::ONE / (var + eps).sqrt();
        let o = &mut out[bt * c..(bt + 1) * c];
        for i in 0..c {
            o[i] = (x[i] - m) * s * weight[i] + bias.map_or(R::ZERO, |bias| bias[i]);
        }
        mean[bt] = m;
        rstd[bt] = s;
    }
}
