// attention_backward_fused, step 3 of 3: dk and dv per key position, recomputing the attention weights from
// q, k and the forward's lse (no (T, T) map). A key is seen by many query rows; rather than every row
// scattering into it (a race without float atomics), each key row gathers over the queries that see it.
//
//   dinp  (B, T, 3C)   only the k and v thirds are written here, and assigned: over the rows tq that see tk,
//                        p  = exp(q[tq].k[tk] * scale - lse[tq])   the forward's weight (before dropout)
//                        dv[tk] = sum_tq p * mult * dout[tq]
//                        ds = p * (dout[tq].v[tk] * mult - delta[tq])
//                        dk[tk] = scale * sum_tq ds * q[tq]
//   dout  (B, T, C)
//   inp   (B, T, 3C)   the forward's q, k, v
//   lse   (B, NH, T)   from attention_forward_fused
//   delta (B, NH, T)   dout . out, from attention_backward_fused_delta
//
// mult is the dropout multiplier, recomputed from dropout_forward's hash (include/attention_fused.wgsl).
//
// One invocation owns one key row (b, h, tk): its k, v and hs running dk and dv live in private arrays
// (hs <= MAX_HS). A workgroup owns BK consecutive key rows of one (b, h) and stages q and dout (and their
// lse and delta) in tiles of BQT query rows in workgroup memory; causal: query tiles before the block's
// first key are skipped (those queries see none of its keys).
// Dispatch: (ceil(T / BK), NH, B) workgroups.

#variants f16

#include "include/attention_fused.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (B, T, 3C)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, C)
@group(0) @binding(3) var<storage, read> inp: array<elem>;        // (B, T, 3C)
@group(0) @binding(4) var<storage, read> lse: array<f32>;         // (B, NH, T)
@group(0) @binding(5) var<storage, read> delta: array<f32>;       // (B, NH, T)

// Key rows per workgroup = invocations per workgroup.
override BK: u32 = 32u;
// Query rows per staged tile.
const BQT: u32 = 16u;
const TILE: u32 = 1024u;  // BQT * MAX_HS

var<workgroup> q_tile: array<f32, TILE>;  // (BQT, MAX_HS), f32 in every build
var<workgroup> g_tile: array<f32, TILE>;  // (BQT, MAX_HS) dout
var<workgroup> lse_tile: array<f32, BQT>;
var<workgroup> delta_tile: array<f32, BQT>;

@compute @workgroup_size(BK)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let T = params.T;
    let hs = params.C / params.NH;
    let k_first = wid.x * BK;
    let h = wid.y;
    let b = wid.z;
    let tk = k_first + lid;
    let in_range = tk < T;
    // The first query row that sees any key of this block (uniform: the loop below holds barriers).
    let q_start = first_query_seeing(k_first);

    var k: array<f32, MAX_HS>;
    var v: array<f32, MAX_HS>;
    var dk: array<f32, MAX_HS>;
    var dv: array<f32, MAX_HS>;
    let k_at = qkv_at(b, tk, h, 1u);
    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            k[i] = f32(inp[k_at + i]);
            v[i] = f32(inp[k_at + params.C + i]);
            dk[i] = 0.0;
            dv[i] = 0.0;
        }
    }
    let head_rows = query_row(b, h, 0u);
    let seed_hash = pcg_hash(params.seed);

    for (var q_first = q_start; q_first < T; q_first += BQT) {
        let n = min(BQT, T - q_first);
        // Nobody may overwrite the tiles before everyone is done with the previous ones.
        workgroupBarrier();
        for (var e = lid; e < n * hs; e += BK) {
            let j = e / hs;
            let i = e % hs;
            let tq = q_first + j;
            q_tile[j * MAX_HS + i] = f32(inp[qkv_at(b, tq, h, 0u) + i]);
            g_tile[j * MAX_HS + i] = f32(dout[head_at(b, tq, h) + i]);
        }
        for (var j = lid; j < n; j += BK) {
            lse_tile[j] = lse[head_rows + q_first + j];
            delta_tile[j] = delta[head_rows + q_first + j];
        }
        workgroupBarrier();
        if (in_range) {
            for (var j = 0u; j < n; j++) {
                let tq = q_first + j;
                if (tq < first_query_seeing(tk)) {
                    continue;  // this query row does not see key tk
                }
                var s = 0.0;
                var dp = 0.0;
                for (var i = 0u; i < hs; i++) {
                    s += q_tile[j * MAX_HS + i] * k[i];
                    dp += g_tile[j * MAX_HS + i] * v[i];
                }
                let p = exp(s * params.scale - lse_tile[j]);
                let mult = attention_dropout(seed_hash, (head_rows + tq) * T + tk);
                let pm = p * mult;
                let ds = p * (dp * mult - delta_tile[j]);
                for (var i = 0u; i < hs; i++) {
                    dv[i] += pm * g_tile[j * MAX_HS + i];
                    dk[i] += ds * q_tile[j * MAX_HS + i];
                }
            }
        }
    }

    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            dinp[k_at + i] = elem(dk[i] * params.scale);
            dinp[k_at + params.C + i] = elem(dv[i]);
        }
    }
}
