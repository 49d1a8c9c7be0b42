// meanpool_forward: out[b, c] = (1/T) sum over t of inp[b, t, c]. A classifier reads one vector per sequence:
// the mean of the final LayerNorm's output over the positions (mean pooling).
//
//   params  binding 0: N = B*C, T, C
//   out (B, C)    written
//   inp (B, T, C)
//
// One invocation owns one (b, c) and sums its T numbers in order (the CPU reference's order); a workgroup owns WG
// consecutive (b, c) (include/elementwise.wgsl).

#include "include/elementwise.wgsl"

struct Params {
    N: u32,
    T: u32,
    C: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (B, C)
@group(0) @binding(2) var<storage, read> inp: array<elem>;       // (B, T, C)

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.N;
}

fn element(i: u32) {
    let b = i / params.C;
    let c = i % params.C;
    var sum = 0.0;
    for (var t = 0u; t < params.T; t++) {
        sum += f32(inp[(b * params.T + t) * params.C + c]);
    }
    out[i] = elem(sum / f32(params.T));
}
