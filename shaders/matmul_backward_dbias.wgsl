// matmul_backward_dbias: dbias += sum over rows of dout, the bias gradient of a linear layer.
// Accumulated (+=): dbias is a parameter gradient.
//
//   dbias (OC)
//   dout  (N, OC)
//
// One workgroup owns WG_X consecutive output channels. Its WG_X x WG_Y invocations split the rows: invocation
// (x, y) sums rows y, y + WG_Y, y + 2*WG_Y, ... of column o0 + x (neighbouring x read neighbouring words), then
// the WG_Y partial sums of each column are added in workgroup memory and invocation (x, 0) alone
// read-modify-writes dbias[o0 + x]: no races, no atomics.

#variants f16

#include "include/prelude.wgsl"

struct Params {
    N: u32,
    OC: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;   // (OC) a parameter gradient: f32 in every build
@group(0) @binding(2) var<storage, read> dout: array<elem>;         // (N, OC)

override WG_X: u32 = 64u;  // output channels per workgroup
override WG_Y: u32 = 4u;   // invocations sharing the rows of one channel (a power of two)

// The length as an override identifier: some browsers accept only that as a pipeline-sized array length.
override WG_XY: u32 = WG_X * WG_Y;
var<workgroup> partial: array<f32, WG_XY>;  // (WG_Y, WG_X)

@compute @workgroup_size(WG_X, WG_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let o = wid.x * WG_X + lid.x;
    var sum = 0.0;
    if (o < params.OC) {
        for (var n = lid.y; n < params.N; n += WG_Y) {
            sum += f32(dout[n * params.OC + o]);
        }
    }
    partial[lid.y * WG_X + lid.x] = sum;
    workgroupBarrier();
    // Tree reduction over y; the barrier stays in uniform control flow (the loop bound is a constant).
    for (var stride = WG_Y / 2u; stride > 0u; stride /= 2u) {
        if (lid.y < stride) {
            partial[lid.y * WG_X + lid.x] += partial[(lid.y + stride) * WG_X + lid.x];
        }
        workgroupBarrier();
    }
    if (lid.y == 0u && o < params.OC) {
        dbias[o] += partial[lid.x];
    }
}
