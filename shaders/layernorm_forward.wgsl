// layernorm_forward: for each row (position) x of C values,
//   mean = sum(x) / C,  rstd = 1 / sqrt(sum((x - mean)^2) / C + eps),
//   out = (x - mean) * rstd * weight + bias.
// Two passes over the row (mean, then the variance around it), as the CPU reference: stabler than
// E[x^2] - mean^2 when the mean is large.
//
//   out    (B, T, C)  written
//   mean   (B, T)     written
//   rstd   (B, T)     written
//   inp    (B, T, C)
//   weight (C)
//   bias   (C)        or a placeholder when has_bias = 0
//
// One workgroup owns one row (rows = B*T; 2-D folded grid of workgroups). Its WG invocations stride over
// the C channels (invocation l takes l, l + WG, ...), and the sums are reduced in workgroup memory by a
// tree (include/workgroup_reduce.wgsl), so WG must be a power of two. The row index depends only on the
// workgroup id, so every barrier is in uniform control flow (a workgroup past the last row does the same
// steps with no loads or stores).
// The f16 variant stores out, and reads inp, weight and bias, as f16; the sums, mean and rstd stay f32.

#variants f16

#include "include/workgroup_reduce.wgsl"

struct Params {
    rows: u32,
    C: u32,
    has_bias: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (B, T, C)
@group(0) @binding(2) var<storage, read_write> mean: array<f32>; // (B, T)
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>; // (B, T)
@group(0) @binding(4) var<storage, read> inp: array<elem>;       // (B, T, C)
@group(0) @binding(5) var<storage, read> weight: array<elem>;    // (C)
@group(0) @binding(6) var<storage, read> bias: array<elem>;      // (C) or a placeholder

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.y * nwg.x + wid.x;
    let C = params.C;
    // Channels this workgroup visits: none for a workgroup past the last row.
    let n = select(0u, C, row < params.rows);
    let base = row * C;
    let inv_c = 1.0 / f32(C);

    var sum = 0.0;
    for (var i = lid; i < n; i += WG) {
        sum += f32(inp[base + i]);
    }
    let m = workgroup_sum(lid, sum) * inv_c;

    var sq = 0.0;
    for (var i = lid; i < n; i += WG) {
        let d = f32(inp[base + i]) - m;
        sq += d * d;
    }
    let variance = workgroup_sum(lid, sq) * inv_c;
    // 1 / sqrt rather than inverseSqrt: WGSL lets inverseSqrt be a few ulp off.
    let s = 1.0 / sqrt(variance + params.eps);

    for (var i = lid; i < n; i += WG) {
        var y = (f32(inp[base + i]) - m) * s * f32(weight[i]);
        if (params.has_bias != 0u) {
            y += f32(bias[i]);
        }
        out[base + i] = elem(y);
    }
    if (lid == 0u && n > 0u) {
        mean[row] = m;
        rstd[row] = s;
    }
}
