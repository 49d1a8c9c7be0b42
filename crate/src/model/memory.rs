//! The memory of training one config on one batch, broken into parameters, gradients, AdamW's moments,
//! activations and scratch, counted from the buffers the GPU executor allocates: the same parameter layout (each
//! tensor padded to the 256-byte binding alignment), the same [`Acts`] and [`Grads`] descriptions, the same token
//! and loss buffers. Not a second estimate: `gpu_model`'s tests check the f32 numbers against the bytes the GPU
//! context counts, and `GpuGpt::from_cpu` pads with [`padded_offsets`] itself.
//!
//! The f16 column counts the same buffers as the mixed-precision path allocates them: activations and matmul
//! inputs in f16 (so the weights get an f16 copy beside the f32 master weights, and the backward's activation
//! gradients are f16), while the master weights, their gradients, AdamW's moments and the statistics kept in f32
//! (LayerNorm mean and rstd, attention log-sum-exp, the losses) stay f32; each f16 buffer in whole 4-byte words.
//! `gpu_model`'s tests check it against the bytes an f16 training step allocates.

use serde::Serialize;

use super::buffers::{Acts, Grads};
use super::config::ModelConfig;
use super::params::ParamLayout;
use crate::exec::{Allocator, Store, Tensor};
use crate::ops::global_norm::GLOBAL_NORM_PARTIALS;

/// Numbers per binding-offset alignment unit, where the GPU executor starts each parameter tensor: 256 bytes hold
/// 64 f32s, and 128 f16s in the mixed-precision weights' f16 copy.
pub const GPU_ALIGN: usize = 128;

/// Offset of each parameter tensor in the GPU's flat buffers (each rounded up to [`GPU_ALIGN`] floats) and the
/// padded length.
pub fn padded_offsets(layout: &ParamLayout) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(layout.specs.len());
    let mut total = 0;
    for spec in &layout.specs {
        offsets.push(total);
        total += spec.len.div_ceil(GPU_ALIGN) * GPU_ALIGN;
    }
    (offsets, total)
}

/// Number formats of a footprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    F16,
}

/// The training footprint of one way to train, in bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Footprint {
    pub precision: Precision,
    /// Activation checkpointing every this many blocks (0: off).
    pub checkpoint_every: usize,
    /// The weights (f32; with f16 also their f16 copy).
    pub parameters: u64,
    /// The trainable weights' gradients (f32).
    pub gradients: u64,
    /// AdamW's two moments (f32).
    pub adamw: u64,
    /// What the forward pass keeps for the backward pass ([`Acts`]): with checkpointing one working set of
    /// blocks and each group's input.
    pub activations: u64,
    /// The backward pass's scratch ([`Grads`]), token ids, loss buffers and the optimizer's few scalars.
    pub scratch: u64,
    pub total: u64,
    /// The largest single buffer a kernel binds and what it is (the optimizer binds one weight at a time, and the
    /// flat gradient buffer in pieces of one binding).
    pub largest_binding: u64,
    pub largest_binding_name: String,
    /// The largest buffer: the flat f32 weights (each tensor padded), against the device's largest buffer.
    pub largest_buffer: u64,
}

/// An adapter's limits, to mark what does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DeviceLimits {
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
}

/// The footprints of a config and batch: f32 and f16, each without and with checkpointing.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryReport {
    pub batch_size: usize,
    pub seq_len: usize,
    pub grad_accum: usize,
    /// Whether attention is counted fused (an lse per row) or readable ((B, NH, T, T) maps).
    pub fused_attention: bool,
    pub footprints: Vec<Footprint>,
    pub limits: Option<DeviceLimits>,
    /// Per footprint (same order): whether its largest binding fits the adapter's binding limit and every buffer
    /// its largest buffer size (empty without limits).
    pub fits: Vec<bool>,
    /// Which tensors the f16 column counts in f16.
    pub f16_assumes: &'static str,
}

/// What the f16 column assumes (see the module's comment).
pub const F16_ASSUMES: &str = "activations, matmul inputs (an f16 copy of the weights) and activation \
     gradients in f16; master weights, their gradients, AdamW's moments, LayerNorm statistics, attention \
     log-sum-exp and the losses in f32";

/// An allocator that writes down each buffer's label and length: the description's buffers counted without
/// allocating them (this report, and the GPU's limit checks before a batch is allocated).
pub(crate) struct Tally {
    pub(crate) fused: bool,
    pub(crate) buffers: Vec<(&'static str, usize)>,
}

impl Allocator for Tally {
    fn alloc(&mut self, label: &'static str, len: usize) -> Tensor {
        self.buffers.push((label, len));
        Tensor {
            store: Store::Act(self.buffers.len() - 1),
            offset: 0,
            len,
        }
    }

    fn alloc_tokens(&mut self, _label: &'static str, len: usize) -> Tensor {
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

/// Bytes of a buffer of `len` numbers of `width` bytes as the GPU makes it: at least one number long, in whole
/// 4-byte words (an f16 buffer of an odd length holds one half more; `GpuContext::zeros_f16`).
fn bytes(len: usize, width: u64) -> u64 {
    (len.max(1) as u64 * width).next_multiple_of(4)
}

/// Whether an activation (or activation gradient) buffer stays f32 under mixed precision: statistics and losses.
fn stays_f32(label: &str) -> bool {
    ["mean", "rstd", "lse", "losses", "delta"]
        .iter()
        .any(|s| label.contains(s))
}

/// The footprint of training `config` on `micro` micro-batches of (B, T) as the GPU executor allocates it.
pub fn footprint(
    config: &ModelConfig,
    b: usize,
    t: usize,
    micro: usize,
    checkpoint_every: usize,
    fused: bool,
    precision: Precision,
) -> Footprint {
    let layout = ParamLayout::new(config);
    let (offsets, padded) = padded_offsets(&layout);
    let grad_base = offsets
        .get(layout.first_trainable)
        .copied()
        .unwrap_or(padded);
    let trainable = padded - grad_base;
    let (bt, att) = (b * t, if fused { 0 } else { b * config.n_head * t * t });
    let every = checkpoint_every.min(config.n_layer);
    let mut tally = Tally {
        fused,
        buffers: Vec::new(),
    };
    let acts = Acts::checkpointed(&mut tally, config, bt, att, config.has_dropout(), every);
    let n_acts = tally.buffers.len();
    Grads::new(&mut tally, config, &acts);
    let f16 = precision == Precision::F16;
    let width = |label: &str| if f16 && !stays_f32(label) { 2 } else { 4 };
    let sum = |buffers: &[(&'static str, usize)]| -> u64 {
        buffers.iter().map(|&(l, len)| bytes(len, width(l))).sum()
    };
    let activations = sum(&tally.buffers[..n_acts]);
    // Token ids (inputs, targets) per micro-batch, the step's losses and their gradients side by side, and the
    // optimizer's scalars: the gradient norm and the loss scale's inverse, the norm's partial sums and AdamW's
    // step (4 numbers).
    let fixed = 2 * micro as u64 * bytes(bt, 4)
        + 2 * bytes(micro * bt, 4)
        + bytes(2, 4)
        + bytes(GLOBAL_NORM_PARTIALS, 4)
        + bytes(4, 4);
    let scratch = sum(&tally.buffers[n_acts..]) + fixed;
    let parameters = bytes(padded, 4) + if f16 { bytes(padded, 2) } else { 0 };
    let gradients = bytes(trainable, 4);
    let adamw = 2 * bytes(trainable, 4);
    let (largest_binding_name, largest_binding) = tally
        .buffers
        .iter()
        .map(|&(label, len)| (label.to_string(), bytes(len, width(label))))
        .chain(
            layout
                .specs
                .iter()
                .map(|spec| (spec.name.clone(), bytes(spec.len, 4))),
        )
        .fold((String::new(), 0), |most, (label, n)| {
            if n > most.1 { (label, n) } else { most }
        });
    Footprint {
        precision,
        checkpoint_every: every,
        parameters,
        gradients,
        adamw,
        activations,
        scratch,
        total: parameters + gradients + adamw + activations + scratch,
        largest_binding,
        largest_binding_name,
        largest_buffer: bytes(padded, 4).max(largest_binding),
    }
}

impl MemoryReport {
    /// The report for `config` trained on `grad_accum` micro-batches of (B, T), f32 and f16, without
    /// checkpointing and with it every `checkpoint_every` blocks (every block when 0).
    pub fn new(
        config: &ModelConfig,
        b: usize,
        t: usize,
        grad_accum: usize,
        checkpoint_every: usize,
        fused: bool,
        limits: Option<DeviceLimits>,
    ) -> Self {
        let every = checkpoint_every.max(1);
        let mut footprints = Vec::new();
        for precision in [Precision::F32, Precision::F16] {
            for every in [0, every] {
                footprints.push(footprint(config, b, t, grad_accum, every, fused, precision));
            }
        }
        let fits = limits.map_or_else(Vec::new, |l| {
            footprints
                .iter()
                .map(|f| {
                    f.largest_binding <= l.max_storage_buffer_binding_size
                        && f.largest_buffer <= l.max_buffer_size
                })
                .collect()
        });
        Self {
            batch_size: b,
            seq_len: t,
            grad_accum,
            fused_attention: fused,
            footprints,
            limits,
            fits,
            f16_assumes: F16_ASSUMES,
        }
    }

    /// The report as aligned text lines (MiB), for the CLI.
    pub fn to_text(&self) -> String {
        let mib = |n: u64| format!("{:.2}", n as f64 / f64::from(1u32 << 20));
        let mut out = format!(
            "training memory, B={} T={} grad_accum={} ({} attention), MiB:\n{:<22} {:>10} {:>10} {:>10} {:>11} {:>10} {:>10}  largest buffer\n",
            self.batch_size,
            self.seq_len,
            self.grad_accum,
            if self.fused_attention {
                "fused"
            } else {
                "readable"
            },
            "",
            "params",
            "grads",
            "adamw",
            "activations",
            "scratch",
            "total"
        );
        for (i, f) in self.footprints.iter().enumerate() {
            let name = match f.checkpoint_every {
                0 => format!("{:?}", f.precision).to_lowercase(),
                k => format!("{:?}, checkpoint {k}", f.precision).to_lowercase(),
            };
            let fits = match self.fits.get(i) {
                Some(false) => "  (over the adapter's limit)",
                _ => "",
            };
            out += &format!(
                "{name:<22} {:>10} {:>10} {:>10} {:>11} {:>10} {:>10}  {} MiB, {}{fits}\n",
                mib(f.parameters),
                mib(f.gradients),
                mib(f.adamw),
                mib(f.activations),
                mib(f.scratch),
                mib(f.total),
                mib(f.largest_binding),
                f.largest_binding_name
            );
        }
        if let Some(l) = self.limits {
            out += &format!(
                "adapter limits: largest storage binding {} MiB, largest buffer {} MiB\n",
                mib(l.max_storage_buffer_binding_size),
                mib(l.max_buffer_size)
            );
        }
        out += &format!("f16 assumes {}\n", self.f16_assumes);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpointing_and_f16_shrink_what_they_should() {
        let config = ModelConfig {
            n_layer: 12,
            dropout: 0.1,
            ..ModelConfig::reference(65)
        };
        let r = MemoryReport::new(&config, 8, 64, 1, 1, true, None);
        let [f32_full, f32_ck, f16_full, f16_ck] = &r.footprints[..] else {
            panic!("four footprints");
        };
        // Checkpointing changes the activations alone.
        assert_eq!(f32_full.parameters, f32_ck.parameters);
        assert_eq!(f32_full.scratch, f32_ck.scratch);
        assert!(f32_ck.activations * 4 < f32_full.activations, "{r:?}");
        // f16 halves most activations and adds an f16 copy of the weights; gradients and moments stay.
        assert_eq!(f16_full.gradients, f32_full.gradients);
        assert_eq!(f16_full.adamw, f32_full.adamw);
        assert_eq!(2 * f16_full.parameters, 3 * f32_full.parameters);
        assert!(f16_full.activations < f32_full.activations * 6 / 10);
        assert!(f16_ck.total < f16_full.total && f16_ck.total < f32_ck.total);
        assert!(r.to_text().contains("checkpoint 1"));
        // The limits mark what does not fit: 9.1 MiB of weights train under a 1 MiB binding limit (the optimizer
        // binds one weight at a time, the flat gradients in pieces), not in buffers of at most 4 MiB.
        let limits = |max_buffer_size| DeviceLimits {
            max_storage_buffer_binding_size: 1 << 20,
            max_buffer_size,
        };
        let r = MemoryReport::new(&config, 8, 64, 1, 1, true, Some(limits(1 << 30)));
        assert!(r.footprints[0].largest_buffer > 9 << 20, "{r:?}"); // 9.1 MiB
        assert!(r.footprints[0].largest_binding <= 1 << 20, "{r:?}");
        assert_eq!(r.fits, [true; 4]);
        let r = MemoryReport::new(&config, 8, 64, 1, 1, true, Some(limits(4 << 20)));
        assert_eq!(r.fits, [false; 4]);
    }
}
