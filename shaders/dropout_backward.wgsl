// dropout_backward: dinp = dout * mask, the mask written by dropout_forward. dinp is assigned.
//
//   dinp (N)  written
//   dout (N)
//   mask (N)  0 or 1/(1-p)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (N)
@group(0) @binding(3) var<storage, read> mask: array<elem>;       // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    dinp[i] = dout[i] * mask[i];
}
