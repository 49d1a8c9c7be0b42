// dropout_forward: mask = 0 with probability p, else 1/(1-p); out = inp * mask. The mask is an output,
// kept for the backward pass.
//
// The random number of element i is the CPU's (ops/dropout_forward.rs) bit for bit: see
// include/dropout_hash.wgsl. `keep` = 1/(1-p) is rounded to f32 on the CPU (from f64, as the CPU reference
// does) and passed in.
//
//   out  (N)  written
//   mask (N)  written, 0 or keep
//   inp  (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"
#include "include/dropout_hash.wgsl"

struct Params {
    N: u32,
    seed: u32,
    p: f32,
    keep: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<elem>;  // (N)
@group(0) @binding(2) var<storage, read_write> mask: array<elem>; // (N)
@group(0) @binding(3) var<storage, read> inp: array<elem>;        // (N)

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.N;
}

fn element(i: u32) {
    let m = dropout_multiplier(pcg_hash(params.seed), i, params.p, params.keep);
    mask[i] = m;
    out[i] = inp[i] * m;
}
