// encoder_forward: out[b, t] = wte[inp[b, t]] + pos[t], the token embedding plus the position table.
// The position table is the learned wpe or the fixed sinusoidal table (the same kernel serves both: the
// caller binds whichever it has), or absent (params.has_pos = 0) when the model uses rotary positions.
//
//   out (B, T, C)  written
//   inp (B, T)     u32 token ids, each below V (checked by the model before the call)
//   wte (V, C)
//   pos (T, C)     or a placeholder when has_pos = 0
//
// One invocation owns one element out[b, t, c]; a workgroup owns WG consecutive elements (2-D folded grid).

struct Params {
    B: u32,
    T: u32,
    C: u32,
    has_pos: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (B, T, C)
@group(0) @binding(2) var<storage, read> inp: array<u32>;       // (B, T)
@group(0) @binding(3) var<storage, read> wte: array<f32>;       // (V, C)
@group(0) @binding(4) var<storage, read> pos: array<f32>;       // (T, C) or a placeholder

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let C = params.C;
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.B * params.T * C) {
        return;
    }
    let bt = i / C;
    let c = i % C;
    var x = wte[inp[bt] * C + c];
    if (params.has_pos != 0u) {
        x += pos[(bt % params.T) * C + c];
    }
    out[i] = x;
}
