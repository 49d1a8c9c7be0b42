// attention_decode: one new position attending over a KV cache (generation of one sequence, B = 1), with an
// online softmax over tiles of the cache: no array of `len` scores is kept, in memory or in the workgroup.
//
//   out     (C)          the heads' weighted sums of values, concatenated (also the running sums while tiling)
//   att     (NH, Tmax)   optional (params.has_att, for inspection): softmax weights over the `len` cached
//                        positions (row stride Tmax; the rest untouched), recomputed as exp(score - lse) after
//                        the pass; generation leaves it out and binds a placeholder
//   k_cache (Tmax, C)    keys of positions 0..len-1; row len-1 (the new position) is written here from qkv
//   v_cache (Tmax, C)    values, likewise
//   qkv     (3C)         the new position's q, k, v (after RoPE where the model uses it)
//
// One workgroup owns one head h (channels h*hs..(h+1)*hs). It appends its head's slice of k and v at row len-1,
// then walks the cache in tiles of WG positions: each invocation scores one position, the workgroup reduces the
// tile's max and sum in workgroup memory, the running max m and sum l are updated (earlier sums rescaled by
// exp(m_old - m_new)), and each invocation folds the tile's weighted values into the output channels it owns
// (lid, lid + WG, ...), which stay its own from the first tile to the final division by l.
// Dispatch: (NH, 1, 1).

struct Params {
    C: u32,
    NH: u32,
    len: u32,     // cached positions including the new one
    Tmax: u32,    // rows of the caches and of att
    scale: f32,   // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference does
    has_att: u32, // 1: write att
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;      // (C)
@group(0) @binding(2) var<storage, read_write> att: array<f32>;      // (NH, Tmax) or a placeholder
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;  // (Tmax, C)
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;  // (Tmax, C)
@group(0) @binding(5) var<storage, read> qkv: array<f32>;            // (3C)

// Invocations per workgroup = positions per tile: a power of two, at most MAX_WG (the reductions halve it).
override WG: u32 = 64u;
const MAX_WG: u32 = 256u;
// The lowest finite f32, written in hex: browsers (Tint) reject a decimal literal that rounds past it.
const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> partial: array<f32, MAX_WG>;
var<workgroup> weights: array<f32, MAX_WG>;  // the current tile's exp(score - m)

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

// q_h . k[tk] * scale.
fn score(head: u32, hs: u32, tk: u32) -> f32 {
    var dot = 0.0;
    for (var i = 0u; i < hs; i++) {
        dot += qkv[head + i] * k_cache[tk * params.C + head + i];
    }
    return dot * params.scale;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let C = params.C;
    let hs = C / params.NH;
    let h = wid.x;
    let len = params.len;
    let head = h * hs;

    // Append this head's slice of the new key and value; then make them visible to the whole workgroup.
    let new_row = (len - 1u) * C + head;
    for (var i = lid; i < hs; i += WG) {
        k_cache[new_row + i] = qkv[C + head + i];
        v_cache[new_row + i] = qkv[2u * C + head + i];
    }
    storageBarrier();

    var m = LOWEST;
    var l = 0.0;
    for (var first = 0u; first < len; first += WG) {
        let tk = first + lid;
        var s = LOWEST;
        if (tk < len) {
            s = score(head, hs, tk);
        }
        partial[lid] = s;
        let m_new = max(m, reduce(lid, true));
        var e = 0.0;
        if (tk < len) {
            e = exp(s - m_new);
        }
        weights[lid] = e;
        partial[lid] = e;
        // The sum's barriers also publish weights[] to the whole workgroup.
        let tile_sum = reduce(lid, false);
        let alpha = exp(m - m_new);
        l = l * alpha + tile_sum;
        m = m_new;
        let n = min(WG, len - first);
        for (var i = lid; i < hs; i += WG) {
            var acc = 0.0;
            if (first > 0u) {
                acc = out[head + i] * alpha;
            }
            for (var j = 0u; j < n; j++) {
                acc += weights[j] * v_cache[(first + j) * C + head + i];
            }
            out[head + i] = acc;
        }
        // The next tile's reductions order these reads of weights[] before its writes.
    }
    let inv = 1.0 / l;
    for (var i = lid; i < hs; i += WG) {
        out[head + i] *= inv;
    }

    if (params.has_att != 0u) {
        let lse = m + log(l);
        let row = h * params.Tmax;
        for (var tk = lid; tk < len; tk += WG) {
            att[row + tk] = exp(score(head, hs, tk) - lse);
        }
    }
}
