// matmul_forward_direct: out = inp @ weight^T + bias, the same contract as matmul_forward.wgsl, without
// workgroup memory: for adapters that emulate a GPU on the CPU (SwiftShader, lavapipe), where workgroup
// memory is ordinary RAM and every barrier is a switch between invocations, so staging tiles only costs.
//
//   out    (N, OC)
//   inp    (N, C)
//   weight (OC, C)  one row per output channel (PyTorch nn.Linear layout)
//   bias   (OC)     optional (params.has_bias; a placeholder is bound otherwise)
//
// One invocation owns a contiguous 4 x 4 block of `out` (rows n0..n0+3, columns o0..o0+3), kept in registers
// as 4 vec4s, and reads its 4 rows of inp and 4 rows of weight straight from the storage buffers (the CPU's
// caches do the sharing a workgroup tile would do). A workgroup is WG_X x WG_Y such blocks side by side;
// nothing is shared between its invocations, and there is no barrier.
// Loads: when C is a multiple of 4, rows start on 16-byte boundaries and the loop over C goes in vec4 steps
// through `inp4`/`weight4` (the same buffers viewed as vec4s; placeholders otherwise): 8 vec4 loads feed
// 64 multiply-adds. Otherwise it goes one float at a time.
// Ragged edges: rows and columns past the matrix are read clamped to the last one (valid memory, no branch in
// the loop) and not written, so N and OC need not be multiples of anything.

struct Params {
    N: u32,
    C: u32,
    OC: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (N, OC)
@group(0) @binding(2) var<storage, read> inp: array<f32>;        // (N, C)
@group(0) @binding(3) var<storage, read> weight: array<f32>;     // (OC, C)
@group(0) @binding(4) var<storage, read> bias: array<f32>;       // (OC) or a placeholder
@group(0) @binding(5) var<storage, read> inp4: array<vec4<f32>>;     // (N, C/4): inp again, when C % 4 == 0
@group(0) @binding(6) var<storage, read> weight4: array<vec4<f32>>;  // (OC, C/4): weight again, when C % 4 == 0

override WG_X: u32 = 8u;  // invocations (4-column blocks) along OC
override WG_Y: u32 = 8u;  // invocations (4-row blocks) along N

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.y * 4u;
    let o0 = gid.x * 4u;
    if (n0 >= params.N || o0 >= params.OC) {
        return;  // no barrier anywhere, so an early return is fine
    }
    // Clamped row indices: rows past the end repeat the last one; their results are not written.
    let n = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.N - 1u));
    let o = min(vec4<u32>(o0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.OC - 1u));
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: out[n0 + i, o0 + j]
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    if (params.C % 4u == 0u) {
        let C4 = params.C / 4u;
        let a_row = n * C4;
        let b_row = o * C4;
        for (var k = 0u; k < C4; k++) {
            let b0 = weight4[b_row.x + k];
            let b1 = weight4[b_row.y + k];
            let b2 = weight4[b_row.z + k];
            let b3 = weight4[b_row.w + k];
            for (var i = 0u; i < 4u; i++) {
                let a = inp4[a_row[i] + k];
                acc[i] += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
            }
        }
    } else {
        let a_row = n * params.C;
        let b_row = o * params.C;
        for (var k = 0u; k < params.C; k++) {
            let b = vec4<f32>(weight[b_row.x + k], weight[b_row.y + k], weight[b_row.z + k], weight[b_row.w + k]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += inp[a_row[i] + k] * b;
            }
        }
    }

    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            if (n0 + i < params.N && o0 + j < params.OC) {
                var y = acc[i][j];
                if (params.has_bias != 0u) {
                    y += bias[o0 + j];
                }
                out[(n0 + i) * params.OC + o0 + j] = y;
            }
        }
    }
}
