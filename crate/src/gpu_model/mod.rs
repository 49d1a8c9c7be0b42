//! The GPT on the GPU: the one description of the model ([`crate::model::transformer`]) recorded by the
//! [`GpuExecutor`] into plans of WGSL dispatches (every op from [`crate::ops`]).
//!
//! Execution model:
//! - Buffers are allocated once per model: parameters, gradients and AdamW's moments as flat buffers, the
//!   activations and gradient scratch the description allocates ([`Acts`], [`Grads`]), token buffers per
//!   micro-batch.
//! - Each (B, T) shape gets a [`Plan`] per micro-batch (forward + backward) and one optimizer plan, built on
//!   first use: bind groups and uniforms are made then, never per step.
//! - One optimizer step is one command encoder and one submit: for each micro-batch clear the residual
//!   gradient, copy in its d loss / d losses, replay its plan, copy its losses aside; then clip and AdamW; then stage the losses and the
//!   gradient norm for the one readback the caller awaits.
//!
//! The flat buffers use the CPU's [`ParamLayout`] order with each tensor's offset rounded up to 128 numbers:
//! WebGPU binds a buffer range only at offsets that are multiples of 256 bytes, and the f16 copy of the
//! weights (mixed precision, [`precision`]) uses the same offsets at 2 bytes a number.

mod decode;
pub mod encdec;
pub mod exec;
mod limits;
mod optimizer;
mod precision;
pub mod seq2seq;
mod split;
mod trainer;

use std::collections::HashMap;

pub use decode::GpuGenerator;
pub use encdec::GpuEncDec;
pub use exec::{GpuExecutor, GpuStore, RecordedSite};
pub use limits::{check_batch_limits, check_limits};
pub(crate) use optimizer::{OptimizerState, record_optimizer};
pub use seq2seq::GpuSeq2SeqTrainer;
pub use split::check_generation_limits;
pub use trainer::{GpuTrainer, LossScaler};

use crate::exec::{Allocator, Tensor};
use crate::gpu::{GpuContext, Plan, View};
use crate::model::generate::{SampleOptions, sample};
use crate::model::params::ParamLayout;
use crate::model::transformer::{Acts, Grads, Transformer};
use crate::model::{Gpt, LossScaleReport, ModelConfig, Precision};
use crate::ops::adamw_update::AdamwStep;
use crate::ops::attention_forward::attention_forward_gpu;
use crate::ops::attention_forward_fused::ATTENTION_FUSED_MAX_HS;
use crate::ops::crossentropy_forward::counted_targets;
use crate::ops::global_norm::GLOBAL_NORM_PARTIALS;
use crate::rng::Rng;
use crate::{Result, invalid_input};

/// Numbers per binding-offset alignment unit: 256 bytes hold 64 f32s, and 128 f16s in the weights' f16 copy.
const ALIGN: usize = crate::model::memory::GPU_ALIGN;

/// The activations, gradient scratch and token buffers of the training and evaluation plans, sized for up to
/// `acts.bt` positions (and maps of `acts.att` numbers with the readable attention).
struct Buffers {
    acts: Acts,
    grads: Grads,
    /// Token ids per micro-batch: (inputs, targets), each (B, T) u32.
    tokens: Vec<(Tensor, Tensor)>,
}

impl Buffers {
    fn tensors(&self) -> impl Iterator<Item = Tensor> + '_ {
        let tokens = self
            .tokens
            .iter()
            .flat_map(|&(inputs, targets)| [inputs, targets]);
        self.acts
            .tensors()
            .into_iter()
            .chain(self.grads.tensors())
            .chain(tokens)
    }
}

/// The plans of one (B, T) training shape: forward + backward per micro-batch, and the optimizer.
struct TrainPlans {
    micro: Vec<Plan>,
    /// The dropout dispatches of each micro-batch's plan (empty without dropout).
    dropout_sites: Vec<Vec<RecordedSite>>,
    optimizer: Plan,
}

/// A GPT whose parameters, gradients, optimizer state and activations live on the GPU.
pub struct GpuGpt {
    pub config: ModelConfig,
    pub layout: ParamLayout,
    /// Parameters, gradients and every buffer the description allocated.
    store: GpuStore,
    /// Length of the flat buffers, padding included.
    padded_total: usize,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    buffers: Option<Buffers>,
    /// The losses of every micro-batch of a step, side by side: (grad_accum, B, T).
    loss_log: Option<wgpu::Buffer>,
    /// d loss / d losses of every micro-batch of a step, side by side: (grad_accum, B, T); each micro-batch's
    /// row is copied into the gradient's dlosses before its plan runs (they differ when targets are ignored).
    dloss_log: Option<wgpu::Buffer>,
    /// The mappable buffer the losses and the norm of a step are read back through, kept between steps.
    step_readback: Option<wgpu::Buffer>,
    norm: wgpu::Buffer, // (2) the step's global gradient norm, 1 / the loss scale
    partials: wgpu::Buffer, // (GLOBAL_NORM_PARTIALS) the norm's first-stage sums
    adamw_step: wgpu::Buffer,
    train_plans: HashMap<(usize, usize, usize), TrainPlans>,
    forward_plans: HashMap<(usize, usize), Plan>,
    /// The (B, T) whose activations the last forward pass wrote.
    last_shape: (usize, usize),
    /// KV caches, one position's buffers and their plans for generation, made on first use.
    decode: Option<decode::Decode>,
    /// Training and evaluation use the fused attention kernels (online softmax, no (T, T) map in memory);
    /// false when the head size exceeds their limit, or when switched off (`set_fused_attention`).
    fused_attention: bool,
    /// Gradients and optimizer state exist (false: opened for generation only, see split.rs).
    optimizer: bool,
    /// f32, or mixed precision (f16 activations and weight copy, f32 master weights; [`Self::set_precision`]).
    precision: Precision,
    /// Mixed precision: dynamic loss scaling, and what it did in the last step.
    scaler: Option<LossScaler>,
    last_scaling: Option<LossScaleReport>,
    /// Activation checkpointing every this many blocks (0: off), from the training options
    /// ([`GpuGpt::set_checkpoint_every`]).
    checkpoint_every: usize,
}

impl GpuGpt {
    /// Uploads a CPU model's parameters: the GPU model starts where the CPU one is.
    pub fn from_cpu(gpu: &GpuContext, model: &Gpt<f32>) -> Result<Self> {
        check_limits(gpu, &model.config)?;
        Self::build(gpu, model, true)
    }

    /// The GPU model of `model`'s weights, with gradients and AdamW's moments when `optimizer`.
    fn build(gpu: &GpuContext, model: &Gpt<f32>, optimizer: bool) -> Result<Self> {
        let config = model.config.clone();
        let layout = ParamLayout::new(&config);
        let (offsets, padded_total) = crate::model::memory::padded_offsets(&layout);
        let fused_attention = config.n_embd / config.n_head <= ATTENTION_FUSED_MAX_HS;
        // Gradients and moments for the trainable tensors only (with LoRA the adapters, which come last).
        let grad_base = offsets
            .get(layout.first_trainable)
            .copied()
            .unwrap_or(padded_total);
        let trainable = if optimizer {
            padded_total - grad_base
        } else {
            1
        };
        let mut gpu_model = Self {
            fused_attention,
            optimizer,
            checkpoint_every: 0,
            store: GpuStore {
                params: gpu.zeros("params", padded_total),
                grads: gpu.zeros("grads", trainable),
                offsets,
                grad_base,
                binding_limit: gpu.summary.max_storage_buffer_binding_size,
                acts: Vec::new(),
                act_elems: Vec::new(),
                tokens: Vec::new(),
                params_f16: None,
            },
            m: gpu.zeros("adamw m", trainable),
            v: gpu.zeros("adamw v", trainable),
            // [norm, 1 / loss scale]: 1 until mixed precision scales the loss.
            norm: gpu.upload("grad norm", &[0.0, 1.0]),
            partials: gpu.zeros("grad norm partials", GLOBAL_NORM_PARTIALS),
            adamw_step: AdamwStep::new(0.0, 0.9, 0.99, 1).upload(gpu),
            config,
            layout,
            padded_total,
            buffers: None,
            loss_log: None,
            dloss_log: None,
            step_readback: None,
            train_plans: HashMap::new(),
            forward_plans: HashMap::new(),
            last_shape: (0, 0),
            decode: None,
            precision: Precision::F32,
            scaler: None,
            last_scaling: None,
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
        let padded = self.pad(params);
        gpu.queue
            .write_buffer(&self.store.params, 0, bytemuck::cast_slice(&padded));
        if let Some(params_f16) = &self.store.params_f16 {
            gpu.queue.write_buffer(
                params_f16,
                0,
                bytemuck::cast_slice(&precision::halves(&padded)),
            );
        }
        Ok(())
    }

    /// The parameters in the CPU layout (for saving, captures and comparisons).
    pub async fn download_params(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        Ok(self.unpad(&gpu.read(&self.store.params, self.padded_total).await?))
    }

    /// The gradients of the last step in the CPU layout of the trainable tensors (after clipping; with loss
    /// scaling unscaled here, as AdamW saw them).
    pub async fn download_grads(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        let base = self.store.grad_base;
        let padded = gpu
            .read(&self.store.grads, self.padded_total - base)
            .await?;
        let start = self.layout.trainable_offset();
        let mut flat = vec![0.0; self.layout.trainable_len()];
        let trainable = self.layout.first_trainable;
        for (spec, &offset) in self.layout.specs[trainable..]
            .iter()
            .zip(&self.store.offsets[trainable..])
        {
            flat[spec.offset - start..spec.offset - start + spec.len]
                .copy_from_slice(&padded[offset - base..offset - base + spec.len]);
        }
        if let Some(report) = self.last_scaling {
            let inv_scale = (1.0 / report.scale) as f32;
            flat.iter_mut().for_each(|g| *g *= inv_scale);
        }
        Ok(flat)
    }

    fn pad(&self, flat: &[f32]) -> Vec<f32> {
        let mut padded = vec![0.0; self.padded_total];
        for (spec, &offset) in self.layout.specs.iter().zip(&self.store.offsets) {
            padded[offset..offset + spec.len]
                .copy_from_slice(&flat[spec.offset..spec.offset + spec.len]);
        }
        padded
    }

    fn unpad(&self, padded: &[f32]) -> Vec<f32> {
        let mut flat = vec![0.0; self.layout.total];
        for (spec, &offset) in self.layout.specs.iter().zip(&self.store.offsets) {
            flat[spec.offset..spec.offset + spec.len]
                .copy_from_slice(&padded[offset..offset + spec.len]);
        }
        flat
    }

    /// Makes sure activations exist for (b, t) and `micro` token buffers of B*T ids. Callers check the batch
    /// against the device's limits first (check_batch_limits).
    fn ensure_capacity(&mut self, gpu: &GpuContext, b: usize, t: usize, micro: usize) {
        let fused = self.fused_attention;
        let f16 = self.precision == Precision::F16;
        let nh = self.config.n_head;
        let (bt, att) = (b * t, if fused { 0 } else { b * nh * t * t });
        let old = self.buffers.as_ref().map(|x| (x.acts.bt, x.acts.att));
        if old.is_none_or(|(old_bt, old_att)| old_bt < bt || old_att < att) {
            let every = self.checkpoint_every;
            let (bt, att) = old.map_or((bt, att), |(old_bt, old_att)| {
                (old_bt.max(bt), old_att.max(att))
            });
            if let Some(old) = self.buffers.take() {
                self.store.free(old.tensors());
            }
            let mut ex = GpuExecutor::new(gpu, &mut self.store, fused).with_f16(f16);
            let dropout = self.config.has_dropout();
            let acts = Acts::checkpointed(&mut ex, &self.config, bt, att, dropout, every);
            let grads = Grads::new(&mut ex, &self.config, &acts);
            self.buffers = Some(Buffers {
                acts,
                grads,
                tokens: Vec::new(),
            });
            // Every plan binds the old buffers.
            self.train_plans.clear();
            self.forward_plans.clear();
        }
        let x = self.buffers.as_mut().expect("buffers made above");
        let capacity = x.acts.bt;
        while x.tokens.len() < micro {
            let mut ex = GpuExecutor::new(gpu, &mut self.store, fused);
            let inputs = ex.alloc_tokens("inputs", capacity);
            let targets = ex.alloc_tokens("targets", capacity);
            x.tokens.push((inputs, targets));
        }
    }

    /// Records clipping (or only the norm, when `grad_clip` is 0) and one AdamW update per parameter tensor.
    fn record_optimizer(
        &self,
        gpu: &GpuContext,
        plan: &mut Plan,
        options: &crate::model::TrainOptions,
    ) {
        let state = OptimizerState {
            m: &self.m,
            v: &self.v,
            norm: &self.norm,
            partials: &self.partials,
            adamw_step: &self.adamw_step,
        };
        record_optimizer(
            gpu,
            plan,
            &self.store,
            &self.layout.specs,
            self.layout.first_trainable,
            self.padded_total,
            &state,
            options,
        );
        // Mixed precision: the f16 copy that the next forward reads follows the updated master weights.
        if let Some(params_f16) = &self.store.params_f16 {
            self.record_f16_copy(gpu, plan, params_f16);
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
        if !self.optimizer {
            invalid_input!(
                "this GPU model was opened for generation only (the device cannot hold its training buffers): train on the CPU"
            );
        }
        let k = batches.len();
        if k == 0 {
            invalid_input!("a training step needs at least one micro-batch");
        }
        let mut counted = Vec::with_capacity(k);
        for (inputs, targets) in batches {
            self.config.check_batch(inputs, Some(targets), b, t)?;
            counted.push(counted_targets(targets));
            if counted.last() == Some(&0) {
                invalid_input!(
                    "every target of a micro-batch is ignored: there is nothing to score"
                );
            }
        }
        // Any WebGPU validation error (a shader the browser rejects, a binding too large) becomes this step's
        // error instead of silently skipped work.
        check_batch_limits(gpu, &self.config, b, t, !self.fused_attention)?;
        self.set_checkpoint_every(options.checkpoint_every);
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.ensure_capacity(gpu, b, t, k);
        if self
            .loss_log
            .as_ref()
            .is_none_or(|log| log.size() < (k * b * t * 4) as u64)
        {
            self.loss_log = Some(gpu.zeros("loss log", k * b * t));
            self.dloss_log = Some(gpu.zeros("dloss log", k * b * t));
        }
        let key = (b, t, k);
        if !self.train_plans.contains_key(&key) {
            let f16 = self.precision == Precision::F16;
            let (mut micro, mut dropout_sites) = (Vec::with_capacity(k), Vec::with_capacity(k));
            let x = self.buffers.as_ref().expect("buffers allocated");
            let model = Transformer {
                config: &self.config,
                layout: &self.layout,
            };
            for &(inputs, targets) in &x.tokens[..k] {
                let mut ex =
                    GpuExecutor::new(gpu, &mut self.store, self.fused_attention).with_f16(f16);
                model.forward(&mut ex, &x.acts, inputs, Some(targets), b, t, true);
                model.backward(&mut ex, &x.acts, &x.grads, inputs, Some(targets), b, t);
                let (plan, sites) = ex.finish();
                micro.push(plan);
                dropout_sites.push(sites);
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
        let x = self.buffers.as_ref().expect("buffers allocated");
        let store = &self.store;
        let bt = b * t;
        // Gradient accumulation averages: each micro-batch's mean loss (over its counted targets) is scaled
        // by 1/k, as on the CPU. With loss scaling, the loss is also multiplied by the scale (exact: a power
        // of two), and the optimizer divides the gradients by it again (norm[1]).
        let scale = self.scaler.map_or(1.0, |scaler| scaler.scale);
        let dlosses: Vec<f32> = counted
            .iter()
            .flat_map(|&n| std::iter::repeat_n((scale / k as f64 / n as f64) as f32, bt))
            .collect();
        gpu.queue
            .write_buffer(&self.norm, 4, bytemuck::cast_slice(&[(1.0 / scale) as f32]));
        let dloss_log = self.dloss_log.as_ref().expect("dloss log allocated");
        gpu.queue
            .write_buffer(dloss_log, 0, bytemuck::cast_slice(&dlosses));
        for ((inputs, targets), &(inputs_buffer, targets_buffer)) in batches.iter().zip(&x.tokens) {
            gpu.queue
                .write_buffer(store.buffer(inputs_buffer), 0, bytemuck::cast_slice(inputs));
            gpu.queue.write_buffer(
                store.buffer(targets_buffer),
                0,
                bytemuck::cast_slice(targets),
            );
        }
        let lr = options.lr_at(step);
        AdamwStep::new(lr, options.beta1, options.beta2, step).write(gpu, &self.adamw_step);

        let plans = &self.train_plans[&key];
        // New dropout masks every step and micro-batch, seeded exactly as the CPU trainer seeds them.
        for (micro, (plan, sites)) in plans.micro.iter().zip(&plans.dropout_sites).enumerate() {
            let seed = options.dropout_seed(step, micro);
            for site in sites {
                site.reseed(gpu, plan, seed);
            }
        }
        let loss_log = self.loss_log.as_ref().expect("loss log allocated");
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&store.grads, 0, None);
        for (i, plan) in plans.micro.iter().enumerate() {
            encoder.clear_buffer(store.buffer(x.grads.dresidual), 0, None);
            encoder.copy_buffer_to_buffer(
                dloss_log,
                (i * bt * 4) as u64,
                store.buffer(x.grads.dlosses),
                0,
                (bt * 4) as u64,
            );
            plan.encode(&mut encoder);
            encoder.copy_buffer_to_buffer(
                store.buffer(x.acts.losses),
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
        // The norm is that of the unscaled gradients, non-finite exactly when one of them is: the overflow
        // check of loss scaling (the GPU has already skipped the update).
        let norm = values[k * bt];
        if let Some(scaler) = &mut self.scaler {
            self.last_scaling = Some(scaler.update(norm.is_finite()));
        }
        let loss = values[..k * bt]
            .chunks(bt)
            .zip(&counted)
            .map(|(losses, &n)| losses.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64)
            .sum::<f64>()
            / k as f64;
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
        let counted = counted_targets(targets);
        if counted == 0 {
            invalid_input!("every target of the batch is ignored: there is nothing to score");
        }
        self.forward(gpu, inputs, Some(targets), b, t).await?;
        let x = self.buffers.as_ref().expect("buffers allocated");
        let losses = gpu.read(self.store.buffer(x.acts.losses), b * t).await?;
        Ok(losses.iter().map(|&x| f64::from(x)).sum::<f64>() / counted as f64)
    }

    /// The most likely token at each position (B, T) of the last forward pass: the argmax of its logits.
    pub async fn predictions(&self, gpu: &GpuContext) -> Result<Vec<u32>> {
        let (b, t) = self.last_shape;
        let Some(x) = self.buffers.as_ref().filter(|_| b * t > 0) else {
            invalid_input!("no forward pass has run yet: run one before asking for predictions");
        };
        let (logits, width) = x.acts.prediction_logits(&self.config, b, t);
        let logits = precision::read_view(gpu, self.store.view(logits)).await?;
        Ok(crate::model::mlm::argmax_rows(&logits, width))
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
        self.check_whole_embedding()?;
        check_batch_limits(gpu, &self.config, b, t, !self.fused_attention)?;
        self.ensure_capacity(gpu, b, t, 1);
        let with_targets = targets.is_some();
        let key = (b, t * 2 + usize::from(with_targets));
        let x = self.buffers.as_ref().expect("buffers allocated");
        let (inputs_buffer, targets_buffer) = x.tokens[0];
        if !self.forward_plans.contains_key(&key) {
            let model = Transformer {
                config: &self.config,
                layout: &self.layout,
            };
            let mut ex = GpuExecutor::new(gpu, &mut self.store, self.fused_attention)
                .with_f16(self.precision == Precision::F16);
            let targets = with_targets.then_some(targets_buffer);
            model.forward(&mut ex, &x.acts, inputs_buffer, targets, b, t, false);
            self.forward_plans.insert(key, ex.finish().0);
        }
        let store = &self.store;
        gpu.queue
            .write_buffer(store.buffer(inputs_buffer), 0, bytemuck::cast_slice(inputs));
        if let Some(targets) = targets {
            gpu.queue.write_buffer(
                store.buffer(targets_buffer),
                0,
                bytemuck::cast_slice(targets),
            );
        }
        self.forward_plans[&key].run(gpu).await?;
        self.last_shape = (b, t);
        Ok(())
    }

    /// The logits (V) of the last position of the last forward pass's first sequence: what sampling needs.
    pub async fn last_logits(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        let (_, t) = self.last_shape;
        let v = self.config.vocab_size;
        let x = self.buffers.as_ref().expect("buffers allocated");
        let logits = self.store.view(x.acts.logits);
        let last_row = crate::gpu::View {
            offset: logits.offset + ((t - 1) * v) as u64,
            len: v as u64,
            ..logits
        };
        precision::read_view(gpu, last_row).await
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
        let Some(a) = self.buffers.as_ref().map(|x| &x.acts).filter(|_| b * t > 0) else {
            invalid_input!("no forward pass has run yet: run one before asking for attention maps");
        };
        if a.checkpoint_every > 0 {
            invalid_input!(
                "activation checkpointing keeps no block's activations: switch it off to read attention maps"
            );
        }
        let (c, nh) = (self.config.n_embd, self.config.n_head);
        let len = b * nh * t * t;
        let mut maps = Vec::with_capacity(a.layers.len());
        if !self.fused_attention {
            for layer in &a.layers {
                let att = layer.att.expect("the readable attention keeps its maps");
                maps.push(gpu.read(self.store.buffer(att), len).await?);
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
        // Mixed precision keeps qkv in f16; the inspection kernel reads f32: widened copies, made for this call.
        let widened: Vec<Option<wgpu::Buffer>> = (0..atts.len())
            .map(|l| {
                let qkv = self.store.view(a.attention_qkv(l));
                qkv.is_f16().then(|| {
                    let copy = gpu.zeros("inspection qkv", qkv.len as usize);
                    crate::ops::cast_forward::cast_forward_gpu(
                        gpu,
                        &mut plan,
                        View::all(&copy),
                        qkv,
                        qkv.len as usize,
                    );
                    copy
                })
            })
            .collect();
        for (l, att) in atts.iter().enumerate() {
            let qkv = match &widened[l] {
                Some(copy) => View::all(copy),
                None => self.store.view(a.attention_qkv(l)),
            };
            attention_forward_gpu(
                gpu,
                &mut plan,
                View::all(&out),
                View::all(&preatt),
                View::all(att),
                qkv,
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
            if let Some(old) = self.buffers.take() {
                self.store.free(old.tensors());
            }
            self.train_plans.clear();
            self.forward_plans.clear();
            self.last_shape = (0, 0);
        }
        Ok(())
    }

    /// Activation checkpointing every `every` blocks (0: off): training keeps each group's input and output and
    /// recomputes the group's activations in the backward pass. The activations and plans are rebuilt on the
    /// next step when it changes.
    pub fn set_checkpoint_every(&mut self, every: usize) {
        let every = every.min(self.config.n_layer);
        if every != self.checkpoint_every {
            self.checkpoint_every = every;
            if let Some(old) = self.buffers.take() {
                self.store.free(old.tensors());
            }
            self.train_plans.clear();
            self.forward_plans.clear();
            self.last_shape = (0, 0);
        }
    }

    /// Activation checkpointing's blocks per group (0: off).
    pub fn checkpoint_every(&self) -> usize {
        self.checkpoint_every
    }

    /// Bytes of GPU storage the model holds: parameters, gradients, optimizer state, activations, gradient
    /// scratch, token buffers and generation caches (not the small uniforms of the plans).
    pub fn memory_bytes(&self) -> u64 {
        let mut buffers: Vec<&wgpu::Buffer> = vec![
            &self.store.params,
            &self.store.grads,
            &self.m,
            &self.v,
            &self.norm,
            &self.partials,
            &self.adamw_step,
        ];
        buffers.extend(&self.store.params_f16);
        buffers.extend(&self.loss_log);
        buffers.extend(&self.dloss_log);
        // Activations, gradient scratch, tokens and generation caches: what the description allocated.
        buffers.iter().map(|buffer| buffer.size()).sum::<u64>() + self.store.bytes()
    }

    /// Bytes of the uniform buffers of every plan built so far (counted by `GpuContext::buffer_bytes`, not by
    /// [`GpuGpt::memory_bytes`]).
    pub fn plan_uniform_bytes(&self) -> u64 {
        let train = self
            .train_plans
            .values()
            .flat_map(|p| p.micro.iter().chain([&p.optimizer]));
        train
            .chain(self.forward_plans.values())
            .map(Plan::uniform_bytes)
            .sum()
    }

    /// Dispatches per optimizer step for a (B, T, micro-batches) shape that has run (benchmarks report it).
    pub fn dispatches_per_step(&self, b: usize, t: usize, micro: usize) -> Option<usize> {
        let plans = self.train_plans.get(&(b, t, micro))?;
        Some(plans.micro.iter().map(Plan::len).sum::<usize>() + plans.optimizer.len())
    }

    /// The plans of one optimizer step for a (B, T, micro-batches) shape that has run, in submit order: each
    /// micro-batch's forward and backward, then the optimizer's. Benchmarks time their kernels one at a time
    /// from these (`Plan::labels`, `Plan::encode_one`; `examples/gpu_bench.rs`).
    pub fn step_plans(&self, b: usize, t: usize, micro: usize) -> Option<Vec<&Plan>> {
        let plans = self.train_plans.get(&(b, t, micro))?;
        Some(plans.micro.iter().chain([&plans.optimizer]).collect())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod classifier_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod precision_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod checkpoint_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod encdec_tests;
