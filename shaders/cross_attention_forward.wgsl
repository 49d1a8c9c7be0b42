// cross_attention_forward: multi-head attention of the decoder's queries over the encoder's keys and values,
// writing the full score and weight maps (Tq x Tk per head; nothing is masked).
//
//   out     (B, Tq, C)       the heads' weighted sums of values, concatenated
//   preatt  (B, NH, Tq, Tk)  q.k * scale
//   att     (B, NH, Tq, Tk)  softmax of preatt over the Tk keys (before dropout)
//   q       (B, Tq, C)       the decoder's queries
//   kv      (B, Tk, 2C)      the encoder's keys and values side by side per source position
//   dropout (B, NH, Tq, Tk)  optional multiplier of att in the weighted sum (0 or 1/(1-p); params.has_dropout)
//
// One workgroup owns one query row (b, h, tq): its Tk scores, their softmax and its hs outputs. Its
// invocations split the keys (tk = lid, lid + WG, ...) for the scores and exponentials, reduce the row's max
// and sum in workgroup memory, then split the hs output channels, each looping over the keys.
// Dispatch: (Tq, NH, B) workgroups.

#include "include/cross_attention_params.wgsl"
#include "include/workgroup_reduce.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>;     // (B, Tq, C)
@group(0) @binding(2) var<storage, read_write> preatt: array<elem>;  // (B, NH, Tq, Tk)
@group(0) @binding(3) var<storage, read_write> att: array<elem>;     // (B, NH, Tq, Tk)
@group(0) @binding(4) var<storage, read> q: array<elem>;             // (B, Tq, C)
@group(0) @binding(5) var<storage, read> kv: array<elem>;            // (B, Tk, 2C)
@group(0) @binding(6) var<storage, read> dropout: array<elem>;       // (B, NH, Tq, Tk) or a placeholder

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
    let qa = q_at(b, tq, h);

    // Scores: this invocation's keys, and their max.
    var local_max = LOWEST;
    for (var tk = lid; tk < Tk; tk += WG) {
        let ka = kv_at(b, tk, h, 0u);
        var score = 0.0;
        for (var i = 0u; i < hs; i++) {
            score += q[qa + i] * kv[ka + i];
        }
        let p = score * params.scale;
        local_max = max(local_max, p);
        preatt[row + tk] = p;
    }
    let row_max = workgroup_max(lid, local_max);

    // Exponentials of the same keys (each invocation reads back only what it wrote), and their sum.
    var local_sum = 0.0;
    for (var tk = lid; tk < Tk; tk += WG) {
        let e = exp(preatt[row + tk] - row_max);
        local_sum += e;
        att[row + tk] = e;
    }
    let inv = 1.0 / workgroup_sum(lid, local_sum);
    for (var tk = lid; tk < Tk; tk += WG) {
        att[row + tk] *= inv;
    }

    // The weighted sum reads weights written by other invocations: order the storage writes first.
    storageBarrier();
    let oa = q_at(b, tq, h);
    for (var i = lid; i < hs; i += WG) {
        var acc = 0.0;
        for (var tk = 0u; tk < Tk; tk++) {
            var weight = att[row + tk];
            if (params.has_dropout != 0u) {
                weight *= dropout[row + tk];
            }
            acc += weight * kv[kv_at(b, tk, h, 1u) + i];
        }
        out[oa + i] = acc;
    }
}
