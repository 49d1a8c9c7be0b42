// residual_forward: out = inp1 + inp2, the skip connection.
//
//   out  (N)   written
//   inp1 (N)
//   inp2 (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements. Long launches are folded into
// a 2-D grid of workgroups (WebGPU caps a dimension at 65535), hence the flat index from (wid.y, wid.x).

struct Params {
    N: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> inp1: array<f32>;      // (N)
@group(0) @binding(3) var<storage, read> inp2: array<f32>;      // (N)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.N) {
        return;
    }
    out[i] = inp1[i] + inp2[i];
}
