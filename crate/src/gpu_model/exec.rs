//! The GPU executor: each op call of the model's description becomes a dispatch recorded into a [`Plan`]
//! (bind groups and uniforms made once), which the model replays every step. Dropout sites are remembered
//! with their dispatch, so that a plan built once draws new masks every step ([`RecordedSite::reseed`]).

use crate::exec::{Allocator, DropoutSite, Executor, Store, Tensor, site_seed};
use crate::gpu::{Elem, GpuContext, Plan, View};
use crate::ops::attention_backward::attention_backward_gpu;
use crate::ops::attention_backward_fused::attention_backward_fused_gpu;
use crate::ops::attention_decode::attention_decode_gpu;
use crate::ops::attention_forward::attention_forward_gpu;
use crate::ops::attention_forward_fused::{
    FusedAttentionParams, attention_forward_fused_gpu, attention_fused_reseed,
};
use crate::ops::attention_mask::{AttentionDropout, AttentionMask};
use crate::ops::cross_attention_backward::cross_attention_backward_gpu;
use crate::ops::cross_attention_forward::cross_attention_forward_gpu;
use crate::ops::crossentropy_backward::crossentropy_backward_gpu;
use crate::ops::crossentropy_forward::crossentropy_forward_gpu;
use crate::ops::dropout_backward::dropout_backward_gpu;
use crate::ops::dropout_forward::{dropout_forward_gpu, dropout_forward_reseed};
use crate::ops::encoder_backward::encoder_backward_gpu;
use crate::ops::encoder_forward::{encoder_forward_rows_gpu, sinusoidal_table};
use crate::ops::gelu_backward::gelu_backward_gpu;
use crate::ops::gelu_forward::gelu_forward_gpu;
use crate::ops::layernorm_backward::layernorm_backward_gpu;
use crate::ops::layernorm_forward::layernorm_forward_gpu;
use crate::ops::matmul_backward::matmul_backward_gpu;
use crate::ops::matmul_forward::matmul_forward_fast_gpu;
use crate::ops::meanpool_backward::meanpool_backward_gpu;
use crate::ops::meanpool_forward::meanpool_forward_gpu;
use crate::ops::relu_backward::relu_backward_gpu;
use crate::ops::relu_forward::relu_forward_gpu;
use crate::ops::residual_forward::residual_forward_gpu;
use crate::ops::rope_backward::rope_backward_gpu;
use crate::ops::rope_forward::rope_forward_gpu;
use crate::ops::scale_forward::scale_forward_gpu;

/// The GPU buffers behind tensor handles: the flat parameter and gradient buffers (each tensor at its padded
/// offset) and the activation and token buffers made through [`Executor::alloc`] (a freed one leaves `None`).
pub struct GpuStore {
    pub params: wgpu::Buffer,
    pub grads: wgpu::Buffer,
    /// Offset of each parameter tensor (by spec index) in `params`.
    pub offsets: Vec<usize>,
    /// Where the trainable tensors start in `params`: `grads` (and AdamW's moments) hold those alone, a tensor's
    /// gradient at its offset less this one (0 for full training; with LoRA the adapters' start).
    pub grad_base: usize,
    /// The largest storage binding in bytes (the device's, or less in tests): larger weights are bound in chunks.
    pub binding_limit: u64,
    pub acts: Vec<Option<wgpu::Buffer>>,
    /// The element type of each activation buffer (f16 ones are made by an executor in mixed precision).
    pub act_elems: Vec<Elem>,
    pub tokens: Vec<Option<wgpu::Buffer>>,
    /// Mixed precision: the f16 copy of `params` (same offsets) that the f16 kernels read, refreshed from the
    /// f32 master weights after every optimizer step.
    pub params_f16: Option<wgpu::Buffer>,
}

impl GpuStore {
    /// The buffer and range of tensor `t`.
    pub fn view(&self, t: Tensor) -> View<'_> {
        let freed = "a tensor of a freed buffer";
        match t.store {
            Store::Param(id) => View::range(&self.params, self.offsets[id] + t.offset, t.len),
            Store::Grad(id) => View::range(
                &self.grads,
                self.offsets[id] - self.grad_base + t.offset,
                t.len,
            ),
            Store::Act(i) => View {
                elem: self.act_elems[i],
                ..View::range(self.acts[i].as_ref().expect(freed), t.offset, t.len)
            },
            Store::Tokens(i) => View::range(self.tokens[i].as_ref().expect(freed), t.offset, t.len),
        }
    }

    /// [`Self::view`] as an executor in mixed precision sees it: parameters from the f16 copy.
    pub fn view_f16(&self, t: Tensor) -> View<'_> {
        match (t.store, &self.params_f16) {
            (Store::Param(id), Some(params)) => View {
                elem: Elem::F16,
                ..View::range(params, self.offsets[id] + t.offset, t.len)
            },
            _ => self.view(t),
        }
    }

    /// The whole buffer of an activation or token tensor.
    pub fn buffer(&self, t: Tensor) -> &wgpu::Buffer {
        self.view(t).buffer
    }

    /// Drops the buffers of `tensors` (activations or tokens).
    pub fn free(&mut self, tensors: impl IntoIterator<Item = Tensor>) {
        for t in tensors {
            match t.store {
                Store::Act(i) => self.acts[i] = None,
                Store::Tokens(i) => self.tokens[i] = None,
                _ => {}
            }
        }
    }

    /// Bytes of the activation and token buffers alive.
    pub fn bytes(&self) -> u64 {
        self.acts
            .iter()
            .chain(&self.tokens)
            .flatten()
            .map(wgpu::Buffer::size)
            .sum()
    }
}

/// A dropout dispatch of a plan, reseeded every step.
#[derive(Clone, Copy, Debug)]
pub struct RecordedSite {
    index: usize,
    site: DropoutSite,
    n: usize,
    /// A fused attention dispatch (forward or backward) that draws the attention dropout inline: its params.
    fused: Option<FusedAttentionParams>,
}

impl RecordedSite {
    /// Gives the dispatch the mask of this site for the pass seeded with `seed` (as the CPU executor draws it).
    pub fn reseed(&self, gpu: &GpuContext, plan: &Plan, seed: u64) {
        let seed = site_seed(seed, self.site.layer, self.site.site);
        match self.fused {
            Some(params) => attention_fused_reseed(gpu, plan, self.index, params, seed),
            None => dropout_forward_reseed(gpu, plan, self.index, self.site.p, seed, self.n),
        }
    }
}

/// Records op calls into a plan over a [`GpuStore`].
pub struct GpuExecutor<'a> {
    gpu: &'a GpuContext,
    store: &'a mut GpuStore,
    fused: bool,
    /// Mixed precision: activations allocated as f16 (all but the f32 statistics, [`is_f32_statistic`]) and
    /// the parameters read from the store's f16 copy, so every dispatch runs its kernel's f16 build.
    f16: bool,
    plan: Plan,
    sites: Vec<RecordedSite>,
}

/// The activations that stay f32 in mixed precision, by their label (the description's names): LayerNorm's
/// mean and rstd, the attention's log-sum-exp and delta rows, the losses and their gradients. Every kernel
/// binds these as f32 in both builds.
pub fn is_f32_statistic(label: &str) -> bool {
    label.ends_with("_mean")
        || label.ends_with("_rstd")
        || matches!(label, "lse" | "delta" | "losses" | "dlosses")
}

/// The views of an executor's tensors (parameters from the f16 copy in mixed precision).
struct Views<'a> {
    store: &'a GpuStore,
    f16: bool,
}

impl Views<'_> {
    fn view(&self, t: Tensor) -> View<'_> {
        if self.f16 {
            self.store.view_f16(t)
        } else {
            self.store.view(t)
        }
    }
}

impl<'a> GpuExecutor<'a> {
    /// `fused`: run attention with the fused kernels (online softmax, no (T, T) maps).
    pub fn new(gpu: &'a GpuContext, store: &'a mut GpuStore, fused: bool) -> Self {
        Self {
            gpu,
            store,
            fused,
            f16: false,
            plan: Plan::new(),
            sites: Vec::new(),
        }
    }

    /// Records in mixed precision (f16 activations and weights; the store needs its `params_f16`).
    pub fn with_f16(mut self, f16: bool) -> Self {
        assert!(
            !f16 || self.store.params_f16.is_some(),
            "mixed precision needs the f16 copy of the parameters"
        );
        self.f16 = f16;
        self
    }

    /// The recorded plan and its dropout dispatches.
    pub fn finish(self) -> (Plan, Vec<RecordedSite>) {
        (self.plan, self.sites)
    }

    fn record_site(
        &mut self,
        index: usize,
        site: DropoutSite,
        n: usize,
        fused: Option<FusedAttentionParams>,
    ) {
        self.sites.push(RecordedSite {
            index,
            site,
            n,
            fused,
        });
    }
}

/// The seed is written per step (`RecordedSite::reseed`); 0 until then.
fn attention_dropout(site: Option<DropoutSite>) -> Option<AttentionDropout> {
    site.map(|site| AttentionDropout { p: site.p, seed: 0 })
}

impl Allocator for GpuExecutor<'_> {
    fn alloc(&mut self, label: &'static str, len: usize) -> Tensor {
        let f16 = self.f16 && !is_f32_statistic(label);
        self.store.acts.push(Some(if f16 {
            self.gpu.zeros_f16(label, len)
        } else {
            self.gpu.zeros(label, len)
        }));
        self.store
            .act_elems
            .push(if f16 { Elem::F16 } else { Elem::F32 });
        Tensor {
            store: Store::Act(self.store.acts.len() - 1),
            offset: 0,
            len,
        }
    }

    fn alloc_tokens(&mut self, label: &'static str, len: usize) -> Tensor {
        self.store
            .tokens
            .push(Some(self.gpu.upload_u32(label, &vec![0; len])));
        Tensor {
            store: Store::Tokens(self.store.tokens.len() - 1),
            offset: 0,
            len,
        }
    }

    fn fused_attention(&self) -> bool {
        self.fused
    }

    fn sinusoidal_table(&mut self, out: Tensor, pos0: usize, t: usize, c: usize) {
        // A constant: computed here once and written, not recorded.
        let mut table = vec![0.0f32; t * c];
        sinusoidal_table(&mut table, pos0, t, c);
        let view = self.store.view(out);
        if view.is_f16() {
            let mut halves: Vec<u16> = table
                .iter()
                .map(|&x| half::f16::from_f32(x).to_bits())
                .collect();
            halves.resize(halves.len().next_multiple_of(2), 0);
            self.gpu.queue.write_buffer(
                view.buffer,
                view.offset * 2,
                bytemuck::cast_slice(&halves),
            );
        } else {
            self.gpu
                .queue
                .write_buffer(view.buffer, view.offset * 4, bytemuck::cast_slice(&table));
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[rustfmt::skip]
impl Executor for GpuExecutor<'_> {
    fn encoder_forward(&mut self, out: Tensor, inp: Tensor, wte: Tensor, pos: Option<Tensor>, b: usize, t: usize, c: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        let (table, v) = (s.view(wte), wte.len / c.max(1));
        match super::split::chunk_rows(s.store.binding_limit, v, c) {
            // Larger than one binding (GPT-2's wte on 128 MiB): each chunk of rows writes its tokens' positions.
            Some(rows) => {
                for v0 in (0..v).step_by(rows.max(1)) {
                    let rows_here = super::split::part(table, v0 * c, rows.min(v - v0) * c);
                    encoder_forward_rows_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), rows_here, Some(v0), pos.map(|x| s.view(x)), b, t, c);
                }
            }
            None => encoder_forward_rows_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), table, None, pos.map(|x| s.view(x)), b, t, c),
        }
    }

    fn encoder_backward(&mut self, dwte: Tensor, dpos: Option<Tensor>, dout: Tensor, inp: Tensor, b: usize, t: usize, c: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        encoder_backward_gpu(self.gpu, &mut self.plan, s.view(dwte), dpos.map(|x| s.view(x)), s.view(dout), s.view(inp), b, t, c);
    }

    fn layernorm_forward(&mut self, out: Tensor, mean: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, bias: Option<Tensor>, b: usize, t: usize, c: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        layernorm_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(mean), s.view(rstd), s.view(inp), s.view(w), bias.map(|x| s.view(x)), b, t, c);
    }

    fn layernorm_backward(&mut self, dinp: Tensor, dw: Tensor, dbias: Option<Tensor>, dout: Tensor, inp: Tensor, w: Tensor, mean: Tensor, rstd: Tensor, b: usize, t: usize, c: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        layernorm_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), s.view(dw), dbias.map(|x| s.view(x)), s.view(dout), s.view(inp), s.view(w), s.view(mean), s.view(rstd), b, t, c);
    }

    fn matmul_forward(&mut self, out: Tensor, inp: Tensor, w: Tensor, bias: Option<Tensor>, bt: usize, c: usize, oc: usize) {
        // The dispatcher picks the direct, subgroup or tiled kernel for the shape and the adapter.
        let s = Views { store: &*self.store, f16: self.f16 };
        let (out, inp, w, bias) = (s.view(out), s.view(inp), s.view(w), bias.map(|x| s.view(x)));
        match super::split::chunk_rows(s.store.binding_limit, oc, c) {
            // One position's logits over a weight larger than one binding (the lm-head's wte): chunks of output
            // rows, each writing its slice of out (contiguous for one position). Batched passes bind it whole
            // (GpuGpt::forward refuses first when it does not fit).
            Some(rows) if bt == 1 => {
                for o0 in (0..oc).step_by(rows.max(1)) {
                    let n = rows.min(oc - o0);
                    let part = super::split::part;
                    matmul_forward_fast_gpu(self.gpu, &mut self.plan, part(out, o0, n), inp, part(w, o0 * c, n * c), bias.map(|b| part(b, o0, n)), 1, c, n);
                }
            }
            _ => matmul_forward_fast_gpu(self.gpu, &mut self.plan, out, inp, w, bias, bt, c, oc),
        }
    }

    fn matmul_backward(&mut self, dinp: Tensor, dw: Option<Tensor>, dbias: Option<Tensor>, dout: Tensor, inp: Tensor, w: Tensor, bt: usize, c: usize, oc: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        matmul_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), dw.map(|x| s.view(x)), dbias.map(|x| s.view(x)), s.view(dout), s.view(inp), s.view(w), bt, c, oc);
    }

    fn rope_forward(&mut self, out: Tensor, inp: Tensor, pos0: usize, b: usize, t: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        rope_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), pos0, b, t, c, nh);
    }

    fn rope_backward(&mut self, dinp: Tensor, dout: Tensor, pos0: usize, b: usize, t: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        rope_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), s.view(dout), pos0, b, t, c, nh);
    }

    fn attention_forward(&mut self, out: Tensor, preatt: Tensor, att: Tensor, qkv: Tensor, att_mask: Option<Tensor>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        attention_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(preatt), s.view(att), s.view(qkv), att_mask.map(|x| s.view(x)), mask, b, t, c, nh);
    }

    fn attention_backward(&mut self, dqkv: Tensor, dpreatt: Tensor, datt: Tensor, dout: Tensor, qkv: Tensor, att: Tensor, att_mask: Option<Tensor>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        attention_backward_gpu(self.gpu, &mut self.plan, s.view(dqkv), s.view(dpreatt), s.view(datt), s.view(dout), s.view(qkv), s.view(att), att_mask.map(|x| s.view(x)), mask, b, t, c, nh);
    }

    fn attention_forward_fused(&mut self, out: Tensor, lse: Tensor, qkv: Tensor, dropout: Option<DropoutSite>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        let (index, params) = attention_forward_fused_gpu(self.gpu, &mut self.plan, s.view(out), s.view(lse), s.view(qkv), attention_dropout(dropout), mask, b, t, c, nh);
        if let Some(site) = dropout {
            self.record_site(index, site, b * nh * t * t, Some(params));
        }
    }

    fn attention_backward_fused(&mut self, dqkv: Tensor, delta: Tensor, dout: Tensor, qkv: Tensor, out: Tensor, lse: Tensor, dropout: Option<DropoutSite>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        let (indices, params) = attention_backward_fused_gpu(self.gpu, &mut self.plan, s.view(dqkv), s.view(delta), s.view(dout), s.view(qkv), s.view(out), s.view(lse), attention_dropout(dropout), mask, b, t, c, nh);
        if let Some(site) = dropout {
            for index in indices {
                self.record_site(index, site, b * nh * t * t, Some(params));
            }
        }
    }

    fn cross_attention_forward(&mut self, out: Tensor, preatt: Tensor, att: Tensor, q: Tensor, kv: Tensor, att_mask: Option<Tensor>, b: usize, tq: usize, tk: usize, c: usize, nh: usize) {
        let s = &*self.store;
        cross_attention_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(preatt), s.view(att), s.view(q), s.view(kv), att_mask.map(|x| s.view(x)), b, tq, tk, c, nh);
    }

    fn cross_attention_backward(&mut self, dq: Tensor, dkv: Tensor, dpreatt: Tensor, datt: Tensor, dout: Tensor, q: Tensor, kv: Tensor, att: Tensor, att_mask: Option<Tensor>, b: usize, tq: usize, tk: usize, c: usize, nh: usize) {
        let s = &*self.store;
        cross_attention_backward_gpu(self.gpu, &mut self.plan, s.view(dq), s.view(dkv), s.view(dpreatt), s.view(datt), s.view(dout), s.view(q), s.view(kv), s.view(att), att_mask.map(|x| s.view(x)), b, tq, tk, c, nh);
    }

    fn attention_decode(&mut self, out: Tensor, k_cache: Tensor, v_cache: Tensor, qkv: Tensor, len: usize, t_max: usize, c: usize, nh: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        attention_decode_gpu(self.gpu, &mut self.plan, s.view(out), None, s.view(k_cache), s.view(v_cache), s.view(qkv), len, t_max, c, nh);
    }

    fn gelu_forward(&mut self, out: Tensor, inp: Tensor, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        gelu_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), n);
    }

    fn gelu_backward(&mut self, dinp: Tensor, inp: Tensor, dout: Tensor, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        gelu_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), s.view(inp), s.view(dout), n);
    }

    fn relu_forward(&mut self, out: Tensor, inp: Tensor, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        relu_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), n);
    }

    fn relu_backward(&mut self, dinp: Tensor, inp: Tensor, dout: Tensor, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        relu_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), s.view(inp), s.view(dout), n);
    }

    fn meanpool_forward(&mut self, out: Tensor, inp: Tensor, b: usize, t: usize, c: usize) {
        let s = &*self.store;
        meanpool_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), b, t, c);
    }

    fn meanpool_backward(&mut self, dinp: Tensor, dout: Tensor, b: usize, t: usize, c: usize) {
        let s = &*self.store;
        meanpool_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), s.view(dout), b, t, c);
    }

    fn scale_forward(&mut self, out: Tensor, inp: Tensor, scale: f32, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        scale_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp), scale, n);
    }

    fn residual_forward(&mut self, out: Tensor, inp1: Tensor, inp2: Tensor, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        residual_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(inp1), s.view(inp2), n);
    }

    fn dropout_forward(&mut self, out: Tensor, mask: Tensor, inp: Tensor, site: DropoutSite, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        let index = dropout_forward_gpu(self.gpu, &mut self.plan, s.view(out), s.view(mask), s.view(inp), site.p, 0, n);
        self.record_site(index, site, n, None);
    }

    fn dropout_mask(&mut self, mask: Tensor, [inp, out]: [Tensor; 2], site: DropoutSite, n: usize) {
        // The dropout kernel writes the mask and a throwaway output (WebGPU forbids binding one buffer twice
        // when either binding is written, hence two scratch buffers).
        self.dropout_forward(out, mask, inp, site, n);
    }

    fn dropout_backward(&mut self, dinp: Tensor, dout: Tensor, mask: Tensor, n: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        dropout_backward_gpu(self.gpu, &mut self.plan, s.view(dinp), s.view(dout), s.view(mask), n);
    }

    fn crossentropy_forward(&mut self, losses: Tensor, probs: Tensor, logits: Tensor, targets: Tensor, b: usize, t: usize, v: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        crossentropy_forward_gpu(self.gpu, &mut self.plan, s.view(losses), s.view(probs), s.view(logits), s.view(targets), b, t, v);
    }

    fn crossentropy_backward(&mut self, dlogits: Tensor, dlosses: Tensor, probs: Tensor, targets: Tensor, b: usize, t: usize, v: usize) {
        let s = Views { store: &*self.store, f16: self.f16 };
        crossentropy_backward_gpu(self.gpu, &mut self.plan, s.view(dlogits), s.view(dlosses), s.view(probs), s.view(targets), b, t, v);
    }
}
