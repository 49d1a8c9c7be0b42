//! `tplay memory`: the training footprint of a config and batch (parameters, gradients, AdamW's moments,
//! activations, scratch) in f32 and f16, without and with activation checkpointing, as the GPU executor
//! allocates it (`model::memory`); with `--device gpu` the adapter's limits are marked.

use std::path::PathBuf;

use clap::Args;
use transformer_playground::Result;
use transformer_playground::model::ModelConfig;
use transformer_playground::model::memory::{DeviceLimits, MemoryReport};

use crate::model_cmd::{Device, model_config};

#[derive(Args)]
pub struct MemoryArgs {
    /// Model config JSON. Default: the reference config (L=4, NH=4, C=128, T=64).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Vocabulary size when the config leaves it out.
    #[arg(long, default_value_t = 65)]
    vocab_size: usize,
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Tokens per sequence (0: the config's block_size).
    #[arg(long, default_value_t = 0)]
    seq_len: usize,
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Blocks per recomputed group in the checkpointing columns.
    #[arg(long, default_value_t = 1)]
    checkpoint_every: usize,
    /// Count the readable attention (it keeps the (B, NH, T, T) maps) instead of the fused one.
    #[arg(long)]
    readable_attention: bool,
    /// `gpu` marks this adapter's limits (largest storage binding, largest buffer).
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: MemoryArgs) -> Result<()> {
    let config = model_config(args.config.as_deref(), args.vocab_size)?;
    let limits = device_limits(args.device)?;
    let t = if args.seq_len == 0 {
        config.block_size
    } else {
        args.seq_len
    };
    let report = report(
        &config,
        args.batch_size,
        t,
        args.grad_accum,
        args.checkpoint_every,
        !args.readable_attention,
        limits,
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// The report after the checks every trainer makes on the config and batch.
pub fn report(
    config: &ModelConfig,
    b: usize,
    t: usize,
    grad_accum: usize,
    every: usize,
    fused: bool,
    limits: Option<DeviceLimits>,
) -> Result<MemoryReport> {
    config.validate()?;
    if b == 0 || t == 0 || t > config.block_size || grad_accum == 0 {
        return Err(transformer_playground::Error::InvalidInput(format!(
            "a batch needs B >= 1, 1 <= T <= block_size ({}) and grad_accum >= 1",
            config.block_size
        )));
    }
    Ok(MemoryReport::new(
        config, b, t, grad_accum, every, fused, limits,
    ))
}

#[cfg(feature = "gpu")]
fn device_limits(device: Device) -> Result<Option<DeviceLimits>> {
    use transformer_playground::gpu::GpuContext;
    match device {
        Device::Cpu => Ok(None),
        Device::Gpu => {
            let gpu = pollster::block_on(GpuContext::new())?;
            Ok(Some(DeviceLimits {
                max_storage_buffer_binding_size: gpu.summary.max_storage_buffer_binding_size,
                max_buffer_size: gpu.summary.max_buffer_size,
            }))
        }
    }
}

#[cfg(not(feature = "gpu"))]
fn device_limits(device: Device) -> Result<Option<DeviceLimits>> {
    match device {
        Device::Cpu => Ok(None),
        Device::Gpu => Err(transformer_playground::Error::InvalidInput(
            "this tplay was built without the `gpu` feature: leave out --device gpu".into(),
        )),
    }
}
