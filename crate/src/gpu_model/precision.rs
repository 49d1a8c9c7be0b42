//! Mixed precision on the GPU (PyTorch AMP's recipe, spelled out): the activations, their gradients and a copy
//! of the weights are f16 in memory; every kernel runs its f16 build (generated from the same WGSL by
//! `crate/build.rs`), which loads f16, computes and sums in f32 (matmul sums, softmax and LayerNorm
//! statistics, the loss) and stores f16. The master weights, their gradients and AdamW's moments stay f32:
//! the optimizer updates the f32 weights and then refreshes the f16 copy (`cast_forward`). The loss is scaled
//! dynamically ([`LossScaler`](super::LossScaler), GradScaler's rules) so that small gradients do not flush to
//! zero in f16. Which tensors are f16 is listed in docs/precision.md.

use super::GpuGpt;
use crate::gpu::{GpuContext, Plan, View};
use crate::model::{Activation, Positional, Precision, TrainOptions};
use crate::{Result, invalid_input};

/// `values` as f16 bit patterns (rounded to nearest, ties to even), padded to whole 4-byte words.
pub(super) fn halves(values: &[f32]) -> Vec<u16> {
    let mut bits: Vec<u16> = values
        .iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect();
    bits.resize(bits.len().max(1).next_multiple_of(2), 0);
    bits
}

/// The numbers of `view` read back as f32s, whichever its element type (an f16 range that starts or ends
/// inside a 4-byte word is read by whole words).
pub(super) async fn read_view(gpu: &GpuContext, view: View<'_>) -> Result<Vec<f32>> {
    let (offset, len) = (view.offset as usize, view.len as usize);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    if !view.is_f16() {
        let staging = gpu.stage(&mut encoder, &[(view.buffer, offset, len)]);
        gpu.queue.submit([encoder.finish()]);
        return gpu.read_staged(&staging).await;
    }
    let (first_word, end_word) = (offset / 2, (offset + len).div_ceil(2));
    let staging = gpu.stage(
        &mut encoder,
        &[(view.buffer, first_word, end_word - first_word)],
    );
    gpu.queue.submit([encoder.finish()]);
    let words = gpu.read_staged(&staging).await?;
    let bits: &[u16] = bytemuck::cast_slice(&words);
    let skip = offset - first_word * 2;
    Ok(bits[skip..skip + len]
        .iter()
        .map(|&b| half::f16::from_bits(b).to_f32())
        .collect())
}

impl GpuGpt {
    /// The number format training and evaluation run in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Switches between f32 and mixed precision (f16 activations and weight copy, f32 master weights and
    /// optimizer state, dynamic loss scaling from `options`' loss-scale settings). Needs an adapter with
    /// `shader-f16`; without it this is an error that says so, and the model stays f32. The activations and
    /// plans are rebuilt on the next step; the weights and AdamW's moments carry over.
    pub fn set_precision(
        &mut self,
        gpu: &GpuContext,
        precision: Precision,
        options: &TrainOptions,
    ) -> Result<()> {
        if precision == Precision::F16 {
            check_f16(gpu, self)?;
        }
        if precision != self.precision {
            self.precision = precision;
            if let Some(old) = self.buffers.take() {
                self.store.free(old.tensors());
            }
            self.train_plans.clear();
            self.forward_plans.clear();
            self.last_shape = (0, 0);
            self.last_scaling = None;
            self.store.params_f16 = None;
            self.scaler = None;
            if precision == Precision::F16 {
                let params_f16 = gpu.zeros_f16("params f16", self.padded_total);
                let mut plan = Plan::new();
                self.record_f16_copy(gpu, &mut plan, &params_f16);
                gpu.queue.submit([{
                    let mut encoder = gpu.device.create_command_encoder(&Default::default());
                    plan.encode(&mut encoder);
                    encoder.finish()
                }]);
                self.store.params_f16 = Some(params_f16);
            }
        }
        if precision == Precision::F16 {
            self.scaler = Some(super::LossScaler::new(
                options.loss_scale_init,
                options.loss_scale_growth_interval,
            ));
        }
        Ok(())
    }
}

impl GpuGpt {
    /// Records `params_f16` = the f32 weights rounded to f16, in pieces of at most one binding each (a model
    /// larger than one binding; the offsets are the same in both buffers).
    pub(super) fn record_f16_copy(
        &self,
        gpu: &GpuContext,
        plan: &mut Plan,
        params_f16: &wgpu::Buffer,
    ) {
        let pieces = super::split::binding_pieces(gpu, self.store.binding_limit, self.padded_total);
        for (start, len) in pieces {
            let out = View {
                offset: start as u64,
                len: len as u64,
                ..View::all_f16(params_f16)
            };
            let inp = View::range(&self.store.params, start, len);
            crate::ops::cast_forward::cast_forward_gpu(gpu, plan, out, inp, len);
        }
    }
}

/// Why mixed precision cannot run here, if it cannot: the adapter, or a part of the model whose kernels have
/// no f16 build yet.
fn check_f16(gpu: &GpuContext, model: &GpuGpt) -> Result<()> {
    if !gpu.f16 {
        invalid_input!(
            "f16 training needs the WebGPU feature shader-f16, which this adapter ({}) does not offer; \
             training stays f32",
            gpu.summary.name
        );
    }
    let config = &model.config;
    let missing = if config.dropout > 0.0 {
        Some("dropout")
    } else if config.positional == Positional::Rope {
        Some("rotary positions (RoPE)")
    } else if config.activation == Activation::Relu {
        Some("the ReLU activation")
    } else if config.lora.is_some() {
        Some("LoRA adapters")
    } else if config.classifier.is_some() {
        Some("a classification head")
    } else if !model.fused_attention {
        Some("the readable (unfused) attention")
    } else {
        None
    };
    if let Some(part) = missing {
        invalid_input!(
            "f16 training does not cover {part} yet (its kernels have no f16 build): use precision f32 for \
             this model"
        );
    }
    Ok(())
}
