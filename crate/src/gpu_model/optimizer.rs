//! The optimizer of every GPU model (the GPT's and the encoder-decoder's): clipping by the global gradient
//! norm, then one AdamW update per trainable tensor, recorded into a plan over the model's flat buffers.

use super::GpuStore;
use crate::gpu::{GpuContext, Plan, View};
use crate::ops::adamw_update::adamw_update_gpu;
use crate::ops::global_norm::{clip_by_global_norm_pieces_gpu, global_norm_pieces_gpu};

/// AdamW's moments and the step's small buffers, beside a model's flat parameters and gradients.
pub(crate) struct OptimizerState<'a> {
    pub m: &'a wgpu::Buffer,
    pub v: &'a wgpu::Buffer,
    /// (2) the step's global gradient norm, 1 / the loss scale
    pub norm: &'a wgpu::Buffer,
    /// (GLOBAL_NORM_PARTIALS) the norm's first-stage sums
    pub partials: &'a wgpu::Buffer,
    pub adamw_step: &'a wgpu::Buffer,
}

/// Records clipping (or only the norm, when `grad_clip` is 0) and one AdamW update per trainable tensor of
/// `specs` (from `first_trainable` on) of a store whose flat buffers hold `padded_total` numbers: the optimizer
/// of every GPU model (the GPT's and the encoder-decoder's). With mixed precision the caller refreshes the f16
/// copy of the weights after it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_optimizer(
    gpu: &GpuContext,
    plan: &mut Plan,
    store: &GpuStore,
    specs: &[crate::model::params::ParamSpec],
    first_trainable: usize,
    padded_total: usize,
    state: &OptimizerState,
    options: &crate::model::TrainOptions,
) {
    // The gradients are bound in pieces of at most one binding each (a model larger than one binding trains
    // within the per-tensor limit); AdamW binds one tensor at a time.
    let trainable = padded_total - store.grad_base;
    let grads: Vec<View> = super::split::binding_pieces(gpu, store.binding_limit, trainable)
        .into_iter()
        .map(|(start, len)| View::range(&store.grads, start, len))
        .collect();
    let (norm, partials) = (View::all(state.norm), View::all(state.partials));
    if options.grad_clip > 0.0 {
        clip_by_global_norm_pieces_gpu(gpu, plan, &grads, norm, partials, options.grad_clip);
    } else {
        global_norm_pieces_gpu(gpu, plan, norm, partials, &grads);
    }
    let moment = |buffer, id: usize| {
        let offset = store.offsets[id] - store.grad_base;
        View::range(buffer, offset, specs[id].len)
    };
    for (id, spec) in specs.iter().enumerate().skip(first_trainable) {
        adamw_update_gpu(
            gpu,
            plan,
            View::range(&store.params, store.offsets[id], spec.len),
            moment(state.m, id),
            moment(state.v, id),
            moment(&store.grads, id),
            View::all(state.adamw_step),
            norm,
            options.beta1,
            options.beta2,
            options.eps,
            options.weight_decay_of(spec),
            spec.len,
        );
    }
}
