// distill_params: the uniform of distill_forward and distill_backward (one buffer serves both).
//
//   params  binding 0: B, T, V (the vocabulary size), alpha (the weight of the teacher's term, in [0, 1]) and
//           temperature (> 0; called tau in the comments, T being the sequence length)

#include "include/prelude.wgsl"

struct Params {
    B: u32,
    T: u32,
    V: u32,
    _pad0: u32,
    alpha: f32,
    temperature: f32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
