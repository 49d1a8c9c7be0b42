// cast_forward_widen: out = inp as f32, the inverse direction of cast_forward (every f16 is an f32, so this is
// exact): how an f16 activation is read by a kernel that only has an f32 build (the inspection attention).
//
//   out (N)  written, f32
//   inp (N)  elem
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<elem>;      // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    out[i] = f32(inp[i]);
}
