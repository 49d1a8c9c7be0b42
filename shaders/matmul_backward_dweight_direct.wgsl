// matmul_backward_dweight_direct: dweight += dout^T @ inp, the same contract as matmul_backward_dweight.wgsl
// (accumulated: a parameter gradient), without workgroup memory: for adapters that emulate a GPU on the CPU
// (see include/matmul_direct.wgsl for why).
//
//   dweight (OC, C)
//   dout    (N, OC)
//   inp     (N, C)
//   (bindings 0-3: include/matmul_backward_dweight_io.wgsl)
//
// One invocation owns a contiguous 4 x 4 block of dweight (rows o0..o0+3, columns c0..c0+3) in 4 vec4
// registers and walks the N rows reading straight from the storage buffers: row r adds the outer product of
// dout[r, o0..o0+3] and inp[r, c0..c0+3] (one vec4 each when OC and C are multiples of 4, else 4 scalars
// each). It is the only invocation to read-modify-write its block: no races, no atomics. A workgroup is
// WG_X x WG_Y independent blocks, no barrier (include/matmul_direct.wgsl).
// Ragged edges: rows and columns past the matrix are read clamped to the last one and not touched.

#variants f16

#include "include/matmul_backward_dweight_io.wgsl"
#include "include/matmul_direct.wgsl"

@group(0) @binding(4) var<storage, read> dout4: array<vec4<elem>>;  // (N, OC/4): dout again, when C, OC % 4 == 0
@group(0) @binding(5) var<storage, read> inp4: array<vec4<elem>>;   // (N, C/4): inp again, likewise

fn block_sums(o0: u32, c0: u32) -> array<vec4<f32>, 4> {
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: the sum for dweight[o0 + i, c0 + j]; zero-initialised
    if (params.C % 4u == 0u && params.OC % 4u == 0u) {
        let C4 = params.C / 4u;
        let OC4 = params.OC / 4u;
        let a_col = o0 / 4u;
        let b_col = c0 / 4u;
        for (var r = 0u; r < params.N; r++) {
            let a = vec4<f32>(dout4[r * OC4 + a_col]);  // dout[r, o0..o0+3]
            let b = vec4<f32>(inp4[r * C4 + b_col]);    // inp[r, c0..c0+3]
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
    } else {
        let o = clamped4(o0, params.OC);
        let c = clamped4(c0, params.C);
        for (var r = 0u; r < params.N; r++) {
            let a_row = r * params.OC;
            let b_row = r * params.C;
            let b = vec4<f32>(vec4<elem>(inp[b_row + c.x], inp[b_row + c.y], inp[b_row + c.z], inp[b_row + c.w]));
            for (var i = 0u; i < 4u; i++) {
                acc[i] += f32(dout[a_row + o[i]]) * b;
            }
        }
    }
    return acc;
}
