// attention_params: the uniform of the readable attention kernels (attention_forward, attention_backward,
// attention_backward_dkv), which read and write the full (B, NH, T, T) maps; one buffer serves all three.
//
//   params  binding 0

#include "include/prelude.wgsl"
#include "include/attention_layout.wgsl"

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,       // 1: query tq sees keys 0..=tq; 0: it sees all T keys
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference does
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
