//! Model files other tools write and read: Hugging Face GPT-2 directories ([`hf`]) and PEFT LoRA adapters
//! ([`peft`]). Our own safetensors with nanoGPT's names are in [`crate::model::weights`].
//!
//! Everything here works on bytes, not paths: a directory is a [`Files`] map of file name -> bytes, so the
//! CLI (which reads a folder), the package and the page (which get the files a person picked) share one code
//! path and the same errors.

pub mod hf;
pub mod peft;
pub(crate) mod safetensors_io;

pub use hf::{HfModel, export_hf, hf_config, import_hf};
pub use peft::{export_peft, import_peft};
pub use safetensors_io::{NamedTensor, write_f32 as write_f32_tensors};

/// A model directory as file name -> bytes (names without folders: `config.json`, `model.safetensors`, ..).
pub type Files = std::collections::BTreeMap<String, Vec<u8>>;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod hf_tests;
