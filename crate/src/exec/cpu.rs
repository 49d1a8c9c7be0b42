//! The CPU executor: each op call runs at once with the `*_cpu` kernels of [`crate::ops`] on host buffers.
//! Generic over the number type (f32 for the model, f64 for the whole-model finite-difference test).
//!
//! The executor borrows what it works on: the parameters and gradients (flat, in [`ParamLayout`] order) and a
//! [`CpuStore`] of activation and token buffers. A call takes its output buffers out of the store (or splits
//! them off the gradients), reads its inputs in place, and puts the outputs back.

use super::{Allocator, DropoutSite, Executor, Store, Tensor, site_seed};
use crate::model::params::ParamLayout;
use crate::ops::attention_backward::attention_backward_cpu;
use crate::ops::attention_decode::attention_decode_cpu;
use crate::ops::attention_fast::{attention_backward_fast_cpu, attention_forward_fast_cpu};
use crate::ops::attention_forward::attention_forward_cpu;
use crate::ops::attention_mask::{AttentionDropout, AttentionMask};
use crate::ops::cross_attention_backward::cross_attention_backward_cpu;
use crate::ops::cross_attention_forward::cross_attention_forward_cpu;
use crate::ops::crossentropy_backward::crossentropy_backward_cpu;
use crate::ops::crossentropy_forward::crossentropy_forward_cpu;
use crate::ops::dropout_backward::dropout_backward_cpu;
use crate::ops::dropout_forward::{dropout_forward_cpu, dropout_mask_cpu};
use crate::ops::encoder_backward::encoder_backward_cpu;
use crate::ops::encoder_forward::{encoder_forward_cpu, sinusoidal_table};
use crate::ops::float::Float;
use crate::ops::gelu_backward::gelu_backward_fast_cpu;
use crate::ops::gelu_forward::gelu_forward_fast_cpu;
use crate::ops::layernorm_backward::layernorm_backward_fast_cpu;
use crate::ops::layernorm_forward::layernorm_forward_fast_cpu;
use crate::ops::matmul_backward::matmul_backward_fast_cpu;
use crate::ops::matmul_forward::matmul_forward_fast_cpu;
use crate::ops::meanpool_backward::meanpool_backward_cpu;
use crate::ops::meanpool_forward::meanpool_forward_cpu;
use crate::ops::relu_backward::relu_backward_cpu;
use crate::ops::relu_forward::relu_forward_cpu;
use crate::ops::residual_forward::residual_forward_cpu;
use crate::ops::rope_backward::rope_backward_cpu;
use crate::ops::rope_forward::rope_forward_cpu;
use crate::ops::scale_forward::scale_forward_cpu;

/// The activation and token buffers a CPU model owns (made through [`Executor::alloc`]).
#[derive(Clone, Debug, Default)]
pub struct CpuStore<R> {
    pub bufs: Vec<Vec<R>>,
    pub tokens: Vec<Vec<u32>>,
}

impl<R: Float> CpuStore<R> {
    /// Forgets every buffer (a new shape allocates a new set).
    pub fn clear(&mut self) {
        self.bufs.clear();
        self.tokens.clear();
    }

    /// The numbers of activation tensor `t`.
    pub fn get(&self, t: Tensor) -> &[R] {
        match t.store {
            Store::Act(i) => &self.bufs[i][t.offset..t.offset + t.len],
            other => panic!("{other:?} is not an activation buffer"),
        }
    }

    /// The numbers of activation tensor `t`, to write.
    pub fn get_mut(&mut self, t: Tensor) -> &mut [R] {
        match t.store {
            Store::Act(i) => &mut self.bufs[i][t.offset..t.offset + t.len],
            other => panic!("{other:?} is not an activation buffer"),
        }
    }

    /// Sets every number of activation tensor `t` to `value`.
    pub fn fill(&mut self, t: Tensor, value: R) {
        match t.store {
            Store::Act(i) => self.bufs[i][t.offset..t.offset + t.len].fill(value),
            other => panic!("{other:?} is not an activation buffer"),
        }
    }

    /// Writes token ids into token buffer `t` (whose length they must have).
    pub fn set_tokens(&mut self, t: Tensor, ids: &[u32]) {
        match t.store {
            Store::Tokens(i) => self.tokens[i][t.offset..t.offset + t.len].copy_from_slice(ids),
            other => panic!("{other:?} is not a token buffer"),
        }
    }
}

/// Runs op calls on the CPU over borrowed parameters, gradients and buffers.
pub struct CpuExecutor<'a, R> {
    pub layout: &'a ParamLayout,
    pub params: &'a [R],
    /// The trainable tensors' gradients (all of them, or LoRA's adapters: [`ParamLayout::grad_offset`]); empty
    /// when no gradient is written (a forward pass).
    pub grads: &'a mut [R],
    pub store: &'a mut CpuStore<R>,
    /// The forward pass's dropout seed: each site draws from `site_seed(dropout_seed, layer, site)`.
    pub dropout_seed: u64,
    /// Run attention fused (lse kept, no maps) with the fast kernels of [`crate::ops::attention_fast`]: the
    /// model's training forward and backward. Otherwise the readable kernels, which write the maps.
    pub fused: bool,
}

/// Reads input tensors while the outputs of a call are out of the store.
struct Inputs<'s, R> {
    layout: &'s ParamLayout,
    params: &'s [R],
    bufs: &'s [Vec<R>],
    tokens: &'s [Vec<u32>],
}

impl<R> Inputs<'_, R> {
    fn get(&self, t: Tensor) -> &[R] {
        match t.store {
            Store::Param(id) => {
                let start = self.layout.specs[id].offset + t.offset;
                &self.params[start..start + t.len]
            }
            Store::Act(i) => &self.bufs[i][t.offset..t.offset + t.len],
            other => panic!("{other:?} cannot be read as numbers here"),
        }
    }

    fn opt(&self, t: Option<Tensor>) -> Option<&[R]> {
        t.map(|t| self.get(t))
    }

    fn ids(&self, t: Tensor) -> &[u32] {
        match t.store {
            Store::Tokens(i) => &self.tokens[i][t.offset..t.offset + t.len],
            other => panic!("{other:?} is not a token buffer"),
        }
    }
}

/// The one output every call has at least.
fn req<R>(out: Option<&mut [R]>) -> &mut [R] {
    out.expect("a required output")
}

impl<R: Float> CpuExecutor<'_, R> {
    fn seed(&self, site: DropoutSite) -> u32 {
        site_seed(self.dropout_seed, site.layer, site.site)
    }

    /// Calls `f` with mutable slices of `outs` (activations or gradients, each a different buffer or a
    /// disjoint gradient range) and a reader of everything else.
    fn with_outputs<const N: usize>(
        &mut self,
        outs: [Option<Tensor>; N],
        f: impl FnOnce([Option<&mut [R]>; N], &Inputs<'_, R>),
    ) {
        let mut taken: [Option<(usize, Vec<R>)>; N] = std::array::from_fn(|_| None);
        for (slot, out) in taken.iter_mut().zip(&outs) {
            if let Some(Tensor {
                store: Store::Act(i),
                ..
            }) = out
            {
                *slot = Some((*i, std::mem::take(&mut self.store.bufs[*i])));
            }
        }
        {
            let mut slices: [Option<&mut [R]>; N] = std::array::from_fn(|_| None);
            for ((slice, slot), out) in slices.iter_mut().zip(taken.iter_mut()).zip(&outs) {
                if let (Some((_, buf)), Some(t)) = (slot, out) {
                    *slice = Some(&mut buf[t.offset..t.offset + t.len]);
                }
            }
            // Gradient outputs are disjoint ranges of one buffer: split them off in order.
            let mut ranges: Vec<(usize, usize, usize)> = outs
                .iter()
                .enumerate()
                .filter_map(|(k, out)| match out {
                    Some(
                        t @ Tensor {
                            store: Store::Grad(id),
                            ..
                        },
                    ) => Some((self.layout.grad_offset(*id) + t.offset, t.len, k)),
                    _ => None,
                })
                .collect();
            crate::sort::sort(&mut ranges);
            let (mut rest, mut at): (&mut [R], usize) = (&mut *self.grads, 0);
            for (start, len, k) in ranges {
                let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - at);
                let (range, tail) = tail.split_at_mut(len);
                slices[k] = Some(range);
                (rest, at) = (tail, start + len);
            }
            let inputs = Inputs {
                layout: self.layout,
                params: self.params,
                bufs: &self.store.bufs,
                tokens: &self.store.tokens,
            };
            f(slices, &inputs);
        }
        for (i, buf) in taken.into_iter().flatten() {
            self.store.bufs[i] = buf;
        }
    }
}

impl<R: Float> Allocator for CpuExecutor<'_, R> {
    fn alloc(&mut self, _label: &'static str, len: usize) -> Tensor {
        self.store.bufs.push(vec![R::ZERO; len]);
        Tensor {
            store: Store::Act(self.store.bufs.len() - 1),
            offset: 0,
            len,
        }
    }

    fn alloc_tokens(&mut self, _label: &'static str, len: usize) -> Tensor {
        self.store.tokens.push(vec![0; len]);
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
        self.with_outputs([Some(out)], |[out], _| {
            sinusoidal_table(req(out), pos0, t, c)
        });
    }
}

#[allow(clippy::too_many_arguments)]
#[rustfmt::skip]
impl<R: Float> Executor for CpuExecutor<'_, R> {
    fn encoder_forward(&mut self, out: Tensor, inp: Tensor, wte: Tensor, pos: Option<Tensor>, b: usize, t: usize, c: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            encoder_forward_cpu(req(out), r.ids(inp), r.get(wte), r.opt(pos), b, t, c)
        });
    }

    fn encoder_backward(&mut self, dwte: Tensor, dpos: Option<Tensor>, dout: Tensor, inp: Tensor, b: usize, t: usize, c: usize) {
        self.with_outputs([Some(dwte), dpos], |[dwte, dpos], r| {
            encoder_backward_cpu(req(dwte), dpos, r.get(dout), r.ids(inp), b, t, c)
        });
    }

    fn layernorm_forward(&mut self, out: Tensor, mean: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, bias: Option<Tensor>, b: usize, t: usize, c: usize) {
        self.with_outputs(
            [Some(out), Some(mean), Some(rstd)],
            |[out, mean, rstd], r| {
                layernorm_forward_fast_cpu(req(out), req(mean), req(rstd), r.get(inp), r.get(w), r.opt(bias), b, t, c)
            },
        );
    }

    fn layernorm_backward(&mut self, dinp: Tensor, dw: Tensor, dbias: Option<Tensor>, dout: Tensor, inp: Tensor, w: Tensor, mean: Tensor, rstd: Tensor, b: usize, t: usize, c: usize) {
        self.with_outputs([Some(dinp), Some(dw), dbias], |[dinp, dw, dbias], r| {
            layernorm_backward_fast_cpu(req(dinp), req(dw), dbias, r.get(dout), r.get(inp), r.get(w), r.get(mean), r.get(rstd), b, t, c)
        });
    }

    fn matmul_forward(&mut self, out: Tensor, inp: Tensor, w: Tensor, bias: Option<Tensor>, bt: usize, c: usize, oc: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            matmul_forward_fast_cpu(req(out), r.get(inp), r.get(w), r.opt(bias), bt, c, oc)
        });
    }

    fn matmul_backward(&mut self, dinp: Tensor, dw: Option<Tensor>, dbias: Option<Tensor>, dout: Tensor, inp: Tensor, w: Tensor, bt: usize, c: usize, oc: usize) {
        self.with_outputs([Some(dinp), dw, dbias], |[dinp, dw, dbias], r| {
            matmul_backward_fast_cpu(req(dinp), dw, dbias, r.get(dout), r.get(inp), r.get(w), bt, c, oc)
        });
    }

    fn rope_forward(&mut self, out: Tensor, inp: Tensor, pos0: usize, b: usize, t: usize, c: usize, nh: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            rope_forward_cpu(req(out), r.get(inp), pos0, b, t, c, nh)
        });
    }

    fn rope_backward(&mut self, dinp: Tensor, dout: Tensor, pos0: usize, b: usize, t: usize, c: usize, nh: usize) {
        self.with_outputs([Some(dinp)], |[dinp], r| {
            rope_backward_cpu(req(dinp), r.get(dout), pos0, b, t, c, nh)
        });
    }

    fn attention_forward(&mut self, out: Tensor, preatt: Tensor, att: Tensor, qkv: Tensor, att_mask: Option<Tensor>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        self.with_outputs(
            [Some(out), Some(preatt), Some(att)],
            |[out, preatt, att], r| {
                attention_forward_cpu(req(out), req(preatt), req(att), r.get(qkv), r.opt(att_mask), mask, b, t, c, nh)
            },
        );
    }

    fn attention_backward(&mut self, dqkv: Tensor, dpreatt: Tensor, datt: Tensor, dout: Tensor, qkv: Tensor, att: Tensor, att_mask: Option<Tensor>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        self.with_outputs(
            [Some(dqkv), Some(dpreatt), Some(datt)],
            |[dqkv, dpreatt, datt], r| {
                attention_backward_cpu(req(dqkv), req(dpreatt), req(datt), r.get(dout), r.get(qkv), r.get(att), r.opt(att_mask), mask, b, t, c, nh)
            },
        );
    }

    fn attention_forward_fused(&mut self, out: Tensor, lse: Tensor, qkv: Tensor, dropout: Option<DropoutSite>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        let dropout = dropout.map(|site| AttentionDropout {
            p: site.p,
            seed: self.seed(site),
        });
        self.with_outputs([Some(out), Some(lse)], |[out, lse], r| {
            attention_forward_fast_cpu(req(out), req(lse), r.get(qkv), dropout, mask, b, t, c, nh)
        });
    }

    fn attention_backward_fused(&mut self, dqkv: Tensor, _delta: Tensor, dout: Tensor, qkv: Tensor, out: Tensor, lse: Tensor, dropout: Option<DropoutSite>, mask: AttentionMask, b: usize, t: usize, c: usize, nh: usize) {
        // delta (dout . out per row) is computed inline, row by row: no buffer for it here.
        let dropout = dropout.map(|site| AttentionDropout {
            p: site.p,
            seed: self.seed(site),
        });
        self.with_outputs([Some(dqkv)], |[dqkv], r| {
            attention_backward_fast_cpu(req(dqkv), r.get(dout), r.get(qkv), r.get(out), r.get(lse), dropout, mask, b, t, c, nh)
        });
    }

    fn cross_attention_forward(&mut self, out: Tensor, preatt: Tensor, att: Tensor, q: Tensor, kv: Tensor, att_mask: Option<Tensor>, b: usize, tq: usize, tk: usize, c: usize, nh: usize) {
        self.with_outputs([Some(out), Some(preatt), Some(att)], |[out, preatt, att], r| {
            cross_attention_forward_cpu(req(out), req(preatt), req(att), r.get(q), r.get(kv), r.opt(att_mask), b, tq, tk, c, nh)
        });
    }

    fn cross_attention_backward(&mut self, dq: Tensor, dkv: Tensor, dpreatt: Tensor, datt: Tensor, dout: Tensor, q: Tensor, kv: Tensor, att: Tensor, att_mask: Option<Tensor>, b: usize, tq: usize, tk: usize, c: usize, nh: usize) {
        self.with_outputs([Some(dq), Some(dkv), Some(dpreatt), Some(datt)], |[dq, dkv, dpreatt, datt], r| {
            cross_attention_backward_cpu(req(dq), req(dkv), req(dpreatt), req(datt), r.get(dout), r.get(q), r.get(kv), r.get(att), r.opt(att_mask), b, tq, tk, c, nh)
        });
    }

    fn attention_decode(&mut self, out: Tensor, k_cache: Tensor, v_cache: Tensor, qkv: Tensor, len: usize, t_max: usize, c: usize, nh: usize) {
        // The weights (NH, Tmax) are only for inspection: a scratch row here.
        let mut att = vec![R::ZERO; nh * t_max];
        self.with_outputs(
            [Some(out), Some(k_cache), Some(v_cache)],
            |[out, k, v], r| {
                attention_decode_cpu(req(out), &mut att, req(k), req(v), r.get(qkv), len, t_max, c, nh)
            },
        );
    }

    fn gelu_forward(&mut self, out: Tensor, inp: Tensor, n: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            gelu_forward_fast_cpu(req(out), r.get(inp), n)
        });
    }

    fn gelu_backward(&mut self, dinp: Tensor, inp: Tensor, dout: Tensor, n: usize) {
        self.with_outputs([Some(dinp)], |[dinp], r| {
            gelu_backward_fast_cpu(req(dinp), r.get(inp), r.get(dout), n)
        });
    }

    fn relu_forward(&mut self, out: Tensor, inp: Tensor, n: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            relu_forward_cpu(req(out), r.get(inp), n)
        });
    }

    fn relu_backward(&mut self, dinp: Tensor, inp: Tensor, dout: Tensor, n: usize) {
        self.with_outputs([Some(dinp)], |[dinp], r| {
            relu_backward_cpu(req(dinp), r.get(inp), r.get(dout), n)
        });
    }

    fn meanpool_forward(&mut self, out: Tensor, inp: Tensor, b: usize, t: usize, c: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            meanpool_forward_cpu(req(out), r.get(inp), b, t, c)
        });
    }

    fn meanpool_backward(&mut self, dinp: Tensor, dout: Tensor, b: usize, t: usize, c: usize) {
        self.with_outputs([Some(dinp)], |[dinp], r| {
            meanpool_backward_cpu(req(dinp), r.get(dout), b, t, c)
        });
    }

    fn scale_forward(&mut self, out: Tensor, inp: Tensor, scale: f32, n: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            scale_forward_cpu(req(out), r.get(inp), scale, n)
        });
    }

    fn residual_forward(&mut self, out: Tensor, inp1: Tensor, inp2: Tensor, n: usize) {
        self.with_outputs([Some(out)], |[out], r| {
            residual_forward_cpu(req(out), r.get(inp1), r.get(inp2), n)
        });
    }

    fn dropout_forward(&mut self, out: Tensor, mask: Tensor, inp: Tensor, site: DropoutSite, n: usize) {
        let seed = self.seed(site);
        self.with_outputs([Some(out), Some(mask)], |[out, mask], r| {
            dropout_forward_cpu(req(out), req(mask), r.get(inp), site.p, seed, n)
        });
    }

    fn dropout_mask(&mut self, mask: Tensor, _scratch: [Tensor; 2], site: DropoutSite, n: usize) {
        let seed = self.seed(site);
        self.with_outputs([Some(mask)], |[mask], _| {
            dropout_mask_cpu(req(mask), site.p, seed, n)
        });
    }

    fn dropout_backward(&mut self, dinp: Tensor, dout: Tensor, mask: Tensor, n: usize) {
        self.with_outputs([Some(dinp)], |[dinp], r| {
            dropout_backward_cpu(req(dinp), r.get(dout), r.get(mask), n)
        });
    }

    fn crossentropy_forward(&mut self, losses: Tensor, probs: Tensor, logits: Tensor, targets: Tensor, b: usize, t: usize, v: usize) {
        self.with_outputs([Some(losses), Some(probs)], |[losses, probs], r| {
            crossentropy_forward_cpu(req(losses), req(probs), r.get(logits), r.ids(targets), b, t, v)
        });
    }

    fn crossentropy_backward(&mut self, dlogits: Tensor, dlosses: Tensor, probs: Tensor, targets: Tensor, b: usize, t: usize, v: usize) {
        self.with_outputs([Some(dlogits)], |[dlogits], r| {
            crossentropy_backward_cpu(req(dlogits), r.get(dlosses), r.get(probs), r.ids(targets), b, t, v)
        });
    }
}
