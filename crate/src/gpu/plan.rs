//! A `Plan` is a list of dispatches whose bind groups and uniforms are built once. A training step replays its
//! plan into one compute pass of one command encoder: no buffers, bind groups or pipelines are created per step.
//!
//! Ops record into a plan (`<op>_gpu(gpu, &mut plan, ..)`); tests build a one-op plan and run it at once.

use std::sync::Arc;

use super::{GpuContext, Kernel};

/// The element type of a buffer's numbers: what a kernel binds it as (`elem` in WGSL, see `shaders/include/prelude.wgsl`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Elem {
    #[default]
    F32,
    /// IEEE half precision: needs a device opened with `shader-f16` ([`GpuContext::f16`]) and the `_f16` kernels.
    F16,
}

impl Elem {
    /// Bytes per number.
    pub fn bytes(self) -> u64 {
        match self {
            Elem::F32 => 4,
            Elem::F16 => 2,
        }
    }
}

/// A view of `len` numbers starting `offset` numbers into a buffer: how ops name their inputs and outputs, so a
/// tensor can live inside a larger buffer (e.g. one layer's weights inside the flat parameter buffer). The numbers
/// are f32 unless `elem` says otherwise (offsets and lengths count numbers, not bytes).
///
/// WebGPU requires a binding's byte offset to be a multiple of `min_storage_buffer_offset_alignment`
/// (256 bytes on most adapters), so tensors that are bound on their own start at multiples of 64 floats
/// (128 halves).
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub len: u64,
    pub elem: Elem,
}

impl<'a> View<'a> {
    /// The whole buffer, as f32s.
    pub fn all(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            offset: 0,
            len: buffer.size() / 4,
            elem: Elem::F32,
        }
    }
    /// `len` floats starting at float `offset`.
    pub fn range(buffer: &'a wgpu::Buffer, offset: usize, len: usize) -> Self {
        Self {
            buffer,
            offset: offset as u64,
            len: len.max(1) as u64,
            elem: Elem::F32,
        }
    }
    /// The whole buffer, as f16s (a buffer from [`GpuContext::zeros_f16`] or [`GpuContext::upload_f16`]).
    pub fn all_f16(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            offset: 0,
            len: buffer.size() / 2,
            elem: Elem::F16,
        }
    }
    /// True when the view holds f16s.
    pub fn is_f16(&self) -> bool {
        self.elem == Elem::F16
    }
    fn binding(&self) -> wgpu::BindingResource<'a> {
        let bytes = self.elem.bytes();
        // Storage bindings are whole 4-byte words: an odd count of halves takes the buffer's last padding half.
        let size = (self.len * bytes).next_multiple_of(4);
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.buffer,
            offset: self.offset * bytes,
            size: wgpu::BufferSize::new(size),
        })
    }
}

/// The f32 or the f16 build of a kernel (`shaders/<name>.wgsl` with `#variants f16`), by the element type of the
/// views it stores, `out`: `(label, source)`.
pub fn variant<'s>(
    out: &View,
    f32: (&'s str, &'s str),
    f16: (&'s str, &'s str),
) -> (&'s str, &'s str) {
    if out.is_f16() { f16 } else { f32 }
}

impl<'a> From<&'a wgpu::Buffer> for View<'a> {
    fn from(buffer: &'a wgpu::Buffer) -> Self {
        View::all(buffer)
    }
}

struct Dispatch {
    kernel: Arc<Kernel>,
    bind_group: wgpu::BindGroup,
    workgroups: [u32; 3],
    /// The uniform buffer of sizes made for this dispatch (bound in the bind group; rewritable).
    uniform: Option<wgpu::Buffer>,
}

/// An ordered list of prepared dispatches.
#[derive(Default)]
pub struct Plan {
    dispatches: Vec<Dispatch>,
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of dispatches (what the benchmark reports per training step).
    pub fn len(&self) -> usize {
        self.dispatches.len()
    }

    /// Bytes of the uniform buffers the plan made (one per dispatch with params).
    pub fn uniform_bytes(&self) -> u64 {
        self.dispatches
            .iter()
            .filter_map(|d| d.uniform.as_ref())
            .map(wgpu::Buffer::size)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }

    /// Adds one dispatch of `kernel` and returns its index. Binding 0 is the uniform `params` (when given), then
    /// `views` in order.
    pub fn push<P: bytemuck::Pod>(
        &mut self,
        gpu: &GpuContext,
        kernel: Arc<Kernel>,
        params: Option<&P>,
        views: &[View],
        workgroups: [u32; 3],
    ) -> usize {
        let uniform = params.map(|p| gpu.uniform(&kernel.label, p));
        let mut entries = Vec::with_capacity(views.len() + 1);
        if let Some(uniform) = &uniform {
            entries.push(wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            });
        }
        let first = entries.len() as u32;
        for (i, view) in views.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: first + i as u32,
                resource: view.binding(),
            });
        }
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&kernel.label),
            layout: &kernel.layout,
            entries: &entries,
        });
        self.dispatches.push(Dispatch {
            kernel,
            bind_group,
            workgroups,
            uniform,
        });
        self.dispatches.len() - 1
    }

    /// Overwrites the uniform `params` of dispatch `index` (before the submit that runs it): how a plan built
    /// once takes values that change every step, such as dropout seeds.
    pub fn rewrite_params<P: bytemuck::Pod>(&self, gpu: &GpuContext, index: usize, params: &P) {
        if let Some(uniform) = &self.dispatches[index].uniform {
            gpu.queue
                .write_buffer(uniform, 0, bytemuck::bytes_of(params));
        }
    }

    /// Appends another plan's dispatches after this one's.
    pub fn extend(&mut self, other: Plan) {
        self.dispatches.extend(other.dispatches);
    }

    /// Records every dispatch, in order, into one compute pass. WebGPU orders storage-buffer writes between
    /// dispatches of a pass, so each kernel sees the results of the ones before it.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("plan"),
            timestamp_writes: None,
        });
        for dispatch in &self.dispatches {
            pass.set_pipeline(&dispatch.kernel.pipeline);
            pass.set_bind_group(0, &dispatch.bind_group, &[]);
            let [x, y, z] = dispatch.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// The kernel label of each dispatch, in order.
    pub fn labels(&self) -> Vec<&str> {
        self.dispatches
            .iter()
            .map(|d| d.kernel.label.as_str())
            .collect()
    }

    /// Records only dispatch `index` (benchmarks time kernels one at a time this way).
    pub fn encode_one(&self, encoder: &mut wgpu::CommandEncoder, index: usize) {
        let dispatch = &self.dispatches[index];
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("one"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&dispatch.kernel.pipeline);
        pass.set_bind_group(0, &dispatch.bind_group, &[]);
        let [x, y, z] = dispatch.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }

    /// Encodes and submits the plan inside a validation error scope (tests, one-off checks).
    pub async fn run(&self, gpu: &GpuContext) -> crate::Result<()> {
        gpu.checked(|encoder| self.encode(encoder)).await
    }
}
