//! attention_forward: multi-head self-attention over a fused qkv buffer, as in llm.c.
//!
//! Intuition: each position asks a question (query), every visible position offers a label (key) and
//! a content (value); the softmax of question.label / sqrt(hs) says how much of each content to take.
//!
//! Layout: inp (B, T, 3C) holds q, k, v side by side per position (nanoGPT's `c_attn` output order);
//! head h owns channels h*hs..(h+1)*hs of each, hs = C / NH. The output concatenates the heads again.
//! The mask is a parameter: `Causal` (decoder: position t sees 0..=t) or `Bidirectional` (encoder: sees all).

use serde::{Deserialize, Serialize};

use super::float::Float;

/// Which key positions a query position may attend to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AttentionMask {
    /// Query t sees keys 0..=t (a decoder, GPT).
    #[default]
    Causal,
    /// Query t sees every key (an encoder, BERT-style).
    Bidirectional,
}

impl AttentionMask {
    /// Number of keys visible to query `t` of `len` positions.
    #[inline]
    pub fn visible(self, t: usize, len: usize) -> usize {
        match self {
            AttentionMask::Causal => t + 1,
            AttentionMask::Bidirectional => len,
        }
    }
}

/// out (B, T, C);  preatt (B, NH, T, T) = q.k / sqrt(hs) on visible entries;  att (B, NH, T, T) = softmax
/// of preatt over the visible keys. Masked entries of preatt and att hold 0.
/// `dropout` (B, NH, T, T), when given, multiplies att before the weighted sum of the values (attention
/// dropout; the mask holds 0 or 1/(1-p), see `dropout_forward`); `att` keeps the weights before dropout.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_cpu<R: Float>(
    out: &mut [R],
    preatt: &mut [R],
    att: &mut [R],
    inp: &[R],
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
    for bb in 0..b {
        for h in 0..nh {
            for tq in 0..t {
                let q = &inp[(bb * t + tq) * c3 + h * hs..][..hs];
                let row = ((bb * nh + h) * t + tq) * t;
                let visible = mask.visible(tq, t);
                let preatt_row = &mut preatt[row..row + t];
                let mut max = R::NEG_INFINITY;
                for (tk, p) in preatt_row.iter_mut().enumerate() {
                    if tk < visible {
                        let k = &inp[(bb * t + tk) * c3 + c + h * hs..][..hs];
                        let score: R = q.iter().zip(k).map(|(&a, &b)| a * b).sum();
                        *p = score * scale;
                        max = max.max(*p);
                    } else {
                        *p = R::ZERO;
                    }
                }
                let att_row = &mut att[row..row + t];
                let mut sum = R::ZERO;
                for tk in 0..t {
                    att_row[tk] = if tk < visible {
                        let e = (preatt_row[tk] - max).exp();
                        sum += e;
                        e
                    } else {
                        R::ZERO
                    };
                }
                let inv = R::ONE / sum;
                for a in att_row.iter_mut() {
                    *a *= inv;
                }
                let o = &mut out[(bb * t + tq) * c + h * hs..][..hs];
                o.fill(R::ZERO);
                for tk in 0..visible {
                    let weight = att_row[tk] * dropout.map_or(R::ONE, |d| d[row + tk]);
                    let v = &inp[(bb * t + tk) * c3 + 2 * c + h * hs..][..hs];
                    for (oi, &vi) in o.iter_mut().zip(v) {
                        *oi += weight * vi;
                    }
                }
            }
        }
    }
}
