//! The elementwise kernels' shared dispatch: one invocation per element, the element count as the only uniform.

use super::{Access, GpuContext, Plan, View};

/// The uniform of every elementwise kernel: the element count N, padded to 16 bytes (WGSL `Params { N }`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ElementwiseParams {
    n: u32,
    _pad: [u32; 3],
}

/// Invocations per workgroup of the elementwise kernels (their `WG` override).
pub(crate) const ELEMENTWISE_WG: u32 = 64;

/// Adds an elementwise kernel over N elements to `plan`: one invocation per element, binding 0 the element
/// count, then each view with how the kernel uses it (outputs first, as the op's arguments). Long launches are
/// folded into two dimensions (`GpuContext::grid_1d`). `(label, shader)` is the f32 or the f16 build of the
/// kernel ([`super::variant`]), and every view must hold that element type. Returns the dispatch's index.
pub(crate) fn push_elementwise(
    gpu: &GpuContext,
    plan: &mut Plan,
    (label, shader): (&str, &str),
    bindings: &[(View, Access)],
    n: usize,
) -> usize {
    assert!(
        bindings.iter().all(|b| b.0.elem == bindings[0].0.elem),
        "{label}: the views of an elementwise kernel share one element type"
    );
    let layout: Vec<Access> = std::iter::once(Access::Uniform)
        .chain(bindings.iter().map(|b| b.1))
        .collect();
    let kernel = gpu.kernel(label, shader, &layout, &[("WG", f64::from(ELEMENTWISE_WG))]);
    let views: Vec<View> = bindings.iter().map(|b| b.0).collect();
    let params = ElementwiseParams {
        n: n as u32,
        _pad: [0; 3],
    };
    let workgroups = gpu.grid_1d((n as u32).div_ceil(ELEMENTWISE_WG));
    plan.push(gpu, kernel, Some(&params), &views, workgroups)
}
