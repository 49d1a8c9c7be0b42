// attention_backward, per query row: datt, dpreatt and dq (the first of two kernels; the second,
// attention_backward_dkv, gathers dk and dv from the dpreatt this one writes).
//
//   dinp    (B, T, 3C)      only the q third is written here, and assigned: dq = scale * dpreatt @ k
//   dpreatt (B, NH, T, T)   att * (datt - sum_j att[j] datt[j]) on visible entries, 0 on masked ones
//   datt    (B, NH, T, T)   (dout . v) * dropout on visible entries, 0 on masked ones
//   dout    (B, T, C)
//   inp     (B, T, 3C)      the forward's q, k, v
//   att     (B, NH, T, T)   the forward's softmax weights (before dropout)
//   dropout (B, NH, T, T)   optional, the forward's multiplier of att (params.has_dropout)
//
// One workgroup owns one query row (b, h, tq). Its invocations split the keys (tk = lid, lid + WG, ...)
// for datt and dpreatt, reduce sum_j att[j] datt[j] in workgroup memory, then split the hs channels of
// dq, each looping over the visible keys. Dispatch: (T, NH, B) workgroups.

#include "include/attention_params.wgsl"
#include "include/workgroup_reduce.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>;     // (B, T, 3C)
@group(0) @binding(2) var<storage, read_write> dpreatt: array<elem>;  // (B, NH, T, T)
@group(0) @binding(3) var<storage, read_write> datt: array<elem>;     // (B, NH, T, T)
@group(0) @binding(4) var<storage, read> dout: array<elem>;           // (B, T, C)
@group(0) @binding(5) var<storage, read> inp: array<elem>;            // (B, T, 3C)
@group(0) @binding(6) var<storage, read> att: array<elem>;            // (B, NH, T, T)
@group(0) @binding(7) var<storage, read> dropout: array<elem>;        // (B, NH, T, T) or a placeholder

// Invocations per workgroup: a power of two (include/workgroup_reduce.wgsl).
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let T = params.T;
    let hs = params.C / params.NH;
    let tq = wid.x;
    let h = wid.y;
    let b = wid.z;
    let row = query_row(b, h, tq) * T;  // this query row of the maps
    let visible = keys_visible(tq);
    let g_at = head_at(b, tq, h);

    // Through the weighted sum: datt[tk] = (g . v[tk]) * drop[tk]; and this invocation's part of
    // sum_tk att[tk] datt[tk].
    var local_sum = 0.0;
    for (var tk = lid; tk < T; tk += WG) {
        var d = 0.0;
        if (tk < visible) {
            let v_at = qkv_at(b, tk, h, 2u);
            for (var i = 0u; i < hs; i++) {
                d += dout[g_at + i] * inp[v_at + i];
            }
            if (params.has_dropout != 0u) {
                d *= dropout[row + tk];
            }
            local_sum += att[row + tk] * d;
        }
        datt[row + tk] = d;
    }
    let weighted = workgroup_sum(lid, local_sum);

    // Through the softmax, for the same keys (each invocation reads back only the datt it wrote).
    for (var tk = lid; tk < T; tk += WG) {
        var d = 0.0;
        if (tk < visible) {
            d = att[row + tk] * (datt[row + tk] - weighted);
        }
        dpreatt[row + tk] = d;
    }

    // Through the scores: dq reads dpreatt written by other invocations, so order the writes first.
    storageBarrier();
    let q_at = qkv_at(b, tq, h, 0u);
    for (var i = lid; i < hs; i += WG) {
        var acc = 0.0;
        for (var tk = 0u; tk < visible; tk++) {
            acc += dpreatt[row + tk] * params.scale * inp[qkv_at(b, tk, h, 1u) + i];
        }
        dinp[q_at + i] = acc;
    }
}
