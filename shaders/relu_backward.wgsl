// relu_backward: dinp = dout where inp > 0, else 0 (the derivative at exactly 0 is 0, as PyTorch).
// dinp is assigned.
//
//   dinp (N)  written
//   inp  (N)  the forward's input
//   dout (N)
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
@group(0) @binding(2) var<storage, read> inp: array<f32>;        // (N)
@group(0) @binding(3) var<storage, read> dout: array<f32>;       // (N)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.N) {
        return;
    }
    dinp[i] = select(0.0, dout[i], inp[i] > 0.0);
}
