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
// tile's max and sum in workgroup memory (include/workgroup_reduce.wgsl), the running max m and sum l are updated
// (earlier sums rescaled by exp(m_old - m_new); include/online_softmax.wgsl), and each invocation folds the tile's
// weighted values into the output channels it owns (lid, lid + WG, ...), which stay its own from the first tile
// to the final division by l.
// Dispatch: (NH, 1, 1).

#include "include/online_softmax.wgsl"
#include "include/workgroup_reduce.wgsl"

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
@group(0) @binding(1) var<storage, read_write> out: array<elem>;      // (C)
@group(0) @binding(2) var<storage, read_write> att: array<elem>;      // (NH, Tmax) or a placeholder
@group(0) @binding(3) var<storage, read_write> k_cache: array<elem>;  // (Tmax, C)
@group(0) @binding(4) var<storage, read_write> v_cache: array<elem>;  // (Tmax, C)
@group(0) @binding(5) var<storage, read> qkv: array<elem>;            // (3C)

// Invocations per workgroup = positions per tile: a power of two (include/workgroup_reduce.wgsl).
override WG: u32 = 64u;

var<workgroup> weights: array<f32, WG>;  // the current tile's exp(score - m)

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

    var softmax = online_softmax_start();
    for (var first = 0u; first < len; first += WG) {
        let tk = first + lid;
        var s = LOWEST;
        if (tk < len) {
            s = score(head, hs, tk);
        }
        let m_new = max(softmax.m, workgroup_max(lid, s));
        var e = 0.0;
        if (tk < len) {
            e = exp(s - m_new);
        }
        weights[lid] = e;
        // The sum's barriers also publish weights[] to the whole workgroup.
        let tile_sum = workgroup_sum(lid, e);
        let alpha = online_softmax_fold(&softmax, m_new, tile_sum);
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
    let inv = 1.0 / softmax.l;
    for (var i = lid; i < hs; i += WG) {
        out[head + i] *= inv;
    }

    if (params.has_att != 0u) {
        let lse = online_softmax_lse(softmax);
        let row = h * params.Tmax;
        for (var tk = lid; tk < len; tk += WG) {
            att[row + tk] = exp(score(head, hs, tk) - lse);
        }
    }
}
