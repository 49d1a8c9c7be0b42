//! The four linear layers of a block as the model description calls them: a plain matmul, or with a LoRA adapter
//! the frozen matmul plus the low-rank update (see [`super::lora`]). Written once over an [`Executor`], so the
//! CPU and the GPU run the same calls.
//!
//! ```text
//! forward:  base = inp @ W^T + b;  x = dropout(inp);  h = x @ A^T;  hs = scaling * h;  out = base + hs @ B^T
//! backward: dinp = dout @ W  +  dropout'(((dout @ B) * scaling) @ A);  dB += dout^T hs;  dA += (scaling dout B)^T x
//! ```
//!
//! Keeping hs = scaling * h (not h) makes dB = dout^T hs exact with plain matmul backwards; the one extra op is
//! `scale_forward`, used on h forward and on dout @ B backward.

use super::buffers::{Grads, LoraActs, LoraScratch};
use super::lora::LoraTarget;
use super::params::LayerIds;
use super::transformer::Transformer;
use crate::exec::{DropoutSite, Executor, Tensor};

/// The weight and bias tensor ids of a block's linear layer.
pub(crate) fn weight_and_bias(ids: &LayerIds, target: LoraTarget) -> (usize, Option<usize>) {
    match target {
        LoraTarget::Qkv => (ids.qkv_w, ids.qkv_b),
        LoraTarget::AttnProj => (ids.attproj_w, ids.attproj_b),
        LoraTarget::Fc => (ids.fc_w, ids.fc_b),
        LoraTarget::FcProj => (ids.fcproj_w, ids.fcproj_b),
    }
}

/// What one adapter call reads and writes: its kept activations and the shared scratch.
#[derive(Clone, Copy)]
pub struct AdapterBuffers<'a> {
    pub acts: &'a LoraActs,
    pub scratch: &'a LoraScratch,
}

impl Transformer<'_> {
    /// Linear layer `target` of block `l`: out (BT, OC) = inp (BT, IN) @ W^T + b, plus its adapter's update when
    /// the block has one (`adapter`); `training` applies the adapter's dropout when its mask exists.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn linear_forward(
        &self,
        ex: &mut dyn Executor,
        l: usize,
        target: LoraTarget,
        out: Tensor,
        inp: Tensor,
        adapter: Option<AdapterBuffers>,
        training: bool,
        bt: usize,
    ) {
        let ids = &self.layout.layers[l];
        let (w, bias) = weight_and_bias(ids, target);
        let (i, o) = target.shape(self.config);
        let p = |id| self.layout.param(id);
        let (Some(pair), Some(buf), Some(lora)) =
            (ids.lora[target.index()], adapter, self.config.lora.as_ref())
        else {
            ex.matmul_forward(out, inp, p(w), bias.map(p), bt, i, o);
            return;
        };
        let (r, s) = (lora.r, buf.scratch);
        let (base, delta, h) = (
            s.base.prefix(bt * o),
            s.delta.prefix(bt * o),
            s.h.prefix(bt * r),
        );
        let hs = buf.acts.hs.prefix(bt * r);
        ex.matmul_forward(base, inp, p(w), bias.map(p), bt, i, o);
        let x = match buf.acts.dropped.filter(|_| training) {
            Some((x, mask)) => {
                let site = DropoutSite {
                    p: lora.dropout,
                    layer: l + 1,
                    site: 3 + target.index() as u32,
                };
                ex.dropout_forward(x.prefix(bt * i), mask.prefix(bt * i), inp, site, bt * i);
                x.prefix(bt * i)
            }
            None => inp,
        };
        ex.matmul_forward(h, x, p(pair.a), None, bt, i, r);
        ex.scale_forward(hs, h, lora.scaling(), bt * r);
        ex.matmul_forward(delta, hs, p(pair.b), None, bt, r, o);
        ex.residual_forward(out, base, delta, bt * o);
    }

    /// The backward of [`linear_forward`](Self::linear_forward) (training): dinp (BT, IN) = ; the adapter's dA and
    /// dB accumulate; W and b accumulate their gradients only when they train (not under LoRA).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn linear_backward(
        &self,
        ex: &mut dyn Executor,
        g: &Grads,
        l: usize,
        target: LoraTarget,
        dinp: Tensor,
        dout: Tensor,
        inp: Tensor,
        acts: Option<&LoraActs>,
        bt: usize,
    ) {
        let lay = self.layout;
        let ids = &lay.layers[l];
        let (w, bias) = weight_and_bias(ids, target);
        let (i, o) = target.shape(self.config);
        let p = |id| lay.param(id);
        let dp = |id| lay.grad_if_trainable(id);
        let dbias = bias.and_then(dp);
        let (Some(pair), Some(acts), Some(lg), Some(lora)) = (
            ids.lora[target.index()],
            acts,
            g.lora.as_ref(),
            self.config.lora.as_ref(),
        ) else {
            ex.matmul_backward(dinp, dp(w), dbias, dout, inp, p(w), bt, i, o);
            return;
        };
        let r = lora.r;
        let (dbase, dx, dhs, dh) = (
            lg.dbase.prefix(bt * i),
            lg.dx.prefix(bt * i),
            lg.dhs.prefix(bt * r),
            lg.dh.prefix(bt * r),
        );
        ex.matmul_backward(dbase, dp(w), dbias, dout, inp, p(w), bt, i, o);
        ex.matmul_backward(
            dhs,
            dp(pair.b),
            None,
            dout,
            acts.hs.prefix(bt * r),
            p(pair.b),
            bt,
            r,
            o,
        );
        ex.scale_forward(dh, dhs, lora.scaling(), bt * r);
        let x = acts.dropped.map_or(inp, |(x, _)| x.prefix(bt * i));
        ex.matmul_backward(dx, dp(pair.a), None, dh, x, p(pair.a), bt, i, r);
        let dx = match (acts.dropped, lg.dx_dropped) {
            (Some((_, mask)), Some(undropped)) => {
                let undropped = undropped.prefix(bt * i);
                ex.dropout_backward(undropped, dx, mask.prefix(bt * i), bt * i);
                undropped
            }
            _ => dx,
        };
        ex.residual_forward(dinp, dbase, dx, bt * i);
    }
}
