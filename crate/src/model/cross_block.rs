//! A decoder block's cross-attention sub-layer, the optional part of the one block (ratchet's Whisper block
//! holds `x_attn: Option<MultiHeadAttention>` the same way): when the layout gives a block [`CrossIds`] and
//! the activations carry [`CrossActs`], the block runs, between its self-attention and its MLP,
//!
//! ```text
//! x = x + dropout(out_proj(cross_attention(q = ln(x) @ Wq, kv = memory @ Wkv)))     (pre-norm, as PyTorch's
//!                                                                                   norm_first decoder layer)
//! ```
//!
//! where `memory` (B, Ts, C) is the encoder's output (after its final norm). The gradient of `memory` sums
//! over the decoder's blocks; it lands in [`CrossGrads::dmemory`] for the encoder's backward pass.

use super::params::ParamLayout;
use super::transformer::{Acts, DecodeActs, Grads, Transformer};
use crate::exec::{Allocator, DropoutSite, Executor, Tensor};

/// The parameters of one cross-attention sub-layer (indices into [`ParamLayout::specs`]). PyTorch keeps q, k
/// and v in one `in_proj_weight` (3C, C); here q (C, C) and kv (2C, C) are two tensors, because the GPU binds
/// a tensor only at an aligned offset (the export concatenates them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossIds {
    pub ln_w: usize,
    pub ln_b: Option<usize>,
    pub q_w: usize,
    pub q_b: Option<usize>,
    pub kv_w: usize,
    pub kv_b: Option<usize>,
    pub proj_w: usize,
    pub proj_b: Option<usize>,
}

/// What one block's cross-attention keeps from its forward pass (Tt target positions, Ts source positions).
#[derive(Clone, Debug)]
pub struct CrossLayerActs {
    pub ln: Tensor,                // (B, Tt, C)
    pub ln_mean: Tensor,           // (B, Tt)
    pub ln_rstd: Tensor,           // (B, Tt)
    pub q: Tensor,                 // (B, Tt, C)
    pub kv: Tensor,                // (B, Ts, 2C) the encoder output's keys and values
    pub preatt: Tensor,            // (B, NH, Tt, Ts)
    pub att: Tensor,               // (B, NH, Tt, Ts) the cross-attention maps
    pub atty: Tensor,              // (B, Tt, C)
    pub proj: Tensor,              // (B, Tt, C) out_proj's output
    pub residual: Tensor,          // (B, Tt, C) the stream after the sub-layer
    pub proj_mask: Option<Tensor>, // (B, Tt, C) dropout after out_proj (training with dropout)
}

/// The cross-attention activations of a decoder pass.
#[derive(Clone, Debug)]
pub struct CrossActs {
    /// The encoder's output (B, Ts, C), read by every block.
    pub memory: Tensor,
    /// Ts: source positions.
    pub ts: usize,
    pub layers: Vec<CrossLayerActs>,
}

/// The cross-attention backward's scratch, shared by the blocks.
#[derive(Clone, Debug)]
pub struct CrossGrads {
    pub dq: Tensor,        // (B, Tt, C)
    pub dkv: Tensor,       // (B, Ts, 2C)
    pub dpreatt: Tensor,   // (B, NH, Tt, Ts)
    pub datt: Tensor,      // (B, NH, Tt, Ts)
    pub dmem_tmp: Tensor,  // (B, Ts, C) one block's part of d memory
    pub dmem: [Tensor; 2], // (B, Ts, C) the running sum, in two buffers used in turn
}

/// One decoding position's cross-attention: the source's keys and values, computed once per source
/// ([`Transformer::cross_decode_cache`]), and the position's buffers, shared by the blocks.
#[derive(Clone, Debug)]
pub struct CrossDecode {
    /// Ts: source positions.
    pub ts: usize,
    pub kv_cache: Vec<Tensor>, // L x (Ts, 2C)
    pub ln: Tensor,            // (C)
    pub mean: Tensor,          // (1)
    pub rstd: Tensor,          // (1)
    pub q: Tensor,             // (C)
    pub preatt: Tensor,        // (NH, Ts)
    pub att: Tensor,           // (NH, Ts) this position's cross-attention weights
    pub atty: Tensor,          // (C)
    pub proj: Tensor,          // (C)
    pub residual: Tensor,      // (C)
}

impl CrossDecode {
    pub fn new(ex: &mut dyn Allocator, n_layer: usize, ts: usize, c: usize, nh: usize) -> Self {
        Self {
            ts,
            kv_cache: (0..n_layer)
                .map(|_| ex.alloc("cross kv cache", ts * 2 * c))
                .collect(),
            ln: ex.alloc("decode cross ln", c),
            mean: ex.alloc("decode cross mean", 1),
            rstd: ex.alloc("decode cross rstd", 1),
            q: ex.alloc("decode cross q", c),
            preatt: ex.alloc("decode cross preatt", nh * ts),
            att: ex.alloc("decode cross att", nh * ts),
            atty: ex.alloc("decode cross atty", c),
            proj: ex.alloc("decode cross proj", c),
            residual: ex.alloc("decode cross residual", c),
        }
    }
}

/// The dropout site of a block's out_proj in its cross-attention (sites 0-2 are the block's others).
const CROSS_PROJ_SITE: u32 = 3;

impl CrossActs {
    /// Buffers for `b` pairs of `tt` target and `ts` source positions over the encoder output `memory`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ex: &mut dyn Allocator,
        memory: Tensor,
        n_layer: usize,
        b: usize,
        tt: usize,
        ts: usize,
        c: usize,
        nh: usize,
        dropout: bool,
    ) -> Self {
        let (bt, map) = (b * tt, b * nh * tt * ts);
        let layers = (0..n_layer)
            .map(|_| CrossLayerActs {
                ln: ex.alloc("cross ln", bt * c),
                ln_mean: ex.alloc("cross ln mean", bt),
                ln_rstd: ex.alloc("cross ln rstd", bt),
                q: ex.alloc("cross q", bt * c),
                kv: ex.alloc("cross k and v (B x Ts x 2C)", b * ts * 2 * c),
                preatt: ex.alloc("cross preatt (B x NH x Tt x Ts)", map),
                att: ex.alloc("cross-attention maps (B x NH x Tt x Ts)", map),
                atty: ex.alloc("cross atty", bt * c),
                proj: ex.alloc("cross proj", bt * c),
                residual: ex.alloc("cross residual", bt * c),
                proj_mask: dropout.then(|| ex.alloc("cross proj mask", bt * c)),
            })
            .collect();
        Self { memory, ts, layers }
    }

    /// Every buffer (not the memory, which the encoder's activations own).
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut all = Vec::new();
        for x in &self.layers {
            all.extend([
                x.ln, x.ln_mean, x.ln_rstd, x.q, x.kv, x.preatt, x.att, x.atty, x.proj, x.residual,
            ]);
            all.extend(x.proj_mask);
        }
        all
    }
}

impl CrossGrads {
    pub fn new(
        ex: &mut dyn Allocator,
        b: usize,
        tt: usize,
        ts: usize,
        c: usize,
        nh: usize,
    ) -> Self {
        let map = b * nh * tt * ts;
        Self {
            dq: ex.alloc("cross dq", b * tt * c),
            dkv: ex.alloc("cross dkv", b * ts * 2 * c),
            dpreatt: ex.alloc("cross dpreatt", map),
            datt: ex.alloc("cross datt", map),
            dmem_tmp: ex.alloc("d memory, one block", b * ts * c),
            dmem: [
                ex.alloc("d memory", b * ts * c),
                ex.alloc("d memory", b * ts * c),
            ],
        }
    }

    /// Every buffer.
    pub fn tensors(&self) -> Vec<Tensor> {
        vec![
            self.dq,
            self.dkv,
            self.dpreatt,
            self.datt,
            self.dmem_tmp,
            self.dmem[0],
            self.dmem[1],
        ]
    }

    /// Where the gradient of the encoder's output is once the decoder's backward pass over `n_layer` blocks
    /// has run: the k-th block visited (the last block first) writes dmem[k % 2].
    pub fn dmemory(&self, n_layer: usize) -> Tensor {
        self.dmem[(n_layer - 1) % 2]
    }
}

impl Transformer<'_> {
    /// Block `l`'s cross-attention, when it has one: returns the stream after it (or `residual`, unchanged).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cross_forward(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        l: usize,
        residual: Tensor,
        training: bool,
        b: usize,
        tt: usize,
    ) -> Tensor {
        let (Some(x), Some(ids)) = (a.cross.as_ref(), self.layout.layers[l].cross) else {
            return residual;
        };
        let (cfg, lay) = (self.config, self.layout);
        let (c, nh, ts) = (cfg.n_embd, cfg.n_head, x.ts);
        let (bt, bs) = (b * tt, b * ts);
        let p = |id| lay.param(id);
        let popt = |id: Option<usize>| id.map(p);
        let xl = &x.layers[l];
        ex.layernorm_forward(
            xl.ln,
            xl.ln_mean,
            xl.ln_rstd,
            residual,
            p(ids.ln_w),
            popt(ids.ln_b),
            b,
            tt,
            c,
        );
        ex.matmul_forward(xl.q, xl.ln, p(ids.q_w), popt(ids.q_b), bt, c, c);
        ex.matmul_forward(xl.kv, x.memory, p(ids.kv_w), popt(ids.kv_b), bs, c, 2 * c);
        ex.cross_attention_forward(
            xl.atty, xl.preatt, xl.att, xl.q, xl.kv, None, b, tt, ts, c, nh,
        );
        ex.matmul_forward(xl.proj, xl.atty, p(ids.proj_w), popt(ids.proj_b), bt, c, c);
        let proj = match (xl.proj_mask, a.dropout.as_ref().filter(|_| training)) {
            (Some(mask), Some(d)) => {
                let site = DropoutSite {
                    p: cfg.dropout,
                    layer: l + 1,
                    site: CROSS_PROJ_SITE,
                };
                ex.dropout_forward(d.tmp, mask, xl.proj, site, bt * c);
                d.tmp
            }
            _ => xl.proj,
        };
        ex.residual_forward(xl.residual, residual, proj, bt * c);
        xl.residual
    }

    /// The backward pass of block `l`'s cross-attention (when it has one): `g.dresidual` holds the gradient of
    /// the stream after it and gets the sub-layer's part added; the memory's gradient gets this block's part.
    /// `residual` is the stream the sub-layer read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cross_backward(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        g: &Grads,
        l: usize,
        residual: Tensor,
        b: usize,
        tt: usize,
    ) {
        let (Some(x), Some(gx), Some(ids)) = (
            a.cross.as_ref(),
            g.cross.as_ref(),
            self.layout.layers[l].cross,
        ) else {
            return;
        };
        let (cfg, lay) = (self.config, self.layout);
        let (c, nh, ts) = (cfg.n_embd, cfg.n_head, x.ts);
        let (bt, bs) = (b * tt, b * ts);
        let p = |id| lay.param(id);
        let dp = |id| lay.grad_if_trainable(id);
        let dpopt = |id: Option<usize>| id.and_then(dp);
        let xl = &x.layers[l];
        let dout = match (xl.proj_mask, g.dproj) {
            (Some(mask), Some(dproj)) => {
                ex.dropout_backward(dproj, g.dresidual, mask, bt * c);
                dproj
            }
            _ => g.dresidual,
        };
        ex.matmul_backward(
            g.datty,
            dp(ids.proj_w),
            dpopt(ids.proj_b),
            dout,
            xl.atty,
            p(ids.proj_w),
            bt,
            c,
            c,
        );
        ex.cross_attention_backward(
            gx.dq, gx.dkv, gx.dpreatt, gx.datt, g.datty, xl.q, xl.kv, xl.att, None, b, tt, ts, c,
            nh,
        );
        ex.matmul_backward(
            g.dln,
            dp(ids.q_w),
            dpopt(ids.q_b),
            gx.dq,
            xl.ln,
            p(ids.q_w),
            bt,
            c,
            c,
        );
        let ln_dw = dp(ids.ln_w).expect("cross-attention trains with the model");
        ex.layernorm_backward(
            g.dresidual,
            ln_dw,
            dpopt(ids.ln_b),
            g.dln,
            residual,
            p(ids.ln_w),
            xl.ln_mean,
            xl.ln_rstd,
            b,
            tt,
            c,
        );
        // d memory: the last block (visited first) assigns dmem[0]; each next one adds its part into the other.
        let k = cfg.n_layer - 1 - l;
        let (kv_w, kv_b) = (dp(ids.kv_w), dpopt(ids.kv_b));
        if k == 0 {
            ex.matmul_backward(
                gx.dmem[0],
                kv_w,
                kv_b,
                gx.dkv,
                x.memory,
                p(ids.kv_w),
                bs,
                c,
                2 * c,
            );
        } else {
            ex.matmul_backward(
                gx.dmem_tmp,
                kv_w,
                kv_b,
                gx.dkv,
                x.memory,
                p(ids.kv_w),
                bs,
                c,
                2 * c,
            );
            ex.residual_forward(gx.dmem[k % 2], gx.dmem[(k - 1) % 2], gx.dmem_tmp, bs * c);
        }
    }
}

impl Transformer<'_> {
    /// Fills every block's cache of the source's keys and values from the encoder's output `memory`
    /// (Ts, C): once per source, before the first decode step.
    pub fn cross_decode_cache(&self, ex: &mut dyn Executor, x: &CrossDecode, memory: Tensor) {
        let (lay, c) = (self.layout, self.config.n_embd);
        for (l, ids) in lay.layers.iter().enumerate() {
            if let Some(ids) = ids.cross {
                let bias = ids.kv_b.map(|id| lay.param(id));
                ex.matmul_forward(
                    x.kv_cache[l],
                    memory,
                    lay.param(ids.kv_w),
                    bias,
                    x.ts,
                    c,
                    2 * c,
                );
            }
        }
    }

    /// Block `l`'s cross-attention for one decoding position, when it has one: returns the stream after it.
    pub(crate) fn cross_decode(
        &self,
        ex: &mut dyn Executor,
        d: &DecodeActs,
        l: usize,
        residual: Tensor,
    ) -> Tensor {
        let (Some(x), Some(ids)) = (d.cross.as_ref(), self.layout.layers[l].cross) else {
            return residual;
        };
        let (lay, c, nh) = (self.layout, self.config.n_embd, self.config.n_head);
        let p = |id| lay.param(id);
        let popt = |id: Option<usize>| id.map(p);
        ex.layernorm_forward(
            x.ln,
            x.mean,
            x.rstd,
            residual,
            p(ids.ln_w),
            popt(ids.ln_b),
            1,
            1,
            c,
        );
        ex.matmul_forward(x.q, x.ln, p(ids.q_w), popt(ids.q_b), 1, c, c);
        ex.cross_attention_forward(
            x.atty,
            x.preatt,
            x.att,
            x.q,
            x.kv_cache[l],
            None,
            1,
            1,
            x.ts,
            c,
            nh,
        );
        ex.matmul_forward(x.proj, x.atty, p(ids.proj_w), popt(ids.proj_b), 1, c, c);
        ex.residual_forward(x.residual, residual, x.proj, c);
        x.residual
    }
}

/// Whether a layout has cross-attention in its blocks (an encoder-decoder's decoder).
pub fn has_cross(layout: &ParamLayout) -> bool {
    layout.layers.iter().any(|ids| ids.cross.is_some())
}
