// layernorm_backward (parameter gradients): dweight[c] += sum over rows of dout * norm, and
// dbias[c] += sum over rows of dout, ACCUMULATED, with norm = (inp - mean) * rstd.
//
//   dweight (C)        read-modify-write
//   dbias   (C)        read-modify-write, or a placeholder when has_bias = 0
//   dout    (B, T, C)
//   inp     (B, T, C)
//   mean    (B, T)
//   rstd    (B, T)
//
// Race-freedom without float atomics: a reduction over rows per channel. A workgroup owns CX consecutive
// channels and is CX x RY invocations: invocation (x, y) sums rows y, y + RY, ... of channel x (adjacent
// invocations read adjacent channels of a row), then the RY partial sums of each channel are reduced in
// workgroup memory by a tree (RY must be a power of two) and invocation (x, 0) alone adds the total to
// dweight[c] and dbias[c]. Each output element has exactly one writer.

#variants f16

#include "include/prelude.wgsl"

struct Params {
    rows: u32,
    C: u32,
    has_bias: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;  // (C) parameter gradients: f32 in every build
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;    // (C) or a placeholder
@group(0) @binding(3) var<storage, read> dout: array<elem>;          // (B, T, C)
@group(0) @binding(4) var<storage, read> inp: array<elem>;           // (B, T, C)
@group(0) @binding(5) var<storage, read> mean: array<f32>;           // (B, T)
@group(0) @binding(6) var<storage, read> rstd: array<f32>;           // (B, T)

override CX: u32 = 16u;
override RY: u32 = 16u;

// (sum of dout * norm, sum of dout) for each (y, x): index y * CX + x.
var<workgroup> partial: array<vec2<f32>, CX * RY>;

@compute @workgroup_size(CX, RY)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let C = params.C;
    let c = wid.x * CX + lid.x;
    // Rows this invocation visits: none for a channel past the end (no early return: barriers follow).
    let rows = select(0u, params.rows, c < C);
    var sums = vec2<f32>(0.0, 0.0);
    for (var row = lid.y; row < rows; row += RY) {
        let g = f32(dout[row * C + c]);
        let norm = (f32(inp[row * C + c]) - mean[row]) * rstd[row];
        sums += vec2<f32>(g * norm, g);
    }
    let slot = lid.y * CX + lid.x;
    partial[slot] = sums;
    workgroupBarrier();
    for (var stride = RY / 2u; stride > 0u; stride /= 2u) {
        if (lid.y < stride) {
            partial[slot] += partial[slot + stride * CX];
        }
        workgroupBarrier();
    }
    if (lid.y == 0u && c < C) {
        let total = partial[lid.x];
        dweight[c] += total.x;
        if (params.has_bias != 0u) {
            dbias[c] += total.y;
        }
    }
}
