// matmul_forward_direct: out = inp @ weight^T + bias, the same contract as matmul_forward.wgsl, without
// workgroup memory: for adapters that emulate a GPU on the CPU (include/matmul_direct.wgsl says why).
//
//   out    (N, OC)
//   inp    (N, C)
//   weight (OC, C)  one row per output channel (PyTorch nn.Linear layout)
//   bias   (OC)     optional (params.has_bias; a placeholder is bound otherwise)
//   (bindings: include/matmul_forward_io.wgsl)
//
// One invocation owns a contiguous 4 x 4 block of `out` (rows n0..n0+3, columns o0..o0+3), kept in registers
// as 4 vec4s, and reads its 4 rows of inp and 4 rows of weight straight from the storage buffers. A workgroup is
// WG_X x WG_Y such blocks side by side, with no barrier (include/matmul_direct.wgsl).
// Loads: when C is a multiple of 4, rows start on 16-byte boundaries and the loop over C goes in vec4 steps
// through `inp4`/`weight4`: 8 vec4 loads feed 64 multiply-adds. Otherwise it goes one float at a time.
// The f16 variant reads f16 inputs and sums in f32 (each product of two f16 values is exact in f32).

#variants f16

#include "include/matmul_forward_io.wgsl"
#include "include/matmul_direct.wgsl"

fn block_sums(n0: u32, o0: u32) -> array<vec4<f32>, 4> {
    let n = clamped4(n0, params.N);
    let o = clamped4(o0, params.OC);
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: out[n0 + i, o0 + j] before the bias; zero-initialised
    if (params.C % 4u == 0u) {
        let C4 = params.C / 4u;
        let a_row = n * C4;
        let b_row = o * C4;
        for (var k = 0u; k < C4; k++) {
            let b0 = vec4<f32>(weight4[b_row.x + k]);
            let b1 = vec4<f32>(weight4[b_row.y + k]);
            let b2 = vec4<f32>(weight4[b_row.z + k]);
            let b3 = vec4<f32>(weight4[b_row.w + k]);
            for (var i = 0u; i < 4u; i++) {
                let a = vec4<f32>(inp4[a_row[i] + k]);
                acc[i] += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
            }
        }
    } else {
        let a_row = n * params.C;
        let b_row = o * params.C;
        for (var k = 0u; k < params.C; k++) {
            let b = vec4<f32>(vec4<elem>(weight[b_row.x + k], weight[b_row.y + k], weight[b_row.z + k], weight[b_row.w + k]));
            for (var i = 0u; i < 4u; i++) {
                acc[i] += f32(inp[a_row[i] + k]) * b;
            }
        }
    }
    return acc;
}
