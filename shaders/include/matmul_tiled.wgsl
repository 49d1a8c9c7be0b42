// matmul_tiled: the tile loop of matmul_forward_tiled, matmul_backward_dinp and matmul_backward_dweight:
// r = a @ b, r (M, N), a (M, K), b (K, N) as the kernel reads them (include/matmul_block.wgsl).
//
// One workgroup owns a BM x BN block of r (BM = WG_Y*TM rows, BN = WG_X*TN columns; 64 x 64 by default). It walks
// K in slices of BK: the whole workgroup copies the BM x BK slice of a and the BK x BN slice of b into workgroup
// memory (each value read from global memory once per workgroup instead of once per output), then every
// invocation multiplies out of workgroup memory.
// One invocation owns TM x TN = 4 x 4 sums, strided by the workgroup size: rows ly + i*WG_Y, columns
// lx + j*WG_X. Striding (not a contiguous 4 x 4 block) makes neighbouring invocations read neighbouring words
// of workgroup memory and write neighbouring words of the output. Its 16 sums stay in registers as 4 vec4s,
// so each value loaded from workgroup memory feeds 4 multiply-adds.
// Ragged edges: values outside the matrices are staged as 0 and sums outside r are not stored, so M, N and K
// need not be multiples of anything.
//
// Besides matmul_shape and store, the kernel declares:
//   fn stage_tiles(m0: u32, n0: u32, k0: u32, lindex: u32)
//       fills a_tile with a[m0 .. m0+BM, k0 .. k0+BK] and b_tile with b[k0 .. k0+BK, n0 .. n0+BN], 0 outside;
//       stage_a and stage_b below do it from the kernel's loads:
//   fn load_a(m: u32, k: u32) -> elem, fn load_b(k: u32, n: u32) -> elem   the values, 0 outside the matrices
//   const A_ALONG_K: bool, B_ALONG_K: bool   whether consecutive k of a (of b) are neighbours in memory; if not,
//       consecutive m (n) are. Consecutive invocations stage neighbours, so global reads are contiguous.

#include "include/matmul_block.wgsl"

override WG_X: u32 = 16u;  // invocations along N (the columns of r)
override WG_Y: u32 = 16u;  // invocations along M (the rows of r)
override BK: u32 = 16u;    // depth of the K slice staged in workgroup memory (a multiple of 4)
// The register block is fixed at 4 x 4 (one vec4 per output row): WGSL sizes private arrays with constants only.
const TM: u32 = 4u;
const TN: u32 = 4u;
override BM: u32 = WG_Y * TM;  // rows of r per workgroup
override BN: u32 = WG_X * TN;  // columns of r per workgroup
// Tile lengths as override identifiers: some browsers accept only a plain identifier as the length of a
// workgroup array sized at pipeline creation.
override BK_BM: u32 = BK * BM;
override BK_BN: u32 = BK * BN;

var<workgroup> a_tile: array<elem, BK_BM>;  // (BK, BM): a[m0 + m, k0 + k] at k*BM + m
var<workgroup> b_tile: array<elem, BK_BN>;  // (BK, BN): b[k0 + k, n0 + j] at k*BN + j

@compute @workgroup_size(WG_X, WG_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lindex: u32,
) {
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let K = matmul_shape().z;
    var acc: array<vec4<elem>, 4>;  // acc[i][j]: r[m0 + ly + i*WG_Y, n0 + lx + j*WG_X]; zero-initialised

    for (var k0 = 0u; k0 < K; k0 += BK) {
        stage_tiles(m0, n0, k0, lindex);
        workgroupBarrier();

        for (var k = 0u; k < BK; k++) {
            let b = vec4<elem>(
                b_tile[k * BN + lid.x],
                b_tile[k * BN + lid.x + WG_X],
                b_tile[k * BN + lid.x + 2u * WG_X],
                b_tile[k * BN + lid.x + 3u * WG_X],
            );
            for (var i = 0u; i < TM; i++) {
                acc[i] += a_tile[k * BM + lid.y + i * WG_Y] * b;
            }
        }
        // Everyone is done reading before the next slice overwrites the tiles.
        workgroupBarrier();
    }

    store_block(acc, m0 + lid.y, WG_Y, n0 + lid.x, WG_X);
}

// a_tile from load_a, one value per invocation and step. (No barrier inside: the caller may branch around it.)
fn stage_a(m0: u32, k0: u32, lindex: u32) {
    for (var idx = lindex; idx < BM * BK; idx += WG_X * WG_Y) {
        let m = select(idx % BM, idx / BK, A_ALONG_K);
        let k = select(idx / BM, idx % BK, A_ALONG_K);
        a_tile[k * BM + m] = load_a(m0 + m, k0 + k);
    }
}

// b_tile from load_b, likewise.
fn stage_b(n0: u32, k0: u32, lindex: u32) {
    for (var idx = lindex; idx < BN * BK; idx += WG_X * WG_Y) {
        let j = select(idx % BN, idx / BK, B_ALONG_K);
        let k = select(idx / BN, idx % BK, B_ALONG_K);
        b_tile[k * BN + j] = load_b(k0 + k, n0 + j);
    }
}
