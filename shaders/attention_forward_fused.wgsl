// attention_forward_fused: multi-head self-attention with an online softmax: the same out as
// attention_forward, but no (T, T) score or weight map is ever written to memory. The training path.
//
//   out (B, T, C)    the heads' weighted sums of values, concatenated
//   lse (B, NH, T)   log-sum-exp of each query row's scaled scores over its visible keys (max + log(sum)):
//                    the backward recomputes a weight as exp(score - lse) from it
//   inp (B, T, 3C)   q, k, v side by side per position; head h owns channels h*hs..(h+1)*hs of each
//
// Attention dropout (params.has_dropout) is not read from a mask buffer: the keep decision of weight
// (b, h, tq, tk) is recomputed from the hash of dropout_forward at index ((b*NH + h)*T + tq)*T + tk, so it
// equals the mask that dropout_forward would write for (seed, p), bit for bit. As in the CPU reference the
// softmax normaliser is the sum of the weights before dropout; only the weighted sum of values sees it.
//
// One invocation owns one query row (b, h, tq): its q and its hs running outputs live in private arrays
// (hs <= MAX_HS; the Rust side refuses larger heads). A workgroup owns BQ consecutive query rows of one
// (b, h) and walks the keys in tiles of BKV positions: the whole workgroup stages a tile's k and v in
// workgroup memory, then each invocation scores its query against the tile and folds it in with the
// online softmax (running max m, running sum l; when m grows, the earlier sum and outputs are rescaled by
// exp(m_old - m_new)). Causal: tiles past the block's last query are skipped entirely.
// Dispatch: (ceil(T / BQ), NH, B) workgroups.

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,       // 1: query tq sees keys 0..=tq; 0: it sees all T keys
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference does
    seed: u32,         // the attention dropout's seed (dropout_forward's params.seed)
    p: f32,            // dropout probability
    keep: f32,         // 1 / (1 - p), rounded on the CPU as dropout_forward's
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (B, T, C)
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;  // (B, NH, T)
@group(0) @binding(3) var<storage, read> inp: array<f32>;        // (B, T, 3C)

// Query rows per workgroup = invocations per workgroup.
override BQ: u32 = 32u;
// The largest head size: the private arrays are this long.
const MAX_HS: u32 = 64u;
// Key positions per tile.
const BKV: u32 = 16u;
// BKV * MAX_HS floats per staged tile (8 KiB of workgroup memory for k and v together).
const TILE: u32 = 1024u;
// Below every finite score: the start of a max.
// The lowest finite f32, written in hex: browsers (Tint) reject a decimal literal that rounds past it.
const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> k_tile: array<f32, TILE>;  // (BKV, MAX_HS)
var<workgroup> v_tile: array<f32, TILE>;  // (BKV, MAX_HS)

// The "pcg" hash of dropout_forward.wgsl (Jarzynski & Olano 2020), copied: WGSL has no includes.
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
    // Invocations past the last row still stage tiles and meet every barrier; they just compute nothing.
    let in_range = tq < T;

    // The keys this block needs (uniform across the workgroup: the loop below holds barriers).
    var kv_end = T;
    var visible = T;
    if (params.causal != 0u) {
        kv_end = min(T, q_first + BQ);
        visible = tq + 1u;
    }

    var q: array<f32, MAX_HS>;
    var acc: array<f32, MAX_HS>;
    let q_at = (b * T + tq) * C3 + h * hs;
    if (in_range) {
        for (var i = 0u; i < hs; i++) {
            q[i] = inp[q_at + i];
            acc[i] = 0.0;
        }
    }
    var m = LOWEST;
    var l = 0.0;
    let drop_row = ((b * NH + h) * T + tq) * T;
    let seed_hash = pcg_hash(params.seed);

    for (var k_first = 0u; k_first < kv_end; k_first += BKV) {
        let n = min(BKV, kv_end - k_first);
        // Nobody may overwrite the tiles before everyone is done with the previous ones.
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
            let m_new = max(m, tile_max);
            // exp(LOWEST - finite) underflows to 0: the first visible tile starts the sum afresh.
            let alpha = exp(m - m_new);
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
                var mult = 1.0;
                if (params.has_dropout != 0u) {
                    let u = f32(pcg_hash(seed_hash ^ (drop_row + tk)) >> 8u) / 16777216.0;
                    mult = select(params.keep, 0.0, u < params.p);
                }
                w[j] = e * mult;
            }
            l = l * alpha + tile_sum;
            m = m_new;
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
        let inv = 1.0 / l;
        let out_at = (b * T + tq) * C + h * hs;
        for (var i = 0u; i < hs; i++) {
            out[out_at + i] = acc[i] * inv;
        }
        lse[(b * NH + h) * T + tq] = m + log(l);
    }
}
