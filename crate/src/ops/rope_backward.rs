//! rope_backward: a rotation's gradient is the rotation back (its transpose), so dinp = R(-angle) dout
//! for q and k; the values' gradient passes through. dinp is assigned.

use super::float::Float;
use super::rope_forward::rope_tables;

/// dinp (B, T, 3C) from dout (B, T, 3C); the same pos0 and sizes as the forward call.
#[allow(clippy::too_many_arguments)]
pub fn rope_backward_cpu<R: Float>(
    dinp: &mut [R],
    dout: &[R],
    pos0: usize,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let (cos, sin) = rope_tables::<R>(pos0, t, hs);
    dinp[..b * t * 3 * c].copy_from_slice(&dout[..b * t * 3 * c]);
    for bt in 0..b * t {
        let tt = bt % t;
        for part in 0..2 {
            for h in 0..nh {
                let base = bt * 3 * c + part * c + h * hs;
                for i in 0..hs / 2 {
                    let (co, si) = (cos[tt * (hs / 2) + i], sin[tt * (hs / 2) + i]);
                    let (g0, g1) = (dout[base + 2 * i], dout[base + 2 * i + 1]);
                    dinp[base + 2 * i] = g0 * co + g1 * si;
                    dinp[base + 2 * i + 1] = -g0 * si + g1 * co;
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};
    use crate::ops::rope_forward::rope_forward_cpu;

    #[test]
    fn gradients_match_finite_differences() {
        // C=12, NH=3 -> hs=4 (two pairs per head); pos0 = 3 as in generation with a cache.
        let (b, t, c, nh) = (2, 7, 12, 3);
        let mut rng = Rng64::new(31);
        let (inp, w) = (rng.vec(b * t * 3 * c), rng.vec(b * t * 3 * c));
        let mut dinp = vec![f64::NAN; inp.len()];
        rope_backward_cpu(&mut dinp, &w, 3, b, t, c, nh);
        check_gradient("rope dinp", &inp, &dinp, |x| {
            let mut out = vec![0.0; x.len()];
            rope_forward_cpu(&mut out, x, 3, b, t, c, nh);
            dot(&out, &w)
        });
    }

    #[test]
    fn scores_depend_only_on_relative_position() {
        // One head (C = hs = 4): the same q and k placed at positions (2, 5) and (6, 9) give the same q.k.
        let (c, nh) = (4, 1);
        let q = [0.3f64, -1.2, 0.7, 0.5];
        let k = [1.1f64, 0.4, -0.6, 0.9];
        let rotated = |pos: usize, x: &[f64; 4]| {
            let mut qkv = vec![0.0; 3 * c];
            qkv[..4].copy_from_slice(x);
            let mut out = vec![0.0; 3 * c];
            rope_forward_cpu(&mut out, &qkv, pos, 1, 1, c, nh);
            [out[0], out[1], out[2], out[3]]
        };
        let score = |pq: usize, pk: usize| {
            let (a, b) = (rotated(pq, &q), rotated(pk, &k));
            a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>()
        };
        assert!((score(5, 2) - score(9, 6)).abs() < 1e-12);
        assert!(
            (score(5, 2) - score(5, 3)).abs() > 1e-3,
            "position must matter"
        );
        // Position 0 is the identity.
        assert_eq!(rotated(0, &q), q);
    }
}
