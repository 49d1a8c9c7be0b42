// matmul_backward_dinp: dinp = dout @ weight, the input gradient of a linear layer out = inp @ weight^T + bias.
// Assigned (=), not accumulated: dinp is an activation gradient (llm.c's rule).
//
//   dinp   (N, C)
//   dout   (N, OC)
//   weight (OC, C)
//
// Same tiling as matmul_forward_tiled.wgsl, with K = OC: one workgroup owns a BM x BN block of dinp
// (64 x 64 by default) and walks OC in slices of BK staged in workgroup memory; one invocation owns
// TM x TN = 4 x 4 outputs strided by the workgroup size (rows ly + i*WG_Y, columns lx + j*WG_X), kept in
// registers. Values outside the matrices load as 0; outputs outside are not written.

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

override WG_X: u32 = 16u;  // invocations along C
override WG_Y: u32 = 16u;  // invocations along N
override BK: u32 = 16u;    // depth of the OC slice staged in workgroup memory
const TM: u32 = 4u;
const TN: u32 = 4u;
override BM: u32 = WG_Y * TM;  // rows of dinp per workgroup
override BN: u32 = WG_X * TN;  // columns of dinp per workgroup
// Tile lengths as override identifiers: some browsers accept only a plain identifier as the length of a
// workgroup array sized at pipeline creation.
override BK_BM: u32 = BK * BM;
override BK_BN: u32 = BK * BN;

var<workgroup> dout_tile: array<f32, BK_BM>;    // (BK, BM): dout[n0 + m, k0 + k] at k*BM + m
var<workgroup> weight_tile: array<f32, BK_BN>;  // (BK, BN): weight[k0 + k, c0 + j] at k*BN + j

@compute @workgroup_size(WG_X, WG_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lindex: u32,
) {
    let n0 = wid.y * BM;
    let c0 = wid.x * BN;
    let threads = WG_X * WG_Y;
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: dinp[n0 + ly + i*WG_Y, c0 + lx + j*WG_X]
    for (var i = 0u; i < TM; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < params.OC; k0 += BK) {
        // dout rows are contiguous along OC (k): consecutive invocations read consecutive k.
        for (var idx = lindex; idx < BM * BK; idx += threads) {
            let m = idx / BK;
            let k = idx % BK;
            var x = 0.0;
            if (n0 + m < params.N && k0 + k < params.OC) {
                x = dout[(n0 + m) * params.OC + k0 + k];
            }
            dout_tile[k * BM + m] = x;
        }
        // weight rows are contiguous along C (j): consecutive invocations read consecutive j.
        for (var idx = lindex; idx < BN * BK; idx += threads) {
            let k = idx / BN;
            let j = idx % BN;
            var w = 0.0;
            if (k0 + k < params.OC && c0 + j < params.C) {
                w = weight[(k0 + k) * params.C + c0 + j];
            }
            weight_tile[k * BN + j] = w;
        }
        workgroupBarrier();

        for (var k = 0u; k < BK; k++) {
            let b = vec4<f32>(
                weight_tile[k * BN + lid.x],
                weight_tile[k * BN + lid.x + WG_X],
                weight_tile[k * BN + lid.x + 2u * WG_X],
                weight_tile[k * BN + lid.x + 3u * WG_X],
            );
            for (var i = 0u; i < TM; i++) {
                acc[i] += dout_tile[k * BM + lid.y + i * WG_Y] * b;
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i++) {
        let n = n0 + lid.y + i * WG_Y;
        for (var j = 0u; j < TN; j++) {
            let c = c0 + lid.x + j * WG_X;
            if (n < params.N && c < params.C) {
                dinp[n * params.C + c] = acc[i][j];
            }
        }
    }
}
