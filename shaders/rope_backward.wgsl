// rope_backward: the gradient of a rotation is the rotation back (its transpose), so for the q and k
// pairs  (g0, g1) -> (g0 cos + g1 sin, -g0 sin + g1 cos);  the values' gradient passes through.
// dinp is assigned. Same layout and table as rope_forward.wgsl.
//
//   dinp  (B, T, 3C)     written
//   dout  (B, T, 3C)
//   table (T, hs/2, 2)   (cos, sin) for positions pos0..pos0+T, computed on the CPU in f64 (see rope_forward)
//
// One invocation owns one channel pair of one position; a workgroup owns WG consecutive pairs
// (2-D folded grid).

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>; // (B, T, 3C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (B, T, 3C)
@group(0) @binding(3) var<storage, read> table: array<f32>;      // (T, hs/2, 2)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let C = params.C;
    let pairs_per_row = 3u * C / 2u;
    let p = (wid.y * nwg.x + wid.x) * WG + lid;
    if (p >= params.B * params.T * pairs_per_row) {
        return;
    }
    let bt = p / pairs_per_row;
    let ch = 2u * (p % pairs_per_row);
    let at = bt * 3u * C + ch;
    let g0 = dout[at];
    let g1 = dout[at + 1u];
    if (ch >= 2u * C) {
        dinp[at] = g0;
        dinp[at + 1u] = g1;
        return;
    }
    let hs = C / params.NH;
    let i = (ch % hs) / 2u;
    let cs = (bt % params.T) * (hs / 2u) + i;
    let co = table[2u * cs];
    let si = table[2u * cs + 1u];
    dinp[at] = g0 * co + g1 * si;
    dinp[at + 1u] = -g0 * si + g1 * co;
}
