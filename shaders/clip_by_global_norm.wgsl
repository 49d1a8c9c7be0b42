// clip_by_global_norm: grads *= max_norm / (norm + 1e-6) when norm > max_norm (PyTorch's clip_grad_norm_),
// with the norm read from the 1-element buffer global_norm.wgsl wrote in an earlier dispatch of the same
// pass, so a training step never waits for a readback. A non-finite norm leaves the gradients untouched
// (as the CPU reference; the trainer reports it).
//
//   grads (N)  scaled in place
//   norm  (2)  [the norm of the true (unscaled) gradients, 1 / the loss scale] (global_norm.wgsl); the gradients
//              stay scaled (clipping is linear) and adamw_update unscales them
//
// One invocation owns one element; a workgroup owns WG consecutive elements (include/elementwise.wgsl).

#include "include/elementwise.wgsl"

struct Params {
    N: u32,
    max_norm: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> grads: array<elem>; // (N)
@group(0) @binding(2) var<storage, read> norm: array<f32>;         // (2)

override WG: u32 = 256u;

// The largest finite f32: `norm <= F32_MAX` is false for +inf and for NaN (WGSL has no isFinite).
const F32_MAX: f32 = 0x1.fffffep+127f;

fn element_count() -> u32 {
    return params.N;
}

fn element(i: u32) {
    let total = norm[0];
    if (total > params.max_norm && total <= F32_MAX) {
        grads[i] *= params.max_norm / (total + 1e-6);
    }
}
