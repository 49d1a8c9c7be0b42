//! One module per layer and pass, llm.c style: outputs first, then inputs, then sizes.
//!
//! Each module holds the op's CPU reference (`<op>_cpu`, the readable spec) and its tests, and, with the
//! cargo feature `gpu` (on by default), a `gpu` block: the dispatch of its WGSL kernel (`<op>_gpu`, source in
//! `shaders/<op>.wgsl`) and the tests that check it against the reference. Without the feature the references
//! stand alone, with no wgpu in the build.
//! Size letters follow llm.c: B batch, T time, C channels, OC output channels, NH heads, hs head size, V vocab.

pub mod adamw_update;
pub mod attention_backward;
pub mod attention_backward_fused;
pub mod attention_decode;
pub mod attention_fast;
pub mod attention_forward;
pub mod attention_forward_fused;
pub mod attention_mask;
pub mod cast_forward;
pub mod cross_attention_backward;
pub mod cross_attention_forward;
pub mod crossentropy_backward;
pub mod crossentropy_forward;
pub mod distill_backward;
pub mod distill_forward;
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
pub mod meanpool_backward;
pub mod meanpool_forward;
pub(crate) mod parallel;
pub mod relu_backward;
pub mod relu_forward;
pub mod residual_forward;
pub mod rope_backward;
pub mod rope_forward;
pub mod scale_forward;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod simd128;
#[cfg(test)]
pub(crate) mod testing;
