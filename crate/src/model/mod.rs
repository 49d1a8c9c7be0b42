//! The model on the CPU: a GPT you can read, with exact gradients (llm.c style: one function per layer
//! and pass in [`crate::ops`], explicit activation buffers, explicit backward).

pub mod augment;
pub mod batches;
pub mod beam;
pub mod buffers;
pub mod capture;
pub mod classifier;
pub mod config;
pub mod cross_block;
pub mod encdec;
pub mod encdec_io;
pub mod generate;
pub mod gpt;
pub mod lora;
mod lora_linear;
pub mod memory;
pub mod mlm;
pub mod params;
pub mod seq2seq_train;
pub mod train;
pub mod transformer;
pub mod weights;

pub use config::{Activation, ClassifierConfig, ModelConfig, Positional};
pub use gpt::Gpt;
pub use mlm::Objective;
pub use train::{EvalStats, LossScaleReport, Precision, StepStats, TrainOptions, Trainer};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod gradcheck_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod acceptance_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod lora_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod encdec_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod finetune_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod checkpoint_tests;
