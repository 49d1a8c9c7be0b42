// attention_kv_tile: a tile of keys and values in workgroup memory, shared by attention_forward_fused and
// attention_backward_fused, in which a workgroup owns a block of query rows of one (b, h) and walks the keys in
// tiles of BKV positions.
//
//   k_tile, v_tile (BKV, MAX_HS)  k and v of positions k_first .. k_first + n, head h of batch b
//
// The kernel declares the binding `inp` (B, T, 3C), q, k and v (include/attention_layout.wgsl).

#include "include/prelude.wgsl"
#include "include/attention_layout.wgsl"

// Key positions per tile.
const BKV: u32 = 16u;
// BKV * MAX_HS values per staged tile (8 KiB of workgroup memory for k and v together).
const TILE: u32 = 1024u;

// f32 in every build: an f16 kernel converts as it stages, so the dot products and sums stay f32.
var<workgroup> k_tile: array<f32, TILE>; // (BKV, MAX_HS)
var<workgroup> v_tile: array<f32, TILE>; // (BKV, MAX_HS)

// Stages positions k_first .. k_first + n (n <= BKV) with the workgroup's `threads` invocations. Called by the
// whole workgroup in uniform control flow: it waits until everyone is done with the previous tile, and on return
// the new tile is visible to all.
fn stage_kv_tile(b: u32, h: u32, k_first: u32, n: u32, lid: u32, threads: u32) {
    let hs = params.C / params.NH;
    workgroupBarrier();
    for (var e = lid; e < n * hs; e += threads) {
        let j = e / hs;
        let i = e % hs;
        k_tile[j * MAX_HS + i] = f32(inp[qkv_at(b, k_first + j, h, 1u) + i]);
        v_tile[j * MAX_HS + i] = f32(inp[qkv_at(b, k_first + j, h, 2u) + i]);
    }
    workgroupBarrier();
}
