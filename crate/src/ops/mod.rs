//! One module per layer and pass, llm.c style: outputs first, then inputs, then sizes.
//!
//! Each module holds the op's CPU reference (`<op>_cpu`, the readable spec), the dispatch of its WGSL kernel
//! (`<op>_gpu`, source in `shaders/<op>.wgsl`) and the tests that check one against the other.
//! Size letters follow llm.c: B batch, T time, C channels, OC output channels, NH heads, hs head size, V vocab.

pub mod adamw_update;
pub mod attention_backward;
pub mod attention_backward_fused;
pub mod attention_decode;
pub mod attention_forward;
pub mod attention_forward_fused;
pub mod attention_mask;
pub mod crossentropy_backward;
pub mod crossentropy_forward;
pub mod dropout_backward;
pub mod dropout_forward;
pub mod encoder_backward;
pub mod encoder_forward;
pub mod float;
pub mod gelu_backward;
pub mod gelu_forward;
pub mod gemm;
pub mod global_norm;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod gradcheck;
pub mod layernorm_backward;
pub mod layernorm_forward;
pub mod matmul_backward;
pub mod matmul_forward;
pub mod relu_backward;
pub mod relu_forward;
pub mod residual_forward;
pub mod rope_backward;
pub mod rope_forward;
#[cfg(test)]
pub(crate) mod testing;

use crate::gpu::{Access, GpuContext, Plan, View};

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
/// folded into two dimensions (`GpuContext::grid_1d`). Returns the dispatch's index.
pub(crate) fn push_elementwise(
    gpu: &GpuContext,
    plan: &mut Plan,
    label: &str,
    shader: &str,
    bindings: &[(View, Access)],
    n: usize,
) -> usize {
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
