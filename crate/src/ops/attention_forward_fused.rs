//! attention_forward_fused: the same attention as [`super::attention_forward`], computed with an online
//! softmax so that no (B, NH, T, T) map is written: the training and generation path. The readable kernel
//! stays as the inspection path (it writes the maps a person looks at).
//!
//! Intuition: a softmax needs the row's max and sum before any weight is known; the online form keeps a
//! running max and sum while it walks the keys, and rescales what it has summed so far whenever the max
//! grows. What the backward needs from the forward shrinks from the (T, T) weights to one number per row,
//! lse = max + log(sum), from which it recomputes any weight as exp(score - lse).
//!
//! Attention dropout is recomputed inline from `dropout_forward`'s hash at the index the (B, NH, T, T) mask
//! would have, so the fused and the readable paths drop the same weights for the same seed.

use super::attention_forward::attention_forward_cpu;
use super::attention_mask::{AttentionDropout, AttentionMask};
use super::dropout_forward::dropout_mask_cpu;
use super::float::Float;
use crate::{Result, invalid_input};

/// The largest head size hs the fused kernels handle (their `MAX_HS`: a query row's outputs live in private
/// arrays of this length). Larger heads use the readable kernels.
pub const ATTENTION_FUSED_MAX_HS: usize = 64;

/// The reference: out (B, T, C) and lse (B, NH, T) = max + log(sum of exp(score - max)) over each query row's
/// visible scores, from inp (B, T, 3C), with attention dropout drawn from `dropout`'s seed. Composed from
/// [`attention_forward_cpu`] (the spec) and [`dropout_mask_cpu`]; it allocates the maps the GPU avoids.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_fused_cpu<R: Float>(
    out: &mut [R],
    lse: &mut [R],
    inp: &[R],
    dropout: Option<AttentionDropout>,
    mask: AttentionMask,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let n_map = b * nh * t * t;
    let (mut preatt, mut att) = (vec![R::ZERO; n_map], vec![R::ZERO; n_map]);
    let drop = dropout.map(|d| {
        let mut m = vec![R::ZERO; n_map];
        dropout_mask_cpu(&mut m, d.p, d.seed, n_map);
        m
    });
    attention_forward_cpu(
        out,
        &mut preatt,
        &mut att,
        inp,
        drop.as_deref(),
        mask,
        b,
        t,
        c,
        nh,
    );
    for (r, l) in lse[..b * nh * t].iter_mut().enumerate() {
        let visible = mask.visible(r % t, t);
        let row = &preatt[r * t..r * t + visible];
        let max = row.iter().fold(R::NEG_INFINITY, |m, &x| m.max(x));
        let sum: R = row.iter().map(|&x| (x - max).exp()).sum();
        *l = max + sum.ln();
    }
}

/// Checks what the fused kernels need beyond [`super::attention_forward::check_shapes`]: the head size,
/// the lse length, and that the dropout index space fits in u32.
pub fn check_fused(lse: usize, b: usize, t: usize, c: usize, nh: usize) -> Result<()> {
    if nh == 0 || !c.is_multiple_of(nh) {
        invalid_input!(
            "attention: C = {c} channels do not split into NH = {nh} heads; choose NH dividing C"
        );
    }
    let hs = c / nh;
    if hs > ATTENTION_FUSED_MAX_HS {
        invalid_input!(
            "fused attention handles heads of at most {ATTENTION_FUSED_MAX_HS} channels, this one has \
             hs = C / NH = {hs}: use more heads or the readable attention_forward"
        );
    }
    if lse != b * nh * t {
        invalid_input!("attention: lse has {lse} values, expected B*NH*T = {b}*{nh}*{t}");
    }
    if (b * nh * t * t) as u64 > u64::from(u32::MAX) {
        invalid_input!(
            "attention: B*NH*T*T = {} exceeds the 32-bit index of the dropout hash: shrink B or T",
            b * nh * t * t
        );
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::testing::TestRng;

    #[test]
    fn fused_cpu_lse_is_the_log_normaliser() {
        // Every weight the readable path writes is exp(preatt - lse).
        let (b, t, c, nh) = (2, 7, 12, 3);
        let mut rng = TestRng::new(64);
        let inp = rng.vec_f64(b * t * 3 * c);
        let n_map = b * nh * t * t;
        let (mut out, mut lse) = (vec![0.0; b * t * c], vec![0.0; b * nh * t]);
        attention_forward_fused_cpu(
            &mut out,
            &mut lse,
            &inp,
            None,
            AttentionMask::Causal,
            b,
            t,
            c,
            nh,
        );
        let (mut out2, mut preatt, mut att) =
            (vec![0.0; b * t * c], vec![0.0; n_map], vec![0.0; n_map]);
        attention_forward_cpu(
            &mut out2,
            &mut preatt,
            &mut att,
            &inp,
            None,
            AttentionMask::Causal,
            b,
            t,
            c,
            nh,
        );
        assert_eq!(out, out2);
        for (r, &row_lse) in lse.iter().enumerate() {
            for tk in 0..=r % t {
                let i = r * t + tk;
                assert!(
                    (att[i] - (preatt[i] - row_lse).exp()).abs() < 1e-12,
                    "row {r} key {tk}"
                );
            }
        }
    }

    #[test]
    fn a_head_beyond_the_limit_is_refused() {
        let err = check_fused(2 * 7, 1, 7, 130, 2).unwrap_err();
        assert!(err.to_string().contains("at most 64"), "{err}");
        let err = check_fused(5, 2, 7, 12, 3).unwrap_err();
        assert!(err.to_string().contains("lse has 5"), "{err}");
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/attention_forward_fused.wgsl`.
    pub const ATTENTION_FORWARD_FUSED_SHADER: &str = shader!("attention_forward_fused");

    /// Its f16 build (out and qkv f16; scores, softmax and lse f32), generated from the same file by `crate/build.rs`.
    pub const ATTENTION_FORWARD_FUSED_F16_SHADER: &str = shader!("attention_forward_fused_f16");

    /// Query rows per workgroup of the fused kernels (their `BQ` override; one invocation per row).
    pub(crate) const ATTENTION_FUSED_BQ: u32 = 32;

    /// Sizes, flags and the dropout stream for the fused shaders; field for field their WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct FusedAttentionParams {
        b: u32,
        t: u32,
        c: u32,
        nh: u32,
        causal: u32,
        has_dropout: u32,
        /// 1 / sqrt(hs), in f32 exactly as the CPU reference computes it.
        scale: f32,
        seed: u32,
        p: f32,
        /// 1 / (1 - p), rounded from f64 as `dropout_mask_cpu` does.
        keep: f32,
        _pad: [u32; 2],
    }

    impl FusedAttentionParams {
        pub(crate) fn new(
            mask: AttentionMask,
            dropout: Option<AttentionDropout>,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) -> Self {
            let hs = c / nh.max(1);
            let (p, seed) = dropout.map_or((0.0, 0), |d| (d.p, d.seed));
            Self {
                b: b as u32,
                t: t as u32,
                c: c as u32,
                nh: nh as u32,
                causal: u32::from(mask == AttentionMask::Causal),
                has_dropout: u32::from(dropout.is_some()),
                scale: 1.0 / (hs as f32).sqrt(),
                seed,
                p,
                keep: (1.0 / (1.0 - f64::from(p))) as f32,
                _pad: [0; 2],
            }
        }

        /// The same parameters with another dropout seed (a training plan is built once; each step reseeds).
        pub fn with_seed(mut self, seed: u32) -> Self {
            self.seed = seed;
            self
        }
    }

    /// Gives dispatch `index` of `plan` (made by a fused attention function, which returned it with its params)
    /// a new dropout seed.
    pub fn attention_fused_reseed(
        gpu: &GpuContext,
        plan: &Plan,
        index: usize,
        params: FusedAttentionParams,
        seed: u32,
    ) {
        plan.rewrite_params(gpu, index, &params.with_seed(seed));
    }

    /// Adds the kernel to `plan`: out (B, T, C) and lse (B, NH, T) from inp (B, T, 3C), as
    /// [`attention_forward_fused_cpu`]. Returns the dispatch's index and its params (for reseeding dropout).
    /// Check the sizes with [`check_fused`] first: the kernel holds at most [`ATTENTION_FUSED_MAX_HS`] channels.
    #[allow(clippy::too_many_arguments)]
    pub fn attention_forward_fused_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        lse: View,
        inp: View,
        dropout: Option<AttentionDropout>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) -> (usize, FusedAttentionParams) {
        let kernel = gpu.kernel_variant(
            &out,
            ("attention_forward_fused", ATTENTION_FORWARD_FUSED_SHADER),
            (
                "attention_forward_fused_f16",
                ATTENTION_FORWARD_FUSED_F16_SHADER,
            ),
            &[
                Access::Uniform,   // params: B, T, C, NH, causal, has_dropout, scale, seed, p, keep
                Access::ReadWrite, // out (B, T, C)
                Access::ReadWrite, // lse (B, NH, T)
                Access::Read,      // inp (B, T, 3C)
            ],
            &[("BQ", f64::from(ATTENTION_FUSED_BQ))],
        );
        let params = FusedAttentionParams::new(mask, dropout, b, t, c, nh);
        let index = plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, lse, inp],
            [(t as u32).div_ceil(ATTENTION_FUSED_BQ), nh as u32, b as u32],
        );
        (index, params)
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::attention_forward::check_shapes;
        use crate::ops::testing::{TestRng, assert_close};

        #[allow(clippy::too_many_arguments)]
        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            mask: AttentionMask,
            dropout: Option<AttentionDropout>,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) {
            let inp = rng.vec(b * t * 3 * c);
            check_shapes(b * t * c, b * nh * t * t, inp.len(), None, b, t, c, nh).expect("shapes");
            check_fused(b * nh * t, b, t, c, nh).expect("fused shapes");
            let (mut out, mut lse) = (vec![0.0; b * t * c], vec![0.0; b * nh * t]);
            attention_forward_fused_cpu(&mut out, &mut lse, &inp, dropout, mask, b, t, c, nh);
            // Start the outputs with garbage: every element must be written.
            let out_gpu = gpu.upload("out", &rng.vec(out.len()));
            let lse_gpu = gpu.upload("lse", &rng.vec(lse.len()));
            let inp_gpu = gpu.upload("inp", &inp);
            let mut plan = Plan::new();
            attention_forward_fused_gpu(
                gpu,
                &mut plan,
                (&out_gpu).into(),
                (&lse_gpu).into(),
                (&inp_gpu).into(),
                dropout,
                mask,
                b,
                t,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what =
                format!("attention_forward_fused {mask:?} {dropout:?} B={b} T={t} C={c} NH={nh}");
            let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("read");
            assert_close(
                &read(&lse_gpu, lse.len()),
                &lse,
                1e-5,
                1e-4,
                &format!("{what} lse"),
            );
            assert_close(
                &read(&out_gpu, out.len()),
                &out,
                1e-5,
                1e-4,
                &format!("{what} out"),
            );
        }

        fn drop(p: f32, seed: u32) -> Option<AttentionDropout> {
            Some(AttentionDropout { p, seed })
        }

        #[test]
        fn fused_gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("attention_forward_fused awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(61);
            for mask in [AttentionMask::Causal, AttentionMask::Bidirectional] {
                for dropout in [None, drop(0.25, 9)] {
                    check(gpu, &mut rng, mask, dropout, 2, 7, 12, 3);
                }
            }
            check(gpu, &mut rng, AttentionMask::Causal, None, 1, 1, 4, 1);
            // hs = MAX_HS exactly.
            check(
                gpu,
                &mut rng,
                AttentionMask::Causal,
                drop(0.1, 3),
                1,
                9,
                128,
                2,
            );
        }

        #[test]
        fn fused_gpu_matches_cpu_beyond_one_tile() {
            let Some(gpu) = gpu_or_skip("attention_forward_fused long rows") else {
                return;
            };
            let mut rng = TestRng::new(62);
            // T = 100 and 130: several key tiles (BKV = 16) and several query blocks (BQ = 32), a ragged last one.
            check(gpu, &mut rng, AttentionMask::Causal, None, 1, 100, 12, 3);
            check(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                drop(0.3, 77),
                1,
                100,
                16,
                2,
            );
            check(
                gpu,
                &mut rng,
                AttentionMask::Causal,
                drop(0.2, u32::MAX),
                2,
                130,
                8,
                2,
            );
            check(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                None,
                1,
                130,
                24,
                1,
            );
        }

        #[test]
        fn fused_gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("attention_forward_fused random shapes") else {
                return;
            };
            let mut rng = TestRng::new(63);
            for _ in 0..8 {
                let nh = rng.range(1, 4);
                let hs = rng.range(1, 64);
                let (b, t) = (rng.range(1, 3), rng.range(1, 80));
                let mask = if rng.next_u64().is_multiple_of(2) {
                    AttentionMask::Causal
                } else {
                    AttentionMask::Bidirectional
                };
                let dropout = rng.next_u64().is_multiple_of(2).then(|| AttentionDropout {
                    p: 0.2,
                    seed: rng.next_u64() as u32,
                });
                check(gpu, &mut rng, mask, dropout, b, t, nh * hs, nh);
            }
        }
    }
}
