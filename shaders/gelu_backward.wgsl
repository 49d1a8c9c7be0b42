// gelu_backward: dinp = gelu'(inp) * dout for GELU's tanh approximation (dinp is assigned), the same
// expression as gelu_backward_cpu:
//   th = tanh(s (x + k x^3)),  gelu'(x) = 0.5 (1 + th) + 0.5 x (1 - th^2) s (1 + 3 k x^2).
//
//   dinp (N)  written
//   inp  (N)  the forward's input
//   dout (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"
#include "include/gelu.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<elem>;        // (N)
@group(0) @binding(3) var<storage, read> dout: array<elem>;       // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    let x = f32(inp[i]);
    let th = safe_tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x));
    let sech2 = 1.0 - th * th;
    let local = 0.5 * (1.0 + th) + 0.5 * x * sech2 * GELU_SCALE * (1.0 + 3.0 * GELU_CUBE * x * x);
    dinp[i] = elem(local * f32(dout[i]));
}
