//! The encoder-decoder (the original Transformer, pre-norm as PyTorch's `nn.Transformer(norm_first=True)`),
//! made of the one block of [`super::transformer`]: the encoder is the block stack with bidirectional
//! attention and its final norm; the decoder is the block stack with causal attention, whose blocks each have
//! the optional cross-attention sub-layer of [`super::cross_block`] over the encoder's output, then its final
//! norm and the head tied to the shared token embedding.
//!
//! ```text
//! memory = encoder.norm(encoder blocks(wte[source] + pos))                    (B, Ts, C)
//! x = wte[decoder input] + pos                                                (B, Tt, C)
//! for each decoder block:  x = x + self_attn(norm1(x))           (causal)
//!                          x = x + multihead_attn(norm2(x), memory)
//!                          x = x + linear2(act(linear1(norm3(x))))
//! logits = decoder.norm(x) @ wte^T                                            (B, Tt, V)
//! ```
//!
//! Parameters are one flat buffer with PyTorch's names (`encoder.layers.0.self_attn.in_proj_weight`,
//! `decoder.layers.0.multihead_attn.out_proj.weight`, `linear1`, `norm1..3`, `encoder.norm`, `decoder.norm`);
//! two [`ParamLayout`] views of it (same tensors, different `layers` and final norm) let the one
//! [`Transformer`] description run either stack.

use super::config::ModelConfig;
use super::cross_block::{CrossActs, CrossDecode, CrossGrads, CrossIds};
use super::params::{LayerIds, ParamLayout, ParamSpec};
use super::transformer::{Acts, DecodeActs, Grads, Transformer};
use crate::exec::cpu::{CpuExecutor, CpuStore};
use crate::exec::{Allocator, Executor, Tensor};
use crate::ops::attention_mask::AttentionMask;
use crate::ops::crossentropy_forward::counted_targets;
use crate::ops::float::Float;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// The decoder's dropout seed is the encoder's with these bits flipped, so the two stacks' masks (whose sites
/// share layer numbers) are drawn independently.
const DECODER_SEED: u64 = 0xdec0_de00_5eed_0001;

/// The two views of an encoder-decoder's parameters.
#[derive(Clone, Debug)]
pub struct EncDecLayout {
    /// Every tensor; `layers` the encoder's blocks, `lnf` `encoder.norm`.
    pub encoder: ParamLayout,
    /// Every tensor; `layers` the decoder's blocks (with cross-attention), `lnf` `decoder.norm`.
    pub decoder: ParamLayout,
    /// The configs each stack runs with (bidirectional and causal attention).
    pub encoder_config: ModelConfig,
    pub decoder_config: ModelConfig,
}

impl EncDecLayout {
    /// `config.n_layer` encoder blocks and as many decoder blocks, width and heads as the config says.
    pub fn new(config: &ModelConfig) -> Result<Self> {
        config.validate()?;
        if config.lora.is_some() {
            invalid_input!(
                "LoRA adapters are for decoder-only models; an encoder-decoder trains every weight"
            );
        }
        let (v, c, f, t) = (
            config.vocab_size,
            config.n_embd,
            config.ffn_width(),
            config.block_size,
        );
        let bias = config.bias;
        let mut specs: Vec<ParamSpec> = Vec::new();
        let mut offset = 0;
        let mut add = |name: String, shape: Vec<usize>, decay: bool| {
            let len = shape.iter().product();
            specs.push(ParamSpec {
                name,
                shape,
                offset,
                len,
                decay,
            });
            offset += len;
            specs.len() - 1
        };
        let wte = add("transformer.wte.weight".into(), vec![v, c], false);
        let wpe = (config.positional == super::config::Positional::Learned)
            .then(|| add("transformer.wpe.weight".into(), vec![t, c], false));
        let block = |add: &mut dyn FnMut(String, Vec<usize>, bool) -> usize,
                     p: &str,
                     cross: bool| {
            let linear = |add: &mut dyn FnMut(String, Vec<usize>, bool) -> usize,
                          w: &str,
                          b: &str,
                          o: usize,
                          i: usize| {
                let w = add(format!("{p}.{w}"), vec![o, i], true);
                let b = bias.then(|| add(format!("{p}.{b}"), vec![o], false));
                (w, b)
            };
            let norm = |add: &mut dyn FnMut(String, Vec<usize>, bool) -> usize, n: &str| {
                let w = add(format!("{p}.{n}.weight"), vec![c], false);
                let b = bias.then(|| add(format!("{p}.{n}.bias"), vec![c], false));
                (w, b)
            };
            let (ln1_w, ln1_b) = norm(&mut *add, "norm1");
            let (qkv_w, qkv_b) = linear(
                &mut *add,
                "self_attn.in_proj_weight",
                "self_attn.in_proj_bias",
                3 * c,
                c,
            );
            let (attproj_w, attproj_b) = linear(
                &mut *add,
                "self_attn.out_proj.weight",
                "self_attn.out_proj.bias",
                c,
                c,
            );
            let cross = cross.then(|| {
                let (ln_w, ln_b) = norm(&mut *add, "norm2");
                // PyTorch's in_proj_weight (3C, C) split in its q rows and its k, v rows.
                let (q_w, q_b) = linear(
                    &mut *add,
                    "multihead_attn.in_proj_weight.q",
                    "multihead_attn.in_proj_bias.q",
                    c,
                    c,
                );
                let (kv_w, kv_b) = linear(
                    &mut *add,
                    "multihead_attn.in_proj_weight.kv",
                    "multihead_attn.in_proj_bias.kv",
                    2 * c,
                    c,
                );
                let (proj_w, proj_b) = linear(
                    &mut *add,
                    "multihead_attn.out_proj.weight",
                    "multihead_attn.out_proj.bias",
                    c,
                    c,
                );
                CrossIds {
                    ln_w,
                    ln_b,
                    q_w,
                    q_b,
                    kv_w,
                    kv_b,
                    proj_w,
                    proj_b,
                }
            });
            let (ln2_w, ln2_b) = norm(&mut *add, if cross.is_some() { "norm3" } else { "norm2" });
            let (fc_w, fc_b) = linear(&mut *add, "linear1.weight", "linear1.bias", f, c);
            let (fcproj_w, fcproj_b) = linear(&mut *add, "linear2.weight", "linear2.bias", c, f);
            LayerIds {
                ln1_w,
                ln1_b,
                qkv_w,
                qkv_b,
                attproj_w,
                attproj_b,
                ln2_w,
                ln2_b,
                fc_w,
                fc_b,
                fcproj_w,
                fcproj_b,
                lora: [None; 4],
                cross,
            }
        };
        let stack =
            |add: &mut dyn FnMut(String, Vec<usize>, bool) -> usize, name: &str, cross: bool| {
                let layers: Vec<LayerIds> = (0..config.n_layer)
                    .map(|l| block(&mut *add, &format!("{name}.layers.{l}"), cross))
                    .collect();
                let w = add(format!("{name}.norm.weight"), vec![c], false);
                let b = bias.then(|| add(format!("{name}.norm.bias"), vec![c], false));
                (layers, w, b)
            };
        let (enc_layers, enc_w, enc_b) = stack(&mut add, "encoder", false);
        let (dec_layers, dec_w, dec_b) = stack(&mut add, "decoder", true);
        let view = |layers, lnf_w, lnf_b| ParamLayout {
            specs: specs.clone(),
            wte,
            wpe,
            layers,
            lnf_w,
            lnf_b,
            classifier: None,
            total: offset,
            first_trainable: 0,
        };
        Ok(Self {
            encoder: view(enc_layers, enc_w, enc_b),
            decoder: view(dec_layers, dec_w, dec_b),
            encoder_config: ModelConfig {
                attention_mask: AttentionMask::Bidirectional,
                ..config.clone()
            },
            decoder_config: ModelConfig {
                attention_mask: AttentionMask::Causal,
                ..config.clone()
            },
        })
    }

    /// Every tensor (both views hold the same).
    pub fn specs(&self) -> &[ParamSpec] {
        &self.decoder.specs
    }

    /// Numbers in the flat parameter buffer.
    pub fn total(&self) -> usize {
        self.decoder.total
    }

    /// The activations of both stacks for `b` pairs of `ts` source and `tt` target positions (attention maps
    /// unless the allocator fuses attention; dropout masks with `dropout`). The decoder's cross-attention reads
    /// the encoder's output (its final norm) as its memory.
    pub fn acts(
        &self,
        ex: &mut dyn Allocator,
        b: usize,
        ts: usize,
        tt: usize,
        dropout: bool,
    ) -> EncDecActs {
        let (c, nh, l) = (
            self.decoder_config.n_embd,
            self.decoder_config.n_head,
            self.decoder_config.n_layer,
        );
        let enc = Acts::new(ex, &self.encoder_config, b * ts, b * nh * ts * ts, dropout);
        let mut dec = Acts::new(ex, &self.decoder_config, b * tt, b * nh * tt * tt, dropout);
        dec.cross = Some(CrossActs::new(ex, enc.lnf, l, b, tt, ts, c, nh, dropout));
        EncDecActs { enc, dec }
    }

    /// The backward's scratch for `a` (made by [`Self::acts`] with the same sizes).
    pub fn grads(
        &self,
        ex: &mut dyn Allocator,
        a: &EncDecActs,
        b: usize,
        ts: usize,
        tt: usize,
    ) -> EncDecGrads {
        let (c, nh) = (self.decoder_config.n_embd, self.decoder_config.n_head);
        let enc = Grads::new(ex, &self.encoder_config, &a.enc);
        let mut dec = Grads::new(ex, &self.decoder_config, &a.dec);
        dec.cross = Some(CrossGrads::new(ex, b, tt, ts, c, nh));
        EncDecGrads { enc, dec }
    }

    /// The encoder's forward pass over `source` (B, Ts): its output (the memory) lands in `a.enc.lnf`.
    /// Dropout (when `training`) draws from the executor's seed: the encoder's.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        ex: &mut dyn Executor,
        a: &EncDecActs,
        source: Tensor,
        b: usize,
        ts: usize,
        training: bool,
    ) {
        self.encoder()
            .forward(ex, &a.enc, source, None, b, ts, training);
    }

    /// The decoder's forward pass over `inputs` (B, Tt) and the memory of [`Self::encode`]; with `targets` the
    /// losses. Dropout draws from the executor's seed: the decoder's ([`decoder_seed`]).
    #[allow(clippy::too_many_arguments)]
    pub fn decode(
        &self,
        ex: &mut dyn Executor,
        a: &EncDecActs,
        inputs: Tensor,
        targets: Option<Tensor>,
        b: usize,
        tt: usize,
        training: bool,
    ) {
        self.decoder()
            .forward(ex, &a.dec, inputs, targets, b, tt, training);
    }

    /// The decoder's backward pass (`g.dec.dlosses` holds d loss / d losses, both `dresidual`s are zero): its
    /// parameter gradients, and the gradient of the memory, summed over the blocks, for [`Self::encode_backward`].
    #[allow(clippy::too_many_arguments)]
    pub fn decode_backward(
        &self,
        ex: &mut dyn Executor,
        a: &EncDecActs,
        g: &EncDecGrads,
        inputs: Tensor,
        targets: Tensor,
        b: usize,
        tt: usize,
    ) {
        self.decoder()
            .backward(ex, &a.dec, &g.dec, inputs, Some(targets), b, tt);
    }

    /// The encoder's backward pass from the memory's gradient that [`Self::decode_backward`] left.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_backward(
        &self,
        ex: &mut dyn Executor,
        a: &EncDecActs,
        g: &EncDecGrads,
        source: Tensor,
        b: usize,
        ts: usize,
    ) {
        let l = self.decoder_config.n_layer;
        let dmemory = g.dec.cross.as_ref().expect("made by grads").dmemory(l);
        let ge = Grads {
            dln: dmemory,
            ..g.enc.clone()
        };
        self.encoder()
            .backward_blocks(ex, &a.enc, &ge, source, b, ts);
    }

    fn encoder(&self) -> Transformer<'_> {
        Transformer {
            config: &self.encoder_config,
            layout: &self.encoder,
        }
    }

    fn decoder(&self) -> Transformer<'_> {
        Transformer {
            config: &self.decoder_config,
            layout: &self.decoder,
        }
    }
}

/// The decoder's dropout seed of a pass whose encoder draws from `seed` (the two stacks' sites share layer
/// numbers, so their masks must come from different seeds).
pub fn decoder_seed(seed: u64) -> u64 {
    seed ^ DECODER_SEED
}

/// Checks a batch of `b` pairs, `source` (B, Ts), `inputs` and `targets` (B, Tt), against `config`: returns the
/// number of counted targets (0 without targets). Empty or too long sources, ids outside the vocabulary and a
/// batch whose every target is ignored are errors that say so.
#[allow(clippy::too_many_arguments)]
pub fn check_pairs(
    config: &ModelConfig,
    source: &[u32],
    inputs: &[u32],
    targets: Option<&[u32]>,
    b: usize,
    ts: usize,
    tt: usize,
) -> Result<usize> {
    if ts == 0 {
        invalid_input!("the source is empty: the encoder needs at least one token to read");
    }
    if ts > config.block_size {
        invalid_input!(
            "the source has {ts} tokens, more than the encoder's context of {} (block_size)",
            config.block_size
        );
    }
    config.check_batch(source, None, b, ts)?;
    config.check_batch(inputs, targets, b, tt)?;
    let counted = targets.map_or(0, counted_targets);
    if targets.is_some() && counted == 0 {
        invalid_input!("every target of the batch is ignored: there is nothing to score");
    }
    Ok(counted)
}

/// The activations of both stacks ([`EncDecLayout::acts`]).
#[derive(Clone, Debug)]
pub struct EncDecActs {
    pub enc: Acts,
    /// With the cross-attention's activations in `dec.cross`.
    pub dec: Acts,
}

impl EncDecActs {
    /// Every buffer.
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut all = self.enc.tensors();
        all.extend(self.dec.tensors());
        all.extend(self.dec.cross.iter().flat_map(CrossActs::tensors));
        all
    }
}

/// The backward's scratch of both stacks ([`EncDecLayout::grads`]).
#[derive(Clone, Debug)]
pub struct EncDecGrads {
    pub enc: Grads,
    /// With the cross-attention's scratch (and the memory's gradient) in `dec.cross`.
    pub dec: Grads,
}

impl EncDecGrads {
    /// Every buffer.
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut all = self.enc.tensors();
        all.extend(self.dec.tensors());
        all.extend(self.dec.cross.iter().flat_map(CrossGrads::tensors));
        all
    }
}

/// The buffers of one batch shape.
struct Buffers {
    b: usize,
    ts: usize,
    tt: usize,
    dropout: bool,
    fused: bool,
    acts: EncDecActs,
    grads: Option<EncDecGrads>,
    source: Tensor,  // (B, Ts)
    inputs: Tensor,  // (B, Tt) the decoder's input (the target shifted right)
    targets: Tensor, // (B, Tt)
    has_targets: bool,
    dropout_seed: u64,
    counted: usize,
}

/// An encoder-decoder on the CPU: parameters, gradients and the last forward pass's activations, run by the
/// [`CpuExecutor`] through the one model description.
pub struct EncDec<R: Float = f32> {
    pub config: ModelConfig,
    pub layout: EncDecLayout,
    pub params: Vec<R>,
    pub grads: Vec<R>,
    store: CpuStore<R>,
    buffers: Option<Buffers>,
}

impl<R: Float> EncDec<R> {
    /// A new model from `seed`: weights normal(0, 0.02), the residual projections (out_proj, linear2)
    /// normal(0, 0.02 / sqrt(2 L)), biases 0, norm weights 1.
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        let layout = EncDecLayout::new(&config)?;
        let mut params = vec![R::ZERO; layout.total()];
        let mut rng = Rng::new(seed);
        // Two stacks of L blocks write into the residual streams: as a 2L-block GPT's projections.
        let proj_std = 0.02 / (4.0 * config.n_layer as f64).sqrt();
        for spec in layout.specs() {
            let view = &mut params[spec.offset..spec.offset + spec.len];
            let name = spec.name.as_str();
            if name.contains("bias") {
                continue;
            } else if name.contains("norm") {
                view.fill(R::ONE);
            } else {
                let std = if name.ends_with("out_proj.weight") || name.ends_with("linear2.weight") {
                    proj_std
                } else {
                    0.02
                };
                for x in view.iter_mut() {
                    *x = R::from_f64(rng.normal() * std);
                }
            }
        }
        Self::from_params(config, params)
    }

    /// A model around existing parameters (the layout of [`EncDecLayout::new`]).
    pub fn from_params(config: ModelConfig, params: Vec<R>) -> Result<Self> {
        let layout = EncDecLayout::new(&config)?;
        if params.len() != layout.total() {
            invalid_input!(
                "{} parameter values given, the encoder-decoder config needs {}",
                params.len(),
                layout.total()
            );
        }
        Ok(Self {
            config,
            layout,
            params,
            grads: Vec::new(),
            store: CpuStore::default(),
            buffers: None,
        })
    }

    /// Sets every gradient to 0 (allocating them on first use).
    pub fn zero_grad(&mut self) {
        self.grads.clear();
        self.grads.resize(self.layout.total(), R::ZERO);
    }

    fn ensure_buffers(&mut self, b: usize, ts: usize, tt: usize, dropout: bool, fused: bool) {
        if self
            .buffers
            .as_ref()
            .is_some_and(|x| (x.b, x.ts, x.tt, x.dropout, x.fused) == (b, ts, tt, dropout, fused))
        {
            return;
        }
        self.store.clear();
        let mut ex = CpuExecutor {
            layout: &self.layout.decoder,
            params: &self.params,
            grads: &mut [],
            store: &mut self.store,
            dropout_seed: 0,
            fused,
        };
        let acts = self.layout.acts(&mut ex, b, ts, tt, dropout);
        let source = ex.alloc_tokens("source", b * ts);
        let inputs = ex.alloc_tokens("decoder inputs", b * tt);
        let targets = ex.alloc_tokens("targets", b * tt);
        self.buffers = Some(Buffers {
            b,
            ts,
            tt,
            dropout,
            fused,
            acts,
            grads: None,
            source,
            inputs,
            targets,
            has_targets: false,
            dropout_seed: 0,
            counted: 0,
        });
    }

    /// The forward pass over `b` pairs: `source` (B, Ts) for the encoder, `inputs` (B, Tt) for the decoder
    /// (the target shifted right behind a start token) and optionally `targets` (B, Tt) (padding as the
    /// ignore index): returns the mean loss over the counted targets. `dropout_seed` is training mode.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &mut self,
        source: &[u32],
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        ts: usize,
        tt: usize,
        dropout_seed: Option<u64>,
    ) -> Result<Option<f64>> {
        let counted = check_pairs(&self.config, source, inputs, targets, b, ts, tt)?;
        let dropout = dropout_seed.is_some() && self.config.dropout > 0.0;
        let fused = dropout_seed.is_some();
        self.ensure_buffers(b, ts, tt, dropout, fused);
        let x = self.buffers.as_mut().expect("buffers made above");
        self.store.set_tokens(x.source, source);
        self.store.set_tokens(x.inputs, inputs);
        if let Some(targets) = targets {
            self.store.set_tokens(x.targets, targets);
        }
        x.has_targets = targets.is_some();
        x.dropout_seed = dropout_seed.unwrap_or(0);
        x.counted = counted;
        let mut ex = CpuExecutor {
            layout: &self.layout.decoder,
            params: &self.params,
            grads: &mut [],
            store: &mut self.store,
            dropout_seed: x.dropout_seed,
            fused,
        };
        self.layout
            .encode(&mut ex, &x.acts, x.source, b, ts, dropout);
        ex.dropout_seed = decoder_seed(x.dropout_seed);
        let targets = targets.map(|_| x.targets);
        self.layout
            .decode(&mut ex, &x.acts, x.inputs, targets, b, tt, dropout);
        if targets.is_none() {
            return Ok(None);
        }
        let losses = self.store.get(x.acts.dec.losses);
        Ok(Some(
            losses.iter().map(|l| l.to_f64()).sum::<f64>() / counted as f64,
        ))
    }

    /// The backward pass of the last forward pass (with targets): adds the gradient of `loss_scale * mean loss`
    /// to `grads`. The decoder's backward leaves the gradient of the encoder's output in the cross-attention
    /// scratch; the encoder's backward starts from there.
    pub fn backward(&mut self, loss_scale: f64) -> Result<()> {
        let Some(x) = self.buffers.as_mut().filter(|x| x.has_targets) else {
            invalid_input!("backward needs a forward pass with targets first");
        };
        if self.grads.len() != self.layout.total() {
            self.grads.clear();
            self.grads.resize(self.layout.total(), R::ZERO);
        }
        let (b, ts, tt, counted) = (x.b, x.ts, x.tt, x.counted);
        let mut ex = CpuExecutor {
            layout: &self.layout.decoder,
            params: &self.params,
            grads: &mut self.grads,
            store: &mut self.store,
            dropout_seed: decoder_seed(x.dropout_seed),
            fused: x.fused,
        };
        let g = x
            .grads
            .get_or_insert_with(|| self.layout.grads(&mut ex, &x.acts, b, ts, tt))
            .clone();
        ex.store.fill(g.dec.dresidual, R::ZERO);
        ex.store.fill(g.enc.dresidual, R::ZERO);
        ex.store
            .fill(g.dec.dlosses, R::from_f64(loss_scale / counted as f64));
        self.layout
            .decode_backward(&mut ex, &x.acts, &g, x.inputs, x.targets, b, tt);
        ex.dropout_seed = x.dropout_seed;
        self.layout
            .encode_backward(&mut ex, &x.acts, &g, x.source, b, ts);
        Ok(())
    }

    /// The cross-attention maps (B, NH, Tt, Ts) of decoder block `l` in the last forward pass.
    pub fn cross_attention(&self, l: usize) -> &[R] {
        let x = self.buffers.as_ref().expect("a forward pass has run");
        let cross = x
            .acts
            .dec
            .cross
            .as_ref()
            .expect("the decoder has cross-attention");
        self.store.get(cross.layers[l].att)
    }

    /// The self-attention maps of block `l` of the encoder (B, NH, Ts, Ts) or the decoder (B, NH, Tt, Tt) in
    /// the last forward pass; None after a training pass (its attention is fused, no maps are kept).
    pub fn self_attention(&self, decoder: bool, l: usize) -> Option<&[R]> {
        let x = self.buffers.as_ref()?;
        let acts = if decoder { &x.acts.dec } else { &x.acts.enc };
        Some(self.store.get(acts.layers.get(l)?.att?))
    }

    /// The logits (B, Tt, V) of the last forward pass.
    pub fn logits(&self) -> &[R] {
        let x = self.buffers.as_ref().expect("a forward pass has run");
        self.store.get(x.acts.dec.logits)
    }

    /// The encoder's output (Ts, C) for one source, and a decoding state over it: the KV caches of the
    /// decoder's self-attention, and each block's keys and values of the source, computed here once.
    pub fn start_decoding(&mut self, source: &[u32], bos: u32) -> Result<DecodeState<R>> {
        let ts = source.len();
        self.forward(source, &[bos], None, 1, ts, 1, None)?;
        let memory = {
            let x = self.buffers.as_ref().expect("a forward pass has run");
            self.store.get(x.acts.enc.lnf).to_vec()
        };
        let (c, nh, l) = (self.config.n_embd, self.config.n_head, self.config.n_layer);
        let mut store = CpuStore::default();
        let mut ex = CpuExecutor {
            layout: &self.layout.decoder,
            params: &self.params,
            grads: &mut [],
            store: &mut store,
            dropout_seed: 0,
            fused: false,
        };
        let mut acts = DecodeActs::new(&mut ex, &self.layout.decoder_config);
        let cross = CrossDecode::new(&mut ex, l, ts, c, nh);
        let mem = ex.alloc("encoder output", ts * c);
        ex.store.get_mut(mem).copy_from_slice(&memory);
        self.layout
            .decoder()
            .cross_decode_cache(&mut ex, &cross, mem);
        acts.cross = Some(cross);
        Ok(DecodeState {
            store,
            acts,
            len: 0,
        })
    }

    /// Feeds `token` at the next position of `state` and returns the logits (V) of the position after it.
    pub fn decode_next<'s>(&self, state: &'s mut DecodeState<R>, token: u32) -> Result<&'s [R]> {
        if state.len >= self.config.block_size {
            invalid_input!(
                "the output reached the decoder's context of {} tokens",
                self.config.block_size
            );
        }
        if token as usize >= self.config.vocab_size {
            invalid_input!(
                "token id {token} is outside the vocabulary of {}",
                self.config.vocab_size
            );
        }
        let pos = state.len;
        state.store.set_tokens(state.acts.token, &[token]);
        state.store.set_tokens(state.acts.position, &[pos as u32]);
        let mut ex = CpuExecutor {
            layout: &self.layout.decoder,
            params: &self.params,
            grads: &mut [],
            store: &mut state.store,
            dropout_seed: 0,
            fused: false,
        };
        self.layout.decoder().decode_step(&mut ex, &state.acts, pos);
        state.len += 1;
        Ok(state.store.get(state.acts.logits))
    }

    /// Beam search with the KV caches ([`super::beam::beam_search`]; width 1 is greedy decoding): the
    /// finished outputs, best first.
    #[allow(clippy::too_many_arguments)]
    pub fn generate_beam(
        &mut self,
        source: &[u32],
        bos: u32,
        eos: u32,
        width: usize,
        max_len: usize,
        length_penalty: f64,
    ) -> Result<Vec<super::beam::Beam>> {
        let start = self.start_decoding(source, bos)?;
        let max_len = max_len.min(self.config.block_size);
        super::beam::beam_search(
            start,
            bos,
            eos,
            width,
            max_len,
            length_penalty,
            |state, token| {
                let logits = self.decode_next(state, token)?;
                let max = logits
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, x| m.max(x.to_f64()));
                let sum: f64 = logits.iter().map(|x| (x.to_f64() - max).exp()).sum();
                let lse = max + sum.ln();
                Ok(logits.iter().map(|x| x.to_f64() - lse).collect())
            },
        )
    }

    /// Greedy decoding with the KV caches: from `bos`, the most likely next token until `eos` or
    /// `max_len` tokens (the output without `bos` and `eos`).
    pub fn generate_greedy(
        &mut self,
        source: &[u32],
        bos: u32,
        eos: u32,
        max_len: usize,
    ) -> Result<Vec<u32>> {
        let mut state = self.start_decoding(source, bos)?;
        let mut out = Vec::new();
        let mut token = bos;
        let max_len = max_len.min(self.config.block_size);
        while out.len() < max_len {
            let logits = self.decode_next(&mut state, token)?;
            token = argmax(logits);
            if token == eos {
                break;
            }
            out.push(token);
        }
        Ok(out)
    }
}

/// One source's decoding state: the decoder's buffers and caches, in a store of their own (a clone is an
/// independent copy: one per beam).
#[derive(Clone)]
pub struct DecodeState<R> {
    store: CpuStore<R>,
    acts: DecodeActs,
    /// Positions fed so far.
    pub len: usize,
}

impl<R: Float> DecodeState<R> {
    /// The cross-attention weights (NH, Ts) of the last decoder block at the last position fed (the blocks
    /// share one buffer, so the last block's is what is left in it).
    pub fn last_cross_attention(&self) -> &[R] {
        let x = self
            .acts
            .cross
            .as_ref()
            .expect("a decoding state has cross-attention");
        self.store.get(x.att)
    }
}

/// The index of the largest value (the first of equals).
pub fn argmax<R: Float>(values: &[R]) -> u32 {
    let mut best = 0;
    for (i, &x) in values.iter().enumerate() {
        if x > values[best] {
            best = i;
        }
    }
    best as u32
}
