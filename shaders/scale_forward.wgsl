// scale_forward: out = scale * inp. LoRA scales its low-rank activation by alpha / r with it (forward), and the
// gradient coming back through that scaling (backward: the same op).
//
//   params  binding 0: N, scale
//   out (N) written
//   inp (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"

struct Params {
    N: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<elem>;       // (N)

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.N;
}

fn element(i: u32) {
    out[i] = elem(params.scale) * inp[i];
}
