// matmul_backward_dinp: dinp = dout @ weight, the input gradient of a linear layer out = inp @ weight^T + bias.
// Assigned (=), not accumulated: dinp is an activation gradient (llm.c's rule).
//
//   dinp   (N, C)
//   dout   (N, OC)
//   weight (OC, C)
//   (bindings: include/matmul_backward_dinp_io.wgsl)
//
// Same tiling as matmul_forward_tiled.wgsl (include/matmul_tiled.wgsl), with a = dout, b = weight and K = OC: one
// workgroup owns a BM x BN block of dinp (64 x 64 by default) and walks OC in slices of BK staged in workgroup
// memory; one invocation owns TM x TN = 4 x 4 outputs strided by the workgroup size (rows ly + i*WG_Y, columns
// lx + j*WG_X), kept in registers. Values outside the matrices load as 0; outputs outside are not written.

#include "include/matmul_backward_dinp_io.wgsl"
#include "include/matmul_tiled.wgsl"

// dout rows run along OC (k); weight rows run along C (the columns of dinp).
const A_ALONG_K: bool = true;
const B_ALONG_K: bool = false;

fn load_a(n: u32, k: u32) -> elem {
    if (n < params.N && k < params.OC) {
        return dout[n * params.OC + k];
    }
    return 0.0;
}

fn load_b(k: u32, c: u32) -> elem {
    if (k < params.OC && c < params.C) {
        return weight[k * params.C + c];
    }
    return 0.0;
}

fn stage_tiles(n0: u32, c0: u32, k0: u32, lindex: u32) {
    stage_a(n0, k0, lindex);
    stage_b(c0, k0, lindex);
}
