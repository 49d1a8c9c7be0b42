// matmul_forward_tiled: out = inp @ weight^T + bias, the same contract as matmul_forward.wgsl, register-blocked.
//
//   out    (N, OC)
//   inp    (N, C)
//   weight (OC, C)  one row per output channel (PyTorch nn.Linear layout)
//   bias   (OC)     optional (params.has_bias; a placeholder is bound otherwise)
//
// One workgroup owns a BM x BN block of `out` (BM = WG_Y*TM rows, BN = WG_X*TN columns; 64 x 64 by default).
// It walks C in slices of BK: the whole workgroup copies the BM x BK slice of inp and the BN x BK slice of
// weight into workgroup memory (each value read from global memory once per workgroup instead of once per
// output), then every invocation multiplies out of workgroup memory.
// One invocation owns TM x TN = 4 x 4 outputs, strided by the workgroup size: rows ty + i*WG_Y, columns
// tx + j*WG_X. Striding (not a contiguous 4 x 4 block) makes neighbouring invocations read neighbouring words
// of workgroup memory and write neighbouring words of `out`. Its 16 accumulators stay in registers as 4 vec4s,
// so each value loaded from workgroup memory feeds 4 multiply-adds.
// Ragged edges: values outside the matrices are loaded as 0 and outputs outside are not written, so N, C and
// OC need not be multiples of anything.
// Loads: when C is a multiple of 4 every row starts on a 16-byte boundary, so the slices are read as vec4s
// through `inp4`/`weight4` (the same buffers viewed as vec4s; placeholders otherwise) with one bounds test
// per vec4. Otherwise the scalar path reads one float at a time.

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

override WG_X: u32 = 16u;  // invocations along OC
override WG_Y: u32 = 16u;  // invocations along N
override BK: u32 = 16u;    // depth of the C slice staged in workgroup memory (a multiple of 4)
// The register block is fixed at 4 x 4 (one vec4 per output row): WGSL sizes private arrays with constants only.
const TM: u32 = 4u;
const TN: u32 = 4u;
override BM: u32 = WG_Y * TM;  // rows of out per workgroup
override BN: u32 = WG_X * TN;  // columns of out per workgroup
// Tile lengths as override identifiers: some browsers accept only a plain identifier as the length of a
// workgroup array sized at pipeline creation.
override BK_BM: u32 = BK * BM;
override BK_BN: u32 = BK * BN;

var<workgroup> inp_tile: array<f32, BK_BM>;     // (BK, BM): inp[n0 + m, k0 + k] at k*BM + m
var<workgroup> weight_tile: array<f32, BK_BN>;  // (BK, BN): weight[o0 + j, k0 + k] at k*BN + j

@compute @workgroup_size(WG_X, WG_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lindex: u32,
) {
    let n0 = wid.y * BM;
    let o0 = wid.x * BN;
    let threads = WG_X * WG_Y;
    var acc: array<vec4<f32>, 4>;  // acc[i][j]: out[n0 + ly + i*WG_Y, o0 + lx + j*WG_X]
    for (var i = 0u; i < TM; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var k0 = 0u; k0 < params.C; k0 += BK) {
        // Stage the slices. Consecutive invocations read consecutive k of one row: contiguous in global memory.
        // (A uniform branch: C is the same for the whole dispatch, and no barrier is inside.)
        if (params.C % 4u == 0u) {
            let C4 = params.C / 4u;
            for (var idx = lindex; idx < BM * BK / 4u; idx += threads) {
                let m = idx / (BK / 4u);
                let k = (idx % (BK / 4u)) * 4u;
                var x = vec4<f32>(0.0);
                if (n0 + m < params.N && k0 + k < params.C) {
                    x = inp4[(n0 + m) * C4 + (k0 + k) / 4u];
                }
                for (var e = 0u; e < 4u; e++) {
                    inp_tile[(k + e) * BM + m] = x[e];
                }
            }
            for (var idx = lindex; idx < BN * BK / 4u; idx += threads) {
                let j = idx / (BK / 4u);
                let k = (idx % (BK / 4u)) * 4u;
                var w = vec4<f32>(0.0);
                if (o0 + j < params.OC && k0 + k < params.C) {
                    w = weight4[(o0 + j) * C4 + (k0 + k) / 4u];
                }
                for (var e = 0u; e < 4u; e++) {
                    weight_tile[(k + e) * BN + j] = w[e];
                }
            }
        } else {
        for (var idx = lindex; idx < BM * BK; idx += threads) {
            let m = idx / BK;
            let k = idx % BK;
            var x = 0.0;
            if (n0 + m < params.N && k0 + k < params.C) {
                x = inp[(n0 + m) * params.C + k0 + k];
            }
            inp_tile[k * BM + m] = x;
        }
        for (var idx = lindex; idx < BN * BK; idx += threads) {
            let j = idx / BK;
            let k = idx % BK;
            var w = 0.0;
            if (o0 + j < params.OC && k0 + k < params.C) {
                w = weight[(o0 + j) * params.C + k0 + k];
            }
            weight_tile[k * BN + j] = w;
        }
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
                acc[i] += inp_tile[k * BM + lid.y + i * WG_Y] * b;
            }
        }
        // Everyone is done reading before the next slice overwrites the tiles.
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i++) {
        let n = n0 + lid.y + i * WG_Y;
        for (var j = 0u; j < TN; j++) {
            let o = o0 + lid.x + j * WG_X;
            if (n < params.N && o < params.OC) {
                var y = acc[i][j];
                if (params.has_bias != 0u) {
                    y += bias[o];
                }
                out[n * params.OC + o] = y;
            }
        }
    }
}
