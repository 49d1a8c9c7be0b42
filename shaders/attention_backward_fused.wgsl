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
// The dropout multiplier is recomputed from dropout_forward's hash at ((b*NH + h)*T + tq)*T + tk, as the
// fused forward does (params.has_dropout).
//
// One invocation owns one query row (b, h, tq): its q, dout and hs running dq live in private arrays
// (hs <= MAX_HS). A workgroup owns BQ consecutive rows of one (b, h) and stages k and v in tiles of BKV
// positions in workgroup memory; causal tiles past the block's last query are skipped.
// Dispatch: (ceil(T / BQ), NH, B) workgroups.

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,       // 1: query tq sees keys 0..=tq; 0: it sees all T keys
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs)
    seed: u32,         // the attention dropout's seed, as in the forward
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

override BQ: u32 = 32u;
const MAX_HS: u32 = 64u;
const BKV: u32 = 16u;
const TILE: u32 = 1024u;  // BKV * MAX_HS

var<workgroup> k_tile: array<f32, TILE>;  // (BKV, MAX_HS)
var<workgroup> v_tile: array<f32, TILE>;  // (BKV, MAX_HS)

// The "pcg" hash of dropout_forward.wgsl, copied: WGSL has no includes.
fn pcg_hash(input: u32) -> u32 {
    let state = input * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let T = params.T;
    let C = params.C;
    let C3 = 3u * C;
    let NH = params.NH;
    let hs = C / NH;
    let q_first = wid.x * BQ;
    let h = wid.y;
    let b = wid.z;
    let tq = q_first + lid;
    let in_range = tq < T;

    var kv_end = T;
    var visible = T;
    if (params.causal != 0u) {
        kv_end = min(T, q_first + BQ);
        visible = tq + 1u;
    }

    var q: array<f32, MAX_HS>;
    var g: array<f32, MAX_HS>;
    var dq: array<f32, MAX_HS>;
    let q_at = (b * T + tq) * C3 + h * hs;
    let g_at = (b * T + tq) * C + h * hs;
    var row_lse = 0.0;
    var row_delta = 0.0;
    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            q[i] = inp[q_at + i];
            g[i] = dout[g_at + i];
            dq[i] = 0.0;
        }
        row_lse = lse[(b * NH + h) * T + tq];
        row_delta = delta[(b * NH + h) * T + tq];
    }
    let drop_row = ((b * NH + h) * T + tq) * T;
    let seed_hash = pcg_hash(params.seed);

    for (var k_first = 0u; k_first < kv_end; k_first += BKV) {
        let n = min(BKV, kv_end - k_first);
        workgroupBarrier();
        for (var e = lid; e < n * hs; e += BQ) {
            let j = e / hs;
            let i = e % hs;
            let at = (b * T + k_first + j) * C3 + h * hs + i;
            k_tile[j * MAX_HS + i] = inp[at + C];
            v_tile[j * MAX_HS + i] = inp[at + 2u * C];
        }
        workgroupBarrier();
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
                if (params.has_dropout != 0u) {
                    let u = f32(pcg_hash(seed_hash ^ (drop_row + tk)) >> 8u) / 16777216.0;
                    dp *= select(params.keep, 0.0, u < params.p);
                }
                let ds = p * (dp - row_delta);
                for (var i = 0u; i < hs; i++) {
                    dq[i] += ds * k_tile[j * MAX_HS + i];
                }
            }
        }
    }

    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            dinp[q_at + i] = dq[i] * params.scale;
        }
    }
}
