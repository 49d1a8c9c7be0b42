//! transformer-playground: a GPT you can train and take apart.
//!
//! The layers of the crate, each using only those above it:
//! - [`tokenizer`] (text <-> ids), [`corpus`] (built-in data from a seed) and [`rng`] (the one seeded generator).
//! - [`ops`]: one module per layer and pass (llm.c style). Each holds the CPU reference (the spec) and, with
//!   the feature `gpu`, the dispatch of its WGSL kernel from `shaders/` and the test that checks one against
//!   the other.
//! - [`exec`]: executors, what runs the model's op calls ([`exec::cpu`] with the CPU kernels of [`ops`]).
//! - [`metrics`]: scores of generated text against references (BLEU, chrF, ROUGE, exact match), as sacreBLEU and
//!   rouge-score compute them.
//! - [`model`]: the configuration, the parameter layout, the model described once over an executor, training,
//!   generation and weights files.
//! - `gpu` (device, pipeline cache, `Plan`, buffer helpers) and `gpu_model` (the GPU executor and model).
//! - the bindings: `wasm` for the browser and Node (wasm32 only), and the `tplay` CLI natively.
//!
//! The cargo feature `gpu` (on by default) gates wgpu and everything built on it: `gpu`, `gpu_model`, each
//! op's dispatch and GPU tests, the GPU parts of the bindings and the CLI. Without it
//! (`--no-default-features`) the CPU reference, the model on the CPU, the tokenizer and the corpus build and
//! test on their own.

/// The WGSL source of `shaders/<name>.wgsl`, as build.rs copies it into OUT_DIR (without comments in wasm builds).
#[cfg(feature = "gpu")]
macro_rules! shader {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/shaders/", $name, ".wgsl"))
    };
}

pub mod corpus;
pub mod error;
pub mod exec;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "gpu")]
pub mod gpu_model;
pub mod io;
pub mod lab;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod rng;
pub mod sort;
pub mod tokenizer;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Result};
