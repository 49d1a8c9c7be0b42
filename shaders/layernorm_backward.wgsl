// layernorm_backward (input gradient): for each row, with norm = (x - mean) * rstd and dnorm = weight * dout,
//   dinp += (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd,   ACCUMULATED (the residual stream).
// dweight and dbias are reduced over rows by a second kernel, layernorm_backward_dweight.wgsl.
//
//   dinp   (B, T, C)  read-modify-write
//   dout   (B, T, C)
//   inp    (B, T, C)
//   weight (C)
//   mean   (B, T)     from the forward pass
//   rstd   (B, T)     from the forward pass
//
// One workgroup owns one row (2-D folded grid of workgroups); its WG invocations stride over the channels
// and reduce the two row means together (a vec2 per invocation) in workgroup memory by a tree, so WG must
// be a power of two. Barriers are in uniform control flow: the row depends only on the workgroup id.

#variants f16

#include "include/prelude.wgsl"

struct Params {
    rows: u32,
    C: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (B, T, C)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, C)
@group(0) @binding(3) var<storage, read> inp: array<elem>;        // (B, T, C)
@group(0) @binding(4) var<storage, read> weight: array<elem>;     // (C)
@group(0) @binding(5) var<storage, read> mean: array<f32>;        // (B, T)
@group(0) @binding(6) var<storage, read> rstd: array<f32>;        // (B, T)

override WG: u32 = 64u;

var<workgroup> partial: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.y * nwg.x + wid.x;
    let C = params.C;
    let valid = row < params.rows;
    let n = select(0u, C, valid);
    let base = row * C;
    var m = 0.0;
    var s = 0.0;
    if (valid) {
        m = mean[row];
        s = rstd[row];
    }

    // (sum of dnorm, sum of dnorm * norm) over this invocation's channels.
    var sums = vec2<f32>(0.0, 0.0);
    for (var i = lid; i < n; i += WG) {
        let norm = (f32(inp[base + i]) - m) * s;
        let dnorm = f32(weight[i]) * f32(dout[base + i]);
        sums += vec2<f32>(dnorm, dnorm * norm);
    }
    partial[lid] = sums;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    let means = partial[0] / f32(C);
    let dnorm_mean = means.x;
    let dnorm_norm_mean = means.y;

    for (var i = lid; i < n; i += WG) {
        let norm = (f32(inp[base + i]) - m) * s;
        let dnorm = f32(weight[i]) * f32(dout[base + i]);
        dinp[base + i] = elem(f32(dinp[base + i]) + (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s);
    }
}
