// cross_attention_backward, per query row: datt, dpreatt and dq (the first of two kernels; the second,
// cross_attention_backward_dkv, gathers dk and dv from the dpreatt this one writes).
//
//   dq      (B, Tq, C)       assigned: dq = scale * dpreatt @ k
//   dpreatt (B, NH, Tq, Tk)  att * (datt - sum_j att[j] datt[j])
//   datt    (B, NH, Tq, Tk)  (dout . v) * dropout
//   dout    (B, Tq, C)
//   kv      (B, Tk, 2C)      the forward's keys and values
//   att     (B, NH, Tq, Tk)  the forward's softmax weights (before dropout)
//   dropout (B, NH, Tq, Tk)  optional, the forward's multiplier of att (params.has_dropout)
//
// One workgroup owns one query row (b, h, tq). Its invocations split the keys for datt and dpreatt, reduce
// sum_j att[j] datt[j] in workgroup memory, then split the hs channels of dq, each looping over the keys.
// Dispatch: (Tq, NH, B) workgroups.

#include "include/cross_attention_params.wgsl"
#include "include/workgroup_reduce.wgsl"

@group(0) @binding(1) var<storage, read_write> dq: array<elem>;       // (B, Tq, C)
@group(0) @binding(2) var<storage, read_write> dpreatt: array<elem>;  // (B, NH, Tq, Tk)
@group(0) @binding(3) var<storage, read_write> datt: array<elem>;     // (B, NH, Tq, Tk)
@group(0) @binding(4) var<storage, read> dout: array<elem>;           // (B, Tq, C)
@group(0) @binding(5) var<storage, read> kv: array<elem>;             // (B, Tk, 2C)
@group(0) @binding(6) var<storage, read> att: array<elem>;            // (B, NH, Tq, Tk)
@group(0) @binding(7) var<storage, read> dropout: array<elem>;        // (B, NH, Tq, Tk) or a placeholder

// Invocations per workgroup: a power of two (include/workgroup_reduce.wgsl).
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let Tk = params.Tk;
    let hs = params.C / params.NH;
    let tq = wid.x;
    let h = wid.y;
    let b = wid.z;
    let row = map_row(b, h, tq);
    let ga = q_at(b, tq, h);

    // Through the weighted sum: datt[tk] = (g . v[tk]) * drop[tk]; and this invocation's part of
    // sum_tk att[tk] datt[tk].
    var local_sum = 0.0;
    for (var tk = lid; tk < Tk; tk += WG) {
        let va = kv_at(b, tk, h, 1u);
        var d = 0.0;
        for (var i = 0u; i < hs; i++) {
            d += dout[ga + i] * kv[va + i];
        }
        if (params.has_dropout != 0u) {
            d *= dropout[row + tk];
        }
        local_sum += att[row + tk] * d;
        datt[row + tk] = d;
    }
    let weighted = workgroup_sum(lid, local_sum);

    // Through the softmax, for the same keys (each invocation reads back only the datt it wrote).
    for (var tk = lid; tk < Tk; tk += WG) {
        dpreatt[row + tk] = att[row + tk] * (datt[row + tk] - weighted);
    }

    // Through the scores: dq reads dpreatt written by other invocations, so order the writes first.
    storageBarrier();
    for (var i = lid; i < hs; i += WG) {
        var acc = 0.0;
        for (var tk = 0u; tk < Tk; tk++) {
            acc += dpreatt[row + tk] * params.scale * kv[kv_at(b, tk, h, 0u) + i];
        }
        dq[ga + i] = acc;
    }
}
