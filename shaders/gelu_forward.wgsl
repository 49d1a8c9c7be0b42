// gelu_forward: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GELU's tanh approximation,
// the same expression in the same order as gelu_forward_cpu.
//
//   out (N)  written
//   inp (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"
#include "include/flat_params.wgsl"
#include "include/gelu.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<elem>;       // (N)

override WG: u32 = 64u;

fn element(i: u32) {
    let x = f32(inp[i]);
    out[i] = elem(0.5 * x * (1.0 + safe_tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x))));
}
