// matmul_backward_dweight: dweight += dout^T @ inp, the weight gradient of a linear layer
// out = inp @ weight^T + bias. Accumulated (+=): dweight is a parameter gradient (llm.c's rule), so
// micro-batches and tied weights add up.
//
//   dweight (OC, C)
//   dout    (N, OC)
//   inp     (N, C)
//   (bindings: include/matmul_backward_dweight_io.wgsl)
//
// Same tiling as matmul_forward_tiled.wgsl (include/matmul_tiled.wgsl), with a = dout^T, b = inp and K = N (the
// sum runs over rows): one workgroup owns a BM x BN block of dweight (64 x 64 by default) and walks N in slices
// of BK staged in workgroup memory; one invocation owns TM x TN = 4 x 4 outputs strided by the workgroup size
// (rows ly + i*WG_Y, columns lx + j*WG_X), kept in registers, and is the only one to read-modify-write them: no
// races, no atomics. Values outside the matrices load as 0; outputs outside are not touched.

#include "include/matmul_backward_dweight_io.wgsl"
#include "include/matmul_tiled.wgsl"

// Both slices are row slices of row-major matrices: dout rows run along OC (the rows of dweight), inp rows
// along C (its columns).
const A_ALONG_K: bool = false;
const B_ALONG_K: bool = false;

fn load_a(o: u32, k: u32) -> elem {
    if (k < params.N && o < params.OC) {
        return dout[k * params.OC + o];
    }
    return 0.0;
}

fn load_b(k: u32, c: u32) -> elem {
    if (k < params.N && c < params.C) {
        return inp[k * params.C + c];
    }
    return 0.0;
}

fn stage_tiles(o0: u32, c0: u32, k0: u32, lindex: u32) {
    stage_a(o0, k0, lindex);
    stage_b(c0, k0, lindex);
}
