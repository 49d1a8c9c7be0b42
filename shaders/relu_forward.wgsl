// relu_forward: out = max(0, inp), with the CPU's rule "x > 0 ? x : 0" (so NaN maps to 0 on both).
//
//   out (N)  written
//   inp (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<elem>;       // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    let x = inp[i];
    out[i] = select(0.0, x, x > 0.0);
}
