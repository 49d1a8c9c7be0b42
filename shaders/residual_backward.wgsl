// residual_backward: dinp1 += dout and dinp2 += dout. Both ACCUMULATE: the residual stream's gradient is
// the sum of what the skip path and the block send back.
//
//   dinp1 (N)  read-modify-write
//   dinp2 (N)  read-modify-write
//   dout  (N)
//
// One invocation owns one element of both outputs; a workgroup owns WG consecutive elements (2-D folded grid).

struct Params {
    N: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp1: array<f32>; // (N)
@group(0) @binding(2) var<storage, read_write> dinp2: array<f32>; // (N)
@group(0) @binding(3) var<storage, read> dout: array<f32>;        // (N)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.N) {
        return;
    }
    let g = dout[i];
    dinp1[i] += g;
    dinp2[i] += g;
}
