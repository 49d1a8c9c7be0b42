// matmul_forward_params: the uniform of every forward matmul kernel (matmul_forward and the register-blocked ones
// of include/matmul_forward_io.wgsl).
//
//   params  binding 0: N rows (positions), C input channels, OC output channels, has_bias (0 or 1)

#include "include/prelude.wgsl"

struct Params {
    N: u32,
    C: u32,
    OC: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
