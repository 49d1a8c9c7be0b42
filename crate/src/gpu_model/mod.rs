//! The GPT on the GPU: the same model, layer for layer, as [`crate::model::Gpt`] (the CPU reference), with
//! every op run by its WGSL kernel from [`crate::ops`].
//!
//! Execution model:
//! - Buffers are allocated once per model: parameters, gradients and AdamW's moments as flat buffers, the
//!   activations of every layer, the gradient scratch, token buffers per micro-batch.
//! - Each (B, T) shape gets a [`Plan`] per micro-batch (forward + backward) and one optimizer plan, built on
//!   first use: bind groups and uniforms are made then, never per step.
//! - One optimizer step is one command encoder and one submit: for each micro-batch clear the residual
//!   gradient, replay its plan, copy its losses aside; then clip and AdamW; then stage the losses and the
//!   gradient norm for the one readback the caller awaits.
//!
//! The flat buffers use the CPU's [`ParamLayout`] order with each tensor's offset rounded up to 64 floats:
//! WebGPU binds a buffer range only at offsets that are multiples of 256 bytes.

mod decode;
mod trainer;

use std::collections::HashMap;

pub use trainer::GpuTrainer;

use crate::gpu::{GpuContext, Plan, View};
use crate::model::generate::{SampleOptions, sample};
use crate::model::gpt::site_seed;
use crate::model::params::ParamLayout;
use crate::model::{Activation, Gpt, ModelConfig, Positional};
use crate::ops::adamw_update::{AdamwStep, adamw_update_gpu};
use crate::ops::attention_backward::attention_backward_gpu;
use crate::ops::attention_backward_fused::attention_backward_fused_gpu;
use crate::ops::attention_forward::attention_forward_gpu;
use crate::ops::attention_forward_fused::{
    ATTENTION_FUSED_MAX_HS, FusedAttentionParams, attention_forward_fused_gpu,
    attention_fused_reseed,
};
use crate::ops::attention_mask::AttentionDropout;
use crate::ops::crossentropy_backward::crossentropy_backward_gpu;
use crate::ops::crossentropy_forward::crossentropy_forward_gpu;
use crate::ops::dropout_backward::dropout_backward_gpu;
use crate::ops::dropout_forward::{dropout_forward_gpu, dropout_forward_reseed};
use crate::ops::encoder_backward::encoder_backward_gpu;
use crate::ops::encoder_forward::{encoder_forward_gpu, sinusoidal_table};
use crate::ops::gelu_backward::gelu_backward_gpu;
use crate::ops::gelu_forward::gelu_forward_gpu;
use crate::ops::global_norm::{GLOBAL_NORM_PARTIALS, clip_by_global_norm_gpu, global_norm_gpu};
use crate::ops::layernorm_backward::layernorm_backward_gpu;
use crate::ops::layernorm_forward::layernorm_forward_gpu;
use crate::ops::matmul_backward::matmul_backward_gpu;
use crate::ops::matmul_forward::matmul_forward_fast_gpu;
use crate::ops::relu_backward::relu_backward_gpu;
use crate::ops::relu_forward::relu_forward_gpu;
use crate::ops::residual_forward::residual_forward_gpu;
use crate::ops::rope_backward::rope_backward_gpu;
use crate::ops::rope_forward::rope_forward_gpu;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// Floats per binding-offset alignment unit (256 bytes).
const ALIGN: usize = 64;

/// The whole of a buffer that exists only for the readable (unfused) attention path.
fn map(buffer: &Option<wgpu::Buffer>) -> View<'_> {
    View::all(
        buffer
            .as_ref()
            .expect("the (B, NH, T, T) buffers exist when attention is not fused"),
    )
}

/// One block's activations on the GPU; the twin of `model::gpt::LayerActs`.
struct LayerBuffers {
    ln1: wgpu::Buffer,              // (B, T, C)
    ln1_mean: wgpu::Buffer,         // (B, T)
    ln1_rstd: wgpu::Buffer,         // (B, T)
    qkv: wgpu::Buffer,              // (B, T, 3C)
    qkv_rope: Option<wgpu::Buffer>, // (B, T, 3C) rope only
    preatt: Option<wgpu::Buffer>,   // (B, NH, T, T) readable attention only
    att: Option<wgpu::Buffer>,      // (B, NH, T, T) readable attention only
    lse: Option<wgpu::Buffer>,      // (B, NH, T) fused attention only
    atty: wgpu::Buffer,             // (B, T, C)
    attproj: wgpu::Buffer,          // (B, T, C)
    residual2: wgpu::Buffer,        // (B, T, C)
    ln2: wgpu::Buffer,              // (B, T, C)
    ln2_mean: wgpu::Buffer,         // (B, T)
    ln2_rstd: wgpu::Buffer,         // (B, T)
    fch: wgpu::Buffer,              // (B, T, F)
    fch_act: wgpu::Buffer,          // (B, T, F)
    fcproj: wgpu::Buffer,           // (B, T, C)
    residual3: wgpu::Buffer,        // (B, T, C)
}

/// The model's activations and gradient scratch, sized for B*T <= `bt` and B*NH*T*T <= `att`. With fused
/// attention no (B, NH, T, T) buffer exists (`att` is 0): each layer keeps its lse (B, NH, T) instead.
struct Activations {
    bt: usize,
    att: usize,
    encoded: wgpu::Buffer, // (B, T, C)
    layers: Vec<LayerBuffers>,
    lnf: wgpu::Buffer,      // (B, T, C)
    lnf_mean: wgpu::Buffer, // (B, T)
    lnf_rstd: wgpu::Buffer, // (B, T)
    logits: wgpu::Buffer,   // (B, T, V)
    probs: wgpu::Buffer,    // (B, T, V)
    losses: wgpu::Buffer,   // (B, T)
    // Gradient scratch, reused by every block.
    dlosses: wgpu::Buffer,           // (B, T) filled with loss_scale / (B*T)
    dlogits: wgpu::Buffer,           // (B, T, V)
    dresidual: wgpu::Buffer,         // (B, T, C) the residual stream's gradient
    dln: wgpu::Buffer,               // (B, T, C)
    datty: wgpu::Buffer,             // (B, T, C)
    dfch_act: wgpu::Buffer,          // (B, T, F)
    dfch: wgpu::Buffer,              // (B, T, F)
    dqkv: wgpu::Buffer,              // (B, T, 3C)
    dqkv_rope: Option<wgpu::Buffer>, // (B, T, 3C)
    dpreatt: Option<wgpu::Buffer>,   // (B, NH, T, T) readable attention only
    datt: Option<wgpu::Buffer>,      // (B, NH, T, T) readable attention only
    delta: Option<wgpu::Buffer>,     // (B, NH, T) fused attention only: dout . out per row
    /// Present when the model trains with dropout.
    dropout: Option<DropoutBuffers>,
}

/// The masks of every dropout site and two scratch buffers, for training with dropout.
struct DropoutBuffers {
    tmp: wgpu::Buffer,          // (B, T, C) a dropout's output before the residual add
    dproj: wgpu::Buffer,        // (B, T, C) a gradient through a dropout
    encoded_mask: wgpu::Buffer, // (B, T, C)
    layers: Vec<LayerMasks>,
}

struct LayerMasks {
    att: Option<wgpu::Buffer>, // (B, NH, T, T) attention dropout (readable attention; fused recomputes it)
    attproj: wgpu::Buffer,     // (B, T, C) residual dropout after attn.c_proj
    fcproj: wgpu::Buffer,      // (B, T, C) residual dropout after mlp.c_proj
}

/// One dropout dispatch of a training plan, reseeded every step as `model::gpt` seeds the CPU's masks.
#[derive(Clone, Copy)]
struct DropoutSite {
    index: usize,
    layer: usize,
    site: u32,
    n: usize,
    /// A fused attention dispatch (forward or backward) that draws the attention dropout inline: its params.
    fused: Option<FusedAttentionParams>,
}

impl Activations {
    /// `att` is 0 with fused attention (no map is allocated), else the largest B*NH*T*T.
    fn new(gpu: &GpuContext, config: &ModelConfig, bt: usize, att: usize, fused: bool) -> Self {
        let (c, f, v) = (config.n_embd, config.ffn_width(), config.vocab_size);
        let rope = config.positional == Positional::Rope;
        let z = |label: &str, len: usize| gpu.zeros(label, len);
        let nh = config.n_head;
        let map = |label: &str| (!fused).then(|| z(label, att));
        let rows = |label: &str| fused.then(|| z(label, bt * nh));
        let layers = (0..config.n_layer)
            .map(|_| LayerBuffers {
                ln1: z("ln1", bt * c),
                ln1_mean: z("ln1_mean", bt),
                ln1_rstd: z("ln1_rstd", bt),
                qkv: z("qkv", bt * 3 * c),
                qkv_rope: rope.then(|| z("qkv_rope", bt * 3 * c)),
                preatt: map("preatt"),
                att: map("att"),
                lse: rows("lse"),
                atty: z("atty", bt * c),
                attproj: z("attproj", bt * c),
                residual2: z("residual2", bt * c),
                ln2: z("ln2", bt * c),
                ln2_mean: z("ln2_mean", bt),
                ln2_rstd: z("ln2_rstd", bt),
                fch: z("fch", bt * f),
                fch_act: z("fch_act", bt * f),
                fcproj: z("fcproj", bt * c),
                residual3: z("residual3", bt * c),
            })
            .collect();
        Self {
            bt,
            att,
            encoded: z("encoded", bt * c),
            layers,
            lnf: z("lnf", bt * c),
            lnf_mean: z("lnf_mean", bt),
            lnf_rstd: z("lnf_rstd", bt),
            logits: z("logits", bt * v),
            probs: z("probs", bt * v),
            losses: z("losses", bt),
            dlosses: z("dlosses", bt),
            dlogits: z("dlogits", bt * v),
            dresidual: z("dresidual", bt * c),
            dln: z("dln", bt * c),
            datty: z("datty", bt * c),
            dfch_act: z("dfch_act", bt * f),
            dfch: z("dfch", bt * f),
            dqkv: z("dqkv", bt * 3 * c),
            dqkv_rope: rope.then(|| z("dqkv_rope", bt * 3 * c)),
            dpreatt: map("dpreatt"),
            datt: map("datt"),
            delta: rows("delta"),
            dropout: (config.dropout > 0.0).then(|| DropoutBuffers {
                tmp: z("dropout tmp", bt * c),
                dproj: z("dropout dproj", bt * c),
                encoded_mask: z("encoded mask", bt * c),
                layers: (0..config.n_layer)
                    .map(|_| LayerMasks {
                        att: map("att mask"),
                        attproj: z("attproj mask", bt * c),
                        fcproj: z("fcproj mask", bt * c),
                    })
                    .collect(),
            }),
        }
    }
}

impl Activations {
    /// Every buffer, for [`GpuGpt::memory_bytes`].
    fn buffers(&self) -> Vec<&wgpu::Buffer> {
        let mut all = vec![
            &self.encoded,
            &self.lnf,
            &self.lnf_mean,
            &self.lnf_rstd,
            &self.logits,
            &self.probs,
            &self.losses,
            &self.dlosses,
            &self.dlogits,
            &self.dresidual,
            &self.dln,
            &self.datty,
            &self.dfch_act,
            &self.dfch,
            &self.dqkv,
        ];
        all.extend(
            [&self.dqkv_rope, &self.dpreatt, &self.datt, &self.delta]
                .into_iter()
                .flatten(),
        );
        for la in &self.layers {
            all.extend([
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
            ]);
            all.extend(
                [&la.qkv_rope, &la.preatt, &la.att, &la.lse]
                    .into_iter()
                    .flatten(),
            );
        }
        if let Some(d) = &self.dropout {
            all.extend([&d.tmp, &d.dproj, &d.encoded_mask]);
            for m in &d.layers {
                all.extend([&m.attproj, &m.fcproj]);
                all.extend(&m.att);
            }
        }
        all
    }
}

/// The plans of one (B, T) training shape: forward + backward per micro-batch, and the optimizer.
struct TrainPlans {
    micro: Vec<Plan>,
    /// The dropout dispatches of each micro-batch's plan (empty without dropout).
    dropout_sites: Vec<Vec<DropoutSite>>,
    optimizer: Plan,
}

/// A GPT whose parameters, gradients, optimizer state and activations live on the GPU.
pub struct GpuGpt {
    pub config: ModelConfig,
    pub layout: ParamLayout,
    /// Offset of each tensor (by spec index) in the GPU's flat buffers.
    offsets: Vec<usize>,
    /// Length of the flat buffers, padding included.
    padded_total: usize,
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    /// The sinusoidal table (block_size, C), for that positional option.
    pos_table: Option<wgpu::Buffer>,
    acts: Option<Activations>,
    /// Token ids per micro-batch: (inputs, targets), each (B, T) u32.
    tokens: Vec<(wgpu::Buffer, wgpu::Buffer)>,
    /// The losses of every micro-batch of a step, side by side: (grad_accum, B, T).
    loss_log: Option<wgpu::Buffer>,
    /// The mappable buffer the losses and the norm of a step are read back through, kept between steps.
    step_readback: Option<wgpu::Buffer>,
    norm: wgpu::Buffer,     // (1) the step's global gradient norm
    partials: wgpu::Buffer, // (GLOBAL_NORM_PARTIALS) the norm's first-stage sums
    adamw_step: wgpu::Buffer,
    train_plans: HashMap<(usize, usize, usize), TrainPlans>,
    forward_plans: HashMap<(usize, usize), Plan>,
    /// The (B, T) whose activations the last forward pass wrote.
    last_shape: (usize, usize),
    /// KV caches and one-position buffers for generation, made on first use.
    decode: Option<decode::DecodeBuffers>,
    /// Training and evaluation use the fused attention kernels (online softmax, no (T, T) map in memory);
    /// false when the head size exceeds their limit, or when switched off (`set_fused_attention`).
    fused_attention: bool,
}

impl GpuGpt {
    /// Uploads a CPU model's parameters: the GPU model starts where the CPU one is.
    pub fn from_cpu(gpu: &GpuContext, model: &Gpt<f32>) -> Result<Self> {
        let config = model.config.clone();
        check_limits(gpu, &config)?;
        let layout = ParamLayout::new(&config);
        let mut offsets = Vec::with_capacity(layout.specs.len());
        let mut padded_total = 0;
        for spec in &layout.specs {
            offsets.push(padded_total);
            padded_total += spec.len.div_ceil(ALIGN) * ALIGN;
        }
        let pos_table = (config.positional == Positional::Sinusoidal).then(|| {
            let mut table = vec![0.0f32; config.block_size * config.n_embd];
            sinusoidal_table(&mut table, 0, config.block_size, config.n_embd);
            gpu.upload("sinusoidal table", &table)
        });
        let fused_attention = config.n_embd / config.n_head <= ATTENTION_FUSED_MAX_HS;
        let mut gpu_model = Self {
            fused_attention,
            params: gpu.zeros("params", padded_total),
            grads: gpu.zeros("grads", padded_total),
            m: gpu.zeros("adamw m", padded_total),
            v: gpu.zeros("adamw v", padded_total),
            norm: gpu.zeros("grad norm", 1),
            partials: gpu.zeros("grad norm partials", GLOBAL_NORM_PARTIALS),
            adamw_step: AdamwStep::new(0.0, 0.9, 0.99, 1).upload(gpu),
            config,
            layout,
            offsets,
            padded_total,
            pos_table,
            acts: None,
            tokens: Vec::new(),
            loss_log: None,
            step_readback: None,
            train_plans: HashMap::new(),
            forward_plans: HashMap::new(),
            last_shape: (0, 0),
            decode: None,
        };
        gpu_model.upload_params(gpu, &model.params)?;
        Ok(gpu_model)
    }

    /// Overwrites the parameters with `params` (the CPU layout, unpadded).
    pub fn upload_params(&mut self, gpu: &GpuContext, params: &[f32]) -> Result<()> {
        if params.len() != self.layout.total {
            invalid_input!(
                "{} parameter values given, the model has {}",
                params.len(),
                self.layout.total
            );
        }
        gpu.queue
            .write_buffer(&self.params, 0, bytemuck::cast_slice(&self.pad(params)));
        Ok(())
    }

    /// The parameters in the CPU layout (for saving, captures and comparisons).
    pub async fn download_params(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        Ok(self.unpad(&gpu.read(&self.params, self.padded_total).await?))
    }

    /// The gradients of the last step in the CPU layout (after clipping).
    pub async fn download_grads(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        Ok(self.unpad(&gpu.read(&self.grads, self.padded_total).await?))
    }

    fn pad(&self, flat: &[f32]) -> Vec<f32> {
        let mut padded = vec![0.0; self.padded_total];
        for (spec, &offset) in self.layout.specs.iter().zip(&self.offsets) {
            padded[offset..offset + spec.len]
                .copy_from_slice(&flat[spec.offset..spec.offset + spec.len]);
        }
        padded
    }

    fn unpad(&self, padded: &[f32]) -> Vec<f32> {
        let mut flat = vec![0.0; self.layout.total];
        for (spec, &offset) in self.layout.specs.iter().zip(&self.offsets) {
            flat[spec.offset..spec.offset + spec.len]
                .copy_from_slice(&padded[offset..offset + spec.len]);
        }
        flat
    }

    /// Parameter tensor `id` of a flat buffer.
    fn tensor<'a>(&self, buffer: &'a wgpu::Buffer, id: usize) -> View<'a> {
        View::range(buffer, self.offsets[id], self.layout.specs[id].len)
    }

    /// Makes sure activations exist for (b, t) and `micro` token buffers of B*T ids. Callers check the batch
    /// against the device's limits first (check_batch_limits).
    fn ensure_capacity(&mut self, gpu: &GpuContext, b: usize, t: usize, micro: usize) {
        let fused = self.fused_attention;
        let nh = self.config.n_head;
        let (bt, att) = (b * t, if fused { 0 } else { b * nh * t * t });
        if self.acts.as_ref().is_none_or(|a| a.bt < bt || a.att < att) {
            let (bt, att) = self
                .acts
                .as_ref()
                .map_or((bt, att), |a| (a.bt.max(bt), a.att.max(att)));
            self.acts = Some(Activations::new(gpu, &self.config, bt, att, fused));
            // Every plan binds the old buffers.
            self.train_plans.clear();
            self.forward_plans.clear();
            self.tokens.clear();
        }
        let capacity = self.acts.as_ref().map_or(0, |a| a.bt);
        while self.tokens.len() < micro {
            let zeros = vec![0u32; capacity];
            self.tokens.push((
                gpu.upload_u32("inputs", &zeros),
                gpu.upload_u32("targets", &zeros),
            ));
        }
    }

    /// Records the forward pass of `b` sequences of `t` tokens from `inputs` into `plan`; with `targets`
    /// also the losses and probabilities. Mirrors `Gpt::forward` line for line. With `training` and a dropout
    /// probability, dropout is applied as on the CPU; the returned sites are reseeded every step.
    #[allow(clippy::too_many_arguments)]
    fn record_forward(
        &self,
        gpu: &GpuContext,
        plan: &mut Plan,
        inputs: &wgpu::Buffer,
        targets: Option<&wgpu::Buffer>,
        b: usize,
        t: usize,
        training: bool,
    ) -> Vec<DropoutSite> {
        let cfg = &self.config;
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let bt = b * t;
        let (lay, a) = (
            &self.layout,
            self.acts.as_ref().expect("activations allocated"),
        );
        let p = |id| self.tensor(&self.params, id);
        let popt = |id: Option<usize>| id.map(p);
        let all = View::all;
        let drop = if training { a.dropout.as_ref() } else { None };
        let p_drop = cfg.dropout;
        let mut sites = Vec::new();

        let pos = match cfg.positional {
            Positional::Learned => Some(View::range(
                &self.params,
                self.offsets[lay.wpe.expect("wpe")],
                t * c,
            )),
            Positional::Sinusoidal => self
                .pos_table
                .as_ref()
                .map(|table| View::range(table, 0, t * c)),
            Positional::Rope => None,
        };
        encoder_forward_gpu(
            gpu,
            plan,
            all(drop.map_or(&a.encoded, |d| &d.tmp)),
            View::range(inputs, 0, bt),
            p(lay.wte),
            pos,
            b,
            t,
            c,
        );
        if let Some(d) = drop {
            let n = bt * c;
            let index = dropout_forward_gpu(
                gpu,
                plan,
                all(&a.encoded),
                all(&d.encoded_mask),
                all(&d.tmp),
                p_drop,
                0,
                n,
            );
            sites.push(DropoutSite {
                index,
                layer: 0,
                site: 0,
                n,
                fused: None,
            });
        }

        for (l, la) in a.layers.iter().enumerate() {
            let ids = &lay.layers[l];
            let residual = if l == 0 {
                &a.encoded
            } else {
                &a.layers[l - 1].residual3
            };
            let masks = drop.map(|d| (&d.layers[l], &d.tmp));
            layernorm_forward_gpu(
                gpu,
                plan,
                all(&la.ln1),
                all(&la.ln1_mean),
                all(&la.ln1_rstd),
                all(residual),
                p(ids.ln1_w),
                popt(ids.ln1_b),
                b,
                t,
                c,
            );
            matmul_forward_fast_gpu(
                gpu,
                plan,
                all(&la.qkv),
                all(&la.ln1),
                p(ids.qkv_w),
                popt(ids.qkv_b),
                bt,
                c,
                3 * c,
            );
            let qkv = match &la.qkv_rope {
                Some(rotated) => {
                    rope_forward_gpu(gpu, plan, all(rotated), all(&la.qkv), 0, b, t, c, nh);
                    rotated
                }
                None => &la.qkv,
            };
            if let Some(lse) = &la.lse {
                // Fused: no map; the attention dropout is drawn inside the kernel from the site's seed.
                let dropout = masks.map(|_| AttentionDropout { p: p_drop, seed: 0 });
                let (index, params) = attention_forward_fused_gpu(
                    gpu,
                    plan,
                    all(&la.atty),
                    all(lse),
                    all(qkv),
                    dropout,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
                if masks.is_some() {
                    sites.push(DropoutSite {
                        index,
                        layer: l + 1,
                        site: 0,
                        n: b * nh * t * t,
                        fused: Some(params),
                    });
                }
            } else {
                let (preatt, att) = (map(&la.preatt), map(&la.att));
                let att_mask = masks.map(|(m, _)| map(&m.att));
                if let Some(att_mask) = att_mask {
                    // The attention mask alone (as dropout_mask_cpu): a dropout whose output goes to scratch.
                    let n = b * nh * t * t;
                    let index = dropout_forward_gpu(
                        gpu,
                        plan,
                        map(&a.dpreatt),
                        att_mask,
                        preatt,
                        p_drop,
                        0,
                        n,
                    );
                    sites.push(DropoutSite {
                        index,
                        layer: l + 1,
                        site: 0,
                        n,
                        fused: None,
                    });
                }
                attention_forward_gpu(
                    gpu,
                    plan,
                    all(&la.atty),
                    preatt,
                    att,
                    all(qkv),
                    att_mask,
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                );
            }
            matmul_forward_fast_gpu(
                gpu,
                plan,
                all(&la.attproj),
                all(&la.atty),
                p(ids.attproj_w),
                popt(ids.attproj_b),
                bt,
                c,
                c,
            );
            let attproj = match masks {
                Some((m, tmp)) => {
                    let index = dropout_forward_gpu(
                        gpu,
                        plan,
                        all(tmp),
                        all(&m.attproj),
                        all(&la.attproj),
                        p_drop,
                        0,
                        bt * c,
                    );
                    sites.push(DropoutSite {
                        index,
                        layer: l + 1,
                        site: 1,
                        n: bt * c,
                        fused: None,
                    });
                    tmp
                }
                None => &la.attproj,
            };
            residual_forward_gpu(
                gpu,
                plan,
                all(&la.residual2),
                all(residual),
                all(attproj),
                bt * c,
            );
            layernorm_forward_gpu(
                gpu,
                plan,
                all(&la.ln2),
                all(&la.ln2_mean),
                all(&la.ln2_rstd),
                all(&la.residual2),
                p(ids.ln2_w),
                popt(ids.ln2_b),
                b,
                t,
                c,
            );
            matmul_forward_fast_gpu(
                gpu,
                plan,
                all(&la.fch),
                all(&la.ln2),
                p(ids.fc_w),
                popt(ids.fc_b),
                bt,
                c,
                f,
            );
            match cfg.activation {
                Activation::Gelu => {
                    gelu_forward_gpu(gpu, plan, all(&la.fch_act), all(&la.fch), bt * f)
                }
                Activation::Relu => {
                    relu_forward_gpu(gpu, plan, all(&la.fch_act), all(&la.fch), bt * f)
                }
            }
            matmul_forward_fast_gpu(
                gpu,
                plan,
                all(&la.fcproj),
                all(&la.fch_act),
                p(ids.fcproj_w),
                popt(ids.fcproj_b),
                bt,
                f,
                c,
            );
            let fcproj = match masks {
                Some((m, tmp)) => {
                    let index = dropout_forward_gpu(
                        gpu,
                        plan,
                        all(tmp),
                        all(&m.fcproj),
                        all(&la.fcproj),
                        p_drop,
                        0,
                        bt * c,
                    );
                    sites.push(DropoutSite {
                        index,
                        layer: l + 1,
                        site: 2,
                        n: bt * c,
                        fused: None,
                    });
                    tmp
                }
                None => &la.fcproj,
            };
            residual_forward_gpu(
                gpu,
                plan,
                all(&la.residual3),
                all(&la.residual2),
                all(fcproj),
                bt * c,
            );
        }

        let last = &a.layers[cfg.n_layer - 1].residual3;
        layernorm_forward_gpu(
            gpu,
            plan,
            all(&a.lnf),
            all(&a.lnf_mean),
            all(&a.lnf_rstd),
            all(last),
            p(lay.lnf_w),
            popt(lay.lnf_b),
            b,
            t,
            c,
        );
        matmul_forward_fast_gpu(
            gpu,
            plan,
            all(&a.logits),
            all(&a.lnf),
            p(lay.wte),
            None,
            bt,
            c,
            v,
        );
        if let Some(targets) = targets {
            crossentropy_forward_gpu(
                gpu,
                plan,
                all(&a.losses),
                all(&a.probs),
                all(&a.logits),
                View::range(targets, 0, bt),
                b,
                t,
                v,
            );
        }
        sites
    }

    /// Records the backward pass of the forward recorded just before; mirrors `Gpt::backward`. Parameter
    /// gradients accumulate into `grads`; `dresidual` must be zero when it starts (the step clears it).
    /// Returns the fused attention dispatches that redraw the attention dropout (reseeded every step).
    fn record_backward(
        &self,
        gpu: &GpuContext,
        plan: &mut Plan,
        inputs: &wgpu::Buffer,
        targets: &wgpu::Buffer,
        b: usize,
        t: usize,
    ) -> Vec<DropoutSite> {
        let mut sites = Vec::new();
        let cfg = &self.config;
        let (c, f, nh, v) = (cfg.n_embd, cfg.ffn_width(), cfg.n_head, cfg.vocab_size);
        let bt = b * t;
        let (lay, a) = (
            &self.layout,
            self.acts.as_ref().expect("activations allocated"),
        );
        let p = |id| self.tensor(&self.params, id);
        let g = |id| self.tensor(&self.grads, id);
        let gopt = |id: Option<usize>| id.map(g);
        let all = View::all;
        let drop = a.dropout.as_ref();
        // The gradient of a residual branch's output: through its dropout mask when there is one.
        let through_dropout = |plan: &mut Plan, mask: Option<&wgpu::Buffer>| match (drop, mask) {
            (Some(d), Some(mask)) => {
                dropout_backward_gpu(
                    gpu,
                    plan,
                    View::all(&d.dproj),
                    View::all(&a.dresidual),
                    View::all(mask),
                    bt * c,
                );
                &d.dproj
            }
            _ => &a.dresidual,
        };

        crossentropy_backward_gpu(
            gpu,
            plan,
            all(&a.dlogits),
            all(&a.dlosses),
            all(&a.probs),
            View::range(targets, 0, bt),
            b,
            t,
            v,
        );
        matmul_backward_gpu(
            gpu,
            plan,
            all(&a.dln),
            g(lay.wte),
            None,
            all(&a.dlogits),
            all(&a.lnf),
            p(lay.wte),
            bt,
            c,
            v,
        );
        let last = &a.layers[cfg.n_layer - 1].residual3;
        layernorm_backward_gpu(
            gpu,
            plan,
            all(&a.dresidual),
            g(lay.lnf_w),
            gopt(lay.lnf_b),
            all(&a.dln),
            all(last),
            p(lay.lnf_w),
            all(&a.lnf_mean),
            all(&a.lnf_rstd),
            b,
            t,
            c,
        );

        for l in (0..cfg.n_layer).rev() {
            let (ids, la) = (&lay.layers[l], &a.layers[l]);
            let residual = if l == 0 {
                &a.encoded
            } else {
                &a.layers[l - 1].residual3
            };
            let masks = drop.map(|d| &d.layers[l]);
            // dresidual holds d residual3: the skip path passes it on as is, the MLP branch reads it.
            let dout = through_dropout(plan, masks.map(|m| &m.fcproj));
            matmul_backward_gpu(
                gpu,
                plan,
                all(&a.dfch_act),
                g(ids.fcproj_w),
                gopt(ids.fcproj_b),
                all(dout),
                all(&la.fch_act),
                p(ids.fcproj_w),
                bt,
                f,
                c,
            );
            match cfg.activation {
                Activation::Gelu => gelu_backward_gpu(
                    gpu,
                    plan,
                    all(&a.dfch),
                    all(&la.fch),
                    all(&a.dfch_act),
                    bt * f,
                ),
                Activation::Relu => relu_backward_gpu(
                    gpu,
                    plan,
                    all(&a.dfch),
                    all(&la.fch),
                    all(&a.dfch_act),
                    bt * f,
                ),
            }
            matmul_backward_gpu(
                gpu,
                plan,
                all(&a.dln),
                g(ids.fc_w),
                gopt(ids.fc_b),
                all(&a.dfch),
                all(&la.ln2),
                p(ids.fc_w),
                bt,
                c,
                f,
            );
            layernorm_backward_gpu(
                gpu,
                plan,
                all(&a.dresidual),
                g(ids.ln2_w),
                gopt(ids.ln2_b),
                all(&a.dln),
                all(&la.residual2),
                p(ids.ln2_w),
                all(&la.ln2_mean),
                all(&la.ln2_rstd),
                b,
                t,
                c,
            );
            // dresidual holds d residual2: the attention branch.
            let dout = through_dropout(plan, masks.map(|m| &m.attproj));
            matmul_backward_gpu(
                gpu,
                plan,
                all(&a.datty),
                g(ids.attproj_w),
                gopt(ids.attproj_b),
                all(dout),
                all(&la.atty),
                p(ids.attproj_w),
                bt,
                c,
                c,
            );
            // With RoPE the attention saw the rotated qkv: its gradient goes through rope_backward after.
            let (dqkv, qkv) = match (&la.qkv_rope, &a.dqkv_rope) {
                (Some(qkv_rope), Some(dqkv_rope)) => (dqkv_rope, qkv_rope),
                _ => (&a.dqkv, &la.qkv),
            };
            match (&la.lse, &a.delta) {
                (Some(lse), Some(delta)) => {
                    let dropout = masks.map(|_| AttentionDropout {
                        p: cfg.dropout,
                        seed: 0,
                    });
                    let (indices, params) = attention_backward_fused_gpu(
                        gpu,
                        plan,
                        all(dqkv),
                        all(delta),
                        all(&a.datty),
                        all(qkv),
                        all(&la.atty),
                        all(lse),
                        dropout,
                        cfg.attention_mask,
                        b,
                        t,
                        c,
                        nh,
                    );
                    if masks.is_some() {
                        sites.extend(indices.map(|index| DropoutSite {
                            index,
                            layer: l + 1,
                            site: 0,
                            n: b * nh * t * t,
                            fused: Some(params),
                        }));
                    }
                }
                _ => attention_backward_gpu(
                    gpu,
                    plan,
                    all(dqkv),
                    map(&a.dpreatt),
                    map(&a.datt),
                    all(&a.datty),
                    all(qkv),
                    map(&la.att),
                    masks.map(|m| map(&m.att)),
                    cfg.attention_mask,
                    b,
                    t,
                    c,
                    nh,
                ),
            }
            if let Some(dqkv_rope) = &a.dqkv_rope {
                rope_backward_gpu(gpu, plan, all(&a.dqkv), all(dqkv_rope), 0, b, t, c, nh);
            }
            matmul_backward_gpu(
                gpu,
                plan,
                all(&a.dln),
                g(ids.qkv_w),
                gopt(ids.qkv_b),
                all(&a.dqkv),
                all(&la.ln1),
                p(ids.qkv_w),
                bt,
                c,
                3 * c,
            );
            layernorm_backward_gpu(
                gpu,
                plan,
                all(&a.dresidual),
                g(ids.ln1_w),
                gopt(ids.ln1_b),
                all(&a.dln),
                all(residual),
                p(ids.ln1_w),
                all(&la.ln1_mean),
                all(&la.ln1_rstd),
                b,
                t,
                c,
            );
        }
        // dresidual holds d encoded.
        let dencoded = through_dropout(plan, drop.map(|d| &d.encoded_mask));
        let dpos = lay
            .wpe
            .map(|id| View::range(&self.grads, self.offsets[id], t * c));
        encoder_backward_gpu(
            gpu,
            plan,
            g(lay.wte),
            dpos,
            all(dencoded),
            View::range(inputs, 0, bt),
            b,
            t,
            c,
        );
        sites
    }

    /// Records clipping (or only the norm, when `grad_clip` is 0) and one AdamW update per parameter tensor.
    fn record_optimizer(
        &self,
        gpu: &GpuContext,
        plan: &mut Plan,
        options: &crate::model::TrainOptions,
    ) {
        let grads = View::range(&self.grads, 0, self.padded_total);
        let (norm, partials) = (View::all(&self.norm), View::all(&self.partials));
        if options.grad_clip > 0.0 {
            clip_by_global_norm_gpu(
                gpu,
                plan,
                grads,
                norm,
                partials,
                options.grad_clip,
                self.padded_total,
            );
        } else {
            global_norm_gpu(gpu, plan, norm, partials, grads, self.padded_total);
        }
        for (id, spec) in self.layout.specs.iter().enumerate() {
            let is_embedding = spec.name.contains(".wte.") || spec.name.contains(".wpe.");
            let decay = spec.decay || (is_embedding && options.decay_embeddings);
            adamw_update_gpu(
                gpu,
                plan,
                self.tensor(&self.params, id),
                self.tensor(&self.m, id),
                self.tensor(&self.v, id),
                self.tensor(&self.grads, id),
                View::all(&self.adamw_step),
                norm,
                options.beta1,
                options.beta2,
                options.eps,
                if decay { options.weight_decay } else { 0.0 },
                spec.len,
            );
        }
    }

    /// One optimizer step over `batches` micro-batches of (inputs, targets), each (B, T): one submit.
    /// Returns the mean loss over all micro-batches and the global gradient norm (before clipping).
    /// When the norm is not finite the GPU skips the update, so the weights stay those of the last good step.
    pub async fn train_step(
        &mut self,
        gpu: &GpuContext,
        batches: &[(Vec<u32>, Vec<u32>)],
        b: usize,
        t: usize,
        step: u32,
        options: &crate::model::TrainOptions,
    ) -> Result<(f64, f64)> {
        let k = batches.len();
        if k == 0 {
            invalid_input!("a training step needs at least one micro-batch");
        }
        for (inputs, targets) in batches {
            self.config.check_batch(inputs, Some(targets), b, t)?;
        }
        // Any WebGPU validation error (a shader the browser rejects, a binding too large) becomes this step's
        // error instead of silently skipped work.
        check_batch_limits(gpu, &self.config, b, t, !self.fused_attention)?;
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.ensure_capacity(gpu, b, t, k);
        if self
            .loss_log
            .as_ref()
            .is_none_or(|log| log.size() < (k * b * t * 4) as u64)
        {
            self.loss_log = Some(gpu.zeros("loss log", k * b * t));
        }
        let key = (b, t, k);
        if !self.train_plans.contains_key(&key) {
            let (mut micro, mut dropout_sites) = (Vec::with_capacity(k), Vec::with_capacity(k));
            for (inputs, targets) in &self.tokens[..k] {
                let mut plan = Plan::new();
                dropout_sites.push(self.record_forward(
                    gpu,
                    &mut plan,
                    inputs,
                    Some(targets),
                    b,
                    t,
                    true,
                ));
                let backward_sites = self.record_backward(gpu, &mut plan, inputs, targets, b, t);
                dropout_sites
                    .last_mut()
                    .expect("the forward's sites")
                    .extend(backward_sites);
                micro.push(plan);
            }
            let mut optimizer = Plan::new();
            self.record_optimizer(gpu, &mut optimizer, options);
            self.train_plans.insert(
                key,
                TrainPlans {
                    micro,
                    dropout_sites,
                    optimizer,
                },
            );
        }
        let a = self.acts.as_ref().expect("activations allocated");
        let bt = b * t;
        // Gradient accumulation averages: each micro-batch's mean loss is scaled by 1/k.
        let dloss = (1.0 / (k * bt) as f64) as f32;
        gpu.queue
            .write_buffer(&a.dlosses, 0, bytemuck::cast_slice(&vec![dloss; bt]));
        for ((inputs, targets), (inputs_buffer, targets_buffer)) in batches.iter().zip(&self.tokens)
        {
            gpu.queue
                .write_buffer(inputs_buffer, 0, bytemuck::cast_slice(inputs));
            gpu.queue
                .write_buffer(targets_buffer, 0, bytemuck::cast_slice(targets));
        }
        let lr = options.lr_at(step);
        AdamwStep::new(lr, options.beta1, options.beta2, step).write(gpu, &self.adamw_step);

        let plans = &self.train_plans[&key];
        // New dropout masks every step and micro-batch, seeded exactly as the CPU trainer seeds them.
        for (micro, (plan, sites)) in plans.micro.iter().zip(&plans.dropout_sites).enumerate() {
            let seed = options.seed ^ (u64::from(step) << 20) ^ micro as u64;
            for site in sites {
                let site_seed = site_seed(seed, site.layer, site.site);
                match site.fused {
                    Some(params) => {
                        attention_fused_reseed(gpu, plan, site.index, params, site_seed)
                    }
                    None => dropout_forward_reseed(
                        gpu,
                        plan,
                        site.index,
                        self.config.dropout,
                        site_seed,
                        site.n,
                    ),
                }
            }
        }
        let loss_log = self.loss_log.as_ref().expect("loss log allocated");
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&self.grads, 0, None);
        for (i, plan) in plans.micro.iter().enumerate() {
            encoder.clear_buffer(&a.dresidual, 0, None);
            plan.encode(&mut encoder);
            encoder.copy_buffer_to_buffer(
                &a.losses,
                0,
                loss_log,
                (i * bt * 4) as u64,
                (bt * 4) as u64,
            );
        }
        plans.optimizer.encode(&mut encoder);
        // The losses and the norm come home in one readback buffer, kept from step to step.
        let floats = k * bt + 1;
        let staging = self
            .step_readback
            .take()
            .filter(|buffer| buffer.size() == (floats * 4) as u64)
            .unwrap_or_else(|| gpu.readback_buffer(floats));
        gpu.stage_into(
            &mut encoder,
            &staging,
            &[(loss_log, 0, k * bt), (&self.norm, 0, 1)],
        );
        gpu.queue.submit([encoder.finish()]);
        self.last_shape = (b, t);
        if let Some(error) = scope.pop().await {
            return Err(crate::Error::Gpu(format!(
                "a training step was rejected by the GPU: {error}"
            )));
        }
        let values = gpu.read_staged(&staging).await?;
        self.step_readback = Some(staging);
        let loss = values[..k * bt].iter().map(|&x| f64::from(x)).sum::<f64>() / (k * bt) as f64;
        Ok((loss, f64::from(values[k * bt])))
    }

    /// The mean loss of `inputs` against `targets`, each (B, T), without touching gradients (evaluation).
    pub async fn loss(
        &mut self,
        gpu: &GpuContext,
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        t: usize,
    ) -> Result<f64> {
        self.forward(gpu, inputs, Some(targets), b, t).await?;
        let a = self.acts.as_ref().expect("activations allocated");
        let losses = gpu.read(&a.losses, b * t).await?;
        Ok(losses.iter().map(|&x| f64::from(x)).sum::<f64>() / (b * t) as f64)
    }

    /// Runs the forward pass (no dropout) and leaves its activations on the GPU for reading.
    pub async fn forward(
        &mut self,
        gpu: &GpuContext,
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        t: usize,
    ) -> Result<()> {
        self.config.check_batch(inputs, targets, b, t)?;
        check_batch_limits(gpu, &self.config, b, t, !self.fused_attention)?;
        self.ensure_capacity(gpu, b, t, 1);
        let with_targets = targets.is_some();
        let key = (b, t * 2 + usize::from(with_targets));
        if !self.forward_plans.contains_key(&key) {
            let mut plan = Plan::new();
            let (inputs_buffer, targets_buffer) = &self.tokens[0];
            self.record_forward(
                gpu,
                &mut plan,
                inputs_buffer,
                with_targets.then_some(targets_buffer),
                b,
                t,
                false,
            );
            self.forward_plans.insert(key, plan);
        }
        let (inputs_buffer, targets_buffer) = &self.tokens[0];
        gpu.queue
            .write_buffer(inputs_buffer, 0, bytemuck::cast_slice(inputs));
        if let Some(targets) = targets {
            gpu.queue
                .write_buffer(targets_buffer, 0, bytemuck::cast_slice(targets));
        }
        self.forward_plans[&key].run(gpu).await?;
        self.last_shape = (b, t);
        Ok(())
    }

    /// The logits (V) of the last position of the last forward pass's first sequence: what sampling needs.
    pub async fn last_logits(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        let (_, t) = self.last_shape;
        let v = self.config.vocab_size;
        let a = self.acts.as_ref().expect("activations allocated");
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let staging = gpu.stage(&mut encoder, &[(&a.logits, (t - 1) * v, v)]);
        gpu.queue.submit([encoder.finish()]);
        gpu.read_staged(&staging).await
    }

    /// Generation without a cache, exactly as the CPU model's uncached generation (same context window, same
    /// sampler and seed): the whole (cropped) context goes through the forward pass for each new token and only
    /// the last position's logits come back. The reference `generate` (KV cache) is tested against.
    pub async fn generate_uncached(
        &mut self,
        gpu: &GpuContext,
        prompt: &[u32],
        options: &SampleOptions,
    ) -> Result<Vec<u32>> {
        options.validate()?;
        if prompt.is_empty() {
            invalid_input!("generation needs a prompt of at least one token");
        }
        let t_max = self.config.block_size;
        let mut rng = Rng::new(options.seed);
        let mut tokens = prompt.to_vec();
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < options.max_tokens {
            // When the window is full, jump by half of it (as the CPU path does).
            if tokens.len() - start > t_max {
                start = tokens.len() - (t_max / 2).max(1);
            }
            let context = &tokens[start..];
            self.forward(gpu, context, None, 1, context.len()).await?;
            let logits = self.last_logits(gpu).await?;
            let token = sample(&logits, options, &mut rng);
            tokens.push(token);
            out.push(token);
            if Some(token) == options.end_token {
                break;
            }
        }
        Ok(out)
    }

    /// The attention weights (B, NH, T, T) of every layer from the last forward pass (before dropout).
    ///
    /// The fused path keeps no map: this is the inspection path, which runs the readable `attention_forward`
    /// on demand over each layer's kept qkv (the same inputs as the last forward) into buffers made for
    /// this call. Without fused attention the forward's own maps are read.
    pub async fn attention_maps(&self, gpu: &GpuContext) -> Result<Vec<Vec<f32>>> {
        let (b, t) = self.last_shape;
        let Some(a) = self.acts.as_ref().filter(|_| b * t > 0) else {
            invalid_input!("no forward pass has run yet: run one before asking for attention maps");
        };
        let (c, nh) = (self.config.n_embd, self.config.n_head);
        let len = b * nh * t * t;
        let mut maps = Vec::with_capacity(a.layers.len());
        if !self.fused_attention {
            for layer in &a.layers {
                maps.push(gpu.read(map(&layer.att).buffer, len).await?);
            }
            return Ok(maps);
        }
        let (preatt, out) = (
            gpu.zeros("inspection preatt", len),
            gpu.zeros("inspection out", b * t * c),
        );
        let atts: Vec<wgpu::Buffer> = a
            .layers
            .iter()
            .map(|_| gpu.zeros("inspection att", len))
            .collect();
        let mut plan = Plan::new();
        for (layer, att) in a.layers.iter().zip(&atts) {
            let qkv = layer.qkv_rope.as_ref().unwrap_or(&layer.qkv);
            attention_forward_gpu(
                gpu,
                &mut plan,
                View::all(&out),
                View::all(&preatt),
                View::all(att),
                View::all(qkv),
                None,
                self.config.attention_mask,
                b,
                t,
                c,
                nh,
            );
        }
        plan.run(gpu).await?;
        for att in &atts {
            maps.push(gpu.read(att, len).await?);
        }
        Ok(maps)
    }

    /// Whether training and evaluation use the fused attention kernels (no (T, T) map in memory).
    pub fn fused_attention(&self) -> bool {
        self.fused_attention
    }

    /// Switches between the fused attention kernels and the readable ones (which write the (B, NH, T, T)
    /// maps in every forward; for comparisons and benchmarks). The activations and plans are rebuilt on the
    /// next step. Fused attention needs hs = C / NH <= [`ATTENTION_FUSED_MAX_HS`].
    pub fn set_fused_attention(&mut self, fused: bool) -> Result<()> {
        let hs = self.config.n_embd / self.config.n_head;
        if fused && hs > ATTENTION_FUSED_MAX_HS {
            invalid_input!(
                "fused attention handles heads of at most {ATTENTION_FUSED_MAX_HS} channels, this model's \
                 have {hs}: use more heads"
            );
        }
        if fused != self.fused_attention {
            self.fused_attention = fused;
            self.acts = None;
            self.train_plans.clear();
            self.forward_plans.clear();
            self.tokens.clear();
            self.last_shape = (0, 0);
        }
        Ok(())
    }

    /// Bytes of GPU storage the model holds: parameters, gradients, optimizer state, activations, gradient
    /// scratch, token buffers and generation caches (not the small uniforms of the plans).
    pub fn memory_bytes(&self) -> u64 {
        let mut buffers: Vec<&wgpu::Buffer> = vec![
            &self.params,
            &self.grads,
            &self.m,
            &self.v,
            &self.norm,
            &self.partials,
            &self.adamw_step,
        ];
        buffers.extend(&self.pos_table);
        buffers.extend(&self.loss_log);
        for (inputs, targets) in &self.tokens {
            buffers.extend([inputs, targets]);
        }
        if let Some(a) = &self.acts {
            buffers.extend(a.buffers());
        }
        if let Some(d) = &self.decode {
            buffers.extend(d.buffers());
        }
        buffers.iter().map(|buffer| buffer.size()).sum()
    }

    /// Dispatches per optimizer step for a (B, T, micro-batches) shape that has run (benchmarks report it).
    pub fn dispatches_per_step(&self, b: usize, t: usize, micro: usize) -> Option<usize> {
        let plans = self.train_plans.get(&(b, t, micro))?;
        Some(plans.micro.iter().map(Plan::len).sum::<usize>() + plans.optimizer.len())
    }

    /// Times every dispatch of the (B, T, micro-batches) training step that has run, one at a time (each
    /// submitted alone `repeats` times, waiting for the GPU), and sums the seconds per kernel label.
    /// For benchmarks: the sum exceeds a real step's time, which overlaps nothing but also pays no per-submit cost.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile_step(
        &self,
        gpu: &GpuContext,
        b: usize,
        t: usize,
        micro: usize,
        repeats: usize,
    ) -> Vec<(String, f64)> {
        let Some(plans) = self.train_plans.get(&(b, t, micro)) else {
            return Vec::new();
        };
        let mut totals: Vec<(String, f64)> = Vec::new();
        for plan in plans.micro.iter().chain([&plans.optimizer]) {
            for (index, label) in plan.labels().into_iter().enumerate() {
                let start = std::time::Instant::now();
                for _ in 0..repeats {
                    let mut encoder = gpu.device.create_command_encoder(&Default::default());
                    plan.encode_one(&mut encoder, index);
                    gpu.queue.submit([encoder.finish()]);
                    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
                }
                let seconds = start.elapsed().as_secs_f64() / repeats as f64;
                match totals.iter_mut().find(|(name, _)| name == label) {
                    Some((_, total)) => *total += seconds,
                    None => totals.push((label.to_string(), seconds)),
                }
            }
        }
        totals.sort_by(|a, b| b.1.total_cmp(&a.1));
        totals
    }
}

/// Refuses a config whose buffers the adapter cannot bind, before anything is allocated, saying what to shrink.
/// Sizes are counted in u64: on wasm32 a product like NH x T x T can overflow `usize`.
pub fn check_limits(gpu: &GpuContext, config: &ModelConfig) -> Result<()> {
    config.validate()?;
    let (c, t, nh, v, f) = (
        config.n_embd as u64,
        config.block_size as u64,
        config.n_head as u64,
        config.vocab_size as u64,
        config.ffn_width() as u64,
    );
    // The gradient norm, the clip and AdamW bind every parameter (and gradient, and moment) at once, as one
    // buffer of tensors each padded to the binding alignment: at most ALIGN - 1 floats of padding per tensor
    // (wte, wpe, 12 per block, ln_f's two), counted without building the layout (nothing is allocated here).
    let tensors = 3 + 12 * config.n_layer as u64;
    let padded_params = config.param_count() as u64 + tensors * ALIGN as u64;
    // The largest tensors of one sequence of block_size tokens (a batch scales the activations further: see
    // check_batch_limits), then the parameters as a whole. The attention map is what the inspection path draws.
    let largest = [
        (
            "the attention map of one sequence (NH x T x T)",
            nh * t * t,
            "shrink the context or the number of heads",
        ),
        (
            "the logits of one sequence (T x V)",
            t * v,
            "shrink the context or the vocabulary",
        ),
        (
            "the FFN activations of one sequence (T x FFN width)",
            t * f,
            "shrink the context or the FFN width",
        ),
        (
            "the token embedding (V x C)",
            v * c,
            "shrink the vocabulary or d_model",
        ),
        (
            "all the parameters, bound at once by the optimizer",
            padded_params,
            "shrink the model: fewer layers, or a smaller d_model, vocabulary or FFN width",
        ),
    ];
    for (what, floats, shrink) in largest {
        check_binding(gpu, what, floats * 4, shrink)?;
    }
    Ok(())
}

/// Refuses a training or evaluation batch of `b` sequences of `t` tokens whose activations the adapter cannot
/// bind, before they are allocated, saying how large a batch fits. `attention_maps`: whether the batch keeps
/// the (B, NH, T, T) maps (the readable attention path; the fused one keeps none).
pub fn check_batch_limits(
    gpu: &GpuContext,
    config: &ModelConfig,
    b: usize,
    t: usize,
    attention_maps: bool,
) -> Result<()> {
    let (c, nh, v, f) = (
        config.n_embd as u64,
        config.n_head as u64,
        config.vocab_size as u64,
        config.ffn_width() as u64,
    );
    let t = t as u64;
    // Floats per sequence of the largest activations.
    let mut largest = vec![
        ("logits (B x T x V)", t * v),
        ("FFN activations (B x T x FFN width)", t * f),
        ("q, k and v (B x T x 3C)", t * 3 * c),
    ];
    if attention_maps {
        largest.push(("attention maps (B x NH x T x T)", nh * t * t));
    }
    let limit = gpu.summary.max_storage_buffer_binding_size;
    for (what, per_sequence) in largest {
        let bytes = per_sequence * 4 * b as u64;
        if bytes > limit {
            let fits = limit / (per_sequence * 4).max(1);
            invalid_input!(
                "a batch of {b} sequences of {t} tokens needs {} for its {what}, but this GPU binds at most {} per buffer: use a batch of at most {fits} sequences, or a shorter context",
                size(bytes, limit),
                size(limit, bytes)
            );
        }
    }
    Ok(())
}

/// `what` (`bytes`) against the adapter's largest storage binding.
fn check_binding(gpu: &GpuContext, what: &str, bytes: u64, shrink: &str) -> Result<()> {
    let limit = gpu.summary.max_storage_buffer_binding_size;
    if bytes > limit {
        invalid_input!(
            "{what} needs {} but this GPU binds at most {} per buffer: {shrink}",
            size(bytes, limit),
            size(limit, bytes)
        );
    }
    Ok(())
}

/// `bytes` in MiB with one decimal, or in bytes where that would look equal to `other`'s.
fn size(bytes: u64, other: u64) -> String {
    let mib = |n: u64| format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20));
    if mib(bytes) == mib(other) {
        format!("{bytes} bytes")
    } else {
        mib(bytes)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
