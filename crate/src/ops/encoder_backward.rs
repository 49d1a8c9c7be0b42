//! encoder_backward: scatters each position's gradient back to its token's row and its position's row.
//!
//! Intuition: a token row collects the gradient of every position where that token appears.
//! Parameter gradients accumulate (`+=`); with a tied LM head `dwte` also receives the head's gradient.

use super::float::Float;

/// dwte (V, C) += dout[b, t] at row inp[b, t];  dpos (T, C) += sum over b of dout[b, t] (learned positions).
#[allow(clippy::too_many_arguments)]
pub fn encoder_backward_cpu<R: Float>(
    dwte: &mut [R],
    dpos: Option<&mut [R]>,
    dout: &[R],
    inp: &[u32],
    b: usize,
    t: usize,
    c: usize,
) {
    for bt in 0..b * t {
        let token = inp[bt] as usize;
        let dout_bt = &dout[bt * c..(bt + 1) * c];
        for (d, &g) in dwte[token * c..(token + 1) * c].iter_mut().zip(dout_bt) {
            *d += g;
        }
    }
    if let Some(dpos) = dpos {
        for bt in 0..b * t {
            let dout_bt = &dout[bt * c..(bt + 1) * c];
            for (d, &g) in dpos[(bt % t) * c..(bt % t + 1) * c].iter_mut().zip(dout_bt) {
                *d += g;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::encoder_forward::{encoder_forward_cpu, sinusoidal_table};
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, c, v) = (2, 7, 12, 37);
        let mut rng = Rng64::new(21);
        let inp = rng.tokens(b * t, v);
        let (wte, wpe, w) = (rng.vec(v * c), rng.vec(t * c), rng.vec(b * t * c));
        let loss = |wte: &[f64], wpe: &[f64]| {
            let mut out = vec![0.0; b * t * c];
            encoder_forward_cpu(&mut out, &inp, wte, Some(wpe), b, t, c);
            dot(&out, &w)
        };
        let mut dwte = vec![0.0; v * c];
        let mut dwpe = vec![0.0; t * c];
        encoder_backward_cpu(&mut dwte, Some(&mut dwpe), &w, &inp, b, t, c);
        check_gradient("encoder dwte", &wte, &dwte, |x| loss(x, &wpe));
        check_gradient("encoder dwpe", &wpe, &dwpe, |x| loss(&wte, x));
    }

    #[test]
    fn sinusoidal_table_has_the_textbook_values() {
        let (t, c) = (7, 12);
        let mut table = vec![0.0f64; t * c];
        sinusoidal_table(&mut table, 0, t, c);
        // Position 0: sin(0) = 0, cos(0) = 1 in every pair.
        for (i, &x) in table[..c].iter().enumerate() {
            assert_eq!(x, if i % 2 == 0 { 0.0 } else { 1.0 });
        }
        // Position 3, pair i = 2 (columns 4 and 5): angle 3 / 10000^(4/12).
        let angle = 3.0 / 10000f64.powf(4.0 / 12.0);
        assert_eq!(table[3 * c + 4], angle.sin());
        assert_eq!(table[3 * c + 5], angle.cos());
        // An offset table is the tail of the full one.
        let mut tail = vec![0.0f64; 2 * c];
        sinusoidal_table(&mut tail, 5, 2, c);
        assert_eq!(&tail[..], &table[5 * c..]);
    }
}
