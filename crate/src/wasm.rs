//! The JavaScript API of the core (browser and Node), through wasm-bindgen.
//!
//! Every fallible call returns `Result<_, JsError>` with a sentence a person understands; the panic hook
//! turns any remaining panic into a readable console message instead of a bare `unreachable`.

use wasm_bindgen::prelude::*;

use crate::gpu::GpuContext;
use crate::ops::matmul_forward::{matmul_forward_cpu, matmul_forward_run};

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The version of the core, from Cargo.toml.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// An opened WebGPU device. Create it once and keep it: pipelines are cached on it.
#[wasm_bindgen]
pub struct Gpu {
    context: GpuContext,
}

#[wasm_bindgen]
impl Gpu {
    /// Opens the browser's WebGPU adapter, or fails with a message saying why there is none.
    pub async fn open() -> Result<Gpu, JsError> {
        let context = GpuContext::new().await.map_err(to_js)?;
        Ok(Gpu { context })
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

pub(crate) fn to_js(error: crate::Error) -> JsError {
    JsError::new(&error.to_string())
}
