// matmul_forward_tiled: out = inp @ weight^T + bias, the same contract as matmul_forward.wgsl, register-blocked.
//
//   out    (N, OC)
//   inp    (N, C)
//   weight (OC, C)  one row per output channel (PyTorch nn.Linear layout)
//   bias   (OC)     optional (params.has_bias; a placeholder is bound otherwise)
//   (bindings: include/matmul_forward_io.wgsl)
//
// One workgroup owns a BM x BN block of `out` (64 x 64 by default) and walks C in slices of BK staged in workgroup
// memory; one invocation owns TM x TN = 4 x 4 outputs strided by the workgroup size (rows ly + i*WG_Y, columns
// lx + j*WG_X), kept in registers (include/matmul_tiled.wgsl, with a = inp, b = weight^T, K = C).
// Loads: when C is a multiple of 4 every row starts on a 16-byte boundary, so the slices are read as vec4s
// through `inp4`/`weight4` with one bounds test per vec4. Otherwise one float at a time.

#include "include/matmul_forward_io.wgsl"
#include "include/matmul_tiled.wgsl"

// a = inp (N, C) and b = weight^T: both are read along rows of length C, that is along k.
const A_ALONG_K: bool = true;
const B_ALONG_K: bool = true;

fn load_a(n: u32, k: u32) -> elem {
    if (n < params.N && k < params.C) {
        return inp[n * params.C + k];
    }
    return 0.0;
}

fn load_b(k: u32, o: u32) -> elem {
    if (o < params.OC && k < params.C) {
        return weight[o * params.C + k];
    }
    return 0.0;
}

// (A uniform branch: C is the same for the whole dispatch, and no barrier is inside.)
fn stage_tiles(n0: u32, o0: u32, k0: u32, lindex: u32) {
    if (params.C % 4u != 0u) {
        stage_a(n0, k0, lindex);
        stage_b(o0, k0, lindex);
        return;
    }
    // Consecutive invocations read consecutive vec4s of one row: contiguous in global memory.
    let threads = WG_X * WG_Y;
    for (var idx = lindex; idx < (BM + BN) * BK / 4u; idx += threads) {
        let row = idx / (BK / 4u);
        let k = (idx % (BK / 4u)) * 4u;
        if (row < BM) {
            let x = load_inp4(n0 + row, k0 + k);
            for (var e = 0u; e < 4u; e++) {
                a_tile[(k + e) * BM + row] = x[e];
            }
        } else {
            let w = load_weight4(o0 + row - BM, k0 + k);
            for (var e = 0u; e < 4u; e++) {
                b_tile[(k + e) * BN + row - BM] = w[e];
            }
        }
    }
}
