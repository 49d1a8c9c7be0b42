//! The WebGPU device from JavaScript, and the matmul kernel check the page runs at start.

use std::rc::Rc;
use std::sync::{Arc, Mutex};

use wasm_bindgen::prelude::*;

use super::to_js;
use crate::gpu::GpuContext;
use crate::ops::matmul_forward::{
    matmul_forward_cpu, matmul_forward_fast_cpu, matmul_forward_repeat, matmul_forward_run,
    matmul_kernel_by_name,
};

/// An opened WebGPU device. Create it once and keep it: pipelines are cached on it.
#[wasm_bindgen]
pub struct Gpu {
    /// Shared with every `GpuModel` opened on this device.
    pub(crate) context: Rc<GpuContext>,
    /// Why the device was lost (set by wgpu's device-lost callback), or None while it works.
    lost: Arc<Mutex<Option<String>>>,
}

impl Gpu {
    /// Wraps an opened device and records why it is lost when that happens (wgpu's device-lost callback).
    fn watch(context: GpuContext) -> Gpu {
        let lost = Arc::new(Mutex::new(None));
        let report = lost.clone();
        context
            .device
            .set_device_lost_callback(move |reason, message| {
                let why = match (reason, message.trim()) {
                    (wgpu::DeviceLostReason::Destroyed, "") => "destroyed".to_string(),
                    (_, "") => "the browser or the driver gave it up".to_string(),
                    (_, text) => text.to_string(),
                };
                if let Ok(mut slot) = report.lock() {
                    slot.get_or_insert(why);
                }
            });
        Gpu {
            context: Rc::new(context),
            lost,
        }
    }
}

#[wasm_bindgen]
impl Gpu {
    /// Opens the browser's WebGPU adapter, or fails with a message saying why there is none.
    pub async fn open() -> Result<Gpu, JsError> {
        Ok(Gpu::watch(GpuContext::new().await.map_err(to_js)?))
    }

    /// [`Gpu::open`] with WebGPU's default limits (128 MiB per storage binding, 256 MiB per buffer) in place of the
    /// adapter's larger ones: what every WebGPU device can hold, to see how a model fares on any of them.
    #[wasm_bindgen(js_name = openWithDefaultLimits)]
    pub async fn open_with_default_limits() -> Result<Gpu, JsError> {
        let caps = Some((128 << 20, 256 << 20));
        let context = GpuContext::with_memory_limits(caps).await;
        Ok(Gpu::watch(context.map_err(to_js)?))
    }

    /// [`Gpu::open`] with the matmul tiling named `tiling` ("large", "medium", "small", "direct") in place of the table's
    /// choice for this adapter: for benchmarks comparing tilings in the whole model.
    #[wasm_bindgen(js_name = openWithTiling)]
    pub async fn open_with_tiling(tiling: String) -> Result<Gpu, JsError> {
        let mut context = GpuContext::new().await.map_err(to_js)?;
        let Some(chosen) = crate::gpu::MatmulTiling::ALL
            .into_iter()
            .find(|t| t.name == tiling)
        else {
            return Err(JsError::new(&format!(
                "no matmul tiling named {tiling:?}: use large, medium, small or direct"
            )));
        };
        context.matmul_tiling = chosen;
        context.summary.matmul_tiling = chosen;
        context.summary.subgroup_matmul = context.subgroup_matmul();
        Ok(Gpu::watch(context))
    }

    /// Why the device was lost (a GPU reset, a driver update, `destroy()`), or `undefined` while it works.
    /// Once lost, a device stays lost: open a new `Gpu` to continue on WebGPU.
    #[wasm_bindgen(getter, js_name = lostReason)]
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|slot| slot.clone())
    }

    /// Destroys the device at once, as a GPU reset would (the device-lost path can be tested with it).
    /// Every model on it stops working; their calls fail with a message saying the device was lost.
    pub fn destroy(&self) {
        self.context.device.destroy();
    }

    /// The adapter's name, backend, fallback flag, key limits and features, as a plain object.
    pub fn summary(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.context.summary)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Bytes of the storage and uniform buffers made on this device so far (readback buffers aside): with one
    /// model on the device, that model's GPU memory.
    #[wasm_bindgen(js_name = bufferBytes)]
    pub fn buffer_bytes(&self) -> f64 {
        self.context.buffer_bytes() as f64
    }

    /// The row of the matmul tiling table this adapter got and whether the forward matmul uses subgroups:
    /// `{tiling: {name, wg_x, wg_y, bk}, subgroups}` (also in `summary()`).
    #[wasm_bindgen(js_name = matmulChoice)]
    pub fn matmul_choice(&self) -> Result<JsValue, JsError> {
        #[derive(serde::Serialize)]
        struct Choice {
            tiling: crate::gpu::MatmulTiling,
            subgroups: bool,
        }
        let choice = Choice {
            tiling: self.context.matmul_tiling,
            subgroups: self.context.subgroup_matmul(),
        };
        serde_wasm_bindgen::to_value(&choice).map_err(|e| JsError::new(&e.to_string()))
    }

    /// For benchmarks: runs the forward matmul kernel `kernel` ("readable", "subgroup", "model", or a tiling:
    /// "large", "medium", "small") `repeats` times at (N, C, OC) in one submit and resolves when the
    /// GPU is done; time it from JavaScript (call once first: the first call compiles the pipeline).
    #[wasm_bindgen(js_name = matmulRepeat)]
    pub async fn matmul_repeat(
        &self,
        kernel: String,
        n: usize,
        c: usize,
        oc: usize,
        repeats: usize,
    ) -> Result<(), JsError> {
        let kernel = matmul_kernel_by_name(&kernel).map_err(to_js)?;
        matmul_forward_repeat(&self.context, kernel, n, c, oc, repeats)
            .await
            .map_err(to_js)
    }

    /// out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias (OC), computed by the WGSL kernel.
    #[allow(clippy::too_many_arguments)]
    pub async fn matmul_forward(
        &self,
        inp: Vec<f32>,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
        n: usize,
        c: usize,
        oc: usize,
    ) -> Result<Vec<f32>, JsError> {
        matmul_forward_run(&self.context, &inp, &weight, bias.as_deref(), n, c, oc)
            .await
            .map_err(to_js)
    }
}

/// The CPU reference of the same matmul (readable loops: the spec the kernels are checked against).
#[wasm_bindgen(js_name = matmulForwardCpu)]
pub fn matmul_forward_cpu_js(
    inp: Vec<f32>,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    n: usize,
    c: usize,
    oc: usize,
) -> Result<Vec<f32>, JsError> {
    cpu_matmul(
        matmul_forward_cpu,
        &inp,
        &weight,
        bias.as_deref(),
        (n, c, oc),
    )
}

/// The fast CPU matmul the model runs where WebGPU is missing (blocked, WebAssembly SIMD): the CPU side of the
/// kernel check compares it with the reference.
#[wasm_bindgen(js_name = matmulForwardFastCpu)]
pub fn matmul_forward_fast_cpu_js(
    inp: Vec<f32>,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    n: usize,
    c: usize,
    oc: usize,
) -> Result<Vec<f32>, JsError> {
    cpu_matmul(
        matmul_forward_fast_cpu,
        &inp,
        &weight,
        bias.as_deref(),
        (n, c, oc),
    )
}

type CpuMatmul = fn(&mut [f32], &[f32], &[f32], Option<&[f32]>, usize, usize, usize);

/// out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias by `matmul`, after checking the lengths fit the sizes.
fn cpu_matmul(
    matmul: CpuMatmul,
    inp: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    (n, c, oc): (usize, usize, usize),
) -> Result<Vec<f32>, JsError> {
    crate::ops::matmul_forward::check_shapes(
        n * oc,
        inp.len(),
        weight.len(),
        bias.map(<[f32]>::len),
        n,
        c,
        oc,
    )
    .map_err(to_js)?;
    let mut out = vec![0.0; n * oc];
    matmul(&mut out, inp, weight, bias, n, c, oc);
    Ok(out)
}
