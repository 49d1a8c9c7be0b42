// attention_backward_fused, step 2 of 3: dq per query row, recomputing the attention weights from q, k and
// the forward's lse instead of reading a (T, T) map (step 3, attention_backward_fused_dkv, does dk and dv).
//
//   dinp  (B, T, 3C)   only the q third is written here, and assigned:
//                        dq[tq] = scale * sum_tk ds[tq, tk] k[tk] over the visible keys, where
//                        p  = exp(q.k * scale - lse[tq])           the forward's weight (before dropout)
//                        dp = dout[tq] . v[tk] * mult[tq, tk]      the weight's gradient (mult: dropout)
//                        ds = p * (dp - delta[tq])                 through the softmax
//   dout  (B, T, C)
//   inp   (B, T, 3C)   the forward's q, k, v
//   lse   (B, NH, T)   from attention_forward_fused
//   delta (B, NH, T)   dout . out, from attention_backward_fused_delta
//
// The dropout multiplier is recomputed from dropout_forward's hash, as the fused forward does
// (include/attention_fused.wgsl).
//
// One invocation owns one query row (b, h, tq): its q, dout and hs running dq live in private arrays
// (hs <= MAX_HS). A workgroup owns BQ consecutive rows of one (b, h) and stages k and v in tiles of BKV
// positions in workgroup memory (include/attention_kv_tile.wgsl); causal tiles past the block's last query are
// skipped. Dispatch: (ceil(T / BQ), NH, B) workgroups.

#variants f16

#include "include/attention_fused.wgsl"
#include "include/attention_kv_tile.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (B, T, 3C)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, C)
@group(0) @binding(3) var<storage, read> inp: array<elem>;        // (B, T, 3C)
@group(0) @binding(4) var<storage, read> lse: array<f32>;         // (B, NH, T)
@group(0) @binding(5) var<storage, read> delta: array<f32>;       // (B, NH, T)

// Query rows per workgroup = invocations per workgroup.
override BQ: u32 = 32u;

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let hs = params.C / params.NH;
    let q_first = wid.x * BQ;
    let h = wid.y;
    let b = wid.z;
    let tq = q_first + lid;
    let in_range = tq < params.T;
    let kv_end = keys_needed(q_first, BQ); // uniform: the loop below holds barriers
    let visible = keys_visible(tq);

    var q: array<f32, MAX_HS>;
    var g: array<f32, MAX_HS>;
    var dq: array<f32, MAX_HS>;
    let q_at = qkv_at(b, tq, h, 0u);
    let g_at = head_at(b, tq, h);
    var row_lse = 0.0;
    var row_delta = 0.0;
    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            q[i] = f32(inp[q_at + i]);
            g[i] = f32(dout[g_at + i]);
            dq[i] = 0.0;
        }
        row_lse = lse[query_row(b, h, tq)];
        row_delta = delta[query_row(b, h, tq)];
    }
    let drop_row = query_row(b, h, tq) * params.T;
    let seed_hash = pcg_hash(params.seed);

    for (var k_first = 0u; k_first < kv_end; k_first += BKV) {
        let n = min(BKV, kv_end - k_first);
        stage_kv_tile(b, h, k_first, n, lid, BQ);
        if (in_range) {
            for (var j = 0u; j < n; j++) {
                let tk = k_first + j;
                if (tk >= visible) {
                    break;  // causal: the rest of the tile is in this row's future
                }
                var s = 0.0;
                var dp = 0.0;
                for (var i = 0u; i < hs; i++) {
                    s += q[i] * k_tile[j * MAX_HS + i];
                    dp += g[i] * v_tile[j * MAX_HS + i];
                }
                let p = exp(s * params.scale - row_lse);
                dp *= attention_dropout(seed_hash, drop_row + tk);
                let ds = p * (dp - row_delta);
                for (var i = 0u; i < hs; i++) {
                    dq[i] += ds * k_tile[j * MAX_HS + i];
                }
            }
        }
    }

    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            dinp[q_at + i] = elem(dq[i] * params.scale);
        }
    }
}
