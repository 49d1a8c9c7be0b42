// encoder_backward (position rows): dpos[t] += sum over b of dout[b, t], ACCUMULATED (learned positions).
//
//   dpos (T, C)     read-modify-write
//   dout (B, T, C)
//
// One invocation owns one element dpos[t, c] and adds the B gradients of that position in batch order
// (the CPU's order, so the results are equal bit for bit); no two invocations touch the same element.
// A workgroup owns WG consecutive elements of dpos (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"

struct Params {
    B: u32,
    T: u32,
    C: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dpos: array<f32>;  // (T, C) a parameter gradient: f32 in every build
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, C)

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.T * params.C;
}

// i = t * C + c
fn element(i: u32) {
    let TC = params.T * params.C;
    var acc = dpos[i];
    for (var b = 0u; b < params.B; b++) {
        acc += f32(dout[b * TC + i]);
    }
    dpos[i] = acc;
}
