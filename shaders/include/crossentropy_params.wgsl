// crossentropy_params: the uniform of crossentropy_forward and crossentropy_backward (one buffer serves both).
//
//   params  binding 0: B, T, and V, the vocabulary size

#include "include/prelude.wgsl"

struct Params {
    B: u32,
    T: u32,
    V: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// The target of a position that does not count (crate::ops::crossentropy_forward::IGNORE_INDEX).
const IGNORE_INDEX: u32 = 0xffffffffu;
