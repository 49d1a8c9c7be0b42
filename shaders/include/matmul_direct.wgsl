// matmul_direct: the entry point of the matmul kernels without workgroup memory (matmul_forward_direct,
// matmul_backward_dinp_direct, matmul_backward_dweight_direct), for adapters that emulate a GPU on the CPU
// (SwiftShader, lavapipe), where workgroup memory is ordinary RAM and every barrier is a switch between
// invocations, so staging tiles only costs.
//
// One invocation owns a contiguous 4 x 4 block of r = a @ b (rows m0..m0+3, columns n0..n0+3), its sums kept in
// registers as 4 vec4s, and reads its operands straight from the storage buffers (the CPU's caches do the sharing
// a workgroup tile would do). A workgroup is WG_X x WG_Y such blocks side by side; nothing is shared between its
// invocations, and there is no barrier.
// Ragged edges: rows and columns past the matrix are read clamped to the last one (valid memory, no branch in
// the loop: clamped4) and not stored, so M and N need not be multiples of anything.
//
// Besides matmul_shape and store (include/matmul_block.wgsl), the kernel declares:
//   fn block_sums(m0: u32, n0: u32) -> array<vec4<f32>, 4>   acc[i][j] = r[m0 + i, n0 + j] (any value outside r)

#include "include/matmul_block.wgsl"

override WG_X: u32 = 8u;  // invocations (4-column blocks) along N (the columns of r)
override WG_Y: u32 = 8u;  // invocations (4-row blocks) along M (the rows of r)

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.y * 4u;
    let n0 = gid.x * 4u;
    let shape = matmul_shape();
    if (m0 >= shape.x || n0 >= shape.y) {
        return;  // no barrier anywhere, so an early return is fine
    }
    store_block(block_sums(m0, n0), m0, 1u, n0, 1u);
}

// (first, first + 1, first + 2, first + 3), each clamped to count - 1: rows past the end repeat the last one.
fn clamped4(first: u32, count: u32) -> vec4<u32> {
    return min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(count - 1u));
}
