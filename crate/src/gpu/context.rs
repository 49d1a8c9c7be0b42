use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use wgpu::util::DeviceExt;

use super::{Access, Kernel, MatmulTiling};
use crate::{Error, Result};

/// What the page and the CLI show about the adapter, and what the model checks its config against.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub vendor: String,
    pub driver: String,
    pub backend: String,
    pub device_type: String,
    /// True for software adapters (lavapipe, SwiftShader): correct but slow, and they punish workgroup memory.
    pub is_fallback: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_storage_buffers_per_shader_stage: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub features: Vec<String>,
    /// The row of the matmul tiling table chosen for this adapter (see `gpu::MatmulTiling`).
    pub matmul_tiling: MatmulTiling,
    /// True when the forward matmul runs the subgroup kernel (`matmul_forward_subgroup`), false when it
    /// runs the tiled kernel of `matmul_tiling` (workgroup memory, or none for the `direct` row).
    /// [`GpuContext::subgroup_matmul`].
    pub subgroup_matmul: bool,
    /// Subgroup sizes the adapter reports (min, max); 0 where it does not say (e.g. browsers without them).
    pub subgroup_sizes: (u32, u32),
}

/// The device, its queue and every pipeline compiled so far. Built once and shared by all ops.
pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    /// Tile sizes of every tiled matmul dispatch, chosen from the table at creation (may be replaced before
    /// the first dispatch, e.g. by a benchmark comparing tilings).
    pub matmul_tiling: MatmulTiling,
    /// True when the device was opened with `Features::SUBGROUP` and subgroups hold at least 4 invocations:
    /// then the forward matmul uses the subgroup kernel unless the tiling is `direct`
    /// ([`GpuContext::subgroup_matmul`]), else the tiled kernel.
    pub subgroups: bool,
    /// True when the device was opened with `Features::SHADER_F16` (the adapter offers it): then the `_f16`
    /// kernels compile and f16 buffers ([`Self::zeros_f16`]) can be bound. False on adapters without it
    /// (Chromium's SwiftShader, many phones), where training stays f32.
    pub f16: bool,
    kernels: Mutex<HashMap<String, Arc<Kernel>>>,
    /// Bound in place of an optional buffer that an op does not have (e.g. a matmul without bias):
    /// WebGPU wants every binding of a layout filled.
    placeholder: wgpu::Buffer,
    /// Bytes of every storage and uniform buffer made through this context (see [`Self::buffer_bytes`]).
    buffer_bytes: AtomicU64,
}

impl GpuContext {
    /// Opens the best adapter available (high performance first) with all of its limits.
    pub async fn new() -> Result<Self> {
        Self::with_memory_limits(None).await
    }

    /// [`Self::new`] with the storage-binding and buffer limits capped at `(max_binding, max_buffer)` bytes
    /// (never above the adapter's): WebGPU's defaults, 128 MiB and 256 MiB, show what every device can hold;
    /// tests ask for a few MiB so that a small model takes the paths of a large one.
    pub async fn with_memory_limits(caps: Option<(u64, u64)>) -> Result<Self> {
        #[cfg(target_arch = "wasm32")]
        if !wgpu::util::is_browser_webgpu_supported().await {
            // `Instance::new` would panic here (outside a window or worker, or without navigator.gpu).
            return Err(Error::NoAdapter(
                "this browser does not offer WebGPU (navigator.gpu is missing or gives no adapter)"
                    .into(),
            ));
        }
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(e.to_string()))?;
        Self::from_adapter_capped(adapter, caps).await
    }

    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        Self::from_adapter_capped(adapter, None).await
    }

    async fn from_adapter_capped(adapter: wgpu::Adapter, caps: Option<(u64, u64)>) -> Result<Self> {
        let mut limits = adapter.limits();
        if let Some((binding, buffer)) = caps {
            limits.max_buffer_size = limits.max_buffer_size.min(buffer);
            limits.max_storage_buffer_binding_size = limits
                .max_storage_buffer_binding_size
                .min(binding)
                .min(limits.max_buffer_size);
        }
        let info = adapter.get_info();
        // Subgroups only where the adapter offers them (asking for a feature it lacks fails the device), and
        // only used by the matmul when a subgroup holds at least the 4 rows it shares (see the shader).
        let subgroups =
            adapter.features().contains(wgpu::Features::SUBGROUP) && info.subgroup_min_size >= 4;
        let f16 = adapter.features().contains(wgpu::Features::SHADER_F16);
        let mut required_features = wgpu::Features::empty();
        if subgroups {
            required_features |= wgpu::Features::SUBGROUP;
        }
        // Only where offered: a device asked for a feature its adapter lacks is refused.
        if f16 {
            required_features |= wgpu::Features::SHADER_F16;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("transformer-playground"),
                required_features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("the adapter refused to open a device: {e}")))?;
        let matmul_tiling = MatmulTiling::for_adapter(&info, &limits);
        let features = adapter.features();
        let feature_names = [
            (wgpu::Features::SHADER_F16, "shader-f16"),
            (wgpu::Features::TIMESTAMP_QUERY, "timestamp-query"),
            (wgpu::Features::SUBGROUP, "subgroups"),
        ]
        .into_iter()
        .filter(|(f, _)| features.contains(*f))
        .map(|(_, name)| name.to_string())
        .collect();
        let summary = AdapterSummary {
            name: info.name.clone(),
            vendor: format!("{:#06x}", info.vendor),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            is_fallback: info.device_type == wgpu::DeviceType::Cpu,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            features: feature_names,
            matmul_tiling,
            subgroup_matmul: subgroups && !matmul_tiling.direct,
            subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
        };
        let placeholder = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("placeholder"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(Self {
            adapter,
            device,
            queue,
            summary,
            matmul_tiling,
            subgroups,
            f16,
            kernels: Mutex::new(HashMap::new()),
            placeholder,
            buffer_bytes: AtomicU64::new(0),
        })
    }

    /// The compiled kernel for `source`, built on first use and cached under `label` + its constants.
    /// `bindings` lists the bind-group layout in binding order; `constants` sets WGSL `override`s.
    pub fn kernel(
        &self,
        label: &str,
        source: &str,
        bindings: &[Access],
        constants: &[(&str, f64)],
    ) -> Arc<Kernel> {
        let key = format!("{label}{constants:?}");
        let mut kernels = self
            .kernels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(kernel) = kernels.get(&key) {
            return kernel.clone();
        }
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .enumerate()
            .map(|(binding, access)| wgpu::BindGroupLayoutEntry {
                binding: binding as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match access {
                    Access::Uniform => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    Access::Read | Access::ReadWrite => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: *access == Access::Read,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                },
                count: None,
            })
            .collect();
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries: &entries,
            });
        let pipeline_layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some("main"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    ..Default::default()
                },
                cache: None,
            });
        let kernel = Arc::new(Kernel {
            pipeline,
            layout,
            label: label.to_string(),
        });
        kernels.insert(key, kernel.clone());
        kernel
    }

    /// [`Self::kernel`] for the f32 or the f16 build of a kernel (`(label, source)` each), by the element type
    /// of `view`, the tensor whose type decides (an activation the kernel reads or writes).
    pub fn kernel_variant(
        &self,
        view: &super::View,
        f32: (&str, &str),
        f16: (&str, &str),
        bindings: &[Access],
        constants: &[(&str, f64)],
    ) -> Arc<Kernel> {
        let (label, source) = super::variant(view, f32, f16);
        self.kernel(label, source, bindings, constants)
    }

    /// Bytes of all storage and uniform buffers created through this context so far ([`Self::upload`],
    /// [`Self::upload_u32`], [`Self::zeros`], [`Self::uniform`]; plans make their uniforms with the latter).
    /// Readback staging buffers are not counted, and dropped buffers are not subtracted: a model makes its
    /// buffers once, so on a context of its own this is the model's GPU memory, and a count that grows from
    /// one training step to the next means buffers are being made per step.
    pub fn buffer_bytes(&self) -> u64 {
        self.buffer_bytes.load(Ordering::Relaxed)
    }

    fn count(&self, buffer: wgpu::Buffer) -> wgpu::Buffer {
        self.buffer_bytes
            .fetch_add(buffer.size(), Ordering::Relaxed);
        buffer
    }

    /// True when the forward matmul runs the subgroup kernel: the device has subgroups and the tiling is
    /// not `direct` (on software adapters the direct kernel is faster; see `gpu::MatmulTiling`).
    pub fn subgroup_matmul(&self) -> bool {
        self.subgroups && !self.matmul_tiling.direct
    }

    /// A buffer to bind where an op's optional input is absent.
    pub fn placeholder(&self) -> &wgpu::Buffer {
        &self.placeholder
    }

    /// A storage buffer holding `data`, readable and writable by kernels and copyable both ways.
    pub fn upload(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        // wgpu rejects zero-sized bindings; keep at least one element.
        let padded;
        let contents: &[f32] = if data.is_empty() {
            padded = [0.0f32];
            &padded
        } else {
            data
        };
        self.count(
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(contents),
                    usage: storage_usage(),
                }),
        )
    }

    /// A storage buffer holding `data` as u32s (token ids, targets), bound in WGSL as `array<u32>`.
    pub fn upload_u32(&self, label: &str, data: &[u32]) -> wgpu::Buffer {
        // wgpu rejects zero-sized bindings; keep at least one element.
        let padded;
        let contents: &[u32] = if data.is_empty() {
            padded = [0u32];
            &padded
        } else {
            data
        };
        self.count(
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(contents),
                    usage: storage_usage(),
                }),
        )
    }

    /// Workgroup counts for a one-dimensional launch of `workgroups` workgroups. WebGPU caps each dimension
    /// (65535 on most adapters), so a long launch is folded into (x, y): kernels recover the flat workgroup
    /// index as `wid.y * nwg.x + wid.x` and skip the few past the end.
    pub fn grid_1d(&self, workgroups: u32) -> [u32; 3] {
        let max = self.summary.max_compute_workgroups_per_dimension.max(1);
        let x = workgroups.min(max);
        [x, workgroups.div_ceil(x.max(1)).max(1), 1]
    }

    /// A zero-filled storage buffer of `len` f32s.
    pub fn zeros(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.count(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: storage_usage(),
            mapped_at_creation: false,
        }))
    }

    /// A zero-filled storage buffer of `len` f16s (the size rounded up to whole 4-byte words).
    pub fn zeros_f16(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.count(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 2).next_multiple_of(4) as u64,
            usage: storage_usage(),
            mapped_at_creation: false,
        }))
    }

    /// A storage buffer holding `data` rounded to f16 (round to nearest even, as `half::f16::from_f32`).
    pub fn upload_f16(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        let mut halves: Vec<u16> = data
            .iter()
            .map(|&x| half::f16::from_f32(x).to_bits())
            .collect();
        // wgpu rejects zero-sized bindings and storage sizes that are not whole words.
        halves.resize(halves.len().max(1).next_multiple_of(2), 0);
        self.count(
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(&halves),
                    usage: storage_usage(),
                }),
        )
    }

    /// Copies the first `len` f16s of `buffer` back to the CPU as f32s (exact: every f16 is an f32).
    pub async fn read_f16(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        // The staging copies count f32 words: len halves take ceil(len / 2) of them.
        let words = self.read(buffer, len.div_ceil(2)).await?;
        let halves: &[u16] = bytemuck::cast_slice(&words);
        Ok(halves[..len]
            .iter()
            .map(|&bits| half::f16::from_bits(bits).to_f32())
            .collect())
    }

    /// A uniform buffer holding one `#[repr(C)]` struct of sizes (its WGSL twin must match field by field).
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.count(
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::bytes_of(value),
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                }),
        )
    }

    /// Copies the first `len` f32s of `buffer` back to the CPU (its own submit; see [`Self::stage`] to fold the
    /// copy into a step's encoder instead).
    pub async fn read(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let staging = self.stage(&mut encoder, &[(buffer, 0, len)]);
        self.queue.submit([encoder.finish()]);
        self.read_staged(&staging).await
    }

    /// Records copies of `(buffer, offset, len)` ranges (in f32s) into one new mappable buffer, back to back,
    /// so a training step can bring its loss and gradient norm home in the same submit as the work.
    pub fn stage(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        ranges: &[(&wgpu::Buffer, usize, usize)],
    ) -> wgpu::Buffer {
        let total: usize = ranges.iter().map(|r| r.2).sum();
        let staging = self.readback_buffer(total);
        self.stage_into(encoder, &staging, ranges);
        staging
    }

    /// A mappable buffer of `floats` f32s for [`Self::stage_into`]: a loop that reads the same sizes back
    /// every iteration keeps one and makes no buffer per iteration.
    pub fn readback_buffer(&self, floats: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: (floats.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// [`Self::stage`] into `staging` (from [`Self::readback_buffer`], unmapped: [`Self::read_staged`] unmaps
    /// it again), whose length is the ranges' total.
    pub fn stage_into(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        ranges: &[(&wgpu::Buffer, usize, usize)],
    ) {
        let mut at = 0;
        for &(buffer, offset, len) in ranges {
            encoder.copy_buffer_to_buffer(
                buffer,
                (offset * 4) as u64,
                staging,
                (at * 4) as u64,
                (len * 4) as u64,
            );
            at += len;
        }
    }

    /// Maps a buffer made by [`Self::stage`] after its submit and returns its f32s.
    ///
    /// Mapping is asynchronous on every backend. Natively we drive it with a blocking `poll`; in the browser
    /// `poll` does nothing and the promise resolves on the event loop, so this must be awaited, never
    /// blocked on (blocking the browser's thread would deadlock it).
    pub async fn read_staged(&self, staging: &wgpu::Buffer) -> Result<Vec<f32>> {
        let slice = staging.slice(..);
        let (sender, receiver) = futures_channel::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))?;
        receiver
            .await
            .map_err(|_| Error::Gpu("the GPU device was lost before the readback finished".into()))?
            .map_err(|e| Error::Gpu(format!("reading a buffer back failed: {e}")))?;
        let values = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading a buffer back failed: {e}")))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        Ok(values)
    }

    /// Runs `record` inside a validation error scope and turns any WebGPU validation error into an `Err`,
    /// so a bad dispatch is a message and not an uncaptured error in the console.
    pub async fn checked<T>(
        &self,
        record: impl FnOnce(&mut wgpu::CommandEncoder) -> T,
    ) -> Result<T> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let out = record(&mut encoder);
        self.queue.submit([encoder.finish()]);
        if let Some(error) = scope.pop().await {
            return Err(Error::Gpu(error.to_string()));
        }
        Ok(out)
    }
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::testing::gpu_or_skip;

    #[test]
    fn buffer_bytes_counts_the_buffers_made_but_not_readbacks() {
        if gpu_or_skip("GpuContext::buffer_bytes").is_none() {
            return;
        }
        // A context of its own: the shared one is in use by tests running in parallel.
        let gpu = pollster::block_on(GpuContext::new()).expect("an adapter was just found");
        let before = gpu.buffer_bytes();
        let a = gpu.zeros("a", 10);
        let _b = gpu.upload("b", &[1.0; 3]);
        let _c = gpu.upload_u32("c", &[]); // padded to one element
        let _d = gpu.uniform("d", &[1u32; 4]);
        assert_eq!(gpu.buffer_bytes() - before, 40 + 12 + 4 + 16);
        let back = pollster::block_on(gpu.read(&a, 10)).expect("readback");
        assert_eq!(back, vec![0.0; 10]);
        assert_eq!(
            gpu.buffer_bytes() - before,
            72,
            "readback buffers are not counted"
        );
    }

    #[test]
    fn matmul_choices_follow_the_adapter() {
        let Some(gpu) = gpu_or_skip("GpuContext matmul choices") else {
            return;
        };
        let info = gpu.adapter.get_info();
        assert_eq!(
            gpu.matmul_tiling,
            MatmulTiling::for_adapter(&info, &gpu.adapter.limits())
        );
        assert!(gpu.matmul_tiling.fits(&gpu.device.limits()));
        // Subgroups are used only where the device was opened with them.
        assert_eq!(
            gpu.subgroups,
            gpu.device.features().contains(wgpu::Features::SUBGROUP)
        );
        assert_eq!(gpu.summary.subgroup_matmul, gpu.subgroup_matmul());
        // Software adapters (lavapipe here) get the direct kernels, and then no subgroup forward matmul.
        if info.device_type == wgpu::DeviceType::Cpu {
            assert_eq!(gpu.matmul_tiling, MatmulTiling::DIRECT);
            assert!(!gpu.subgroup_matmul());
        }
        eprintln!(
            "[gpu] tiling {:?}, subgroups {} (sizes {:?})",
            gpu.matmul_tiling, gpu.subgroups, gpu.summary.subgroup_sizes
        );
    }
}
