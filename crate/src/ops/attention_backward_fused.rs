//! attention_backward_fused: the gradients of [`super::attention_forward_fused`] back to the fused qkv
//! buffer, with no (B, NH, T, T) map: the weights are recomputed from q, k and the forward's lse.
//!
//! Intuition: a weight is exp(score - lse), so it costs one dot product to recompute and nothing to store.
//! The softmax's backward needs, per query row, sum_j att[j] * datt[j]; that equals dout . out (the forward's
//! output is exactly that weighted sum of values), one number per row computed up front (`delta`).
//!
//! Three dispatches: delta (B, NH, T); dq per query row; dk and dv per key row (each output element has
//! one owner, so no atomics). `dinp` is assigned, as [`super::attention_backward::attention_backward_gpu`]
//! assigns it (it is an activation gradient).

use super::attention_backward::attention_backward_cpu;
use super::attention_forward::attention_forward_cpu;
use super::attention_mask::{AttentionDropout, AttentionMask};
use super::dropout_forward::dropout_mask_cpu;
use super::float::Float;

/// The reference: dinp (B, T, 3C) (assigned) from dout (B, T, C) and inp (B, T, 3C), with attention dropout
/// drawn from `dropout`'s seed. Composed from [`attention_forward_cpu`] and [`attention_backward_cpu`] (the
/// spec); it allocates the maps the GPU avoids.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_fused_cpu<R: Float>(
    dinp: &mut [R],
    dout: &[R],
    inp: &[R],
    dropout: Option<AttentionDropout>,
    mask: AttentionMask,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let n_map = b * nh * t * t;
    let map = || vec![R::ZERO; n_map];
    let (mut preatt, mut att, mut dpreatt, mut datt) = (map(), map(), map(), map());
    let drop = dropout.map(|d| {
        let mut m = map();
        dropout_mask_cpu(&mut m, d.p, d.seed, n_map);
        m
    });
    let mut out = vec![R::ZERO; b * t * c];
    attention_forward_cpu(
        &mut out,
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
    attention_backward_cpu(
        dinp,
        &mut dpreatt,
        &mut datt,
        dout,
        inp,
        &att,
        drop.as_deref(),
        mask,
        b,
        t,
        c,
        nh,
    );
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::attention_forward_fused::{ATTENTION_FUSED_BQ, FusedAttentionParams};

    /// The WGSL source of delta = dout . out, `shaders/attention_backward_fused_delta.wgsl`.
    pub const ATTENTION_BACKWARD_FUSED_DELTA_SHADER: &str =
        shader!("attention_backward_fused_delta");

    /// Its f16 build (dout and out f16; delta f32), generated from the same file by `crate/build.rs`.
    pub const ATTENTION_BACKWARD_FUSED_DELTA_F16_SHADER: &str =
        shader!("attention_backward_fused_delta_f16");

    /// The WGSL source of the per-query-row kernel (dq), `shaders/attention_backward_fused.wgsl`.
    pub const ATTENTION_BACKWARD_FUSED_SHADER: &str = shader!("attention_backward_fused");

    /// Its f16 build (dqkv, dout and qkv f16; sums, lse and delta f32), generated from the same file by `crate/build.rs`.
    pub const ATTENTION_BACKWARD_FUSED_F16_SHADER: &str = shader!("attention_backward_fused_f16");

    /// The WGSL source of the per-key-row kernel (dk, dv), `shaders/attention_backward_fused_dkv.wgsl`.
    pub const ATTENTION_BACKWARD_FUSED_DKV_SHADER: &str = shader!("attention_backward_fused_dkv");

    /// Its f16 build (dqkv, dout and qkv f16; sums, lse and delta f32), generated from the same file by `crate/build.rs`.
    pub const ATTENTION_BACKWARD_FUSED_DKV_F16_SHADER: &str =
        shader!("attention_backward_fused_dkv_f16");

    /// Invocations per workgroup of the delta kernel.
    const DELTA_WG: u32 = 64;

    /// Adds the three kernels to `plan`: dinp (B, T, 3C) (assigned) and the scratch delta (B, NH, T) from
    /// dout (B, T, C), the forward's inp (B, T, 3C), out (B, T, C) and lse (B, NH, T), with the forward's
    /// dropout and mask, as [`attention_backward_fused_cpu`]. Returns the indices of the dispatches that draw
    /// the dropout stream and their params, for reseeding. Check the sizes with
    /// [`crate::ops::attention_forward_fused::check_fused`] first.
    #[allow(clippy::too_many_arguments)]
    pub fn attention_backward_fused_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        delta: View,
        dout: View,
        inp: View,
        out: View,
        lse: View,
        dropout: Option<AttentionDropout>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) -> ([usize; 2], FusedAttentionParams) {
        let params = FusedAttentionParams::new(mask, dropout, b, t, c, nh);
        let delta_kernel = gpu.kernel_variant(
            &dout,
            (
                "attention_backward_fused_delta",
                ATTENTION_BACKWARD_FUSED_DELTA_SHADER,
            ),
            (
                "attention_backward_fused_delta_f16",
                ATTENTION_BACKWARD_FUSED_DELTA_F16_SHADER,
            ),
            &[
                Access::Uniform,   // params: B, T, C, NH (the rest unused)
                Access::ReadWrite, // delta (B, NH, T)
                Access::Read,      // dout (B, T, C)
                Access::Read,      // out (B, T, C)
            ],
            &[("WG", f64::from(DELTA_WG))],
        );
        plan.push(
            gpu,
            delta_kernel,
            Some(&params),
            &[delta, dout, out],
            gpu.grid_1d(((b * nh * t) as u32).div_ceil(DELTA_WG)),
        );
        let bindings = [
            Access::Uniform,   // params: B, T, C, NH, causal, has_dropout, scale, seed, p, keep
            Access::ReadWrite, // dinp (B, T, 3C): the q third (dq kernel) or the k and v thirds (dkv kernel)
            Access::Read,      // dout (B, T, C)
            Access::Read,      // inp (B, T, 3C)
            Access::Read,      // lse (B, NH, T)
            Access::Read,      // delta (B, NH, T)
        ];
        let blocks = [(t as u32).div_ceil(ATTENTION_FUSED_BQ), nh as u32, b as u32];
        let dq = gpu.kernel_variant(
            &dout,
            ("attention_backward_fused", ATTENTION_BACKWARD_FUSED_SHADER),
            (
                "attention_backward_fused_f16",
                ATTENTION_BACKWARD_FUSED_F16_SHADER,
            ),
            &bindings,
            &[("BQ", f64::from(ATTENTION_FUSED_BQ))],
        );
        let dq_index = plan.push(
            gpu,
            dq,
            Some(&params),
            &[dinp, dout, inp, lse, delta],
            blocks,
        );
        let dkv = gpu.kernel_variant(
            &dout,
            (
                "attention_backward_fused_dkv",
                ATTENTION_BACKWARD_FUSED_DKV_SHADER,
            ),
            (
                "attention_backward_fused_dkv_f16",
                ATTENTION_BACKWARD_FUSED_DKV_F16_SHADER,
            ),
            &bindings,
            &[("BK", f64::from(ATTENTION_FUSED_BQ))],
        );
        let dkv_index = plan.push(
            gpu,
            dkv,
            Some(&params),
            &[dinp, dout, inp, lse, delta],
            blocks,
        );
        ([dq_index, dkv_index], params)
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::attention_backward::attention_backward_gpu;
        use crate::ops::attention_forward_fused::{
            attention_forward_fused_cpu, attention_forward_fused_gpu, check_fused,
        };
        use crate::ops::testing::{TestRng, assert_close};

        /// Runs the fused forward then the fused backward on the GPU and compares dinp with the CPU reference
        /// (attention_forward_cpu + attention_backward_cpu with the same dropout mask). Returns the GPU's dinp.
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
        ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
            check_fused(b * nh * t, b, t, c, nh).expect("fused shapes");
            let inp = rng.vec(b * t * 3 * c);
            let dout = rng.vec(b * t * c);
            let mut dinp = vec![0.0f32; inp.len()];
            attention_backward_fused_cpu(&mut dinp, &dout, &inp, dropout, mask, b, t, c, nh);
            let (mut out, mut lse) = (vec![0.0; b * t * c], vec![0.0; b * nh * t]);
            attention_forward_fused_cpu(&mut out, &mut lse, &inp, dropout, mask, b, t, c, nh);

            // dinp and delta start as garbage: both are assigned, every element.
            let dinp_gpu = gpu.upload("dinp", &rng.vec(dinp.len()));
            let delta_gpu = gpu.upload("delta", &rng.vec(b * nh * t));
            let out_gpu = gpu.upload("out", &rng.vec(out.len()));
            let lse_gpu = gpu.upload("lse", &rng.vec(lse.len()));
            let dout_gpu = gpu.upload("dout", &dout);
            let inp_gpu = gpu.upload("inp", &inp);
            let mut plan = Plan::new();
            // The GPU's own forward supplies out and lse, as in training.
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
            attention_backward_fused_gpu(
                gpu,
                &mut plan,
                (&dinp_gpu).into(),
                (&delta_gpu).into(),
                (&dout_gpu).into(),
                (&inp_gpu).into(),
                (&out_gpu).into(),
                (&lse_gpu).into(),
                dropout,
                mask,
                b,
                t,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what =
                format!("attention_backward_fused {mask:?} {dropout:?} B={b} T={t} C={c} NH={nh}");
            let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("read");
            let delta: Vec<f32> = (0..b * nh * t)
                .map(|r| {
                    let (tt, h, bb) = (r % t, (r / t) % nh, r / (t * nh));
                    let hs = c / nh;
                    let at = (bb * t + tt) * c + h * hs;
                    (0..hs).map(|i| dout[at + i] * out[at + i]).sum()
                })
                .collect();
            assert_close(
                &read(&delta_gpu, delta.len()),
                &delta,
                1e-5,
                1e-4,
                &format!("{what} delta"),
            );
            let dinp_gpu = read(&dinp_gpu, dinp.len());
            assert_close(&dinp_gpu, &dinp, 1e-5, 1e-4, &format!("{what} dinp"));
            (dinp_gpu, inp, dout)
        }

        fn drop(p: f32, seed: u32) -> Option<AttentionDropout> {
            Some(AttentionDropout { p, seed })
        }

        /// The f16 builds of the fused forward and backward (qkv, out, dout, dqkv f16; scores, softmax, lse,
        /// delta and every sum f32) against the CPU reference evaluated with f16 rounding (qkv and dout rounded,
        /// out and dqkv rounded). out within one f16 ulp (F16_RTOL) + 1e-3, lse within the f32 tolerance; dqkv
        /// within 2e-3 + 1e-2 |x|: the GPU's delta = dout . out uses the f16-stored out (2^-11 relative), the
        /// reference the exact one.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{
                F16_RTOL, gpu_f16_or_skip, read_f16_now, round_f16, upload_f16_rounded,
            };
            let Some(gpu) = gpu_f16_or_skip("attention fused f16") else {
                return;
            };
            let mut rng = TestRng::new(93);
            for (mask, b, t, c, nh) in [
                (AttentionMask::Causal, 2, 7, 12, 3),
                (AttentionMask::Bidirectional, 1, 19, 16, 2),
                (AttentionMask::Causal, 2, 40, 64, 2),
            ] {
                let (inp_buf, inp) = upload_f16_rounded(gpu, "qkv", &rng.vec(b * t * 3 * c));
                let (dout_buf, dout) = upload_f16_rounded(gpu, "dout", &rng.vec(b * t * c));
                let (mut out, mut lse) = (vec![0.0; b * t * c], vec![0.0; b * nh * t]);
                attention_forward_fused_cpu(&mut out, &mut lse, &inp, None, mask, b, t, c, nh);
                let mut dinp = vec![0.0f32; inp.len()];
                attention_backward_fused_cpu(&mut dinp, &dout, &inp, None, mask, b, t, c, nh);
                let out_buf = gpu.zeros_f16("out", out.len());
                let dinp_buf = gpu.zeros_f16("dqkv", dinp.len());
                let (lse_buf, delta_buf) =
                    (gpu.zeros("lse", lse.len()), gpu.zeros("delta", lse.len()));
                let mut plan = Plan::new();
                attention_forward_fused_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&out_buf),
                    (&lse_buf).into(),
                    View::all_f16(&inp_buf),
                    None,
                    mask,
                    b,
                    t,
                    c,
                    nh,
                );
                attention_backward_fused_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&dinp_buf),
                    (&delta_buf).into(),
                    View::all_f16(&dout_buf),
                    View::all_f16(&inp_buf),
                    View::all_f16(&out_buf),
                    (&lse_buf).into(),
                    None,
                    mask,
                    b,
                    t,
                    c,
                    nh,
                );
                pollster::block_on(plan.run(gpu)).expect("attention fused f16 dispatches");
                let what = format!("attention fused f16 {mask:?} B={b} T={t} C={c} NH={nh}");
                let lse_gpu = pollster::block_on(gpu.read(&lse_buf, lse.len())).expect("readback");
                assert_close(
                    &read_f16_now(gpu, &out_buf, out.len()),
                    &round_f16(&out),
                    1e-3,
                    F16_RTOL,
                    &format!("{what} out"),
                );
                assert_close(&lse_gpu, &lse, 1e-5, 1e-4, &format!("{what} lse"));
                assert_close(
                    &read_f16_now(gpu, &dinp_buf, dinp.len()),
                    &round_f16(&dinp),
                    2e-3,
                    1e-2,
                    &format!("{what} dqkv"),
                );
            }
        }

        #[test]
        fn fused_backward_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("attention_backward_fused awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(71);
            for mask in [AttentionMask::Causal, AttentionMask::Bidirectional] {
                for dropout in [None, drop(0.25, 5)] {
                    check(gpu, &mut rng, mask, dropout, 2, 7, 12, 3);
                }
            }
            check(
                gpu,
                &mut rng,
                AttentionMask::Causal,
                drop(0.5, 1),
                1,
                1,
                4,
                1,
            );
            // hs = MAX_HS exactly.
            check(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                None,
                1,
                9,
                64,
                1,
            );
        }

        #[test]
        fn fused_backward_matches_cpu_beyond_one_tile() {
            let Some(gpu) = gpu_or_skip("attention_backward_fused long rows") else {
                return;
            };
            let mut rng = TestRng::new(72);
            check(
                gpu,
                &mut rng,
                AttentionMask::Causal,
                drop(0.2, 123),
                1,
                100,
                12,
                3,
            );
            check(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                None,
                1,
                100,
                16,
                2,
            );
            check(gpu, &mut rng, AttentionMask::Causal, None, 2, 130, 8, 2);
            check(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                drop(0.1, u32::MAX),
                1,
                130,
                8,
                1,
            );
        }

        #[test]
        fn fused_backward_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("attention_backward_fused random shapes") else {
                return;
            };
            let mut rng = TestRng::new(73);
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
                    p: 0.3,
                    seed: rng.next_u64() as u32,
                });
                check(gpu, &mut rng, mask, dropout, b, t, nh * hs, nh);
            }
        }

        #[test]
        fn fused_backward_matches_the_readable_gpu_backward() {
            let Some(gpu) = gpu_or_skip("attention_backward_fused vs attention_backward") else {
                return;
            };
            let mut rng = TestRng::new(74);
            let (b, t, c, nh) = (2, 37, 24, 3);
            let (mask, dropout) = (AttentionMask::Causal, drop(0.2, 99));
            let (fused, inp, dout) = check(gpu, &mut rng, mask, dropout, b, t, c, nh);
            // The readable path: the CPU's att and mask, the readable GPU kernels.
            let n_map = b * nh * t * t;
            let (mut out, mut preatt, mut att, mut m) = (
                vec![0.0f32; b * t * c],
                vec![0.0; n_map],
                vec![0.0; n_map],
                vec![0.0; n_map],
            );
            let d = dropout.expect("dropout");
            dropout_mask_cpu(&mut m, d.p, d.seed, n_map);
            attention_forward_cpu(
                &mut out,
                &mut preatt,
                &mut att,
                &inp,
                Some(&m),
                mask,
                b,
                t,
                c,
                nh,
            );
            let dinp_gpu = gpu.upload("dinp", &rng.vec(inp.len()));
            let (dpreatt_gpu, datt_gpu) = (gpu.zeros("dpreatt", n_map), gpu.zeros("datt", n_map));
            let (dout_gpu, inp_gpu) = (gpu.upload("dout", &dout), gpu.upload("inp", &inp));
            let (att_gpu, mask_gpu) = (gpu.upload("att", &att), gpu.upload("mask", &m));
            let mut plan = Plan::new();
            attention_backward_gpu(
                gpu,
                &mut plan,
                (&dinp_gpu).into(),
                (&dpreatt_gpu).into(),
                (&datt_gpu).into(),
                (&dout_gpu).into(),
                (&inp_gpu).into(),
                (&att_gpu).into(),
                Some((&mask_gpu).into()),
                mask,
                b,
                t,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let readable = pollster::block_on(gpu.read(&dinp_gpu, inp.len())).expect("read");
            assert_close(
                &fused,
                &readable,
                1e-5,
                1e-4,
                "fused vs readable GPU backward",
            );
        }
    }
}
