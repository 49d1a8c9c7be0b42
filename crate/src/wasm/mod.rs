//! The JavaScript API of the core (browser and Node), through wasm-bindgen.
//!
//! Every fallible call returns `Result<_, JsError>` with a sentence a person understands; the panic hook
//! turns any remaining panic into a readable console message instead of a bare `unreachable`.
//! One file per area: `gpu` (device and kernel checks), and the tokenizer and model bindings beside it.

use wasm_bindgen::prelude::*;

pub mod classify;
pub mod corpus;
pub mod display;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "gpu")]
pub mod gpu_model;
pub mod hf;
pub mod lab;
pub mod model;
#[cfg(feature = "seq2seq-wasm")]
pub mod seq2seq;
pub mod size;
pub mod split;
pub mod stream;
pub mod tokenizer;

/// The report of the last panic (a bug in the core), kept so JavaScript can show it after the trap.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = Some(info.to_string());
        }
        // The message, file, line and a JS stack in the console, instead of a bare `unreachable`.
        console_error_panic_hook::hook(info);
    }));
}

/// What the last panic said ("panicked at crate/src/...: message"), or `undefined` if none happened.
/// A panic is a bug in the core: it surfaces in JavaScript as a `WebAssembly.RuntimeError` ("unreachable"),
/// and the module's state is not to be trusted after it. Callers show this text and start a fresh module
/// (the page restarts its worker).
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|slot| slot.clone())
}

/// Panics on purpose with `message`, so tests can check how a panic is reported and recovered from.
#[wasm_bindgen(js_name = debugPanic)]
pub fn debug_panic(message: &str) {
    panic!("{message}");
}

/// Turns the wasm simd128 versions of the elementwise CPU kernels (GELU, LayerNorm, AdamW, attention's
/// softmax) off or on (on by default), so a test can check they give the scalar code's bits.
#[wasm_bindgen(js_name = debugSimdKernels)]
pub fn debug_simd_kernels(on: bool) {
    crate::ops::simd128::set_enabled(on);
}

/// The version of the core, from Cargo.toml.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Options from a JSON string, a plain object, or `undefined`/`null` (the defaults, when there are some).
/// Objects go through `JSON.stringify` and serde_json, so a misspelt field is an error (serde-wasm-bindgen
/// would silently skip it).
pub(crate) fn options<T: serde::de::DeserializeOwned>(
    value: JsValue,
    what: &str,
) -> Result<T, JsError> {
    let text = if let Some(text) = value.as_string() {
        text
    } else if value.is_undefined() || value.is_null() {
        "{}".to_string()
    } else {
        reject_non_finite(&value, what)?;
        js_sys::JSON::stringify(&value)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| {
                JsError::new(&format!("{what}: expected a JSON string or a plain object"))
            })?
    };
    serde_json::from_str(&text).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

/// JSON has no NaN or Infinity (`JSON.stringify` writes them as `null`), so a field set to one would read as
/// "invalid type: null"; name the field and its value instead.
fn reject_non_finite(value: &JsValue, what: &str) -> Result<(), JsError> {
    if !value.is_object() {
        return Ok(());
    }
    for entry in js_sys::Object::entries(value.unchecked_ref()).iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        if let Some(number) = pair.get(1).as_f64()
            && !number.is_finite()
        {
            let name = pair.get(0).as_string().unwrap_or_default();
            return Err(JsError::new(&format!(
                "{what}: `{name}` is {}; it must be a finite number",
                if number.is_nan() {
                    "NaN"
                } else if number > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
            )));
        }
    }
    Ok(())
}

/// A plain JavaScript object (JSON-compatible: maps become objects, not `Map`s).
pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

pub(crate) fn to_js(error: crate::Error) -> JsError {
    JsError::new(&error.to_string())
}
