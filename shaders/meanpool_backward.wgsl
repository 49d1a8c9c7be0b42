// meanpool_backward: dinp[b, t, c] = dout[b, c] / T, the gradient of mean pooling (every position gets an equal
// share). dinp is assigned.
//
//   params  binding 0: N = B*T*C, T, C
//   dinp (B, T, C)  written
//   dout (B, C)
//
// One invocation owns one element of dinp; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"

struct Params {
    N: u32,
    T: u32,
    C: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (B, T, C)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, C)

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.N;
}

fn element(i: u32) {
    let b = i / (params.T * params.C);
    let c = i % params.C;
    dinp[i] = elem(f32(dout[b * params.C + c]) / f32(params.T));
}
