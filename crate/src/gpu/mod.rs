//! The GPU side shared by every kernel: one device, compiled pipelines cached by name, and the few buffer
//! helpers the ops need (upload, zeroed storage, uniforms, asynchronous readback).
//!
//! The same code runs natively (wgpu on Vulkan/Metal/DX12; lavapipe in CI) and in the browser (wgpu's
//! WebGPU backend, where the browser compiles the WGSL). The differences are commented where they bite.

mod context;
pub(crate) mod elementwise;
mod matmul_tiling;
mod plan;
pub use context::{AdapterSummary, GpuContext};
pub(crate) use elementwise::push_elementwise;
pub use matmul_tiling::{MATMUL_T, MatmulTiling};
pub use plan::{Elem, Plan, View, variant};

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// How a kernel uses one of its bindings. A kernel's bind-group layout is a list of these, in binding order,
/// so each op spells out its layout next to its dispatch (see `ops::matmul_forward`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A small uniform struct of sizes and flags.
    Uniform,
    /// A storage buffer the kernel only reads.
    Read,
    /// A storage buffer the kernel writes (and may read).
    ReadWrite,
}

/// A compiled compute pipeline together with the layout of its single bind group.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub label: String,
}
