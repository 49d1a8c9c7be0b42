// cross_attention_backward, per key position: dk and dv (the second of two kernels; it reads the dpreatt that
// cross_attention_backward writes). Every query row sees every key, so each output element gathers over all
// Tq rows rather than the rows scattering into it (a race without float atomics).
//
//   dkv     (B, Tk, 2C)      assigned:  dk[tk] = scale * sum_tq dpreatt[tq, tk] q[tq]
//                                       dv[tk] = sum_tq att[tq, tk] * dropout[tq, tk] * dout[tq]
//   dpreatt (B, NH, Tq, Tk)  from cross_attention_backward
//   dout    (B, Tq, C)
//   q       (B, Tq, C)       the forward's queries
//   att     (B, NH, Tq, Tk)  the forward's softmax weights (before dropout)
//   dropout (B, NH, Tq, Tk)  optional, the forward's multiplier of att (params.has_dropout)
//
// One invocation owns one element dkv[b, tk, j] for j in 0..2C (the k channels, then the v channels) and loops
// over the query rows. A workgroup owns WG consecutive channels of one (b, tk).
// Dispatch: (ceil(2C / WG), Tk, B) workgroups.

#include "include/cross_attention_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dkv: array<elem>;  // (B, Tk, 2C)
@group(0) @binding(2) var<storage, read> dpreatt: array<elem>;    // (B, NH, Tq, Tk)
@group(0) @binding(3) var<storage, read> dout: array<elem>;       // (B, Tq, C)
@group(0) @binding(4) var<storage, read> q: array<elem>;          // (B, Tq, C)
@group(0) @binding(5) var<storage, read> att: array<elem>;        // (B, NH, Tq, Tk)
@group(0) @binding(6) var<storage, read> dropout: array<elem>;    // (B, NH, Tq, Tk) or a placeholder

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
    let ch = j % C;  // channel within k or v
    let h = ch / hs;
    let i = ch % hs;
    var acc = 0.0;
    for (var tq = 0u; tq < params.Tq; tq++) {
        let at = map_row(b, h, tq) + tk;
        if (is_k) {
            acc += dpreatt[at] * params.scale * q[q_at(b, tq, h) + i];
        } else {
            var weight = att[at];
            if (params.has_dropout != 0u) {
                weight *= dropout[at];
            }
            acc += weight * dout[q_at(b, tq, h) + i];
        }
    }
    dkv[(b * params.Tk + tk) * (2u * C) + j] = acc;
}
