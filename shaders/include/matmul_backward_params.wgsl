// matmul_backward_params: the uniform of the matmul backward kernels that compute dinp and dweight (tiled and
// direct); one buffer serves them all.
//
//   params  binding 0: N rows (positions), C input channels, OC output channels

#include "include/matmul_block.wgsl"

struct Params {
    N: u32,
    C: u32,
    OC: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
