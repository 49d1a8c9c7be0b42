// matmul_backward_dinp_direct: dinp = dout @ weight, the same contract as matmul_backward_dinp.wgsl (assigned,
// not accumulated), without workgroup memory: for adapters that emulate a GPU on the CPU (see
// include/matmul_direct.wgsl for why).
//
//   dinp   (N, C)
//   dout   (N, OC)
//   weight (OC, C)
//   (bindings 0-3: include/matmul_backward_dinp_io.wgsl)
//
// One invocation owns a contiguous 4 x 4 block of dinp (rows n0..n0+3, columns c0..c0+3) in 4 vec4 registers
// and walks OC reading straight from the storage buffers; a workgroup is WG_X x WG_Y independent blocks, no
// barrier (include/matmul_direct.wgsl). dout rows are contiguous along OC and weight rows along C, so for each
// output channel o the block takes 4 values of dout's column o and the 4 values weight[o, c0..c0+3] (one vec4
// when C % 4 == 0).
// When C and OC are both multiples of 4, the loop goes 4 channels at a time: 4 vec4s of dout (one per row)
// and 4 vec4s of weight (one per channel) feed 64 multiply-adds. Otherwise one channel at a time, scalars.
// Ragged edges: rows and columns past the matrix are read clamped to the last one and not written.

#variants f16

#include "include/matmul_backward_dinp_io.wgsl"
#include "include/matmul_direct.wgsl"

@group(0) @binding(4) var<storage, read> dout4: array<vec4<elem>>;    // (N, OC/4): dout again, when C, OC % 4 == 0
@group(0) @binding(5) var<storage, read> weight4: array<vec4<elem>>;  // (OC, C/4): weight again, likewise

fn block_sums(n0: u32, c0: u32) -> array<vec4<f32>, 4> {
    let n = clamped4(n0, params.N);
    let c = clamped4(c0, params.C);
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: dinp[n0 + i, c0 + j]; zero-initialised
    if (params.C % 4u == 0u && params.OC % 4u == 0u) {
        let C4 = params.C / 4u;
        let OC4 = params.OC / 4u;
        let a_row = n * OC4;
        let b_col = c0 / 4u;  // the block's 4 columns are one vec4 (c0 < C and C % 4 == 0)
        for (var k = 0u; k < OC4; k++) {
            let b0 = vec4<f32>(weight4[(4u * k) * C4 + b_col]);
            let b1 = vec4<f32>(weight4[(4u * k + 1u) * C4 + b_col]);
            let b2 = vec4<f32>(weight4[(4u * k + 2u) * C4 + b_col]);
            let b3 = vec4<f32>(weight4[(4u * k + 3u) * C4 + b_col]);
            for (var i = 0u; i < 4u; i++) {
                let a = vec4<f32>(dout4[a_row[i] + k]);  // dout[n0 + i, 4k..4k+3]
                acc[i] += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3;
            }
        }
    } else {
        let a_row = n * params.OC;
        for (var k = 0u; k < params.OC; k++) {
            let w = k * params.C;
            let b = vec4<f32>(vec4<elem>(weight[w + c.x], weight[w + c.y], weight[w + c.z], weight[w + c.w]));
            for (var i = 0u; i < 4u; i++) {
                acc[i] += f32(dout[a_row[i] + k]) * b;
            }
        }
    }
    return acc;
}
