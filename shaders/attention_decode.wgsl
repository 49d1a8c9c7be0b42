// attention_decode: one new position attending over a KV cache (generation of one sequence, B = 1).
//
//   out     (C)          the heads' weighted sums of values, concatenated
//   att     (NH, Tmax)   softmax weights over the `len` cached positions (row stride Tmax; the rest untouched)
//   k_cache (Tmax, C)    keys of positions 0..len-1; row len-1 (the new position) is written here from qkv
//   v_cache (Tmax, C)    values, likewise
//   qkv     (3C)         the new position's q, k, v (after RoPE where the model uses it)
//
// One workgroup owns one head h (channels h*hs..(h+1)*hs). It appends its head's slice of k and v at row len-1,
// then its invocations split the positions for the scores and exponentials, reduce the max and the sum in
// workgroup memory, and finally split the hs output channels, each looping over positions.
// Dispatch: (NH, 1, 1).

struct Params {
    C: u32,
    NH: u32,
    len: u32,    // cached positions including the new one
    Tmax: u32,   // rows of the caches and of att
    scale: f32,  // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference does
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;      // (C)
@group(0) @binding(2) var<storage, read_write> att: array<f32>;      // (NH, Tmax)
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;  // (Tmax, C)
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;  // (Tmax, C)
@group(0) @binding(5) var<storage, read> qkv: array<f32>;            // (3C)

// Invocations per workgroup: a power of two, at most MAX_WG (the tree reductions halve it).
override WG: u32 = 64u;
const MAX_WG: u32 = 256u;
// The lowest finite f32, written in hex: browsers (Tint) reject a decimal literal that rounds past it.
const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> partial: array<f32, MAX_WG>;

// Tree reduction of partial[0..WG] into partial[0], by max (is_max) or by sum, in uniform control flow.
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
    workgroupBarrier();
    return result;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let C = params.C;
    let hs = C / params.NH;
    let h = wid.x;
    let len = params.len;
    let row = h * params.Tmax;
    let head = h * hs;

    // Append this head's slice of the new key and value; then make them visible to the whole workgroup.
    let new_row = (len - 1u) * C + head;
    for (var i = lid; i < hs; i += WG) {
        k_cache[new_row + i] = qkv[C + head + i];
        v_cache[new_row + i] = qkv[2u * C + head + i];
    }
    storageBarrier();

    // Scores of this invocation's positions, and their max.
    var local_max = LOWEST;
    for (var tk = lid; tk < len; tk += WG) {
        var dot = 0.0;
        for (var i = 0u; i < hs; i++) {
            dot += qkv[head + i] * k_cache[tk * C + head + i];
        }
        let score = dot * params.scale;
        att[row + tk] = score;
        local_max = max(local_max, score);
    }
    partial[lid] = local_max;
    let row_max = reduce(lid, true);

    // Exponentials and their sum.
    var local_sum = 0.0;
    for (var tk = lid; tk < len; tk += WG) {
        let e = exp(att[row + tk] - row_max);
        att[row + tk] = e;
        local_sum += e;
    }
    partial[lid] = local_sum;
    let inv_sum = 1.0 / reduce(lid, false);
    for (var tk = lid; tk < len; tk += WG) {
        att[row + tk] *= inv_sum;
    }
    storageBarrier();

    // Weighted sum of the values: each invocation owns output channels.
    for (var i = lid; i < hs; i += WG) {
        var acc = 0.0;
        for (var tk = 0u; tk < len; tk++) {
            acc += att[row + tk] * v_cache[tk * C + head + i];
        }
        out[head + i] = acc;
    }
}
