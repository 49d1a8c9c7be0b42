//! The model's buffers, described once: [`Acts`] (what the forward keeps for the backward and the page),
//! [`Grads`] (the backward's scratch) and [`DecodeActs`] (the KV caches and one position's activations), each a
//! struct of [`Tensor`] handles allocated through an [`Allocator`] (every executor is one). What a device holds is what these allocate:
//! memory accounting counts them ([`Acts::tensors`]), and a new layer adds its buffers here once.

use super::config::{ModelConfig, Positional};
use super::lora::LoraTarget;
use crate::exec::{Allocator, Tensor};

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
    /// What each LoRA adapter of the block keeps (in [`LoraTarget::ALL`]'s order), when it has one.
    pub lora: [Option<LoraActs>; 4],
}

/// What one LoRA adapter keeps for its backward pass.
#[derive(Clone, Debug)]
pub struct LoraActs {
    pub hs: Tensor, // (B, T, r) scaling * x @ A^T
    /// (B, T, IN) the adapter's input after its dropout, and the mask (training with LoRA dropout).
    pub dropped: Option<(Tensor, Tensor)>,
}

/// Scratch every LoRA adapter shares (nothing in it is kept for the backward pass).
#[derive(Clone, Debug)]
pub struct LoraScratch {
    pub base: Tensor,  // (B, T, max OC) the frozen layer's output
    pub delta: Tensor, // (B, T, max OC) the adapter's update
    pub h: Tensor,     // (B, T, r) x @ A^T
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
    /// One entry per block. With activation checkpointing every k blocks the entries are handles into one
    /// working set of k blocks' activations (block l uses set l % k), except each group's last block's
    /// `residual3`: the group's output, kept (a checkpoint, the next group's input).
    pub layers: Vec<LayerActs>,
    /// Activation checkpointing: blocks per group whose activations are recomputed in the backward pass (0: off,
    /// every block keeps its own).
    pub checkpoint_every: usize,
    pub lnf: Tensor,      // (B, T, C)
    pub lnf_mean: Tensor, // (B, T)
    pub lnf_rstd: Tensor, // (B, T)
    pub logits: Tensor,   // (B, T, V)
    pub probs: Tensor,    // (B, T, V) (written when targets are given)
    pub losses: Tensor,   // (B, T) (written when targets are given)
    pub dropout: Option<DropoutActs>,
    /// With LoRA: the adapters' shared scratch.
    pub lora: Option<LoraScratch>,
    /// An encoder-decoder's decoder: the encoder's output and each block's cross-attention activations.
    pub cross: Option<super::cross_block::CrossActs>,
    /// With a classification head: its activations. Its losses (B) are the first B of `losses` (the rest stay 0).
    pub classifier: Option<ClassifierActs>,
}

/// What the classification head keeps (room for up to B*T sequences; a pass uses the first B rows).
#[derive(Clone, Debug)]
pub struct ClassifierActs {
    pub pooled: Tensor, // (B, C) the mean over t of lnf
    pub logits: Tensor, // (B, K)
    pub probs: Tensor,  // (B, K) (written when labels are given)
}

/// The classification head's backward scratch.
#[derive(Clone, Debug)]
pub struct ClassifierGrads {
    pub dlogits: Tensor, // (B, K)
    pub dpooled: Tensor, // (B, C)
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
    /// With LoRA: the adapters' backward scratch.
    pub lora: Option<LoraGrads>,
    /// An encoder-decoder's decoder: the cross-attention's backward scratch and the encoder output's gradient.
    pub cross: Option<super::cross_block::CrossGrads>,
    /// With a classification head: its scratch (d loss / d losses is the first B of `dlosses`).
    pub classifier: Option<ClassifierGrads>,
}

/// The LoRA backward's scratch, shared by every adapter.
#[derive(Clone, Debug)]
pub struct LoraGrads {
    pub dbase: Tensor,              // (B, T, max IN) the frozen layer's input gradient
    pub dx: Tensor,                 // (B, T, max IN) the adapter's input gradient
    pub dx_dropped: Option<Tensor>, // (B, T, max IN) the same before the adapter's dropout (LoRA dropout only)
    pub dhs: Tensor,                // (B, T, r)
    pub dh: Tensor,                 // (B, T, r)
    /// (C) where frozen LayerNorms' weight gradients land, unread: the LayerNorm backward always writes one.
    pub ln_sink: Tensor,
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
    /// With LoRA: one position's adapter buffers (hs) and scratch, shared by every adapter.
    pub lora: Option<(LoraActs, LoraScratch)>,
    /// An encoder-decoder's decoder: the source's cached keys and values and one position's cross-attention.
    pub cross: Option<super::cross_block::CrossDecode>,
}

/// The sinusoidal position table (block_size, C), for that positional option.
fn sinusoidal_table(ex: &mut dyn Allocator, cfg: &ModelConfig) -> Option<Tensor> {
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
    pub fn new(
        ex: &mut dyn Allocator,
        cfg: &ModelConfig,
        bt: usize,
        att: usize,
        dropout: bool,
    ) -> Self {
        Self::checkpointed(ex, cfg, bt, att, dropout, 0)
    }

    /// [`Acts::new`] with activation checkpointing every `every` blocks (0: off): one working set of
    /// min(every, L) blocks' activations that the blocks share, plus each group's output (B, T, C).
    pub fn checkpointed(
        ex: &mut dyn Allocator,
        cfg: &ModelConfig,
        bt: usize,
        att: usize,
        dropout: bool,
        every: usize,
    ) -> Self {
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let fused = ex.fused_attention();
        let att = if fused { 0 } else { att };
        let rope = cfg.positional == Positional::Rope;
        let pos_table = sinusoidal_table(ex, cfg);
        // `dropout` is training with some dropout: the model's masks when it drops out, the adapters' when they do.
        let lora_dropout = dropout && cfg.lora.as_ref().is_some_and(|l| l.dropout > 0.0);
        let dropout = dropout && cfg.dropout > 0.0;
        let lora_acts = |ex: &mut dyn Allocator| -> [Option<LoraActs>; 4] {
            LoraTarget::ALL.map(|target| {
                let lora = cfg.lora.as_ref().filter(|l| l.has(target))?;
                let (i, _) = target.shape(cfg);
                Some(LoraActs {
                    hs: ex.alloc("LoRA x @ A^T (B x T x r)", bt * lora.r),
                    dropped: lora_dropout.then(|| {
                        (
                            ex.alloc("LoRA dropped input", bt * i),
                            ex.alloc("LoRA dropout mask", bt * i),
                        )
                    }),
                })
            })
        };
        let every = every.min(cfg.n_layer);
        let block = |ex: &mut dyn Allocator, residual3: &'static str| LayerActs {
            ln1: ex.alloc("ln1", bt * c),
            ln1_mean: ex.alloc("ln1_mean", bt),
            ln1_rstd: ex.alloc("ln1_rstd", bt),
            qkv: ex.alloc("q, k and v (B x T x 3C)", bt * 3 * c),
            qkv_rope: rope.then(|| ex.alloc("qkv_rope", bt * 3 * c)),
            preatt: (!fused).then(|| ex.alloc("attention maps (B x NH x T x T)", att)),
            att: (!fused).then(|| ex.alloc("att", att)),
            lse: fused.then(|| ex.alloc("lse", bt * nh)),
            atty: ex.alloc("atty", bt * c),
            attproj: ex.alloc("attproj", bt * c),
            residual2: ex.alloc("residual2", bt * c),
            ln2: ex.alloc("ln2", bt * c),
            ln2_mean: ex.alloc("ln2_mean", bt),
            ln2_rstd: ex.alloc("ln2_rstd", bt),
            fch: ex.alloc("FFN activations (B x T x FFN width)", bt * f),
            fch_act: ex.alloc("fch_act", bt * f),
            fcproj: ex.alloc("fcproj", bt * c),
            residual3: ex.alloc(residual3, bt * c),
            masks: dropout.then(|| LayerMasks {
                att: (!fused).then(|| ex.alloc("att mask", att)),
                attproj: ex.alloc("attproj mask", bt * c),
                fcproj: ex.alloc("fcproj mask", bt * c),
            }),
            lora: lora_acts(ex),
        };
        let checkpoint = "checkpoint: a block group's output (B x T x C)";
        let mut layers: Vec<LayerActs> = Vec::with_capacity(cfg.n_layer);
        for l in 0..cfg.n_layer {
            let group_end = every > 0 && ((l + 1) % every == 0 || l + 1 == cfg.n_layer);
            let la = if every == 0 {
                block(ex, "residual3")
            } else if l < every {
                // A block of the working set; a group's last block writes its output to a kept checkpoint.
                block(ex, if group_end { checkpoint } else { "residual3" })
            } else {
                let mut la = layers[l % every].clone();
                if group_end {
                    la.residual3 = ex.alloc(checkpoint, bt * c);
                }
                la
            };
            layers.push(la);
        }
        Self {
            bt,
            att,
            pos_table,
            encoded: ex.alloc("encoded", bt * c),
            layers,
            checkpoint_every: every,
            lnf: ex.alloc("lnf", bt * c),
            lnf_mean: ex.alloc("lnf_mean", bt),
            lnf_rstd: ex.alloc("lnf_rstd", bt),
            logits: ex.alloc("logits (B x T x V)", bt * v),
            probs: ex.alloc("probabilities (B x T x V)", bt * v),
            losses: ex.alloc("losses", bt),
            dropout: dropout.then(|| DropoutActs {
                tmp: ex.alloc("dropout tmp", bt * c),
                encoded_mask: ex.alloc("encoded mask", bt * c),
            }),
            lora: cfg.lora.as_ref().map(|lora| LoraScratch {
                base: ex.alloc("LoRA base output", bt * (3 * c).max(f)),
                delta: ex.alloc("LoRA update", bt * (3 * c).max(f)),
                h: ex.alloc("LoRA h", bt * lora.r),
            }),
            cross: None,
            classifier: cfg.classifier.as_ref().map(|head| ClassifierActs {
                pooled: ex.alloc("classifier pooled (B x C)", bt * c),
                logits: ex.alloc("class logits (B x K)", bt * head.classes),
                probs: ex.alloc("class probabilities (B x K)", bt * head.classes),
            }),
        }
    }

    /// The logits the predictions of a pass of (b, t) are read from, and the width of a row: the class logits
    /// (B, K) of a classifier, else the token logits (B, T, V).
    pub fn prediction_logits(&self, cfg: &ModelConfig, b: usize, t: usize) -> (Tensor, usize) {
        match (&self.classifier, &cfg.classifier) {
            (Some(acts), Some(head)) => (acts.logits.prefix(b * head.classes), head.classes),
            _ => (self.logits.prefix(b * t * cfg.vocab_size), cfg.vocab_size),
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
            for lora in la.lora.iter().flatten() {
                all.push(lora.hs);
                all.extend(lora.dropped.iter().flat_map(|&(x, mask)| [x, mask]));
            }
        }
        if let Some(d) = &self.dropout {
            all.extend([d.tmp, d.encoded_mask]);
        }
        if let Some(l) = &self.lora {
            all.extend([l.base, l.delta, l.h]);
        }
        if let Some(h) = &self.classifier {
            all.extend([h.pooled, h.logits, h.probs]);
        }
        if self.checkpoint_every > 0 {
            // Blocks share a working set: each buffer once.
            let mut unique = Vec::with_capacity(all.len());
            for t in all {
                if !unique.contains(&t) {
                    unique.push(t);
                }
            }
            all = unique;
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
    pub fn new(ex: &mut dyn Allocator, cfg: &ModelConfig, acts: &Acts) -> Self {
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let (bt, att) = (acts.bt, acts.att);
        let fused = ex.fused_attention();
        let rope = cfg.positional == Positional::Rope;
        Self {
            dlosses: ex.alloc("dlosses", bt),
            dlogits: ex.alloc("logits' gradient (B x T x V)", bt * v),
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
            lora: cfg.lora.as_ref().map(|lora| {
                let dropped = acts
                    .layers
                    .iter()
                    .any(|la| la.lora.iter().flatten().any(|x| x.dropped.is_some()));
                LoraGrads {
                    dbase: ex.alloc("LoRA dbase", bt * f.max(c)),
                    dx: ex.alloc("LoRA dx", bt * f.max(c)),
                    dx_dropped: dropped.then(|| ex.alloc("LoRA dx before dropout", bt * f.max(c))),
                    dhs: ex.alloc("LoRA dhs", bt * lora.r),
                    dh: ex.alloc("LoRA dh", bt * lora.r),
                    ln_sink: ex.alloc("frozen LayerNorm gradient sink", c),
                }
            }),
            cross: None,
            classifier: cfg.classifier.as_ref().map(|head| ClassifierGrads {
                dlogits: ex.alloc("class logits' gradient (B x K)", bt * head.classes),
                dpooled: ex.alloc("dpooled (B x C)", bt * c),
            }),
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
        .chain(self.lora.iter().flat_map(|l| {
            [l.dbase, l.dx, l.dhs, l.dh, l.ln_sink]
                .into_iter()
                .chain(l.dx_dropped)
        }))
        .chain(self.classifier.iter().flat_map(|h| [h.dlogits, h.dpooled]))
        .collect()
    }
}

impl DecodeActs {
    pub fn new(ex: &mut dyn Allocator, cfg: &ModelConfig) -> Self {
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
            lora: cfg.lora.as_ref().map(|lora| {
                let acts = LoraActs {
                    hs: ex.alloc("decode LoRA hs", lora.r),
                    dropped: None,
                };
                let scratch = LoraScratch {
                    base: ex.alloc("decode LoRA base", (3 * c).max(f)),
                    delta: ex.alloc("decode LoRA delta", (3 * c).max(f)),
                    h: ex.alloc("decode LoRA h", lora.r),
                };
                (acts, scratch)
            }),
            cross: None,
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
        if let Some((acts, scratch)) = &self.lora {
            all.extend([acts.hs, scratch.base, scratch.delta, scratch.h]);
        }
        all
    }
}
