// attention_forward_fused: multi-head self-attention with an online softmax: the same out as
// attention_forward, but no (T, T) score or weight map is ever written to memory. The training path.
//
//   out (B, T, C)    the heads' weighted sums of values, concatenated
//   lse (B, NH, T)   log-sum-exp of each query row's scaled scores over its visible keys (max + log(sum)):
//                    the backward recomputes a weight as exp(score - lse) from it
//   inp (B, T, 3C)   q, k, v side by side per position; head h owns channels h*hs..(h+1)*hs of each
//
// Attention dropout (params.has_dropout) is not read from a mask buffer: the keep decision of weight
// (b, h, tq, tk) is recomputed from the hash of dropout_forward (include/attention_fused.wgsl).
//
// One invocation owns one query row (b, h, tq): its q and its hs running outputs live in private arrays
// (hs <= MAX_HS). A workgroup owns BQ consecutive query rows of one (b, h) and walks the keys in tiles of BKV
// positions: the whole workgroup stages a tile's k and v in workgroup memory (include/attention_kv_tile.wgsl),
// then each invocation scores its query against the tile and folds it in with the online softmax
// (include/online_softmax.wgsl). Causal: tiles past the block's last query are skipped entirely.
// Dispatch: (ceil(T / BQ), NH, B) workgroups.

#variants f16

#include "include/attention_fused.wgsl"
#include "include/attention_kv_tile.wgsl"
#include "include/online_softmax.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (B, T, C)
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;  // (B, NH, T)
@group(0) @binding(3) var<storage, read> inp: array<elem>;       // (B, T, 3C)

// Query rows per workgroup = invocations per workgroup.
override BQ: u32 = 32u;

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let hs = params.C / params.NH;
    let q_first = wid.x * BQ;
    let h = wid.y;
    let b = wid.z;
    let tq = q_first + lid;
    // Invocations past the last row still stage tiles and meet every barrier; they just compute nothing.
    let in_range = tq < params.T;
    // The keys this block needs (uniform across the workgroup: the loop below holds barriers).
    let kv_end = keys_needed(q_first, BQ);
    let visible = keys_visible(tq);

    var q: array<f32, MAX_HS>;
    var acc: array<f32, MAX_HS>;
    let q_at = qkv_at(b, tq, h, 0u);
    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            q[i] = f32(inp[q_at + i]);
            acc[i] = 0.0;
        }
    }
    var softmax = online_softmax_start();
    let drop_row = query_row(b, h, tq) * params.T;
    let seed_hash = pcg_hash(params.seed);

    for (var k_first = 0u; k_first < kv_end; k_first += BKV) {
        let n = min(BKV, kv_end - k_first);
        stage_kv_tile(b, h, k_first, n, lid, BQ);
        if (in_range) {
            // Scores of the tile and their max.
            var s: array<f32, BKV>;
            var tile_max = LOWEST;
            for (var j = 0u; j < n; j++) {
                if (k_first + j < visible) {
                    var dot = 0.0;
                    for (var i = 0u; i < hs; i++) {
                        dot += q[i] * k_tile[j * MAX_HS + i];
                    }
                    s[j] = dot * params.scale;
                    tile_max = max(tile_max, s[j]);
                }
            }
            let m_new = max(softmax.m, tile_max);
            // w[j]: the weight times the dropout multiplier, what the weighted sum of values takes.
            var w: array<f32, BKV>;
            var tile_sum = 0.0;
            for (var j = 0u; j < n; j++) {
                let tk = k_first + j;
                var e = 0.0;
                if (tk < visible) {
                    e = exp(s[j] - m_new);
                }
                tile_sum += e;
                w[j] = e * attention_dropout(seed_hash, drop_row + tk);
            }
            let alpha = online_softmax_fold(&softmax, m_new, tile_sum);
            for (var i = 0u; i < hs; i++) {
                var a = acc[i] * alpha;
                for (var j = 0u; j < n; j++) {
                    a += w[j] * v_tile[j * MAX_HS + i];
                }
                acc[i] = a;
            }
        }
    }

    if (in_range) {
        // Every row sees at least one key (causal: itself), so l >= 1.
        let inv = 1.0 / softmax.l;
        let out_at = head_at(b, tq, h);
        for (var i = 0u; i < hs; i++) {
            out[out_at + i] = elem(acc[i] * inv);
        }
        lse[query_row(b, h, tq)] = online_softmax_lse(softmax);
    }
}
