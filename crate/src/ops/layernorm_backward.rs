//! layernorm_backward: gradients of LayerNorm through its saved mean and rstd.
//!
//! Intuition: normalising removes the mean and the scale of a row, so the gradient reaching the input has
//! the components along "shift everything" and "scale everything" projected out.
//!
//! `dinp` ACCUMULATES (`+=`): a LayerNorm's input is the residual stream, whose gradient already holds the
//! contribution of the skip connection. `dweight` and `dbias` accumulate as every parameter gradient.

use super::float::Float;

/// dinp (B, T, C) += ...;  dweight (C) += sum dout * norm;  dbias (C) += sum dout,
/// where norm = (inp - mean) * rstd, from the forward's mean (B, T) and rstd (B, T).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward_cpu<R: Float>(
    dinp: &mut [R],
    dweight: &mut [R],
    mut dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    mean: &[R],
    rstd: &[R],
    b: usize,
    t: usize,
    c: usize,
) {
    let inv_c = R::ONE / R::from_usize(c);
    for bt in 0..b * t {
        let x = &inp[bt * c..(bt + 1) * c];
        let g = &dout[bt * c..(bt + 1) * c];
        let (m, s) = (mean[bt], rstd[bt]);
        // Two reductions: the mean of dnorm and the mean of dnorm * norm.
        let mut dnorm_mean = R::ZERO;
        let mut dnorm_norm_mean = R::ZERO;
        for i in 0..c {
            let norm = (x[i] - m) * s;
            let dnorm = weight[i] * g[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean *= inv_c;
        dnorm_norm_mean *= inv_c;
        let dx = &mut dinp[bt * c..(bt + 1) * c];
        for i in 0..c {
            let norm = (x[i] - m) * s;
            let dnorm = weight[i] * g[i];
            dweight[i] += norm * g[i];
            if let Some(dbias) = dbias.as_deref_mut() {
                dbias[i] += g[i];
            }
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};
    use crate::ops::layernorm_forward::layernorm_forward_cpu;

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, c) = (2, 7, 12);
        let mut rng = Rng64::new(41);
        let (inp, weight, bias, w) = (
            rng.vec(b * t * c),
            rng.vec(c),
            rng.vec(c),
            rng.vec(b * t * c),
        );
        let loss = |inp: &[f64], weight: &[f64], bias: &[f64]| {
            let (mut out, mut mean, mut rstd) =
                (vec![0.0; b * t * c], vec![0.0; b * t], vec![0.0; b * t]);
            layernorm_forward_cpu(
                &mut out,
                &mut mean,
                &mut rstd,
                inp,
                weight,
                Some(bias),
                b,
                t,
                c,
            );
            dot(&out, &w)
        };
        let (mut out, mut mean, mut rstd) =
            (vec![0.0; b * t * c], vec![0.0; b * t], vec![0.0; b * t]);
        layernorm_forward_cpu(
            &mut out,
            &mut mean,
            &mut rstd,
            &inp,
            &weight,
            Some(&bias),
            b,
            t,
            c,
        );
        // dinp accumulates: start it at 1 and subtract that afterwards.
        let mut dinp = vec![1.0; b * t * c];
        let (mut dweight, mut dbias) = (vec![0.0; c], vec![0.0; c]);
        layernorm_backward_cpu(
            &mut dinp,
            &mut dweight,
            Some(&mut dbias),
            &w,
            &inp,
            &weight,
            &mean,
            &rstd,
            b,
            t,
            c,
        );
        let dinp: Vec<f64> = dinp.iter().map(|d| d - 1.0).collect();
        check_gradient("layernorm dinp", &inp, &dinp, |x| loss(x, &weight, &bias));
        check_gradient("layernorm dweight", &weight, &dweight, |x| {
            loss(&inp, x, &bias)
        });
        check_gradient("layernorm dbias", &bias, &dbias, |x| loss(&inp, &weight, x));
    }

    #[test]
    fn forward_normalises_rows() {
        let (b, t, c) = (1, 2, 4);
        let inp = [1.0f64, 2.0, 3.0, 4.0, -2.0, 0.0, 2.0, 4.0];
        let (mut out, mut mean, mut rstd) = (vec![0.0; 8], vec![0.0; 2], vec![0.0; 2]);
        layernorm_forward_cpu(
            &mut out, &mut mean, &mut rstd, &inp, &[1.0; 4], None, b, t, c,
        );
        assert_eq!(mean, [2.5, 1.0]);
        assert!((rstd[0] - 1.0 / (1.25f64 + 1e-5).sqrt()).abs() < 1e-12);
        for row in out.chunks(4) {
            let m: f64 = row.iter().sum::<f64>() / 4.0;
            let v: f64 = row.iter().map(|x| x * x).sum::<f64>() / 4.0;
            assert!(
                m.abs() < 1e-12 && (v - 1.0).abs() < 1e-4,
                "mean {m} var {v}"
            );
        }
    }
}
