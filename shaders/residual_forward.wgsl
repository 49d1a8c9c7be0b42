// residual_forward: out = inp1 + inp2, the skip connection.
//
//   out  (N)   written
//   inp1 (N)
//   inp2 (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp1: array<elem>;      // (N)
@group(0) @binding(3) var<storage, read> inp2: array<elem>;      // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    out[i] = elem(f32(inp1[i]) + f32(inp2[i]));
}
