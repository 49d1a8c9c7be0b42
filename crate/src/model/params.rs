//! The parameters as one flat buffer with named views, in nanoGPT's `state_dict` order and layouts
//! (PyTorch `nn.Linear` weights are (out, in)). The same layout serves the gradients and AdamW's moments.

use super::config::{ModelConfig, Positional};
use super::lora::LoraTarget;
use crate::exec::{Store, Tensor};

/// One named tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// nanoGPT's state_dict key, e.g. `transformer.h.0.attn.c_attn.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
    /// Whether AdamW decays it: matrices of linear layers yes; biases, LayerNorm and embeddings no.
    pub decay: bool,
}

/// Indices into [`ParamLayout::specs`] for one block.
#[derive(Clone, Debug)]
pub struct LayerIds {
    pub ln1_w: usize,
    pub ln1_b: Option<usize>,
    pub qkv_w: usize,
    pub qkv_b: Option<usize>,
    pub attproj_w: usize,
    pub attproj_b: Option<usize>,
    pub ln2_w: usize,
    pub ln2_b: Option<usize>,
    pub fc_w: usize,
    pub fc_b: Option<usize>,
    pub fcproj_w: usize,
    pub fcproj_b: Option<usize>,
    /// The LoRA adapter of each [`LoraTarget`] (in [`LoraTarget::ALL`]'s order), when the config has one.
    pub lora: [Option<LoraPair>; 4],
    /// A decoder block's cross-attention sub-layer (encoder-decoder models, [`super::encdec`]).
    pub cross: Option<super::cross_block::CrossIds>,
}

/// The two tensors of one LoRA adapter: A (r, IN) and B (OC, r).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoraPair {
    pub a: usize,
    pub b: usize,
}

/// Where every tensor lives in the flat buffer.
#[derive(Clone, Debug)]
pub struct ParamLayout {
    pub specs: Vec<ParamSpec>,
    pub wte: usize,
    pub wpe: Option<usize>,
    pub layers: Vec<LayerIds>,
    pub lnf_w: usize,
    pub lnf_b: Option<usize>,
    /// The classification head (K, C) and its bias (K), when the config has one.
    pub classifier: Option<(usize, usize)>,
    pub total: usize,
    /// The first tensor that trains: 0 (every tensor) for full training; with LoRA the first adapter tensor, the
    /// adapters being last. Gradients and AdamW's moments exist for the tensors from here on only.
    pub first_trainable: usize,
}

impl ParamLayout {
    pub fn new(config: &ModelConfig) -> Self {
        let (v, c, f, t) = (
            config.vocab_size,
            config.n_embd,
            config.ffn_width(),
            config.block_size,
        );
        let mut specs = Vec::new();
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
        let bias = config.bias;
        let wte = add("transformer.wte.weight".into(), vec![v, c], false);
        let wpe = (config.positional == Positional::Learned)
            .then(|| add("transformer.wpe.weight".into(), vec![t, c], false));
        let mut layers = Vec::new();
        for l in 0..config.n_layer {
            let p = format!("transformer.h.{l}");
            let ln1_w = add(format!("{p}.ln_1.weight"), vec![c], false);
            let ln1_b = bias.then(|| add(format!("{p}.ln_1.bias"), vec![c], false));
            let qkv_w = add(format!("{p}.attn.c_attn.weight"), vec![3 * c, c], true);
            let qkv_b = bias.then(|| add(format!("{p}.attn.c_attn.bias"), vec![3 * c], false));
            let attproj_w = add(format!("{p}.attn.c_proj.weight"), vec![c, c], true);
            let attproj_b = bias.then(|| add(format!("{p}.attn.c_proj.bias"), vec![c], false));
            let ln2_w = add(format!("{p}.ln_2.weight"), vec![c], false);
            let ln2_b = bias.then(|| add(format!("{p}.ln_2.bias"), vec![c], false));
            let fc_w = add(format!("{p}.mlp.c_fc.weight"), vec![f, c], true);
            let fc_b = bias.then(|| add(format!("{p}.mlp.c_fc.bias"), vec![f], false));
            let fcproj_w = add(format!("{p}.mlp.c_proj.weight"), vec![c, f], true);
            let fcproj_b = bias.then(|| add(format!("{p}.mlp.c_proj.bias"), vec![c], false));
            layers.push(LayerIds {
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
                cross: None,
            });
        }
        let lnf_w = add("transformer.ln_f.weight".into(), vec![c], false);
        let lnf_b = bias.then(|| add("transformer.ln_f.bias".into(), vec![c], false));
        // The classification head (always with a bias: it picks the classes' base rates).
        let classifier = config.classifier.as_ref().map(|head| {
            let k = head.classes;
            let w = add("classifier.weight".into(), vec![k, c], true);
            (w, add("classifier.bias".into(), vec![k], false))
        });
        // LoRA adapters last, so that the trainable tensors are one range of the flat buffer.
        let first_trainable = lnf_b.unwrap_or(lnf_w) + 1;
        if let Some(lora) = &config.lora {
            for (l, ids) in layers.iter_mut().enumerate() {
                for target in LoraTarget::ALL.into_iter().filter(|t| lora.has(*t)) {
                    let (i, o) = target.shape(config);
                    let p = format!("transformer.h.{l}.{}", target.module());
                    let a = add(format!("{p}.lora_A.weight"), vec![lora.r, i], true);
                    let b = add(format!("{p}.lora_B.weight"), vec![o, lora.r], true);
                    ids.lora[target.index()] = Some(LoraPair { a, b });
                }
            }
        }
        let first_trainable = if config.lora.is_some() {
            first_trainable
        } else {
            0
        };
        Self {
            specs,
            wte,
            wpe,
            layers,
            lnf_w,
            lnf_b,
            classifier,
            total: offset,
            first_trainable,
        }
    }

    /// Where the trainable tensors start in the flat buffer (0 for full training).
    pub fn trainable_offset(&self) -> usize {
        self.specs
            .get(self.first_trainable)
            .map_or(self.total, |s| s.offset)
    }

    /// Numbers that train: the length of the gradients and of each AdamW moment.
    pub fn trainable_len(&self) -> usize {
        self.total - self.trainable_offset()
    }

    /// Whether tensor `id` trains (has a gradient).
    pub fn is_trainable(&self, id: usize) -> bool {
        id >= self.first_trainable
    }

    /// Where tensor `id`'s gradient starts in the gradient buffer (which holds the trainable tensors only).
    pub fn grad_offset(&self, id: usize) -> usize {
        assert!(
            self.is_trainable(id),
            "{} is frozen and has no gradient",
            self.specs[id].name
        );
        self.specs[id].offset - self.trainable_offset()
    }

    /// The view of tensor `id` in a flat buffer.
    pub fn get<'a, R>(&self, buf: &'a [R], id: usize) -> &'a [R] {
        let s = &self.specs[id];
        &buf[s.offset..s.offset + s.len]
    }

    /// Like [`get`](Self::get), for an optional tensor (a bias when `bias` is off).
    pub fn opt<'a, R>(&self, buf: &'a [R], id: Option<usize>) -> Option<&'a [R]> {
        id.map(|id| self.get(buf, id))
    }

    /// Splits a flat buffer into one mutable slice per tensor, so several gradients can be written at
    /// once; take a slice out with `std::mem::take(&mut views[id])`.
    pub fn split_mut<'a, R>(&self, mut buf: &'a mut [R]) -> Vec<&'a mut [R]> {
        let mut views = Vec::with_capacity(self.specs.len());
        for s in &self.specs {
            let (head, tail) = buf.split_at_mut(s.len);
            views.push(head);
            buf = tail;
        }
        views
    }

    pub fn find(&self, name: &str) -> Option<&ParamSpec> {
        self.specs.iter().find(|s| s.name == name)
    }
}

impl ParamLayout {
    /// The handle of parameter tensor `id`, for the executors.
    pub fn param(&self, id: usize) -> Tensor {
        Tensor {
            store: Store::Param(id),
            offset: 0,
            len: self.specs[id].len,
        }
    }

    /// The handle of the gradient of parameter tensor `id`.
    pub fn grad(&self, id: usize) -> Tensor {
        Tensor {
            store: Store::Grad(id),
            ..self.param(id)
        }
    }

    /// The gradient's handle when tensor `id` trains, None when it is frozen.
    pub fn grad_if_trainable(&self, id: usize) -> Option<Tensor> {
        self.is_trainable(id).then(|| self.grad(id))
    }
}
