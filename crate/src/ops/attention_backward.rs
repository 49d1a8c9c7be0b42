//! attention_backward: gradients of multi-head self-attention back to the fused qkv buffer.
//!
//! Intuition: the output error tells each value how much it was wanted (dv) and each attention weight
//! whether it should grow (datt); the softmax turns that into score errors (dpreatt), which move the
//! query toward useful keys and the keys toward the queries that needed them.
//!
//! All outputs are assigned: `dinp` is an activation gradient, `dpreatt` and `datt` are scratch buffers
//! kept explicit (as in llm.c) so a GPU version can split the same steps into kernels.

use super::attention_forward::AttentionMask;
use super::float::Float;

/// dinp (B, T, 3C), dpreatt (B, NH, T, T), datt (B, NH, T, T) from dout (B, T, C), the forward's inp
/// (B, T, 3C), att (B, NH, T, T) and the same dropout mask and attention mask.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_cpu<R: Float>(
    dinp: &mut [R],
    dpreatt: &mut [R],
    datt: &mut [R],
    dout: &[R],
    inp: &[R],
    att: &[R],
    dropout: Option<&[R]>,
    mask: AttentionMask,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let c3 = 3 * c;
    let scale = R::ONE / R::from_usize(hs).sqrt();
    dinp[..b * t * c3].fill(R::ZERO);
    for bb in 0..b {
        for h in 0..nh {
            for tq in 0..t {
                let row = ((bb * nh + h) * t + tq) * t;
                let visible = mask.visible(tq, t);
                let g = &dout[(bb * t + tq) * c + h * hs..][..hs];
                // Through the weighted sum: out = sum_k (att * drop)[k] v[k].
                for tk in 0..t {
                    if tk >= visible {
                        datt[row + tk] = R::ZERO;
                        continue;
                    }
                    let drop = dropout.map_or(R::ONE, |d| d[row + tk]);
                    let v_at = (bb * t + tk) * c3 + 2 * c + h * hs;
                    let mut d = R::ZERO;
                    for i in 0..hs {
                        d += g[i] * inp[v_at + i];
                        dinp[v_at + i] += att[row + tk] * drop * g[i];
                    }
                    datt[row + tk] = d * drop;
                }
                // Through the softmax: dpreatt = att * (datt - sum_j att[j] datt[j]).
                let mut weighted = R::ZERO;
                for tk in 0..visible {
                    weighted += att[row + tk] * datt[row + tk];
                }
                for tk in 0..t {
                    dpreatt[row + tk] = if tk < visible {
                        att[row + tk] * (datt[row + tk] - weighted)
                    } else {
                        R::ZERO
                    };
                }
                // Through the scores: preatt = q.k * scale.
                let q_at = (bb * t + tq) * c3 + h * hs;
                for tk in 0..visible {
                    let k_at = (bb * t + tk) * c3 + c + h * hs;
                    let d = dpreatt[row + tk] * scale;
                    for i in 0..hs {
                        let (qi, ki) = (inp[q_at + i], inp[k_at + i]);
                        dinp[q_at + i] += d * ki;
                        dinp[k_at + i] += d * qi;
                    }
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::attention_forward::attention_forward_cpu;
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};

    fn check(mask: AttentionMask, with_dropout: bool) {
        // B=2, T=7, C=12, NH=3 (hs=4).
        let (b, t, c, nh) = (2, 7, 12, 3);
        let mut rng = Rng64::new(51);
        let (inp, w) = (rng.vec(b * t * 3 * c), rng.vec(b * t * c));
        // A fixed dropout mask: 0 or 1/(1-p) with p = 0.25.
        let drop: Vec<f64> = (0..b * nh * t * t)
            .map(|_| {
                if rng.uniform() < -0.5 {
                    0.0
                } else {
                    1.0 / 0.75
                }
            })
            .collect();
        let drop = with_dropout.then_some(&drop[..]);
        let n_att = b * nh * t * t;
        let forward = |inp: &[f64]| {
            let (mut out, mut preatt, mut att) =
                (vec![0.0; b * t * c], vec![0.0; n_att], vec![0.0; n_att]);
            attention_forward_cpu(
                &mut out,
                &mut preatt,
                &mut att,
                inp,
                drop,
                mask,
                b,
                t,
                c,
                nh,
            );
            (out, att)
        };
        let (_, att) = forward(&inp);
        let (mut dinp, mut dpreatt, mut datt) = (
            vec![f64::NAN; inp.len()],
            vec![f64::NAN; n_att],
            vec![f64::NAN; n_att],
        );
        attention_backward_cpu(
            &mut dinp,
            &mut dpreatt,
            &mut datt,
            &w,
            &inp,
            &att,
            drop,
            mask,
            b,
            t,
            c,
            nh,
        );
        check_gradient(
            &format!("attention dinp {mask:?} dropout={with_dropout}"),
            &inp,
            &dinp,
            |x| dot(&forward(x).0, &w),
        );
    }

    #[test]
    fn gradients_match_finite_differences_causal() {
        check(AttentionMask::Causal, false);
    }

    #[test]
    fn gradients_match_finite_differences_bidirectional() {
        check(AttentionMask::Bidirectional, false);
    }

    #[test]
    fn gradients_match_finite_differences_with_dropout() {
        check(AttentionMask::Causal, true);
    }

    #[test]
    fn causal_rows_are_distributions_over_the_past() {
        let (b, t, c, nh) = (1, 5, 4, 2);
        let mut rng = Rng64::new(52);
        let inp = rng.vec(b * t * 3 * c);
        let (mut out, mut preatt, mut att) = (
            vec![0.0; b * t * c],
            vec![0.0; nh * t * t],
            vec![0.0; nh * t * t],
        );
        attention_forward_cpu(
            &mut out,
            &mut preatt,
            &mut att,
            &inp,
            None,
            AttentionMask::Causal,
            b,
            t,
            c,
            nh,
        );
        for (r, row) in att.chunks(t).enumerate() {
            let tq = r % t;
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row[..=tq].iter().all(|&a| a > 0.0));
            assert!(
                row[tq + 1..].iter().all(|&a| a == 0.0),
                "row {r} sees the future: {row:?}"
            );
        }
        // The first position can only attend to itself: its output is its own value.
        assert!((out[0] - inp[2 * c]).abs() < 1e-12);
    }
}
