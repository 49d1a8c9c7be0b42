// matmul_backward_dinp_direct: dinp = dout @ weight, the same contract as matmul_backward_dinp.wgsl (assigned,
// not accumulated), without workgroup memory: for adapters that emulate a GPU on the CPU (see
// matmul_forward_direct.wgsl for why).
//
//   dinp   (N, C)
//   dout   (N, OC)
//   weight (OC, C)
//
// One invocation owns a contiguous 4 x 4 block of dinp (rows n0..n0+3, columns c0..c0+3) in 4 vec4 registers
// and walks OC reading straight from the storage buffers; a workgroup is WG_X x WG_Y independent blocks, no
// barrier. dout rows are contiguous along OC and weight rows along C, so for each output channel o the block
// takes 4 values of dout's column o and the 4 values weight[o, c0..c0+3] (one vec4 when C % 4 == 0).
// When C and OC are both multiples of 4, the loop goes 4 channels at a time: 4 vec4s of dout (one per row)
// and 4 vec4s of weight (one per channel) feed 64 multiply-adds. Otherwise one channel at a time, scalars.
// Ragged edges: rows and columns past the matrix are read clamped to the last one and not written.

struct Params {
    N: u32,
    C: u32,
    OC: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;  // (N, C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (N, OC)
@group(0) @binding(3) var<storage, read> weight: array<f32>;      // (OC, C)
@group(0) @binding(4) var<storage, read> dout4: array<vec4<f32>>;    // (N, OC/4): dout again, when C, OC % 4 == 0
@group(0) @binding(5) var<storage, read> weight4: array<vec4<f32>>;  // (OC, C/4): weight again, likewise

override WG_X: u32 = 8u;  // invocations (4-column blocks) along C
override WG_Y: u32 = 8u;  // invocations (4-row blocks) along N

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.y * 4u;
    let c0 = gid.x * 4u;
    if (n0 >= params.N || c0 >= params.C) {
        return;  // no barrier anywhere, so an early return is fine
    }
    let n = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.N - 1u));
    let c = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.C - 1u));
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: dinp[n0 + i, c0 + j]
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    if (params.C % 4u == 0u && params.OC % 4u == 0u) {
        let C4 = params.C / 4u;
        let OC4 = params.OC / 4u;
        let a_row = n * OC4;
        let b_col = c0 / 4u;  // the block's 4 columns are one vec4 (c0 < C and C % 4 == 0)
        for (var k = 0u; k < OC4; k++) {
            let b0 = weight4[(4u * k) * C4 + b_col];
            let b1 = weight4[(4u * k + 1u) * C4 + b_col];
            let b2 = weight4[(4u * k + 2u) * C4 + b_col];
            let b3 = weight4[(4u * k + 3u) * C4 + b_col];
            for (var i = 0u; i < 4u; i++) {
                let a = dout4[a_row[i] + k];  // dout[n0 + i, 4k..4k+3]
                acc[i] += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3;
            }
        }
    } else {
        let a_row = n * params.OC;
        for (var k = 0u; k < params.OC; k++) {
            let w = k * params.C;
            let b = vec4<f32>(weight[w + c.x], weight[w + c.y], weight[w + c.z], weight[w + c.w]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += dout[a_row[i] + k] * b;
            }
        }
    }

    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            if (n0 + i < params.N && c0 + j < params.C) {
                dinp[(n0 + i) * params.C + c0 + j] = acc[i][j];
            }
        }
    }
}
