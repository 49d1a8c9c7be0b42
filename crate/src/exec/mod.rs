//! Executors: what runs the model's op calls. The model ([`crate::model::transformer`]) is written once, as a
//! list of explicit calls to named ops (`layernorm_forward(out, mean, rstd, inp, w, b, ..)`, llm.c's order:
//! outputs, then inputs, then sizes); an [`Executor`] decides what a call does.
//!
//! - [`cpu::CpuExecutor`] runs each call at once with the CPU reference (and fast) kernels of [`crate::ops`], on
//!   host buffers, generic over f32 and f64 (the whole-model finite-difference test runs `Gpt<f64>`).
//! - The GPU executor (`crate::gpu_model::exec`) records each call as a dispatch into a `Plan` that is built once
//!   per shape and replayed every step (one submit per optimizer step, nothing allocated per step).
//!
//! Tensors are named by [`Tensor`] handles: a store (a parameter tensor, its gradient, an activation buffer the
//! executor allocated, a token buffer) and a range in it. Handles are plain values, the same type on every
//! executor, so one struct of handles ([`crate::model::transformer::Acts`]) describes the activations everywhere.
//!
//! Rules the description keeps (llm.c's): parameter gradients accumulate (`+=`), activation gradients are
//! assigned, except the residual stream's, which each LayerNorm backward adds into.

pub mod cpu;

use crate::ops::attention_mask::AttentionMask;

/// Where a tensor lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Parameter tensor `id` of the [`crate::model::params::ParamLayout`].
    Param(usize),
    /// The gradient of parameter tensor `id`.
    Grad(usize),
    /// Activation buffer `index`, made by [`Executor::alloc`].
    Act(usize),
    /// Token buffer `index` (u32 ids), made by [`Executor::alloc_tokens`].
    Tokens(usize),
}

/// `len` numbers starting `offset` numbers into a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub store: Store,
    pub offset: usize,
    pub len: usize,
}

impl Tensor {
    /// The first `len` numbers (e.g. the first T rows of the position table).
    pub fn prefix(self, len: usize) -> Self {
        assert!(
            len <= self.len,
            "a prefix of {len} of a tensor of {}",
            self.len
        );
        Self { len, ..self }
    }
}

/// One dropout site of a forward pass: which mask (layer, site) and its probability. The executor turns the
/// pass's dropout seed and the site into the mask's seed ([`site_seed`]); the GPU records the site so that a
/// plan built once draws new masks every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutSite {
    pub p: f32,
    /// 0 for the embeddings, l + 1 for block l.
    pub layer: usize,
    /// Within a block: 0 attention weights, 1 after attn.c_proj, 2 after mlp.c_proj.
    pub site: u32,
}

/// The dropout seed of one site (layer, which dropout) of one forward pass.
pub fn site_seed(seed: u64, layer: usize, site: u32) -> u32 {
    use crate::ops::dropout_forward::pcg_hash;
    pcg_hash(seed as u32 ^ pcg_hash((seed >> 32) as u32 ^ pcg_hash(layer as u32 * 4 + site)))
}

/// Where the model's buffers come from: [`crate::model::buffers`] allocates through it, so an executor holds
/// exactly what the description asks for, and [`Counter`] counts it without allocating anything.
pub trait Allocator {
    /// A zeroed buffer of `len` numbers for activations or gradients.
    fn alloc(&mut self, label: &'static str, len: usize) -> Tensor;
    /// A buffer of `len` token ids.
    fn alloc_tokens(&mut self, label: &'static str, len: usize) -> Tensor;
    /// Whether attention runs fused (online softmax: an lse (B, NH, T) kept instead of the (B, NH, T, T) maps).
    fn fused_attention(&self) -> bool;
    /// out (T, C) = the sinusoidal position table for positions pos0.. (a constant: written at once).
    fn sinusoidal_table(&mut self, out: Tensor, pos0: usize, t: usize, c: usize);
}

/// An allocator that only counts: the numbers and token ids a set of buffers would take.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter {
    /// Count as for the fused attention (lse rows instead of maps).
    pub fused: bool,
    pub numbers: usize,
    pub tokens: usize,
}

impl Allocator for Counter {
    fn alloc(&mut self, _label: &'static str, len: usize) -> Tensor {
        // Distinct handles (one store, each buffer at its own offset), so that sets of them can be compared.
        self.numbers += len;
        Tensor {
            store: Store::Act(0),
            offset: self.numbers - len,
            len,
        }
    }

    fn alloc_tokens(&mut self, _label: &'static str, len: usize) -> Tensor {
        self.tokens += len;
        Tensor {
            store: Store::Tokens(0),
            offset: 0,
            len,
        }
    }

    fn fused_attention(&self) -> bool {
        self.fused
    }

    fn sinusoidal_table(&mut self, _out: Tensor, _pos0: usize, _t: usize, _c: usize) {}
}

/// The ops the model calls, one method per op and pass, each with the argument order and shapes of its
/// `<op>_cpu` reference in [`crate::ops`]. Optional tensors (a bias when `bias` is off, the position table with
/// RoPE) are `Option`s.
#[allow(clippy::too_many_arguments)]
pub trait Executor: Allocator {
    /// out (B, T, C) = wte[inp] + pos[t].
    fn encoder_forward(
        &mut self,
        out: Tensor,
        inp: Tensor,
        wte: Tensor,
        pos: Option<Tensor>,
        b: usize,
        t: usize,
        c: usize,
    );
    /// dwte (V, C) += scatter of dout (B, T, C) by inp; dpos (T, C) += sum over b.
    fn encoder_backward(
        &mut self,
        dwte: Tensor,
        dpos: Option<Tensor>,
        dout: Tensor,
        inp: Tensor,
        b: usize,
        t: usize,
        c: usize,
    );
    /// out (B, T, C), mean (B, T), rstd (B, T) from inp (B, T, C), w (C), bias (C).
    fn layernorm_forward(
        &mut self,
        out: Tensor,
        mean: Tensor,
        rstd: Tensor,
        inp: Tensor,
        w: Tensor,
        bias: Option<Tensor>,
        b: usize,
        t: usize,
        c: usize,
    );
    /// dinp (B, T, C) +=, dw (C) +=, dbias (C) += from dout (B, T, C) and the forward's inp, w, mean, rstd.
    fn layernorm_backward(
        &mut self,
        dinp: Tensor,
        dw: Tensor,
        dbias: Option<Tensor>,
        dout: Tensor,
        inp: Tensor,
        w: Tensor,
        mean: Tensor,
        rstd: Tensor,
        b: usize,
        t: usize,
        c: usize,
    );
    /// out (BT, OC) = inp (BT, C) @ w (OC, C)^T + bias (OC).
    fn matmul_forward(
        &mut self,
        out: Tensor,
        inp: Tensor,
        w: Tensor,
        bias: Option<Tensor>,
        bt: usize,
        c: usize,
        oc: usize,
    );
    /// dinp (BT, C) =, dw (OC, C) +=, dbias (OC) += from dout (BT, OC); a frozen weight (LoRA's base) has no dw.
    fn matmul_backward(
        &mut self,
        dinp: Tensor,
        dw: Option<Tensor>,
        dbias: Option<Tensor>,
        dout: Tensor,
        inp: Tensor,
        w: Tensor,
        bt: usize,
        c: usize,
        oc: usize,
    );
    /// out (B, T, 3C): q and k of inp (B, T, 3C) rotated for positions pos0.., v copied.
    fn rope_forward(
        &mut self,
        out: Tensor,
        inp: Tensor,
        pos0: usize,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    );
    /// dinp (B, T, 3C) = the inverse rotation of dout.
    fn rope_backward(
        &mut self,
        dinp: Tensor,
        dout: Tensor,
        pos0: usize,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    );
    /// The readable attention: out (B, T, C), preatt and att (B, NH, T, T) from qkv (B, T, 3C), with the
    /// dropout mask att_mask (B, NH, T, T) applied to the weights when given.
    fn attention_forward(
        &mut self,
        out: Tensor,
        preatt: Tensor,
        att: Tensor,
        qkv: Tensor,
        att_mask: Option<Tensor>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    );
    /// dqkv (B, T, 3C) = ; dpreatt, datt (B, NH, T, T) are scratch.
    fn attention_backward(
        &mut self,
        dqkv: Tensor,
        dpreatt: Tensor,
        datt: Tensor,
        dout: Tensor,
        qkv: Tensor,
        att: Tensor,
        att_mask: Option<Tensor>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    );
    /// The fused attention: out (B, T, C) and lse (B, NH, T), the dropout drawn inline from `dropout`'s site.
    fn attention_forward_fused(
        &mut self,
        out: Tensor,
        lse: Tensor,
        qkv: Tensor,
        dropout: Option<DropoutSite>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    );
    /// dqkv (B, T, 3C) = from dout (B, T, C) and the forward's qkv, out, lse; delta (B, NH, T) is scratch.
    fn attention_backward_fused(
        &mut self,
        dqkv: Tensor,
        delta: Tensor,
        dout: Tensor,
        qkv: Tensor,
        out: Tensor,
        lse: Tensor,
        dropout: Option<DropoutSite>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    );
    /// One new position attending over a KV cache: appends qkv's (3C) k and v at row len - 1 of k_cache and
    /// v_cache (Tmax, C), out (C) = its attention output.
    fn attention_decode(
        &mut self,
        out: Tensor,
        k_cache: Tensor,
        v_cache: Tensor,
        qkv: Tensor,
        len: usize,
        t_max: usize,
        c: usize,
        nh: usize,
    );
    /// Cross-attention (an encoder-decoder's decoder over the encoder's output): out (B, Tq, C), preatt and att
    /// (B, NH, Tq, Tk) from q (B, Tq, C) and kv (B, Tk, 2C), with the dropout mask att_mask (B, NH, Tq, Tk) on
    /// the weights when given. Decoding is the same call with B = Tq = 1 over the source's cached kv.
    fn cross_attention_forward(
        &mut self,
        out: Tensor,
        preatt: Tensor,
        att: Tensor,
        q: Tensor,
        kv: Tensor,
        att_mask: Option<Tensor>,
        b: usize,
        tq: usize,
        tk: usize,
        c: usize,
        nh: usize,
    );
    /// dq (B, Tq, C) =, dkv (B, Tk, 2C) = from dout (B, Tq, C); dpreatt, datt (B, NH, Tq, Tk) are scratch.
    fn cross_attention_backward(
        &mut self,
        dq: Tensor,
        dkv: Tensor,
        dpreatt: Tensor,
        datt: Tensor,
        dout: Tensor,
        q: Tensor,
        kv: Tensor,
        att: Tensor,
        att_mask: Option<Tensor>,
        b: usize,
        tq: usize,
        tk: usize,
        c: usize,
        nh: usize,
    );
    fn gelu_forward(&mut self, out: Tensor, inp: Tensor, n: usize);
    fn gelu_backward(&mut self, dinp: Tensor, inp: Tensor, dout: Tensor, n: usize);
    fn relu_forward(&mut self, out: Tensor, inp: Tensor, n: usize);
    fn relu_backward(&mut self, dinp: Tensor, inp: Tensor, dout: Tensor, n: usize);
    /// out (B, C) = the mean over t of inp (B, T, C) (a classifier's pooling).
    fn meanpool_forward(&mut self, out: Tensor, inp: Tensor, b: usize, t: usize, c: usize);
    /// dinp (B, T, C) = dout (B, C) / T (assigned).
    fn meanpool_backward(&mut self, dinp: Tensor, dout: Tensor, b: usize, t: usize, c: usize);
    /// out (N) = scale * inp (LoRA's alpha / r, forward and backward).
    fn scale_forward(&mut self, out: Tensor, inp: Tensor, scale: f32, n: usize);
    /// out (N) = inp1 + inp2.
    fn residual_forward(&mut self, out: Tensor, inp1: Tensor, inp2: Tensor, n: usize);
    /// out (N) = inp * mask, mask (N) drawn for `site`.
    fn dropout_forward(
        &mut self,
        out: Tensor,
        mask: Tensor,
        inp: Tensor,
        site: DropoutSite,
        n: usize,
    );
    /// mask (N) drawn for `site` alone (the readable attention applies it itself). The two `scratch` buffers
    /// (N each) may be overwritten: the GPU draws masks with the dropout kernel, reading one and writing the other.
    fn dropout_mask(&mut self, mask: Tensor, scratch: [Tensor; 2], site: DropoutSite, n: usize);
    /// dinp (N) = dout * mask.
    fn dropout_backward(&mut self, dinp: Tensor, dout: Tensor, mask: Tensor, n: usize);
    /// losses (B, T) and probs (B, T, V) from logits (B, T, V) and targets (B, T).
    fn crossentropy_forward(
        &mut self,
        losses: Tensor,
        probs: Tensor,
        logits: Tensor,
        targets: Tensor,
        b: usize,
        t: usize,
        v: usize,
    );
    /// dlogits (B, T, V) = from dlosses (B, T), probs and targets.
    fn crossentropy_backward(
        &mut self,
        dlogits: Tensor,
        dlosses: Tensor,
        probs: Tensor,
        targets: Tensor,
        b: usize,
        t: usize,
        v: usize,
    );
}
