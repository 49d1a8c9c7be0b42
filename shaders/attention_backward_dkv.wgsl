// attention_backward, per key position: dk and dv (the second of two kernels; it reads the dpreatt that
// attention_backward writes). A key position is seen by many query rows; rather than every row scattering
// into it (a race without float atomics), each output element gathers over the rows that see it.
//
//   dinp    (B, T, 3C)      only the k and v thirds are written here, and assigned:
//                             dk[tk] = scale * sum_tq dpreatt[tq, tk] q[tq]
//                             dv[tk] = sum_tq att[tq, tk] * dropout[tq, tk] * dout[tq]
//                           over the query rows tq that see key tk
//   dpreatt (B, NH, T, T)   from attention_backward
//   dout    (B, T, C)
//   inp     (B, T, 3C)      the forward's q, k, v
//   att     (B, NH, T, T)   the forward's softmax weights (before dropout)
//   dropout (B, NH, T, T)   optional, the forward's multiplier of att (params.has_dropout)
//
// One invocation owns one element dinp[b, tk, C + j] for j in 0..2C (the k channels, then the v channels)
// and loops over the query rows. A workgroup owns WG consecutive channels of one (b, tk); neighbours in a
// head read the same dpreatt/att entries. Dispatch: (ceil(2C / WG), T, B) workgroups.

#include "include/attention_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>;  // (B, T, 3C)
@group(0) @binding(2) var<storage, read> dpreatt: array<elem>;     // (B, NH, T, T)
@group(0) @binding(3) var<storage, read> dout: array<elem>;        // (B, T, C)
@group(0) @binding(4) var<storage, read> inp: array<elem>;         // (B, T, 3C)
@group(0) @binding(5) var<storage, read> att: array<elem>;         // (B, NH, T, T)
@group(0) @binding(6) var<storage, read> dropout: array<elem>;     // (B, NH, T, T) or a placeholder

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let C = params.C;
    let hs = C / params.NH;
    let j = gid.x;
    let tk = gid.y;
    let b = gid.z;
    if (j >= 2u * C) {
        return;
    }
    let is_k = j < C;
    let ch = j % C;          // channel within k or v
    let h = ch / hs;
    let i = ch % hs;
    let first_row = first_query_seeing(tk);
    var acc = 0.0;
    for (var tq = first_row; tq < params.T; tq++) {
        let at = query_row(b, h, tq) * params.T + tk;
        if (is_k) {
            acc += dpreatt[at] * params.scale * inp[qkv_at(b, tq, h, 0u) + i];
        } else {
            var weight = att[at];
            if (params.has_dropout != 0u) {
                weight *= dropout[at];
            }
            acc += weight * dout[head_at(b, tq, h) + i];
        }
    }
    dinp[qkv_at(b, tk, 0u, 1u) + j] = acc;
}
