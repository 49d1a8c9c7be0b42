// dropout_backward: dinp = dout * mask, the mask written by dropout_forward. dinp is assigned.
//
//   dinp (N)  written
//   dout (N)
//   mask (N)  0 or 1/(1-p)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (2-D folded grid).

struct Params {
    N: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (N)
@group(0) @binding(3) var<storage, read> mask: array<f32>;       // (N)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.N) {
        return;
    }
    dinp[i] = dout[i] * mask[i];
}
