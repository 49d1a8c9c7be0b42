// relu_backward: dinp = dout where inp > 0, else 0 (the derivative at exactly 0 is 0, as PyTorch).
// dinp is assigned.
//
//   dinp (N)  written
//   inp  (N)  the forward's input
//   dout (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<elem>;        // (N)
@group(0) @binding(3) var<storage, read> dout: array<elem>;       // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    dinp[i] = select(0.0, dout[i], inp[i] > 0.0);
}
