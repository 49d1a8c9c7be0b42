//! The encoder-decoder on the GPU: the one description of [`crate::model::encdec`] (its encoder and decoder
//! passes over [`EncDecLayout`]) recorded by the [`GpuExecutor`], as [`super::GpuGpt`] records the GPT's.
//!
//! - Buffers: the flat parameters, gradients and AdamW's moments once per model (the CPU layout, each tensor at
//!   an offset rounded up to the binding alignment); per (B, Ts, Tt) shape the activations of both stacks, the
//!   backward's scratch (training shapes) and the token buffers (source, decoder inputs, targets).
//! - A training step is one submit: clear the gradients and both residual gradients, replay the encoder's
//!   forward, the decoder's forward and backward, the encoder's backward (three plans, so that each stack's
//!   dropout sites are reseeded with that stack's seed exactly as the CPU seeds them), then clipping and AdamW
//!   (the GPT's optimizer, [`super::record_optimizer`]); the losses and the gradient norm come back in one
//!   readback.
//! - Greedy decoding runs the whole batch of sources at once without a cache: for each output length the
//!   forward pass over the outputs so far, the argmax of the last position's logits per row (a causal decoder's
//!   last position sees exactly what the CPU's cached decode step sees). The shapes made for decoding are
//!   dropped afterwards.

use std::collections::HashMap;

use super::{
    GpuExecutor, GpuStore, OptimizerState, RecordedSite, check_batch_limits, check_limits,
    record_optimizer,
};
use crate::exec::{Allocator, Tensor};
use crate::gpu::{GpuContext, Plan};
use crate::model::encdec::{
    EncDec, EncDecActs, EncDecGrads, EncDecLayout, argmax, check_pairs, decoder_seed,
};
use crate::model::params::ParamSpec;
use crate::model::{ModelConfig, TrainOptions};
use crate::ops::adamw_update::AdamwStep;
use crate::ops::attention_forward_fused::ATTENTION_FUSED_MAX_HS;
use crate::ops::global_norm::GLOBAL_NORM_PARTIALS;
use crate::{Result, invalid_input};

/// The plans of one training shape: each stack's passes, with the dropout dispatches each recorded.
struct TrainPlans {
    encode: (Plan, Vec<RecordedSite>),
    /// The decoder's forward and backward pass.
    decode: (Plan, Vec<RecordedSite>),
    encode_backward: (Plan, Vec<RecordedSite>),
}

/// The buffers and plans of one (B, Ts, Tt) shape.
struct Shape {
    acts: EncDecActs,
    grads: Option<EncDecGrads>,
    source: Tensor,  // (B, Ts)
    inputs: Tensor,  // (B, Tt)
    targets: Tensor, // (B, Tt)
    /// The forward pass (no dropout) without and with targets.
    forward: [Option<Plan>; 2],
    train: Option<TrainPlans>,
}

impl Shape {
    fn tensors(&self) -> Vec<Tensor> {
        let mut all = self.acts.tensors();
        all.extend(self.grads.iter().flat_map(EncDecGrads::tensors));
        all.extend([self.source, self.inputs, self.targets]);
        all
    }
}

/// The optimizer's settings a recorded optimizer plan bakes in.
type OptimizerKey = (u32, u32, u32, u32, u32, bool);

fn optimizer_key(o: &TrainOptions) -> OptimizerKey {
    (
        o.grad_clip.to_bits(),
        o.beta1.to_bits(),
        o.beta2.to_bits(),
        o.eps.to_bits(),
        o.weight_decay.to_bits(),
        o.decay_embeddings,
    )
}

/// An encoder-decoder whose parameters, gradients, optimizer state and activations live on the GPU.
pub struct GpuEncDec {
    pub config: ModelConfig,
    pub layout: EncDecLayout,
    store: GpuStore,
    /// Length of the flat buffers, padding included.
    padded_total: usize,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    norm: wgpu::Buffer, // (2) the step's global gradient norm, 1 / the loss scale (always 1 here)
    partials: wgpu::Buffer, // (GLOBAL_NORM_PARTIALS)
    adamw_step: wgpu::Buffer,
    /// Self-attention runs fused (online softmax, no (T, T) maps) when the head size allows it.
    fused_attention: bool,
    shapes: HashMap<(usize, usize, usize), Shape>,
    optimizer: Option<(OptimizerKey, Plan)>,
    /// The mappable buffer a step's losses and norm come back through, kept between steps.
    step_readback: Option<wgpu::Buffer>,
    /// The shape of the last forward pass.
    last: Option<(usize, usize, usize)>,
}

/// Greedy decoding runs this many sources at once (a larger set goes in chunks, so the per-length buffers stay
/// small).
const DECODE_ROWS: usize = 32;

impl GpuEncDec {
    /// Uploads a CPU model's parameters: the GPU model starts where the CPU one is.
    pub fn from_cpu(gpu: &GpuContext, model: &EncDec<f32>) -> Result<Self> {
        let config = model.config.clone();
        check_limits(gpu, &config)?;
        let layout = model.layout.clone();
        let (offsets, padded_total) = crate::model::memory::padded_offsets(&layout.decoder);
        let mut gpu_model = Self {
            fused_attention: config.n_embd / config.n_head <= ATTENTION_FUSED_MAX_HS,
            store: GpuStore {
                params: gpu.zeros("params", padded_total),
                grads: gpu.zeros("grads", padded_total),
                offsets,
                grad_base: 0,
                binding_limit: gpu.summary.max_storage_buffer_binding_size,
                acts: Vec::new(),
                act_elems: Vec::new(),
                tokens: Vec::new(),
                params_f16: None,
            },
            m: gpu.zeros("adamw m", padded_total),
            v: gpu.zeros("adamw v", padded_total),
            norm: gpu.upload("grad norm", &[0.0, 1.0]),
            partials: gpu.zeros("grad norm partials", GLOBAL_NORM_PARTIALS),
            adamw_step: AdamwStep::new(0.0, 0.9, 0.99, 1).upload(gpu),
            config,
            layout,
            padded_total,
            shapes: HashMap::new(),
            optimizer: None,
            step_readback: None,
            last: None,
        };
        gpu_model.upload_params(gpu, &model.params)?;
        Ok(gpu_model)
    }

    fn specs(&self) -> &[ParamSpec] {
        self.layout.specs()
    }

    /// Overwrites the parameters with `params` (the CPU layout, unpadded).
    pub fn upload_params(&mut self, gpu: &GpuContext, params: &[f32]) -> Result<()> {
        if params.len() != self.layout.total() {
            invalid_input!(
                "{} parameter values given, the encoder-decoder has {}",
                params.len(),
                self.layout.total()
            );
        }
        let mut padded = vec![0.0; self.padded_total];
        for (spec, &offset) in self.specs().iter().zip(&self.store.offsets) {
            padded[offset..offset + spec.len]
                .copy_from_slice(&params[spec.offset..spec.offset + spec.len]);
        }
        gpu.queue
            .write_buffer(&self.store.params, 0, bytemuck::cast_slice(&padded));
        Ok(())
    }

    /// A flat buffer (parameters or gradients) in the CPU layout.
    async fn download(&self, gpu: &GpuContext, buffer: &wgpu::Buffer) -> Result<Vec<f32>> {
        let padded = gpu.read(buffer, self.padded_total).await?;
        let mut flat = vec![0.0; self.layout.total()];
        for (spec, &offset) in self.specs().iter().zip(&self.store.offsets) {
            flat[spec.offset..spec.offset + spec.len]
                .copy_from_slice(&padded[offset..offset + spec.len]);
        }
        Ok(flat)
    }

    /// The parameters in the CPU layout (for saving and comparisons).
    pub async fn download_params(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        self.download(gpu, &self.store.params).await
    }

    /// The gradients of the last training step in the CPU layout (after clipping, as AdamW saw them).
    pub async fn download_grads(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        self.download(gpu, &self.store.grads).await
    }

    /// A CPU model with the GPU's current weights (to save, or to decode with beam search).
    pub async fn to_cpu(&self, gpu: &GpuContext) -> Result<EncDec<f32>> {
        EncDec::from_params(self.config.clone(), self.download_params(gpu).await?)
    }

    /// Whether self-attention runs with the fused kernels (no (T, T) maps in memory).
    pub fn fused_attention(&self) -> bool {
        self.fused_attention
    }

    /// The buffers of a (B, Ts, Tt) shape, made on first use (after the caller checked the batch).
    fn ensure_shape(&mut self, gpu: &GpuContext, key: (usize, usize, usize), grads: bool) {
        let (b, ts, tt) = key;
        let dropout = self.config.dropout > 0.0;
        if !self.shapes.contains_key(&key) {
            let mut ex = GpuExecutor::new(gpu, &mut self.store, self.fused_attention);
            let acts = self.layout.acts(&mut ex, b, ts, tt, dropout);
            let shape = Shape {
                source: ex.alloc_tokens("source", b * ts),
                inputs: ex.alloc_tokens("decoder inputs", b * tt),
                targets: ex.alloc_tokens("targets", b * tt),
                acts,
                grads: None,
                forward: [None, None],
                train: None,
            };
            self.shapes.insert(key, shape);
        }
        let shape = self.shapes.get_mut(&key).expect("made above");
        if grads && shape.grads.is_none() {
            let mut ex = GpuExecutor::new(gpu, &mut self.store, self.fused_attention);
            shape.grads = Some(self.layout.grads(&mut ex, &shape.acts, b, ts, tt));
        }
    }

    /// Drops the buffers and plans of every shape but `keep`.
    fn drop_shapes_except(&mut self, keep: &[(usize, usize, usize)]) {
        let gone: Vec<_> = self
            .shapes
            .keys()
            .filter(|key| !keep.contains(key))
            .copied()
            .collect();
        for key in gone {
            let shape = self.shapes.remove(&key).expect("listed above");
            self.store.free(shape.tensors());
        }
    }

    /// Checks a batch and the device's limits for its shape: returns the counted targets.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        gpu: &GpuContext,
        source: &[u32],
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        ts: usize,
        tt: usize,
    ) -> Result<usize> {
        let counted = check_pairs(&self.config, source, inputs, targets, b, ts, tt)?;
        // The larger stack's buffers; the cross-attention maps (B, NH, Tt, Ts) are no larger than its maps.
        check_batch_limits(gpu, &self.config, b, ts.max(tt), true)?;
        Ok(counted)
    }

    /// One optimizer step on a batch of `b` pairs, `source` (B, Ts), `inputs` and `targets` (B, Tt) (the
    /// seq2seq trainer's [`crate::model::seq2seq_train::Batch`]): one submit. Returns the mean loss over the
    /// counted targets and the global gradient norm (before clipping). Dropout draws the masks of
    /// `options.dropout_seed(step, 0)`, as the CPU trainer does.
    #[allow(clippy::too_many_arguments)]
    pub async fn train_step(
        &mut self,
        gpu: &GpuContext,
        source: &[u32],
        inputs: &[u32],
        targets: &[u32],
        (b, ts, tt): (usize, usize, usize),
        step: u32,
        options: &TrainOptions,
    ) -> Result<(f64, f64)> {
        let counted = self.check(gpu, source, inputs, Some(targets), b, ts, tt)?;
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let key = (b, ts, tt);
        self.ensure_shape(gpu, key, true);
        self.ensure_train_plans(gpu, key);
        if self
            .optimizer
            .as_ref()
            .is_none_or(|(k, _)| *k != optimizer_key(options))
        {
            let mut plan = Plan::new();
            let state = OptimizerState {
                m: &self.m,
                v: &self.v,
                norm: &self.norm,
                partials: &self.partials,
                adamw_step: &self.adamw_step,
            };
            record_optimizer(
                gpu,
                &mut plan,
                &self.store,
                self.layout.specs(),
                0,
                self.padded_total,
                &state,
                options,
            );
            self.optimizer = Some((optimizer_key(options), plan));
        }
        let shape = &self.shapes[&key];
        let store = &self.store;
        let grads = shape.grads.as_ref().expect("made for training");
        let write = |t: Tensor, ids: &[u32]| {
            gpu.queue
                .write_buffer(store.buffer(t), 0, bytemuck::cast_slice(ids));
        };
        write(shape.source, source);
        write(shape.inputs, inputs);
        write(shape.targets, targets);
        let dlosses = vec![(1.0 / counted as f64) as f32; b * tt];
        gpu.queue.write_buffer(
            store.buffer(grads.dec.dlosses),
            0,
            bytemuck::cast_slice(&dlosses),
        );
        AdamwStep::new(options.lr_at(step), options.beta1, options.beta2, step)
            .write(gpu, &self.adamw_step);
        // New dropout masks every step: the encoder's passes from the step's seed, the decoder's from its own.
        let plans = shape.train.as_ref().expect("recorded above");
        let seed = options.dropout_seed(step, 0);
        for ((plan, sites), seed) in [
            (&plans.encode, seed),
            (&plans.decode, decoder_seed(seed)),
            (&plans.encode_backward, seed),
        ] {
            for site in sites {
                site.reseed(gpu, plan, seed);
            }
        }
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&store.grads, 0, None);
        encoder.clear_buffer(store.buffer(grads.dec.dresidual), 0, None);
        encoder.clear_buffer(store.buffer(grads.enc.dresidual), 0, None);
        plans.encode.0.encode(&mut encoder);
        plans.decode.0.encode(&mut encoder);
        plans.encode_backward.0.encode(&mut encoder);
        self.optimizer
            .as_ref()
            .expect("recorded above")
            .1
            .encode(&mut encoder);
        let floats = b * tt + 1;
        let staging = self
            .step_readback
            .take()
            .filter(|buffer| buffer.size() == (floats * 4) as u64)
            .unwrap_or_else(|| gpu.readback_buffer(floats));
        gpu.stage_into(
            &mut encoder,
            &staging,
            &[
                (store.buffer(shape.acts.dec.losses), 0, b * tt),
                (&self.norm, 0, 1),
            ],
        );
        gpu.queue.submit([encoder.finish()]);
        self.last = Some(key);
        if let Some(error) = scope.pop().await {
            return Err(crate::Error::Gpu(format!(
                "a training step of the encoder-decoder was rejected by the GPU: {error}"
            )));
        }
        let values = gpu.read_staged(&staging).await?;
        self.step_readback = Some(staging);
        let loss = values[..b * tt].iter().map(|&x| f64::from(x)).sum::<f64>() / counted as f64;
        Ok((loss, f64::from(values[b * tt])))
    }

    /// Records the training plans of shape `key` (its buffers exist, with gradients).
    fn ensure_train_plans(&mut self, gpu: &GpuContext, key: (usize, usize, usize)) {
        let (b, ts, tt) = key;
        if self.shapes[&key].train.is_some() {
            return;
        }
        let shape = &self.shapes[&key];
        let (a, g) = (
            shape.acts.clone(),
            shape.grads.clone().expect("made for training"),
        );
        let (source, inputs, targets) = (shape.source, shape.inputs, shape.targets);
        let (lay, fused) = (&self.layout, self.fused_attention);
        let store = &mut self.store;
        let mut ex = GpuExecutor::new(gpu, store, fused);
        lay.encode(&mut ex, &a, source, b, ts, true);
        let encode = ex.finish();
        let mut ex = GpuExecutor::new(gpu, store, fused);
        lay.decode(&mut ex, &a, inputs, Some(targets), b, tt, true);
        lay.decode_backward(&mut ex, &a, &g, inputs, targets, b, tt);
        let decode = ex.finish();
        let mut ex = GpuExecutor::new(gpu, store, fused);
        lay.encode_backward(&mut ex, &a, &g, source, b, ts);
        let encode_backward = ex.finish();
        self.shapes.get_mut(&key).expect("exists").train = Some(TrainPlans {
            encode,
            decode,
            encode_backward,
        });
    }

    /// The forward pass (no dropout) over a batch, leaving its activations on the GPU; with targets the losses.
    #[allow(clippy::too_many_arguments)]
    pub async fn forward(
        &mut self,
        gpu: &GpuContext,
        source: &[u32],
        inputs: &[u32],
        targets: Option<&[u32]>,
        b: usize,
        ts: usize,
        tt: usize,
    ) -> Result<()> {
        self.check(gpu, source, inputs, targets, b, ts, tt)?;
        let key = (b, ts, tt);
        self.ensure_shape(gpu, key, false);
        let with_targets = usize::from(targets.is_some());
        let shape = &self.shapes[&key];
        if shape.forward[with_targets].is_none() {
            let (a, src, inp) = (shape.acts.clone(), shape.source, shape.inputs);
            let tgt = targets.map(|_| shape.targets);
            let mut ex = GpuExecutor::new(gpu, &mut self.store, self.fused_attention);
            self.layout.encode(&mut ex, &a, src, b, ts, false);
            self.layout.decode(&mut ex, &a, inp, tgt, b, tt, false);
            let plan = ex.finish().0;
            self.shapes.get_mut(&key).expect("exists").forward[with_targets] = Some(plan);
        }
        let shape = &self.shapes[&key];
        let store = &self.store;
        let write = |t: Tensor, ids: &[u32]| {
            gpu.queue
                .write_buffer(store.buffer(t), 0, bytemuck::cast_slice(ids));
        };
        write(shape.source, source);
        write(shape.inputs, inputs);
        if let Some(targets) = targets {
            write(shape.targets, targets);
        }
        shape.forward[with_targets]
            .as_ref()
            .expect("recorded above")
            .run(gpu)
            .await?;
        self.last = Some(key);
        Ok(())
    }

    /// The mean loss over the counted targets of a batch (teacher forcing, no dropout; evaluation).
    #[allow(clippy::too_many_arguments)]
    pub async fn loss(
        &mut self,
        gpu: &GpuContext,
        source: &[u32],
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        ts: usize,
        tt: usize,
    ) -> Result<f64> {
        let counted = self.check(gpu, source, inputs, Some(targets), b, ts, tt)?;
        self.forward(gpu, source, inputs, Some(targets), b, ts, tt)
            .await?;
        let losses = self.shapes[&(b, ts, tt)].acts.dec.losses;
        let losses = gpu.read(self.store.buffer(losses), b * tt).await?;
        Ok(losses.iter().map(|&x| f64::from(x)).sum::<f64>() / counted as f64)
    }

    /// The logits (B, Tt, V) of the last forward pass.
    pub async fn logits(&self, gpu: &GpuContext) -> Result<Vec<f32>> {
        let Some(key) = self.last else {
            invalid_input!("no forward pass has run yet: run one before asking for logits");
        };
        let (b, _, tt) = key;
        let logits = self.shapes[&key].acts.dec.logits;
        gpu.read(self.store.buffer(logits), b * tt * self.config.vocab_size)
            .await
    }

    /// The cross-attention maps (B, NH, Tt, Ts) of decoder block `l` in the last forward pass.
    pub async fn cross_attention(&self, gpu: &GpuContext, l: usize) -> Result<Vec<f32>> {
        let Some(key) = self.last else {
            invalid_input!("no forward pass has run yet: run one before asking for attention maps");
        };
        if l >= self.config.n_layer {
            invalid_input!(
                "there is no decoder block {l}: the decoder has {}",
                self.config.n_layer
            );
        }
        let cross = self.shapes[&key].acts.dec.cross.as_ref();
        let att = cross.expect("the decoder has cross-attention").layers[l].att;
        gpu.read(self.store.buffer(att), att.len).await
    }

    /// Greedy decoding of `b` sources (B, Ts) at once: from `bos`, the most likely next token until `eos` or
    /// `max_len` tokens (at most block_size), each output without `bos` and `eos`: the outputs of the CPU
    /// model's `generate_greedy` for each source.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_greedy(
        &mut self,
        gpu: &GpuContext,
        sources: &[u32],
        b: usize,
        ts: usize,
        bos: u32,
        eos: u32,
        max_len: usize,
    ) -> Result<Vec<Vec<u32>>> {
        if b == 0 || sources.len() != b * ts {
            invalid_input!(
                "{} source ids given for {b} sources of {ts} tokens",
                sources.len()
            );
        }
        let keep: Vec<_> = self.shapes.keys().copied().collect();
        let mut outs = Vec::with_capacity(b);
        for chunk in sources.chunks(DECODE_ROWS * ts) {
            let rows = chunk.len() / ts;
            outs.extend(
                self.greedy_rows(gpu, chunk, rows, ts, bos, eos, max_len)
                    .await?,
            );
        }
        // The decoding shapes (one per output length) are not kept.
        self.drop_shapes_except(&keep);
        self.last = None;
        Ok(outs)
    }

    #[allow(clippy::too_many_arguments)]
    async fn greedy_rows(
        &mut self,
        gpu: &GpuContext,
        sources: &[u32],
        b: usize,
        ts: usize,
        bos: u32,
        eos: u32,
        max_len: usize,
    ) -> Result<Vec<Vec<u32>>> {
        let (v, max_len) = (self.config.vocab_size, max_len.min(self.config.block_size));
        let mut outs: Vec<Vec<u32>> = vec![Vec::new(); b];
        let mut done = vec![false; b];
        for tt in 1..=max_len {
            if done.iter().all(|&d| d) {
                break;
            }
            // Row r's decoder input: bos, then its output so far (a finished row's later positions hold bos).
            let mut inputs = vec![bos; b * tt];
            for (r, out) in outs.iter().enumerate() {
                for (i, &token) in out.iter().take(tt - 1).enumerate() {
                    inputs[r * tt + 1 + i] = token;
                }
            }
            self.forward(gpu, sources, &inputs, None, b, ts, tt).await?;
            let logits = self.logits(gpu).await?;
            for r in 0..b {
                if done[r] {
                    continue;
                }
                let row = (r * tt + tt - 1) * v;
                let token = argmax(&logits[row..row + v]);
                if token == eos {
                    done[r] = true;
                } else {
                    outs[r].push(token);
                }
            }
        }
        Ok(outs)
    }

    /// Bytes of GPU storage the model holds: parameters, gradients, AdamW's moments, and the activations,
    /// scratch and token buffers of every shape kept.
    pub fn memory_bytes(&self) -> u64 {
        [
            &self.store.params,
            &self.store.grads,
            &self.m,
            &self.v,
            &self.norm,
            &self.partials,
            &self.adamw_step,
        ]
        .iter()
        .map(|buffer| buffer.size())
        .sum::<u64>()
            + self.store.bytes()
    }
}
