//! The JavaScript API of the core (browser and Node), through wasm-bindgen.
//!
//! Every fallible call returns `Result<_, JsError>` with a sentence a person understands; the panic hook
//! turns any remaining panic into a readable console message instead of a bare `unreachable`.
//! One file per area: `gpu` (device and kernel checks), and the tokenizer and model bindings beside it.

use wasm_bindgen::prelude::*;

pub mod corpus;
pub mod gpu;
pub mod gpu_model;
pub mod model;
pub mod tokenizer;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The version of the core, from Cargo.toml.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Options from a JSON string, a plain object, or `undefined`/`null` (the defaults, when there are some).
pub(crate) fn options<T: serde::de::DeserializeOwned>(
    value: JsValue,
    what: &str,
) -> Result<T, JsError> {
    if let Some(text) = value.as_string() {
        return serde_json::from_str(&text).map_err(|e| JsError::new(&format!("{what}: {e}")));
    }
    let value = if value.is_undefined() || value.is_null() {
        js_sys::Object::new().into()
    } else {
        value
    };
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("{what}: {e}")))
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
