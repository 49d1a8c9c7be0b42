// encoder_backward (position rows): dpos[t] += sum over b of dout[b, t], ACCUMULATED (learned positions).
//
//   dpos (T, C)     read-modify-write
//   dout (B, T, C)
//
// One invocation owns one element dpos[t, c] and adds the B gradients of that position in batch order
// (the CPU's order, so the results are equal bit for bit); no two invocations touch the same element.
// A workgroup owns WG consecutive elements of dpos (2-D folded grid).

struct Params {
    B: u32,
    T: u32,
    C: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dpos: array<f32>; // (T, C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (B, T, C)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let TC = params.T * params.C;
    let i = (wid.y * nwg.x + wid.x) * WG + lid; // t * C + c
    if (i >= TC) {
        return;
    }
    var acc = dpos[i];
    for (var b = 0u; b < params.B; b++) {
        acc += dout[b * TC + i];
    }
    dpos[i] = acc;
}
