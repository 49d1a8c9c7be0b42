// encoder_forward: out[b, t] = wte[inp[b, t]] + pos[t], the token embedding plus the position table.
// The position table is the learned wpe or the fixed sinusoidal table (the same kernel serves both: the
// caller binds whichever it has), or absent (params.has_pos = 0) when the model uses rotary positions.
//
//   out (B, T, C)  written
//   inp (B, T)     u32 token ids, each below V (checked by the model before the call)
//   wte (V, C)
//   pos (T, C)     or a placeholder when has_pos = 0
//
// One invocation owns one element out[b, t, c]; a workgroup owns WG consecutive elements
// (include/elementwise.wgsl).

#include "include/elementwise.wgsl"

struct Params {
    B: u32,
    T: u32,
    C: u32,
    has_pos: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (B, T, C)
@group(0) @binding(2) var<storage, read> inp: array<u32>;        // (B, T)
@group(0) @binding(3) var<storage, read> wte: array<elem>;       // (V, C)
@group(0) @binding(4) var<storage, read> pos: array<elem>;       // (T, C) or a placeholder

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.B * params.T * params.C;
}

fn element(i: u32) {
    let C = params.C;
    let bt = i / C;
    let c = i % C;
    var x = wte[inp[bt] * C + c];
    if (params.has_pos != 0u) {
        x += pos[(bt % params.T) * C + c];
    }
    out[i] = x;
}
