// encoder_backward (token rows): dwte[inp[b, t]] += dout[b, t] for every position, ACCUMULATED.
//
//   dwte (V, C)     read-modify-write
//   dout (B, T, C)
//   inp  (B, T)     u32 token ids
//
// Race-freedom: a token may appear at many positions, so parallelising over positions would have several
// invocations add into the same dwte row at once (WGSL has no f32 atomics). Instead one invocation owns
// one channel c of the rows of one token group g = token % GROUPS, and walks all B*T positions in order,
// adding dout[bt, c] into dwte[token, c] only for tokens of its group. Every element dwte[v, c] is thus
// written by exactly one invocation, and its additions happen in position order, the CPU's order, so the
// result equals the CPU's bit for bit. The groups only add parallelism (C * GROUPS invocations): every
// invocation reads all B*T token ids (the same ones across a workgroup, so they come from cache), but only
// its 1/GROUPS share of dout. A faster variant would bucket positions by token first (llm.c sorts them).
//
// A workgroup owns WG consecutive channels of one group: x is the channel block, y the group, so the
// branch on the group is uniform across a workgroup.

#variants f16

#include "include/prelude.wgsl"

struct Params {
    B: u32,
    T: u32,
    C: u32,
    groups: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dwte: array<f32>;  // (V, C) a parameter gradient: f32 in every build
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, C)
@group(0) @binding(3) var<storage, read> inp: array<u32>;         // (B, T)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let C = params.C;
    let c = gid.x;
    let g = wid.y;
    if (c >= C) {
        return;
    }
    let BT = params.B * params.T;
    for (var bt = 0u; bt < BT; bt++) {
        let token = inp[bt];
        if (token % params.groups == g) {
            dwte[token * C + c] += f32(dout[bt * C + c]);
        }
    }
}
