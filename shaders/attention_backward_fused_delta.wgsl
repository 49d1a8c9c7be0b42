// attention_backward_fused, step 1 of 3: delta = dout . out per head and position, the term the softmax's
// backward subtracts: sum_j att[j] * datt[j] = dout . (sum_j att[j] * dropout[j] * v[j]) = dout . out.
//
//   delta (B, NH, T)  written
//   dout  (B, T, C)
//   out   (B, T, C)   the forward's output (the heads' weighted sums of values)
//
// One invocation owns one (b, h, t) and loops over the head's hs channels; a workgroup owns WG consecutive
// (b, h, t) (2-D folded grid, as GpuContext::grid_1d).

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,
    has_dropout: u32,
    scale: f32,
    seed: u32,
    p: f32,
    keep: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> delta: array<f32>;  // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<f32>;         // (B, T, C)
@group(0) @binding(3) var<storage, read> out: array<f32>;          // (B, T, C)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let T = params.T;
    let NH = params.NH;
    let hs = params.C / NH;
    let r = (wid.y * nwg.x + wid.x) * WG + lid;
    if (r >= params.B * NH * T) {
        return;
    }
    let t = r % T;
    let h = (r / T) % NH;
    let b = r / (T * NH);
    let at = (b * T + t) * params.C + h * hs;
    var d = 0.0;
    for (var i = 0u; i < hs; i++) {
        d += dout[at + i] * out[at + i];
    }
    delta[r] = d;
}
