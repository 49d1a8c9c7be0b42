//! The WebGPU device from JavaScript, and the matmul kernel check the page runs at start.

use std::rc::Rc;
use std::sync::{Arc, Mutex};

use wasm_bindgen::prelude::*;

use super::to_js;
use crate::gpu::GpuContext;
use crate::ops::matmul_forward::{matmul_forward_cpu, matmul_forward_run};

/// An opened WebGPU device. Create it once and keep it: pipelines are cached on it.
#[wasm_bindgen]
pub struct Gpu {
    /// Shared with every `GpuModel` opened on this device.
    pub(crate) context: Rc<GpuContext>,
    /// Why the device was lost (set by wgpu's device-lost callback), or None while it works.
    lost: Arc<Mutex<Option<String>>>,
}

#[wasm_bindgen]
impl Gpu {
    /// Opens the browser's WebGPU adapter, or fails with a message saying why there is none.
    pub async fn open() -> Result<Gpu, JsError> {
        let context = GpuContext::new().await.map_err(to_js)?;
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
        Ok(Gpu {
            context: Rc::new(context),
            lost,
        })
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

/// The CPU reference of the same matmul: the path used where WebGPU is missing.
#[wasm_bindgen(js_name = matmulForwardCpu)]
pub fn matmul_forward_cpu_js(
    inp: Vec<f32>,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    n: usize,
    c: usize,
    oc: usize,
) -> Result<Vec<f32>, JsError> {
    crate::ops::matmul_forward::check_shapes(
        n * oc,
        inp.len(),
        weight.len(),
        bias.as_ref().map(Vec::len),
        n,
        c,
        oc,
    )
    .map_err(to_js)?;
    let mut out = vec![0.0; n * oc];
    matmul_forward_cpu(&mut out, &inp, &weight, bias.as_deref(), n, c, oc);
    Ok(out)
}
