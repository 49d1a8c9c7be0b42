// clip_by_global_norm: grads *= max_norm / (norm + 1e-6) when norm > max_norm (PyTorch's clip_grad_norm_),
// with the norm read from the 1-element buffer global_norm.wgsl wrote in an earlier dispatch of the same
// pass, so a training step never waits for a readback. A non-finite norm leaves the gradients untouched
// (as the CPU reference; the trainer reports it).
//
//   grads (N)  scaled in place
//   norm  (1)
//
// One invocation owns one element; workgroups are laid out in 2D (x then y) so that N may exceed
// 65535 * WG.

struct Params {
    N: u32,
    max_norm: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;  // (N)
@group(0) @binding(2) var<storage, read> norm: array<f32>;         // (1)

override WG: u32 = 256u;

// The largest finite f32: `norm <= F32_MAX` is false for +inf and for NaN (WGSL has no isFinite).
const F32_MAX: f32 = 0x1.fffffep+127f;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.y * groups.x + wid.x) * WG + lid;
    let total = norm[0];
    if (i >= params.N || !(total > params.max_norm && total <= F32_MAX)) {
        return;
    }
    grads[i] *= params.max_norm / (total + 1e-6);
}
