//! The attention masks, as the model and every attention op (CPU and GPU) take them: which keys a query
//! position may see ([`AttentionMask`]), and which attention weights dropout drops ([`AttentionDropout`]).
//! Plain data, no GPU: the model's configuration and the CPU reference use them without wgpu.

use serde::{Deserialize, Serialize};

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

/// Attention dropout as the fused kernels draw it: probability `p`, masks from `seed` as
/// [`dropout_mask_cpu`](super::dropout_forward::dropout_mask_cpu) over the (B, NH, T, T) index space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionDropout {
    pub p: f32,
    pub seed: u32,
}
