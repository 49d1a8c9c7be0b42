// matmul_backward_dweight: dweight += dout^T @ inp, the weight gradient of a linear layer
// out = inp @ weight^T + bias. Accumulated (+=): dweight is a parameter gradient (llm.c's rule), so
// micro-batches and tied weights add up.
//
//   dweight (OC, C)
//   dout    (N, OC)
//   inp     (N, C)
//
// Same tiling as matmul_forward_tiled.wgsl, with K = N (the sum runs over rows): one workgroup owns a
// BM x BN block of dweight (64 x 64 by default) and walks N in slices of BK staged in workgroup memory; one
// invocation owns TM x TN = 4 x 4 outputs strided by the workgroup size (rows ly + i*WG_Y, columns
// lx + j*WG_X), kept in registers, and is the only one to read-modify-write them: no races, no atomics.
// Values outside the matrices load as 0; outputs outside are not touched.

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

override WG_X: u32 = 16u;  // invocations along C
override WG_Y: u32 = 16u;  // invocations along OC
override BK: u32 = 16u;    // number of rows (N) staged in workgroup memory per slice
const TM: u32 = 4u;
const TN: u32 = 4u;
override BM: u32 = WG_Y * TM;  // rows of dweight (output channels) per workgroup
override BN: u32 = WG_X * TN;  // columns of dweight (input channels) per workgroup
// Tile lengths as override identifiers: some browsers accept only a plain identifier as the length of a
// workgroup array sized at pipeline creation.
override BK_BM: u32 = BK * BM;
override BK_BN: u32 = BK * BN;

var<workgroup> dout_tile: array<f32, BK_BM>;  // (BK, BM): dout[k0 + k, o0 + m] at k*BM + m
var<workgroup> inp_tile: array<f32, BK_BN>;   // (BK, BN): inp[k0 + k, c0 + j] at k*BN + j

@compute @workgroup_size(WG_X, WG_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lindex: u32,
) {
    let o0 = wid.y * BM;
    let c0 = wid.x * BN;
    let threads = WG_X * WG_Y;
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: the sum for dweight[o0 + ly + i*WG_Y, c0 + lx + j*WG_X]
    for (var i = 0u; i < TM; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < params.N; k0 += BK) {
        // Both slices are row slices of row-major matrices: consecutive invocations read consecutive columns.
        for (var idx = lindex; idx < BM * BK; idx += threads) {
            let k = idx / BM;
            let m = idx % BM;
            var x = 0.0;
            if (k0 + k < params.N && o0 + m < params.OC) {
                x = dout[(k0 + k) * params.OC + o0 + m];
            }
            dout_tile[k * BM + m] = x;
        }
        for (var idx = lindex; idx < BN * BK; idx += threads) {
            let k = idx / BN;
            let j = idx % BN;
            var x = 0.0;
            if (k0 + k < params.N && c0 + j < params.C) {
                x = inp[(k0 + k) * params.C + c0 + j];
            }
            inp_tile[k * BN + j] = x;
        }
        workgroupBarrier();

        for (var k = 0u; k < BK; k++) {
            let b = vec4<f32>(
                inp_tile[k * BN + lid.x],
                inp_tile[k * BN + lid.x + WG_X],
                inp_tile[k * BN + lid.x + 2u * WG_X],
                inp_tile[k * BN + lid.x + 3u * WG_X],
            );
            for (var i = 0u; i < TM; i++) {
                acc[i] += dout_tile[k * BM + lid.y + i * WG_Y] * b;
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i++) {
        let o = o0 + lid.y + i * WG_Y;
        for (var j = 0u; j < TN; j++) {
            let c = c0 + lid.x + j * WG_X;
            if (o < params.OC && c < params.C) {
                dweight[o * params.C + c] += acc[i][j];
            }
        }
    }
}
