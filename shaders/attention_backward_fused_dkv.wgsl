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
// mult is the dropout multiplier, recomputed from dropout_forward's hash at ((b*NH + h)*T + tq)*T + tk.
//
// One invocation owns one key row (b, h, tk): its k, v and hs running dk and dv live in private arrays
// (hs <= MAX_HS). A workgroup owns BK consecutive key rows of one (b, h) and stages q and dout (and their
// lse and delta) in tiles of BQT query rows in workgroup memory; causal: query tiles before the block's
// first key are skipped (those queries see none of its keys).
// Dispatch: (ceil(T / BK), NH, B) workgroups.

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,       // 1: key tk is seen by rows tk..T; 0: by all rows
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs)
    seed: u32,
    p: f32,
    keep: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;  // (B, T, 3C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (B, T, C)
@group(0) @binding(3) var<storage, read> inp: array<f32>;         // (B, T, 3C)
@group(0) @binding(4) var<storage, read> lse: array<f32>;         // (B, NH, T)
@group(0) @binding(5) var<storage, read> delta: array<f32>;       // (B, NH, T)

// Key rows per workgroup = invocations per workgroup.
override BK: u32 = 32u;
const MAX_HS: u32 = 64u;
// Query rows per staged tile.
const BQT: u32 = 16u;
const TILE: u32 = 1024u;  // BQT * MAX_HS

var<workgroup> q_tile: array<f32, TILE>;  // (BQT, MAX_HS)
var<workgroup> g_tile: array<f32, TILE>;  // (BQT, MAX_HS) dout
var<workgroup> lse_tile: array<f32, BQT>;
var<workgroup> delta_tile: array<f32, BQT>;

// The "pcg" hash of dropout_forward.wgsl, copied: WGSL has no includes.
fn pcg_hash(input: u32) -> u32 {
    let state = input * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(BK)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let T = params.T;
    let C = params.C;
    let C3 = 3u * C;
    let NH = params.NH;
    let hs = C / NH;
    let k_first = wid.x * BK;
    let h = wid.y;
    let b = wid.z;
    let tk = k_first + lid;
    let in_range = tk < T;

    // The first query row that sees any key of this block (uniform: the loop below holds barriers).
    var q_start = 0u;
    if (params.causal != 0u) {
        q_start = k_first;
    }

    var k: array<f32, MAX_HS>;
    var v: array<f32, MAX_HS>;
    var dk: array<f32, MAX_HS>;
    var dv: array<f32, MAX_HS>;
    let k_at = (b * T + tk) * C3 + C + h * hs;
    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            k[i] = inp[k_at + i];
            v[i] = inp[k_at + C + i];
            dk[i] = 0.0;
            dv[i] = 0.0;
        }
    }
    let head_rows = (b * NH + h) * T;
    let seed_hash = pcg_hash(params.seed);

    for (var q_first = q_start; q_first < T; q_first += BQT) {
        let n = min(BQT, T - q_first);
        workgroupBarrier();
        for (var e = lid; e < n * hs; e += BK) {
            let j = e / hs;
            let i = e % hs;
            let tq = q_first + j;
            q_tile[j * MAX_HS + i] = inp[(b * T + tq) * C3 + h * hs + i];
            g_tile[j * MAX_HS + i] = dout[(b * T + tq) * C + h * hs + i];
        }
        for (var j = lid; j < n; j += BK) {
            lse_tile[j] = lse[head_rows + q_first + j];
            delta_tile[j] = delta[head_rows + q_first + j];
        }
        workgroupBarrier();
        if (in_range) {
            for (var j = 0u; j < n; j++) {
                let tq = q_first + j;
                if (params.causal != 0u && tq < tk) {
                    continue;  // this query row does not see key tk
                }
                var s = 0.0;
                var dp = 0.0;
                for (var i = 0u; i < hs; i++) {
                    s += q_tile[j * MAX_HS + i] * k[i];
                    dp += g_tile[j * MAX_HS + i] * v[i];
                }
                let p = exp(s * params.scale - lse_tile[j]);
                var mult = 1.0;
                if (params.has_dropout != 0u) {
                    let u = f32(pcg_hash(seed_hash ^ ((head_rows + tq) * T + tk)) >> 8u) / 16777216.0;
                    mult = select(params.keep, 0.0, u < params.p);
                }
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
            dinp[k_at + i] = dk[i] * params.scale;
            dinp[k_at + C + i] = dv[i];
        }
    }
}
