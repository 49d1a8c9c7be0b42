// matmul_backward_dweight_io: the contract of matmul_backward_dweight and matmul_backward_dweight_direct,
// dweight += dout^T @ inp (accumulated: dweight is a parameter gradient, llm.c's rule, so micro-batches and tied
// weights add up): their first bindings, and include/matmul_block.wgsl's shape and store for r = dout^T @ inp
// (M = OC rows, N = C columns, K = N positions). Each element of dweight has one invocation that
// read-modify-writes it: no races, no atomics.
//
//   dweight (OC, C)  binding 1
//   dout    (N, OC)  binding 2
//   inp     (N, C)   binding 3

#include "include/matmul_backward_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;   // (OC, C) a parameter gradient: f32 in every build
@group(0) @binding(2) var<storage, read> dout: array<elem>;           // (N, OC)
@group(0) @binding(3) var<storage, read> inp: array<elem>;            // (N, C)

fn matmul_shape() -> vec3<u32> {
    return vec3<u32>(params.OC, params.C, params.N);
}

fn store(o: u32, c: u32, sum: f32) {
    dweight[o * params.C + c] += sum;
}
