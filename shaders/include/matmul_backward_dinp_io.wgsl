// matmul_backward_dinp_io: the contract of matmul_backward_dinp and matmul_backward_dinp_direct,
// dinp = dout @ weight (assigned, not accumulated: dinp is an activation gradient, llm.c's rule): their first
// bindings, and include/matmul_block.wgsl's shape and store for r = dinp (M = N rows, N = C columns, K = OC).
//
//   dinp   (N, C)   binding 1
//   dout   (N, OC)  binding 2
//   weight (OC, C)  binding 3

#include "include/matmul_backward_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>;  // (N, C)
@group(0) @binding(2) var<storage, read> dout: array<elem>;        // (N, OC)
@group(0) @binding(3) var<storage, read> weight: array<elem>;      // (OC, C)

fn matmul_shape() -> vec3<u32> {
    return vec3<u32>(params.N, params.C, params.OC);
}

fn store(n: u32, c: u32, sum: f32) {
    dinp[n * params.C + c] = elem(sum);
}
