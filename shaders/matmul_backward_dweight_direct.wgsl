// matmul_backward_dweight_direct: dweight += dout^T @ inp, the same contract as matmul_backward_dweight.wgsl
// (accumulated: a parameter gradient), without workgroup memory: for adapters that emulate a GPU on the CPU
// (see matmul_forward_direct.wgsl for why).
//
//   dweight (OC, C)
//   dout    (N, OC)
//   inp     (N, C)
//
// One invocation owns a contiguous 4 x 4 block of dweight (rows o0..o0+3, columns c0..c0+3) in 4 vec4
// registers and walks the N rows reading straight from the storage buffers: row r adds the outer product of
// dout[r, o0..o0+3] and inp[r, c0..c0+3] (one vec4 each when OC and C are multiples of 4, else 4 scalars
// each). It is the only invocation to read-modify-write its block: no races, no atomics. A workgroup is
// WG_X x WG_Y independent blocks, no barrier.
// Ragged edges: rows and columns past the matrix are read clamped to the last one and not touched.

struct Params {
    N: u32,
    C: u32,
    OC: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;  // (OC, C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;           // (N, OC)
@group(0) @binding(3) var<storage, read> inp: array<f32>;            // (N, C)
@group(0) @binding(4) var<storage, read> dout4: array<vec4<f32>>;  // (N, OC/4): dout again, when C, OC % 4 == 0
@group(0) @binding(5) var<storage, read> inp4: array<vec4<f32>>;   // (N, C/4): inp again, likewise

override WG_X: u32 = 8u;  // invocations (4-column blocks) along C
override WG_Y: u32 = 8u;  // invocations (4-row blocks) along OC

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o0 = gid.y * 4u;
    let c0 = gid.x * 4u;
    if (o0 >= params.OC || c0 >= params.C) {
        return;  // no barrier anywhere, so an early return is fine
    }
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: the sum for dweight[o0 + i, c0 + j]
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    if (params.C % 4u == 0u && params.OC % 4u == 0u) {
        let C4 = params.C / 4u;
        let OC4 = params.OC / 4u;
        let a_col = o0 / 4u;
        let b_col = c0 / 4u;
        for (var r = 0u; r < params.N; r++) {
            let a = dout4[r * OC4 + a_col];  // dout[r, o0..o0+3]
            let b = inp4[r * C4 + b_col];    // inp[r, c0..c0+3]
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
    } else {
        let o = min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.OC - 1u));
        let c = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.C - 1u));
        for (var r = 0u; r < params.N; r++) {
            let a_row = r * params.OC;
            let b_row = r * params.C;
            let b = vec4<f32>(inp[b_row + c.x], inp[b_row + c.y], inp[b_row + c.z], inp[b_row + c.w]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += dout[a_row + o[i]] * b;
            }
        }
    }

    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            if (o0 + i < params.OC && c0 + j < params.C) {
                dweight[(o0 + i) * params.C + c0 + j] += acc[i][j];
            }
        }
    }
}
