// matmul_block: the contract shared by the register-blocked matmul kernels (tiled, direct and subgroup, forward
// and backward): each computes r = a @ b, r (M, N), summing over K, keeps 4 x 4 sums per invocation in registers
// as 4 vec4s, and hands each sum inside r to the kernel's store.
//
// The kernel (through its pass's io piece, include/matmul_*_io.wgsl) declares:
//   fn matmul_shape() -> vec3<u32>        (M, N, K)
//   fn store(m: u32, n: u32, sum: f32)    writes r[m, n] into the pass's output (plus bias, assigned or added)
// The sums are f32 in every element-type variant (an f16 kernel converts when it stores).

#include "include/prelude.wgsl"

// Stores a register block: acc[i][j] is r[m0 + i*m_step, n0 + j*n_step]; sums outside r are dropped (ragged edges).
fn store_block(acc: array<vec4<f32>, 4>, m0: u32, m_step: u32, n0: u32, n_step: u32) {
    let shape = matmul_shape();
    var block = acc;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + i * m_step;
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + j * n_step;
            if (m < shape.x && n < shape.y) {
                store(m, n, block[i][j]);
            }
        }
    }
}
