// attention_fused: what the four fused attention kernels share (attention_forward_fused and the three steps of
// attention_backward_fused): one uniform, so one buffer serves them all; the head-size limit of their private
// arrays; and the dropout of the attention weights, recomputed from dropout_forward's hash instead of read from a
// (B, NH, T, T) mask.
//
//   params  binding 0

#include "include/prelude.wgsl"
#include "include/attention_layout.wgsl"
#include "include/dropout_hash.wgsl"

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,       // 1: query tq sees keys 0..=tq; 0: it sees all T keys
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference does
    seed: u32,         // the attention dropout's seed (dropout_forward's params.seed)
    p: f32,            // dropout probability
    keep: f32,         // 1 / (1 - p), rounded on the CPU as dropout_forward's
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// The largest head size: private arrays of a query or key row are this long (the Rust side refuses larger heads).
const MAX_HS: u32 = 64u;

// The dropout multiplier of attention weight (b, h, tq, tk), at index ((b*NH + h)*T + tq)*T + tk of the mask
// dropout_forward would write for (seed, p), bit for bit; 1 without dropout. As in the CPU reference the softmax
// normaliser is the sum of the weights before dropout; only the weighted sum of values sees it.
// `seed_hash` is pcg_hash(params.seed).
fn attention_dropout(seed_hash: u32, index: u32) -> f32 {
    if (params.has_dropout == 0u) {
        return 1.0;
    }
    return dropout_multiplier(seed_hash, index, params.p, params.keep);
}
