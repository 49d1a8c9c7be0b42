// encoder_forward: out[b, t] = wte[inp[b, t]] + pos[t], the token embedding plus the position table.
// The position table is the learned wpe or the fixed sinusoidal table (the same kernel serves both: the
// caller binds whichever it has), or absent (params.has_pos = 0) when the model uses rotary positions.
// A token embedding larger than one storage binding (GPT-2's 154 MB wte on a 128 MiB device) is bound in
// rows [v0, v0 + vn) at a time, one dispatch per chunk: each writes the positions whose token is in its rows
// and leaves the others, so every position is written exactly once (vn = 0xffffffff: wte bound whole).
//
//   out (B, T, C)  written
//   inp (B, T)     u32 token ids, each below V (checked by the model before the call)
//   wte (V, C)     or the rows [v0, v0 + vn) of it
//   pos (T, C)     or a placeholder when has_pos = 0
//
// One invocation owns one element out[b, t, c]; a workgroup owns WG consecutive elements
// (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"

struct Params {
    B: u32,
    T: u32,
    C: u32,
    has_pos: u32,
    v0: u32,
    vn: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (B, T, C)
@group(0) @binding(2) var<storage, read> inp: array<u32>;        // (B, T)
@group(0) @binding(3) var<storage, read> wte: array<elem>;       // (vn, C): rows v0.. of (V, C)
@group(0) @binding(4) var<storage, read> pos: array<elem>;       // (T, C) or a placeholder

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.B * params.T * params.C;
}

fn element(i: u32) {
    let C = params.C;
    let bt = i / C;
    let c = i % C;
    let id = inp[bt];
    if (id < params.v0 || id - params.v0 >= params.vn) {
        return; // another chunk's token
    }
    var x = f32(wte[(id - params.v0) * C + c]);
    if (params.has_pos != 0u) {
        x += f32(pos[(bt % params.T) * C + c]);
    }
    out[i] = elem(x);
}
