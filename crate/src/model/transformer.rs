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
//! ```
//!
//! The buffers are described here too, once: [`Acts`] (what the forward keeps for the backward and the page),
//! [`Grads`] (the backward's scratch) and [`DecodeActs`] (the KV caches and one position's activations), each a
//! struct of [`Tensor`] handles allocated through the executor. Memory accounting counts these structs.
//!
//! Gradients follow the ops' rule: parameter gradients accumulate (so micro-batches add up until they are
//! zeroed), activation gradients are assigned, and the residual stream's gradient is one buffer that each
//! LayerNorm backward adds into (the skip path passes it through as is).

use super::config::{Activation, ModelConfig, Positional};
use super::params::ParamLayout;
use crate::exec::{DropoutSite, Executor, Tensor};

/// What one block keeps from its forward pass.
#[derive(Clone, Debug)]
pub struct LayerActs {
    pub ln1: Tensor,              // (B, T, C)
    pub ln1_mean: Tensor,         // (B, T)
    pub ln1_rstd: Tensor,         // (B, T)
    pub qkv: Tensor,              // (B, T, 3C) c_attn output
    pub qkv_rope: Option<Tensor>, // (B, T, 3C) q, k rotated (RoPE only)
    pub preatt: Option<Tensor>,   // (B, NH, T, T) scaled scores (readable attention only)
    pub att: Option<Tensor>,      // (B, NH, T, T) softmax weights (readable attention only)
    pub lse: Option<Tensor>,      // (B, NH, T) log-sum-exp per row (fused attention only)
    pub atty: Tensor,             // (B, T, C) heads concatenated
    pub attproj: Tensor,          // (B, T, C) attn.c_proj output
    pub residual2: Tensor,        // (B, T, C)
    pub ln2: Tensor,              // (B, T, C)
    pub ln2_mean: Tensor,         // (B, T)
    pub ln2_rstd: Tensor,         // (B, T)
    pub fch: Tensor,              // (B, T, F) c_fc output
    pub fch_act: Tensor,          // (B, T, F) after ReLU/GELU
    pub fcproj: Tensor,           // (B, T, C) mlp.c_proj output
    pub residual3: Tensor,        // (B, T, C) the block's output
    /// The block's dropout masks (training with dropout).
    pub masks: Option<LayerMasks>,
}

/// One block's dropout masks.
#[derive(Clone, Debug)]
pub struct LayerMasks {
    pub att: Option<Tensor>, // (B, NH, T, T) attention weights (readable attention; fused redraws it inline)
    pub attproj: Tensor,     // (B, T, C) after attn.c_proj
    pub fcproj: Tensor,      // (B, T, C) after mlp.c_proj
}

/// The embedding dropout's mask and the scratch every dropout output passes through.
#[derive(Clone, Debug)]
pub struct DropoutActs {
    pub tmp: Tensor,          // (B, T, C) a dropout's output before the residual add
    pub encoded_mask: Tensor, // (B, T, C)
}

/// Every activation of a forward pass of up to `bt` positions.
#[derive(Clone, Debug)]
pub struct Acts {
    /// Positions (B*T) the buffers hold.
    pub bt: usize,
    /// Numbers of each (B, NH, T, T) map (0 with fused attention).
    pub att: usize,
    /// The sinusoidal position table (block_size, C), for that positional option.
    pub pos_table: Option<Tensor>,
    pub encoded: Tensor, // (B, T, C) embeddings after dropout: the input of block 0
    pub layers: Vec<LayerActs>,
    pub lnf: Tensor,      // (B, T, C)
    pub lnf_mean: Tensor, // (B, T)
    pub lnf_rstd: Tensor, // (B, T)
    pub logits: Tensor,   // (B, T, V)
    pub probs: Tensor,    // (B, T, V) (written when targets are given)
    pub losses: Tensor,   // (B, T) (written when targets are given)
    pub dropout: Option<DropoutActs>,
}

/// The backward pass's scratch, reused by every block.
#[derive(Clone, Debug)]
pub struct Grads {
    pub dlosses: Tensor,           // (B, T) d loss / d losses, filled by the caller
    pub dlogits: Tensor,           // (B, T, V)
    pub dresidual: Tensor, // (B, T, C) the residual stream's gradient, zero when backward starts
    pub dln: Tensor,       // (B, T, C)
    pub datty: Tensor,     // (B, T, C)
    pub dfch_act: Tensor,  // (B, T, F)
    pub dfch: Tensor,      // (B, T, F)
    pub dqkv: Tensor,      // (B, T, 3C)
    pub dqkv_rope: Option<Tensor>, // (B, T, 3C) RoPE only
    pub dpreatt: Option<Tensor>, // (B, NH, T, T) readable attention only
    pub datt: Option<Tensor>, // (B, NH, T, T) readable attention only
    pub delta: Option<Tensor>, // (B, NH, T) fused attention only: dout . out per row
    pub dproj: Option<Tensor>, // (B, T, C) a gradient through a dropout (training with dropout)
}

/// The buffers of generation with a KV cache: the caches and one position's activations.
#[derive(Clone, Debug)]
pub struct DecodeActs {
    /// The sinusoidal position table (block_size, C), for that positional option.
    pub pos_table: Option<Tensor>,
    pub k_cache: Vec<Tensor>, // L x (block_size, C)
    pub v_cache: Vec<Tensor>, // L x (block_size, C)
    /// The new token's id and its position, (1) each, written before every step.
    pub token: Tensor,
    pub position: Tensor,
    /// The position's row of wpe or of the sinusoidal table (C); unused with RoPE.
    pub position_row: Tensor,
    /// The residual stream before block l is resid[l]; resid[L] is the last block's output. Each (C).
    pub resid: Vec<Tensor>,
    pub ln: Tensor,        // (C)
    pub mean: Tensor,      // (1)
    pub rstd: Tensor,      // (1)
    pub qkv: Tensor,       // (3C)
    pub qkv_rope: Tensor,  // (3C) (RoPE only, else unused)
    pub atty: Tensor,      // (C)
    pub attproj: Tensor,   // (C)
    pub residual2: Tensor, // (C)
    pub fch: Tensor,       // (F)
    pub fch_act: Tensor,   // (F)
    pub fcproj: Tensor,    // (C)
    pub logits: Tensor,    // (V)
}

/// The sinusoidal position table (block_size, C), for that positional option.
fn sinusoidal_table<E: Executor>(ex: &mut E, cfg: &ModelConfig) -> Option<Tensor> {
    (cfg.positional == Positional::Sinusoidal).then(|| {
        let table = ex.alloc("sinusoidal table", cfg.block_size * cfg.n_embd);
        ex.sinusoidal_table(table, 0, cfg.block_size, cfg.n_embd);
        table
    })
}

/// Every handle of a set of buffers, for memory accounting.
fn flatten<'a>(
    required: impl IntoIterator<Item = &'a Tensor>,
    optional: impl IntoIterator<Item = &'a Option<Tensor>>,
) -> impl Iterator<Item = Tensor> {
    required
        .into_iter()
        .copied()
        .chain(optional.into_iter().flatten().copied())
}

impl Acts {
    /// Allocates the activations of up to `bt` positions whose attention maps hold `att` numbers each (ignored
    /// when the executor fuses attention); with `dropout`, the masks of training with dropout.
    pub fn new<E: Executor>(
        ex: &mut E,
        cfg: &ModelConfig,
        bt: usize,
        att: usize,
        dropout: bool,
    ) -> Self {
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let fused = ex.fused_attention();
        let att = if fused { 0 } else { att };
        let rope = cfg.positional == Positional::Rope;
        let pos_table = sinusoidal_table(ex, cfg);
        let layers = (0..cfg.n_layer)
            .map(|_| LayerActs {
                ln1: ex.alloc("ln1", bt * c),
                ln1_mean: ex.alloc("ln1_mean", bt),
                ln1_rstd: ex.alloc("ln1_rstd", bt),
                qkv: ex.alloc("qkv", bt * 3 * c),
                qkv_rope: rope.then(|| ex.alloc("qkv_rope", bt * 3 * c)),
                preatt: (!fused).then(|| ex.alloc("preatt", att)),
                att: (!fused).then(|| ex.alloc("att", att)),
                lse: fused.then(|| ex.alloc("lse", bt * nh)),
                atty: ex.alloc("atty", bt * c),
                attproj: ex.alloc("attproj", bt * c),
                residual2: ex.alloc("residual2", bt * c),
                ln2: ex.alloc("ln2", bt * c),
                ln2_mean: ex.alloc("ln2_mean", bt),
                ln2_rstd: ex.alloc("ln2_rstd", bt),
                fch: ex.alloc("fch", bt * f),
                fch_act: ex.alloc("fch_act", bt * f),
                fcproj: ex.alloc("fcproj", bt * c),
                residual3: ex.alloc("residual3", bt * c),
                masks: dropout.then(|| LayerMasks {
                    att: (!fused).then(|| ex.alloc("att mask", att)),
                    attproj: ex.alloc("attproj mask", bt * c),
                    fcproj: ex.alloc("fcproj mask", bt * c),
                }),
            })
            .collect();
        Self {
            bt,
            att,
            pos_table,
            encoded: ex.alloc("encoded", bt * c),
            layers,
            lnf: ex.alloc("lnf", bt * c),
            lnf_mean: ex.alloc("lnf_mean", bt),
            lnf_rstd: ex.alloc("lnf_rstd", bt),
            logits: ex.alloc("logits", bt * v),
            probs: ex.alloc("probs", bt * v),
            losses: ex.alloc("losses", bt),
            dropout: dropout.then(|| DropoutActs {
                tmp: ex.alloc("dropout tmp", bt * c),
                encoded_mask: ex.alloc("encoded mask", bt * c),
            }),
        }
    }

    /// Every buffer.
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut all: Vec<Tensor> = flatten(
            [
                &self.encoded,
                &self.lnf,
                &self.lnf_mean,
                &self.lnf_rstd,
                &self.logits,
                &self.probs,
                &self.losses,
            ],
            [&self.pos_table],
        )
        .collect();
        for la in &self.layers {
            all.extend(flatten(
                [
                    &la.ln1,
                    &la.ln1_mean,
                    &la.ln1_rstd,
                    &la.qkv,
                    &la.atty,
                    &la.attproj,
                    &la.residual2,
                    &la.ln2,
                    &la.ln2_mean,
                    &la.ln2_rstd,
                    &la.fch,
                    &la.fch_act,
                    &la.fcproj,
                    &la.residual3,
                ],
                [&la.qkv_rope, &la.preatt, &la.att, &la.lse],
            ));
            if let Some(m) = &la.masks {
                all.extend(flatten([&m.attproj, &m.fcproj], [&m.att]));
            }
        }
        if let Some(d) = &self.dropout {
            all.extend([d.tmp, d.encoded_mask]);
        }
        all
    }

    /// The q, k, v of layer `l` that attention saw (rotated with RoPE), (B, T, 3C).
    pub fn attention_qkv(&self, l: usize) -> Tensor {
        let la = &self.layers[l];
        la.qkv_rope.unwrap_or(la.qkv)
    }
}

impl Grads {
    /// Allocates the backward's scratch for the activations `acts`.
    pub fn new<E: Executor>(ex: &mut E, cfg: &ModelConfig, acts: &Acts) -> Self {
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let (bt, att) = (acts.bt, acts.att);
        let fused = ex.fused_attention();
        let rope = cfg.positional == Positional::Rope;
        Self {
            dlosses: ex.alloc("dlosses", bt),
            dlogits: ex.alloc("dlogits", bt * v),
            dresidual: ex.alloc("dresidual", bt * c),
            dln: ex.alloc("dln", bt * c),
            datty: ex.alloc("datty", bt * c),
            dfch_act: ex.alloc("dfch_act", bt * f),
            dfch: ex.alloc("dfch", bt * f),
            dqkv: ex.alloc("dqkv", bt * 3 * c),
            dqkv_rope: rope.then(|| ex.alloc("dqkv_rope", bt * 3 * c)),
            dpreatt: (!fused).then(|| ex.alloc("dpreatt", att)),
            datt: (!fused).then(|| ex.alloc("datt", att)),
            delta: fused.then(|| ex.alloc("delta", bt * nh)),
            dproj: acts
                .dropout
                .as_ref()
                .map(|_| ex.alloc("dropout dproj", bt * c)),
        }
    }

    /// Every buffer.
    pub fn tensors(&self) -> Vec<Tensor> {
        flatten(
            [
                &self.dlosses,
                &self.dlogits,
                &self.dresidual,
                &self.dln,
                &self.datty,
                &self.dfch_act,
                &self.dfch,
                &self.dqkv,
            ],
            [
                &self.dqkv_rope,
                &self.dpreatt,
                &self.datt,
                &self.delta,
                &self.dproj,
            ],
        )
        .collect()
    }
}

impl DecodeActs {
    pub fn new<E: Executor>(ex: &mut E, cfg: &ModelConfig) -> Self {
        let (c, f, t, v, l) = (
            cfg.n_embd,
            cfg.ffn_width(),
            cfg.block_size,
            cfg.vocab_size,
            cfg.n_layer,
        );
        Self {
            pos_table: sinusoidal_table(ex, cfg),
            k_cache: (0..l).map(|_| ex.alloc("k cache", t * c)).collect(),
            v_cache: (0..l).map(|_| ex.alloc("v cache", t * c)).collect(),
            token: ex.alloc_tokens("decode token", 1),
            position: ex.alloc_tokens("decode position", 1),
            position_row: ex.alloc("decode position row", c),
            resid: (0..=l).map(|_| ex.alloc("decode residual", c)).collect(),
            ln: ex.alloc("decode ln", c),
            mean: ex.alloc("decode mean", 1),
            rstd: ex.alloc("decode rstd", 1),
            qkv: ex.alloc("decode qkv", 3 * c),
            qkv_rope: ex.alloc("decode qkv rope", 3 * c),
            atty: ex.alloc("decode atty", c),
            attproj: ex.alloc("decode attproj", c),
            residual2: ex.alloc("decode residual2", c),
            fch: ex.alloc("decode fch", f),
            fch_act: ex.alloc("decode fch act", f),
            fcproj: ex.alloc("decode fcproj", c),
            logits: ex.alloc("decode logits", v),
        }
    }

    /// Every buffer.
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut all: Vec<Tensor> = self
            .pos_table
            .iter()
            .chain(&self.k_cache)
            .chain(&self.v_cache)
            .chain(&self.resid)
            .copied()
            .collect();
        all.extend([
            self.position_row,
            self.ln,
            self.mean,
            self.rstd,
            self.qkv,
            self.qkv_rope,
            self.atty,
            self.attproj,
            self.residual2,
            self.fch,
            self.fch_act,
            self.fcproj,
            self.logits,
        ]);
        all
    }
}

/// The model as the executors see it: its config and where each parameter lives.
pub struct Transformer<'a> {
    pub config: &'a ModelConfig,
    pub layout: &'a ParamLayout,
}

impl Transformer<'_> {
    /// The forward pass over `b` sequences of `t` tokens, `inputs` (B, T); with `targets` (B, T) also the losses
    /// and probabilities. `training` applies dropout (when `acts` has masks), drawn from the executor's seed.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<E: Executor>(
        &self,
        ex: &mut E,
        a: &Acts,
        inputs: Tensor,
        targets: Option<Tensor>,
        b: usize,
        t: usize,
        training: bool,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
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

        for (l, la) in a.layers.iter().enumerate() {
            let ids = &lay.layers[l];
            let residual = if l == 0 {
                a.encoded
            } else {
                a.layers[l - 1].residual3
            };
            let masks = drop.and(la.masks.as_ref());

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
            ex.matmul_forward(la.qkv, la.ln1, p(ids.qkv_w), popt(ids.qkv_b), bt, c, 3 * c);
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
            ex.matmul_forward(
                la.attproj,
                la.atty,
                p(ids.attproj_w),
                popt(ids.attproj_b),
                bt,
                c,
                c,
            );
            let attproj = match (masks, drop) {
                (Some(m), Some(d)) => {
                    ex.dropout_forward(d.tmp, m.attproj, la.attproj, site(l + 1, 1), bt * c);
                    d.tmp
                }
                _ => la.attproj,
            };
            ex.residual_forward(la.residual2, residual, attproj, bt * c);

            // MLP: x = x + dropout(mlp.c_proj(act(mlp.c_fc(ln_2(x))))).
            ex.layernorm_forward(
                la.ln2,
                la.ln2_mean,
                la.ln2_rstd,
                la.residual2,
                p(ids.ln2_w),
                popt(ids.ln2_b),
                b,
                t,
                c,
            );
            ex.matmul_forward(la.fch, la.ln2, p(ids.fc_w), popt(ids.fc_b), bt, c, f);
            match cfg.activation {
                Activation::Gelu => ex.gelu_forward(la.fch_act, la.fch, bt * f),
                Activation::Relu => ex.relu_forward(la.fch_act, la.fch, bt * f),
            }
            ex.matmul_forward(
                la.fcproj,
                la.fch_act,
                p(ids.fcproj_w),
                popt(ids.fcproj_b),
                bt,
                f,
                c,
            );
            let fcproj = match (masks, drop) {
                (Some(m), Some(d)) => {
                    ex.dropout_forward(d.tmp, m.fcproj, la.fcproj, site(l + 1, 2), bt * c);
                    d.tmp
                }
                _ => la.fcproj,
            };
            ex.residual_forward(la.residual3, la.residual2, fcproj, bt * c);
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
        ex.matmul_forward(a.logits, a.lnf, p(lay.wte), None, bt, c, v);
        if let Some(targets) = targets {
            ex.crossentropy_forward(a.losses, a.probs, a.logits, targets.prefix(bt), b, t, v);
        }
    }

    /// The backward pass of the forward pass just run (training, with targets): adds the parameter gradients
    /// into the executor's gradients. `g.dlosses` holds d loss / d losses and `g.dresidual` is zero.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<E: Executor>(
        &self,
        ex: &mut E,
        a: &Acts,
        g: &Grads,
        inputs: Tensor,
        targets: Tensor,
        b: usize,
        t: usize,
    ) {
        let (cfg, lay) = (self.config, self.layout);
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let bt = b * t;
        let p = |id| lay.param(id);
        let dp = |id| lay.grad(id);
        let dpopt = |id: Option<usize>| id.map(dp);
        let site = |layer, site| DropoutSite {
            p: cfg.dropout,
            layer,
            site,
        };
        // The gradient of a residual branch's output: through its dropout mask when there is one.
        let through_dropout = |ex: &mut E, mask: Option<Tensor>| match (mask, g.dproj) {
            (Some(mask), Some(dproj)) => {
                ex.dropout_backward(dproj, g.dresidual, mask, bt * c);
                dproj
            }
            _ => g.dresidual,
        };

        // Loss and head. The head is tied to wte: its gradient lands in dwte, as the embedding's does later.
        ex.crossentropy_backward(g.dlogits, g.dlosses, a.probs, targets.prefix(bt), b, t, v);
        ex.matmul_backward(
            g.dln,
            dp(lay.wte),
            None,
            g.dlogits,
            a.lnf,
            p(lay.wte),
            bt,
            c,
            v,
        );
        let last = a.layers[cfg.n_layer - 1].residual3;
        ex.layernorm_backward(
            g.dresidual,
            dp(lay.lnf_w),
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

        for l in (0..cfg.n_layer).rev() {
            let (ids, la) = (&lay.layers[l], &a.layers[l]);
            let residual = if l == 0 {
                a.encoded
            } else {
                a.layers[l - 1].residual3
            };
            let masks = la.masks.as_ref();

            // dresidual holds d residual3: the skip path passes it on as is, the MLP branch reads it.
            let dout = through_dropout(ex, masks.map(|m| m.fcproj));
            ex.matmul_backward(
                g.dfch_act,
                dp(ids.fcproj_w),
                dpopt(ids.fcproj_b),
                dout,
                la.fch_act,
                p(ids.fcproj_w),
                bt,
                f,
                c,
            );
            match cfg.activation {
                Activation::Gelu => ex.gelu_backward(g.dfch, la.fch, g.dfch_act, bt * f),
                Activation::Relu => ex.relu_backward(g.dfch, la.fch, g.dfch_act, bt * f),
            }
            ex.matmul_backward(
                g.dln,
                dp(ids.fc_w),
                dpopt(ids.fc_b),
                g.dfch,
                la.ln2,
                p(ids.fc_w),
                bt,
                c,
                f,
            );
            ex.layernorm_backward(
                g.dresidual,
                dp(ids.ln2_w),
                dpopt(ids.ln2_b),
                g.dln,
                la.residual2,
                p(ids.ln2_w),
                la.ln2_mean,
                la.ln2_rstd,
                b,
                t,
                c,
            );

            // dresidual holds d residual2: the attention branch.
            let dout = through_dropout(ex, masks.map(|m| m.attproj));
            ex.matmul_backward(
                g.datty,
                dp(ids.attproj_w),
                dpopt(ids.attproj_b),
                dout,
                la.atty,
                p(ids.attproj_w),
                bt,
                c,
                c,
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
            ex.matmul_backward(
                g.dln,
                dp(ids.qkv_w),
                dpopt(ids.qkv_b),
                g.dqkv,
                la.ln1,
                p(ids.qkv_w),
                bt,
                c,
                3 * c,
            );
            ex.layernorm_backward(
                g.dresidual,
                dp(ids.ln1_w),
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

        // dresidual holds d encoded: through the embedding dropout into wte and wpe.
        let dencoded = through_dropout(ex, a.dropout.as_ref().map(|d| d.encoded_mask));
        let dpos = lay.wpe.map(|id| dp(id).prefix(t * c));
        ex.encoder_backward(dp(lay.wte), dpos, dencoded, inputs.prefix(bt), b, t, c);
    }

    /// One new token through the model with a KV cache: `d.token` at position `pos` (both written before),
    /// attending over the `pos` cached positions and itself; the next token's logits land in `d.logits` (V).
    pub fn decode_step<E: Executor>(&self, ex: &mut E, d: &DecodeActs, pos: usize) {
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
            ex.matmul_forward(d.qkv, d.ln, p(ids.qkv_w), popt(ids.qkv_b), 1, c, 3 * c);
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
            ex.matmul_forward(
                d.attproj,
                d.atty,
                p(ids.attproj_w),
                popt(ids.attproj_b),
                1,
                c,
                c,
            );
            ex.residual_forward(d.residual2, x, d.attproj, c);
            ex.layernorm_forward(
                d.ln,
                d.mean,
                d.rstd,
                d.residual2,
                p(ids.ln2_w),
                popt(ids.ln2_b),
                1,
                1,
                c,
            );
            ex.matmul_forward(d.fch, d.ln, p(ids.fc_w), popt(ids.fc_b), 1, c, f);
            match cfg.activation {
                Activation::Gelu => ex.gelu_forward(d.fch_act, d.fch, f),
                Activation::Relu => ex.relu_forward(d.fch_act, d.fch, f),
            }
            ex.matmul_forward(
                d.fcproj,
                d.fch_act,
                p(ids.fcproj_w),
                popt(ids.fcproj_b),
                1,
                f,
                c,
            );
            ex.residual_forward(d.resid[l + 1], d.residual2, d.fcproj, c);
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
