// cast_forward: out = inp rounded to the element type. In the f16 build this is how the f16 copy of the
// weights follows the f32 master weights after each optimizer step (mixed precision); the f32 build copies.
//
//   out (N)  written, elem
//   inp (N)  f32
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<f32>;        // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    out[i] = elem(inp[i]);
}
