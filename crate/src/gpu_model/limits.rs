//! Device limits: what the adapter can bind, checked before anything is allocated.

use crate::gpu::GpuContext;
use crate::model::ModelConfig;
use crate::model::buffers::{Acts, Grads};
use crate::model::memory::{Tally, padded_offsets};
use crate::model::params::ParamLayout;
use crate::{Result, invalid_input};

/// Refuses a config whose buffers the adapter cannot bind, before anything is allocated, saying what to shrink.
/// Sizes are counted in u64: on wasm32 a product like NH x T x T can overflow `usize`.
pub fn check_limits(gpu: &GpuContext, config: &ModelConfig) -> Result<()> {
    config.validate()?;
    let (c, t, nh, v, f) = (
        config.n_embd as u64,
        config.block_size as u64,
        config.n_head as u64,
        config.vocab_size as u64,
        config.ffn_width() as u64,
    );
    // The weights, their gradients and AdamW's two moments are flat buffers (each tensor padded to the binding
    // alignment; gradients and moments of the trainable tensors only): each must be one buffer of the device.
    // Kernels bind them one tensor at a time, or in pieces of one binding (the norm, the clip, the f16 copy), so
    // only the largest weight must fit one binding.
    let layout = ParamLayout::new(config);
    let padded = padded_offsets(&layout).1;
    // The largest single weight (a block's FFN or attention matrix, or the embeddings) is bound whole.
    let widest = layout
        .specs
        .iter()
        .max_by_key(|spec| spec.len)
        .map(|spec| {
            let shape: Vec<String> = spec.shape.iter().map(usize::to_string).collect();
            (
                format!("the weight {} ({})", spec.name, shape.join(" x ")),
                spec.len as u64,
            )
        })
        .unwrap_or_default();
    // The largest tensors of one sequence of block_size tokens (a batch scales the activations further: see
    // check_batch_limits), then the largest weight, then the flat buffers against the largest buffer. The
    // attention map is what the inspection path draws.
    let largest = [
        (
            "the attention map of one sequence (NH x T x T)",
            nh * t * t,
            "shrink the context or the number of heads",
        ),
        (
            "the logits of one sequence (T x V)",
            t * v,
            "shrink the context or the vocabulary",
        ),
        (
            "the FFN activations of one sequence (T x FFN width)",
            t * f,
            "shrink the context or the FFN width",
        ),
        (
            "the token embedding (V x C)",
            v * c,
            "shrink the vocabulary or d_model",
        ),
    ];
    for (what, floats, shrink) in largest {
        check_binding(gpu, what, floats * 4, shrink)?;
    }
    check_binding(
        gpu,
        &widest.0,
        widest.1 * 4,
        "shrink d_model or the FFN width",
    )?;
    // One buffer each: the weights, and as large or smaller their gradients and AdamW's two moments.
    let (bytes, most) = (4 * padded as u64, gpu.summary.max_buffer_size);
    if bytes > most {
        invalid_input!(
            "the weights of the {} parameters need one buffer of {} (their gradients and AdamW's two moments \
             one buffer each, as large) but this GPU allows buffers of at most {}: shrink the model: fewer \
             layers, or a smaller d_model, vocabulary or FFN width",
            config.param_count(),
            size(bytes, most),
            size(most, bytes)
        );
    }
    Ok(())
}

/// Refuses a training or evaluation batch of `b` sequences of `t` tokens whose activations the adapter cannot
/// bind, before they are allocated, saying how large a batch fits. `attention_maps`: whether the batch keeps
/// the (B, NH, T, T) maps (the readable attention path; the fused one keeps none).
pub fn check_batch_limits(
    gpu: &GpuContext,
    config: &ModelConfig,
    b: usize,
    t: usize,
    attention_maps: bool,
) -> Result<()> {
    // Numbers per sequence of each buffer the description allocates (activations and gradient scratch): the
    // sizes for two sequences less those for one (what does not grow with the batch drops out).
    let sizes = |sequences: usize| {
        let mut sizes = Tally {
            buffers: Vec::new(),
            fused: !attention_maps,
        };
        let att = sequences * config.n_head * t * t;
        let acts = Acts::new(&mut sizes, config, sequences * t, att, config.has_dropout());
        Grads::new(&mut sizes, config, &acts);
        sizes.buffers
    };
    let (one, two) = (sizes(1), sizes(2));
    // The largest, the first of equals (the logits before their gradient).
    let largest = one
        .iter()
        .zip(&two)
        .fold(None, |largest, (&(what, one), &(_, two))| {
            let per_sequence = (two - one) as u64;
            match largest {
                Some((_, most)) if most >= per_sequence => largest,
                _ => Some((what, per_sequence)),
            }
        });
    let limit = gpu.summary.max_storage_buffer_binding_size;
    if let Some((what, per_sequence)) = largest {
        let bytes = per_sequence * 4 * b as u64;
        if bytes > limit {
            let fits = limit / (per_sequence * 4).max(1);
            invalid_input!(
                "a batch of {b} sequences of {t} tokens needs {} for its {what}, but this GPU binds at most {} per buffer: use a batch of at most {fits} sequences, or a shorter context",
                size(bytes, limit),
                size(limit, bytes)
            );
        }
    }
    Ok(())
}

/// `what` (`bytes`) against the adapter's largest storage binding.
fn check_binding(gpu: &GpuContext, what: &str, bytes: u64, shrink: &str) -> Result<()> {
    let limit = gpu.summary.max_storage_buffer_binding_size;
    if bytes > limit {
        invalid_input!(
            "{what} needs {} but this GPU binds at most {} per buffer: {shrink}",
            size(bytes, limit),
            size(limit, bytes)
        );
    }
    Ok(())
}

/// `bytes` in MiB with one decimal, or in bytes where that would look equal to `other`'s.
pub(super) fn size(bytes: u64, other: u64) -> String {
    let mib = |n: u64| format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20));
    if mib(bytes) == mib(other) {
        format!("{bytes} bytes")
    } else {
        mib(bytes)
    }
}
