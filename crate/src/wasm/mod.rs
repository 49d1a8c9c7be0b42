//! The JavaScript API of the core (browser and Node), through wasm-bindgen.
//!
//! Every fallible call returns `Result<_, JsError>` with a sentence a person understands; the panic hook
//! turns any remaining panic into a readable console message instead of a bare `unreachable`.
//! One file per area: `gpu` (device and kernel checks), and the tokenizer and model bindings beside it.

use wasm_bindgen::prelude::*;

pub mod corpus;
pub mod gpu;
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

pub(crate) fn to_js(error: crate::Error) -> JsError {
    JsError::new(&error.to_string())
}
