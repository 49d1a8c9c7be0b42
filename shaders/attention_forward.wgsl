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
// row's max and sum in workgroup memory, then split the hs channels of the output, each looping over keys.
// Dispatch: (T, NH, B) workgroups.

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
    causal: u32,       // 1: query tq sees keys 0..=tq; 0: it sees all T keys
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference does
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;     // (B, T, C)
@group(0) @binding(2) var<storage, read_write> preatt: array<f32>;  // (B, NH, T, T)
@group(0) @binding(3) var<storage, read_write> att: array<f32>;     // (B, NH, T, T)
@group(0) @binding(4) var<storage, read> inp: array<f32>;           // (B, T, 3C)
@group(0) @binding(5) var<storage, read> dropout: array<f32>;       // (B, NH, T, T) or a placeholder

// Invocations per workgroup: a power of two, at most MAX_WG (the tree reductions halve it).
override WG: u32 = 64u;
const MAX_WG: u32 = 256u;
// Below every finite score: the start of a max.
// The lowest finite f32, written in hex: browsers (Tint) reject a decimal literal that rounds past it.
const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> partial: array<f32, MAX_WG>;

// Tree reduction of partial[0..WG] into partial[0], by max (is_max) or by sum. Called by the whole
// workgroup in uniform control flow; the result is valid for every invocation after it returns.
fn reduce(lid: u32, is_max: bool) -> f32 {
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lid < stride) {
            if (is_max) {
                partial[lid] = max(partial[lid], partial[lid + stride]);
            } else {
                partial[lid] += partial[lid + stride];
            }
        }
    }
    workgroupBarrier();
    let result = partial[0];
    // Nobody may overwrite partial[] for the next reduction before everyone has read the result.
    workgroupBarrier();
    return result;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let T = params.T;
    let C = params.C;
    let C3 = 3u * C;
    let hs = C / params.NH;
    let tq = wid.x;
    let h = wid.y;
    let b = wid.z;
    let row = ((b * params.NH + h) * T + tq) * T;
    var visible = T;
    if (params.causal != 0u) {
        visible = tq + 1u;
    }
    let q_at = (b * T + tq) * C3 + h * hs;

    // Scores: this invocation's keys, and their max.
    var local_max = LOWEST;
    for (var tk = lid; tk < T; tk += WG) {
        var p = 0.0;
        if (tk < visible) {
            let k_at = (b * T + tk) * C3 + C + h * hs;
            var score = 0.0;
            for (var i = 0u; i < hs; i++) {
                score += inp[q_at + i] * inp[k_at + i];
            }
            p = score * params.scale;
            local_max = max(local_max, p);
        }
        preatt[row + tk] = p;
    }
    partial[lid] = local_max;
    let row_max = reduce(lid, true);

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
    partial[lid] = local_sum;
    let inv = 1.0 / reduce(lid, false);
    for (var tk = lid; tk < visible; tk += WG) {
        att[row + tk] *= inv;
    }

    // The weighted sum reads weights written by other invocations: order the storage writes first.
    storageBarrier();
    let out_at = (b * T + tq) * C + h * hs;
    for (var i = lid; i < hs; i += WG) {
        var acc = 0.0;
        for (var tk = 0u; tk < visible; tk++) {
            var weight = att[row + tk];
            if (params.has_dropout != 0u) {
                weight *= dropout[row + tk];
            }
            acc += weight * inp[(b * T + tk) * C3 + 2u * C + h * hs + i];
        }
        out[out_at + i] = acc;
    }
}
