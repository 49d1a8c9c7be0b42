// attention_forward: multi-head self-attention over a fused qkv buffer, writing the full score and
// weight maps (the inspection path; a fused online-softmax kernel that skips them is a separate op).
//
//   out     (B, T, C)       the heads' weighted sums of values, concatenated
//   preatt  (B, NH, T, T)   q.k * scale on visible entries, 0 on masked ones
//   att     (B, NH, T, T)   softmax of preatt over the visible keys (before dropout), 0 on masked ones
//   inp     (B, T, 3C)      q, k, v side by side per position; head h owns channels h*hs..(h+1)*hs of each
//   dropout (B, NH, T, T)   optional multiplier of att in the weighted sum (0 or 1/(1-p); params.has_dropout)
//
// One workgroup owns one query row (b, h, tq): its T scores, their softmax and its hs outputs.
// Its invocations split the keys (tk = lid, lid + WG, ...) for the scores and the exponentials, reduce the
// row's max and sum in workgroup memory (include/workgroup_reduce.wgsl), then split the hs channels of the output, each looping over keys.
// Dispatch: (T, NH, B) workgroups.

#include "include/attention_params.wgsl"
#include "include/workgroup_reduce.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>;     // (B, T, C)
@group(0) @binding(2) var<storage, read_write> preatt: array<elem>;  // (B, NH, T, T)
@group(0) @binding(3) var<storage, read_write> att: array<elem>;     // (B, NH, T, T)
@group(0) @binding(4) var<storage, read> inp: array<elem>;           // (B, T, 3C)
@group(0) @binding(5) var<storage, read> dropout: array<elem>;       // (B, NH, T, T) or a placeholder

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
    let q_at = qkv_at(b, tq, h, 0u);

    // Scores: this invocation's keys, and their max.
    var local_max = LOWEST;
    for (var tk = lid; tk < T; tk += WG) {
        var p = 0.0;
        if (tk < visible) {
            let k_at = qkv_at(b, tk, h, 1u);
            var score = 0.0;
            for (var i = 0u; i < hs; i++) {
                score += inp[q_at + i] * inp[k_at + i];
            }
            p = score * params.scale;
            local_max = max(local_max, p);
        }
        preatt[row + tk] = p;
    }
    let row_max = workgroup_max(lid, local_max);

    // Exponentials of the same keys (each invocation reads back only what it wrote), and their sum.
    var local_sum = 0.0;
    for (var tk = lid; tk < T; tk += WG) {
        var e = 0.0;
        if (tk < visible) {
            e = exp(preatt[row + tk] - row_max);
            local_sum += e;
        }
        att[row + tk] = e;
    }
    let inv = 1.0 / workgroup_sum(lid, local_sum);
    for (var tk = lid; tk < visible; tk += WG) {
        att[row + tk] *= inv;
    }

    // The weighted sum reads weights written by other invocations: order the storage writes first.
    storageBarrier();
    let out_at = head_at(b, tq, h);
    for (var i = lid; i < hs; i += WG) {
        var acc = 0.0;
        for (var tk = 0u; tk < visible; tk++) {
            var weight = att[row + tk];
            if (params.has_dropout != 0u) {
                weight *= dropout[row + tk];
            }
            acc += weight * inp[qkv_at(b, tk, h, 2u) + i];
        }
        out[out_at + i] = acc;
    }
}
