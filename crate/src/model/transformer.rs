//! The GPT, written once: embedding, blocks and head for the forward pass, the backward pass and the one-token
//! decode step, as explicit calls to the named ops of an [`Executor`] (llm.c's `gpt2_forward` / `gpt2_backward`,
//! pre-norm blocks as nanoGPT). The CPU executor runs each call at once; the GPU executor records it into a plan.
//!
//! ```text
//! x = wte[tokens] (+ wpe or sinusoids) -> dropout                        encoded (B, T, C)
//! for each block:  x = x + dropout(c_proj(attention(ln_1(x))))           residual2
//!                  x = x + dropout(mlp.c_proj(act(mlp.c_fc(ln_2(x)))))   residual3
//! logits = ln_f(x) @ wte^T                                               (B, T, V), head tied to wte
//! loss = mean over (b, t) of -ln softmax(logits)[target]
//!
//! or, with a classification head (fine-tuning an encoder):
//! logits = mean over t of ln_f(x) @ classifier.weight^T + classifier.bias   (B, K)
//! loss = mean over b of -ln softmax(logits)[label]
//! ```
//!
//! The buffers these passes read and write are described once too, in [`super::buffers`].
//!
//! Gradients follow the ops' rule: parameter gradients accumulate (so micro-batches add up until they are
//! zeroed), activation gradients are assigned, and the residual stream's gradient is one buffer that each
//! LayerNorm backward adds into (the skip path passes it through as is).

use super::config::{Activation, ModelConfig, Positional};
use super::lora::LoraTarget;
use super::lora_linear::AdapterBuffers;
use super::params::ParamLayout;
use crate::exec::{DropoutSite, Executor, Tensor};

pub use super::buffers::{Acts, DecodeActs, DropoutActs, Grads, LayerActs, LayerMasks};

/// The model as the executors see it: its config and where each parameter lives.
pub struct Transformer<'a> {
    pub config: &'a ModelConfig,
    pub layout: &'a ParamLayout,
}

impl Transformer<'_> {
    /// The forward pass over `b` sequences of `t` tokens, `inputs` (B, T); with `targets` (B, T) also the losses
    /// and probabilities. `training` applies dropout (when `acts` has masks), drawn from the executor's seed.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        inputs: Tensor,
        targets: Option<Tensor>,
        b: usize,
        t: usize,
        training: bool,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, v) = (cfg.n_embd, cfg.vocab_size);
        let bt = b * t;
        let p = |id| lay.param(id);
        let popt = |id: Option<usize>| id.map(p);
        let drop = a.dropout.as_ref().filter(|_| training);
        let site = |layer, site| DropoutSite {
            p: cfg.dropout,
            layer,
            site,
        };

        // Embeddings: the token's row plus the position's (none with RoPE), then dropout.
        let pos = match cfg.positional {
            Positional::Learned => {
                Some(p(lay.wpe.expect("learned positions have wpe")).prefix(t * c))
            }
            Positional::Sinusoidal => a.pos_table.map(|table| table.prefix(t * c)),
            Positional::Rope => None,
        };
        let inputs = inputs.prefix(bt);
        match drop {
            Some(d) => {
                ex.encoder_forward(d.tmp, inputs, p(lay.wte), pos, b, t, c);
                ex.dropout_forward(a.encoded, d.encoded_mask, d.tmp, site(0, 0), bt * c);
            }
            None => ex.encoder_forward(a.encoded, inputs, p(lay.wte), pos, b, t, c),
        }

        for l in 0..cfg.n_layer {
            self.block_forward(ex, a, l, b, t, training, true);
        }

        // Head: logits = ln_f(x) @ wte^T, then the loss.
        let last = a.layers[cfg.n_layer - 1].residual3;
        ex.layernorm_forward(
            a.lnf,
            a.lnf_mean,
            a.lnf_rstd,
            last,
            p(lay.lnf_w),
            popt(lay.lnf_b),
            b,
            t,
            c,
        );
        if let (Some(head), Some((w, bias))) = (&a.classifier, lay.classifier) {
            // Classification head: pooled = mean over t of ln_f(x) (B, C); class logits = pooled @ W^T + b (B, K);
            // the labels are the first B targets and the losses the first B of `losses`.
            let k = lay.specs[bias].len;
            let (pooled, logits) = (head.pooled.prefix(b * c), head.logits.prefix(b * k));
            ex.meanpool_forward(pooled, a.lnf, b, t, c);
            ex.matmul_forward(logits, pooled, p(w), Some(p(bias)), b, c, k);
            if let Some(targets) = targets {
                let probs = head.probs.prefix(b * k);
                ex.crossentropy_forward(
                    a.losses.prefix(b),
                    probs,
                    logits,
                    targets.prefix(b),
                    b,
                    1,
                    k,
                );
            }
            return;
        }
        ex.matmul_forward(a.logits, a.lnf, p(lay.wte), None, bt, c, v);
        if let Some(targets) = targets {
            ex.crossentropy_forward(a.losses, a.probs, a.logits, targets.prefix(bt), b, t, v);
        }
    }

    /// Block `l`'s forward pass from its input (the embeddings or the previous block's output) into its
    /// activations in `a`; `write_output` false leaves out the residual add into the block's output (a recomputed
    /// block whose output is a kept checkpoint). The forward pass runs it for every block; with activation
    /// checkpointing the backward pass runs it again for each group of blocks before their backward.
    #[allow(clippy::too_many_arguments)]
    fn block_forward(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        l: usize,
        b: usize,
        t: usize,
        training: bool,
        write_output: bool,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, f, nh) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head);
        let bt = b * t;
        let p = |id| lay.param(id);
        let popt = |id: Option<usize>| id.map(p);
        let drop = a.dropout.as_ref().filter(|_| training);
        let site = |layer, site| DropoutSite {
            p: cfg.dropout,
            layer,
            site,
        };
        let la = &a.layers[l];
        let ids = &lay.layers[l];
        let residual = if l == 0 {
            a.encoded
        } else {
            a.layers[l - 1].residual3
        };
        let masks = drop.and(la.masks.as_ref());
        let adapter = |target: LoraTarget| {
            let acts = la.lora[target.index()].as_ref()?;
            let scratch = a.lora.as_ref()?;
            Some(AdapterBuffers { acts, scratch })
        };

        // Attention: x = x + dropout(c_proj(attention(ln_1(x)))).
        ex.layernorm_forward(
            la.ln1,
            la.ln1_mean,
            la.ln1_rstd,
            residual,
            p(ids.ln1_w),
            popt(ids.ln1_b),
            b,
            t,
            c,
        );
        let qkv_adapter = adapter(LoraTarget::Qkv);
        self.linear_forward(
            ex,
            l,
            LoraTarget::Qkv,
            la.qkv,
            la.ln1,
            qkv_adapter,
            training,
            bt,
        );
        let qkv = match la.qkv_rope {
            Some(rotated) => {
                ex.rope_forward(rotated, la.qkv, 0, b, t, c, nh);
                rotated
            }
            None => la.qkv,
        };
        match (la.lse, la.preatt, la.att) {
            // Fused: no map; the attention dropout is drawn inside the kernel.
            (Some(lse), _, _) => {
                let dropout = masks.map(|_| site(l + 1, 0));
                ex.attention_forward_fused(
                    la.atty,
                    lse,
                    qkv,
                    dropout,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
            }
            (None, Some(preatt), Some(att)) => {
                let att_mask = masks.and_then(|m| m.att);
                if let Some(att_mask) = att_mask {
                    ex.dropout_mask(att_mask, [att, preatt], site(l + 1, 0), b * nh * t * t);
                }
                ex.attention_forward(
                    la.atty,
                    preatt,
                    att,
                    qkv,
                    att_mask,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
            }
            _ => unreachable!("attention keeps either its maps or its lse"),
        }
        let attproj_adapter = adapter(LoraTarget::AttnProj);
        self.linear_forward(
            ex,
            l,
            LoraTarget::AttnProj,
            la.attproj,
            la.atty,
            attproj_adapter,
            training,
            bt,
        );
        let attproj = match (masks, drop) {
            (Some(m), Some(d)) => {
                ex.dropout_forward(d.tmp, m.attproj, la.attproj, site(l + 1, 1), bt * c);
                d.tmp
            }
            _ => la.attproj,
        };
        ex.residual_forward(la.residual2, residual, attproj, bt * c);
        // An encoder-decoder's decoder block: x = x + dropout(out_proj(cross_attention(ln(x), memory))).
        let residual2 = self.cross_forward(ex, a, l, la.residual2, training, b, t);

        // MLP: x = x + dropout(mlp.c_proj(act(mlp.c_fc(ln_2(x))))).
        ex.layernorm_forward(
            la.ln2,
            la.ln2_mean,
            la.ln2_rstd,
            residual2,
            p(ids.ln2_w),
            popt(ids.ln2_b),
            b,
            t,
            c,
        );
        let fc_adapter = adapter(LoraTarget::Fc);
        self.linear_forward(
            ex,
            l,
            LoraTarget::Fc,
            la.fch,
            la.ln2,
            fc_adapter,
            training,
            bt,
        );
        match cfg.activation {
            Activation::Gelu => ex.gelu_forward(la.fch_act, la.fch, bt * f),
            Activation::Relu => ex.relu_forward(la.fch_act, la.fch, bt * f),
        }
        let fcproj_adapter = adapter(LoraTarget::FcProj);
        self.linear_forward(
            ex,
            l,
            LoraTarget::FcProj,
            la.fcproj,
            la.fch_act,
            fcproj_adapter,
            training,
            bt,
        );
        let fcproj = match (masks, drop) {
            (Some(m), Some(d)) => {
                ex.dropout_forward(d.tmp, m.fcproj, la.fcproj, site(l + 1, 2), bt * c);
                d.tmp
            }
            _ => la.fcproj,
        };
        // A recomputation skips the block's output: it is a kept checkpoint, already there.
        if write_output {
            ex.residual_forward(la.residual3, residual2, fcproj, bt * c);
        }
    }

    /// The backward pass of the forward pass just run (training, with targets): adds the parameter gradients
    /// into the executor's gradients. `g.dlosses` holds d loss / d losses and `g.dresidual` is zero.
    /// `targets` None is the loss hook: the caller has written `g.dlogits` itself (another objective, such as
    /// distillation, over the logits) and the cross-entropy's backward is skipped.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        g: &Grads,
        inputs: Tensor,
        targets: Option<Tensor>,
        b: usize,
        t: usize,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, v) = (cfg.n_embd, cfg.vocab_size);
        let bt = b * t;
        let p = |id| lay.param(id);

        if let (Some(head), Some(hg), Some((w, bias))) =
            (&a.classifier, &g.classifier, lay.classifier)
        {
            // Classification head: into dpooled (B, C), then an equal share to every position of d ln_f.
            let k = lay.specs[bias].len;
            let (pooled, dpooled) = (head.pooled.prefix(b * c), hg.dpooled.prefix(b * c));
            let dlogits = hg.dlogits.prefix(b * k);
            if let Some(targets) = targets {
                let probs = head.probs.prefix(b * k);
                ex.crossentropy_backward(
                    dlogits,
                    g.dlosses.prefix(b),
                    probs,
                    targets.prefix(b),
                    b,
                    1,
                    k,
                );
            }
            let (dw, dbias) = (lay.grad_if_trainable(w), lay.grad_if_trainable(bias));
            ex.matmul_backward(dpooled, dw, dbias, dlogits, pooled, p(w), b, c, k);
            ex.meanpool_backward(g.dln, dpooled, b, t, c);
        } else {
            // Loss and head. The head is tied to wte: its gradient lands in dwte, as the embedding's does later.
            if let Some(targets) = targets {
                ex.crossentropy_backward(
                    g.dlogits,
                    g.dlosses,
                    a.probs,
                    targets.prefix(bt),
                    b,
                    t,
                    v,
                );
            }
            ex.matmul_backward(
                g.dln,
                lay.grad_if_trainable(lay.wte),
                None,
                g.dlogits,
                a.lnf,
                p(lay.wte),
                bt,
                c,
                v,
            );
        }
        self.backward_blocks(ex, a, g, inputs, b, t);
    }

    /// The backward pass from the final norm's output down: `g.dln` holds d ln_f(x) (B, T, C) (the head's
    /// input gradient; for an encoder, the gradient of its output that the decoder's cross-attention sent back).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_blocks(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        g: &Grads,
        inputs: Tensor,
        b: usize,
        t: usize,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let c = cfg.n_embd;
        let bt = b * t;
        let p = |id| lay.param(id);
        // Frozen tensors (the base model under LoRA) have no gradient: None for matmuls and biases, and the
        // LayerNorm weights' gradients land in a sink that nothing reads.
        let dpopt = |id: Option<usize>| id.and_then(|id| lay.grad_if_trainable(id));
        let ln_dw = |id| {
            lay.grad_if_trainable(id)
                .unwrap_or_else(|| g.lora.as_ref().expect("only LoRA freezes weights").ln_sink)
        };
        let last = a.layers[cfg.n_layer - 1].residual3;
        ex.layernorm_backward(
            g.dresidual,
            ln_dw(lay.lnf_w),
            dpopt(lay.lnf_b),
            g.dln,
            last,
            p(lay.lnf_w),
            a.lnf_mean,
            a.lnf_rstd,
            b,
            t,
            c,
        );

        // The blocks, last first. With activation checkpointing (`a.checkpoint_every` = k > 0) the forward pass
        // kept only each group of k blocks' input and output, the groups sharing one working set of activations:
        // each group's forward runs again, with the same dropout masks (drawn from the same sites and seed), just
        // before its backward; except the last group's, whose activations the forward pass left in the set.
        let every = a.checkpoint_every;
        let groups = if every == 0 {
            1
        } else {
            cfg.n_layer.div_ceil(every)
        };
        for group in (0..groups).rev() {
            let blocks = if every == 0 {
                0..cfg.n_layer
            } else {
                group * every..((group + 1) * every).min(cfg.n_layer)
            };
            if every > 0 && group + 1 < groups {
                for l in blocks.clone() {
                    let last = l + 1 == blocks.end;
                    self.block_forward(ex, a, l, b, t, true, !last);
                }
            }
            for l in blocks.rev() {
                self.block_backward(ex, a, g, l, b, t);
            }
        }

        // dresidual holds d encoded: through the embedding dropout into wte and wpe (unless they are frozen).
        if let Some(dwte) = lay.grad_if_trainable(lay.wte) {
            let mask = a.dropout.as_ref().map(|d| d.encoded_mask);
            let dencoded = Self::through_dropout(ex, g, mask, bt * c);
            let dpos = dpopt(lay.wpe).map(|d| d.prefix(t * c));
            ex.encoder_backward(dwte, dpos, dencoded, inputs.prefix(bt), b, t, c);
        }
    }

    /// Block `l`'s backward pass: `g.dresidual` holds d (the block's output) and ends holding d (its input); the
    /// parameter gradients add up.
    fn block_backward(
        &self,
        ex: &mut dyn Executor,
        a: &Acts,
        g: &Grads,
        l: usize,
        b: usize,
        t: usize,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, f, nh) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head);
        let bt = b * t;
        let p = |id| lay.param(id);
        let dpopt = |id: Option<usize>| id.and_then(|id| lay.grad_if_trainable(id));
        let ln_dw = |id| {
            lay.grad_if_trainable(id)
                .unwrap_or_else(|| g.lora.as_ref().expect("only LoRA freezes weights").ln_sink)
        };
        let site = |layer, site| DropoutSite {
            p: cfg.dropout,
            layer,
            site,
        };
        // The gradient of a residual branch's output goes through its dropout mask when there is one.
        let through_dropout = |ex: &mut dyn Executor, mask: Option<Tensor>| {
            Self::through_dropout(ex, g, mask, bt * c)
        };
        let (ids, la) = (&lay.layers[l], &a.layers[l]);
        let residual = if l == 0 {
            a.encoded
        } else {
            a.layers[l - 1].residual3
        };
        let masks = la.masks.as_ref();

        // dresidual holds d residual3: the skip path passes it on as is, the MLP branch reads it.
        let dout = through_dropout(ex, masks.map(|m| m.fcproj));
        let lora = |target: LoraTarget| la.lora[target.index()].as_ref();
        self.linear_backward(
            ex,
            g,
            l,
            LoraTarget::FcProj,
            g.dfch_act,
            dout,
            la.fch_act,
            lora(LoraTarget::FcProj),
            bt,
        );
        match cfg.activation {
            Activation::Gelu => ex.gelu_backward(g.dfch, la.fch, g.dfch_act, bt * f),
            Activation::Relu => ex.relu_backward(g.dfch, la.fch, g.dfch_act, bt * f),
        }
        self.linear_backward(
            ex,
            g,
            l,
            LoraTarget::Fc,
            g.dln,
            g.dfch,
            la.ln2,
            lora(LoraTarget::Fc),
            bt,
        );
        let residual2 = a
            .cross
            .as_ref()
            .filter(|_| ids.cross.is_some())
            .map_or(la.residual2, |x| x.layers[l].residual);
        ex.layernorm_backward(
            g.dresidual,
            ln_dw(ids.ln2_w),
            dpopt(ids.ln2_b),
            g.dln,
            residual2,
            p(ids.ln2_w),
            la.ln2_mean,
            la.ln2_rstd,
            b,
            t,
            c,
        );
        // dresidual holds d of the stream after the cross-attention (when the block has one): its branch.
        self.cross_backward(ex, a, g, l, la.residual2, b, t);

        // dresidual holds d residual2: the attention branch.
        let dout = through_dropout(ex, masks.map(|m| m.attproj));
        self.linear_backward(
            ex,
            g,
            l,
            LoraTarget::AttnProj,
            g.datty,
            dout,
            la.atty,
            lora(LoraTarget::AttnProj),
            bt,
        );
        // With RoPE the attention saw the rotated qkv: its gradient goes through rope_backward after.
        let (dqkv, qkv) = match (g.dqkv_rope, la.qkv_rope) {
            (Some(dqkv_rope), Some(qkv_rope)) => (dqkv_rope, qkv_rope),
            _ => (g.dqkv, la.qkv),
        };
        match (la.lse, g.delta, la.att, g.dpreatt, g.datt) {
            (Some(lse), Some(delta), ..) => {
                let dropout = masks.map(|_| site(l + 1, 0));
                ex.attention_backward_fused(
                    dqkv,
                    delta,
                    g.datty,
                    qkv,
                    la.atty,
                    lse,
                    dropout,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
            }
            (None, None, Some(att), Some(dpreatt), Some(datt)) => {
                let att_mask = masks.and_then(|m| m.att);
                ex.attention_backward(
                    dqkv,
                    dpreatt,
                    datt,
                    g.datty,
                    qkv,
                    att,
                    att_mask,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
            }
            _ => unreachable!("attention keeps either its maps or its lse"),
        }
        if g.dqkv_rope.is_some() {
            ex.rope_backward(g.dqkv, dqkv, 0, b, t, c, nh);
        }
        self.linear_backward(
            ex,
            g,
            l,
            LoraTarget::Qkv,
            g.dln,
            g.dqkv,
            la.ln1,
            lora(LoraTarget::Qkv),
            bt,
        );
        ex.layernorm_backward(
            g.dresidual,
            ln_dw(ids.ln1_w),
            dpopt(ids.ln1_b),
            g.dln,
            residual,
            p(ids.ln1_w),
            la.ln1_mean,
            la.ln1_rstd,
            b,
            t,
            c,
        );
    }

    /// The gradient of a residual branch's output: through its dropout mask when there is one.
    fn through_dropout(ex: &mut dyn Executor, g: &Grads, mask: Option<Tensor>, n: usize) -> Tensor {
        match (mask, g.dproj) {
            (Some(mask), Some(dproj)) => {
                ex.dropout_backward(dproj, g.dresidual, mask, n);
                dproj
            }
            _ => g.dresidual,
        }
    }

    /// One new token through the model with a KV cache: `d.token` at position `pos` (both written before),
    /// attending over the `pos` cached positions and itself; the next token's logits land in `d.logits` (V).
    pub fn decode_step(&self, ex: &mut dyn Executor, d: &DecodeActs, pos: usize) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, f, nh, v, t_max) = (
            cfg.n_embd,
            cfg.ffn_width(),
            cfg.n_head,
            cfg.vocab_size,
            cfg.block_size,
        );
        let p = |id| lay.param(id);
        let popt = |id: Option<usize>| id.map(p);

        // x (C) = wte[token] + the position's row (gathered from wpe or the sinusoidal table; none with RoPE).
        let positions = match cfg.positional {
            Positional::Learned => Some(p(lay.wpe.expect("learned positions have wpe"))),
            Positional::Sinusoidal => d.pos_table,
            Positional::Rope => None,
        };
        if let Some(table) = positions {
            ex.encoder_forward(d.position_row, d.position, table, None, 1, 1, c);
        }
        let row = positions.map(|_| d.position_row);
        ex.encoder_forward(d.resid[0], d.token, p(lay.wte), row, 1, 1, c);

        // Every adapted layer shares the one position's adapter buffers.
        let adapter = |_: LoraTarget| {
            let (acts, scratch) = d.lora.as_ref()?;
            Some(AdapterBuffers { acts, scratch })
        };
        for (l, ids) in lay.layers.iter().enumerate() {
            let x = d.resid[l];
            ex.layernorm_forward(
                d.ln,
                d.mean,
                d.rstd,
                x,
                p(ids.ln1_w),
                popt(ids.ln1_b),
                1,
                1,
                c,
            );
            self.linear_forward(
                ex,
                l,
                LoraTarget::Qkv,
                d.qkv,
                d.ln,
                adapter(LoraTarget::Qkv),
                false,
                1,
            );
            let qkv = if cfg.positional == Positional::Rope {
                ex.rope_forward(d.qkv_rope, d.qkv, pos, 1, 1, c, nh);
                d.qkv_rope
            } else {
                d.qkv
            };
            ex.attention_decode(
                d.atty,
                d.k_cache[l],
                d.v_cache[l],
                qkv,
                pos + 1,
                t_max,
                c,
                nh,
            );
            self.linear_forward(
                ex,
                l,
                LoraTarget::AttnProj,
                d.attproj,
                d.atty,
                adapter(LoraTarget::AttnProj),
                false,
                1,
            );
            ex.residual_forward(d.residual2, x, d.attproj, c);
            let residual2 = self.cross_decode(ex, d, l, d.residual2);
            ex.layernorm_forward(
                d.ln,
                d.mean,
                d.rstd,
                residual2,
                p(ids.ln2_w),
                popt(ids.ln2_b),
                1,
                1,
                c,
            );
            self.linear_forward(
                ex,
                l,
                LoraTarget::Fc,
                d.fch,
                d.ln,
                adapter(LoraTarget::Fc),
                false,
                1,
            );
            match cfg.activation {
                Activation::Gelu => ex.gelu_forward(d.fch_act, d.fch, f),
                Activation::Relu => ex.relu_forward(d.fch_act, d.fch, f),
            }
            self.linear_forward(
                ex,
                l,
                LoraTarget::FcProj,
                d.fcproj,
                d.fch_act,
                adapter(LoraTarget::FcProj),
                false,
                1,
            );
            ex.residual_forward(d.resid[l + 1], residual2, d.fcproj, c);
        }
        let last = d.resid[cfg.n_layer];
        ex.layernorm_forward(
            d.ln,
            d.mean,
            d.rstd,
            last,
            p(lay.lnf_w),
            popt(lay.lnf_b),
            1,
            1,
            c,
        );
        ex.matmul_forward(d.logits, d.ln, p(lay.wte), None, 1, c, v);
    }
}
