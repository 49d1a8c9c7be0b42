//! attention_backward: gradients of multi-head self-attention back to the fused qkv buffer.
//!
//! Intuition: the output error tells each value how much it was wanted (dv) and each attention weight
//! whether it should grow (datt); the softmax turns that into score errors (dpreatt), which move the
//! query toward useful keys and the keys toward the queries that needed them.
//!
//! All outputs are assigned: `dinp` is an activation gradient, `dpreatt` and `datt` are scratch buffers
//! kept explicit (as in llm.c) so a GPU version can split the same steps into kernels.

use super::attention_mask::AttentionMask;
use super::float::Float;

/// dinp (B, T, 3C), dpreatt (B, NH, T, T), datt (B, NH, T, T) from dout (B, T, C), the forward's inp
/// (B, T, 3C), att (B, NH, T, T) and the same dropout mask and attention mask.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_cpu<R: Float>(
    dinp: &mut [R],
    dpreatt: &mut [R],
    datt: &mut [R],
    dout: &[R],
    inp: &[R],
    att: &[R],
    dropout: Option<&[R]>,
    mask: AttentionMask,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let c3 = 3 * c;
    let scale = R::ONE / R::from_usize(hs).sqrt();
    dinp[..b * t * c3].fill(R::ZERO);
    for bb in 0..b {
        for h in 0..nh {
            for tq in 0..t {
                let row = ((bb * nh + h) * t + tq) * t;
                let visible = mask.visible(tq, t);
                let g = &dout[(bb * t + tq) * c + h * hs..][..hs];
                // Through the weighted sum: out = sum_k (att * drop)[k] v[k].
                for tk in 0..t {
                    if tk >= visible {
                        datt[row + tk] = R::ZERO;
                        continue;
                    }
                    let drop = dropout.map_or(R::ONE, |d| d[row + tk]);
                    let v_at = (bb * t + tk) * c3 + 2 * c + h * hs;
                    let mut d = R::ZERO;
                    for i in 0..hs {
                        d += g[i] * inp[v_at + i];
                        dinp[v_at + i] += att[row + tk] * drop * g[i];
                    }
                    datt[row + tk] = d * drop;
                }
                // Through the softmax: dpreatt = att * (datt - sum_j att[j] datt[j]).
                let mut weighted = R::ZERO;
                for tk in 0..visible {
                    weighted += att[row + tk] * datt[row + tk];
                }
                for tk in 0..t {
                    dpreatt[row + tk] = if tk < visible {
                        att[row + tk] * (datt[row + tk] - weighted)
                    } else {
                        R::ZERO
                    };
                }
                // Through the scores: preatt = q.k * scale.
                let q_at = (bb * t + tq) * c3 + h * hs;
                for tk in 0..visible {
                    let k_at = (bb * t + tk) * c3 + c + h * hs;
                    let d = dpreatt[row + tk] * scale;
                    for i in 0..hs {
                        let (qi, ki) = (inp[q_at + i], inp[k_at + i]);
                        dinp[q_at + i] += d * ki;
                        dinp[k_at + i] += d * qi;
                    }
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::attention_forward::attention_forward_cpu;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    fn check(mask: AttentionMask, with_dropout: bool) {
        // B=2, T=7, C=12, NH=3 (hs=4).
        let (b, t, c, nh) = (2, 7, 12, 3);
        let mut rng = TestRng::new(51);
        let (inp, w) = (rng.vec_f64(b * t * 3 * c), rng.vec_f64(b * t * c));
        // A fixed dropout mask: 0 or 1/(1-p) with p = 0.25.
        let drop: Vec<f64> = (0..b * nh * t * t)
            .map(|_| {
                if rng.uniform_f64() < -0.5 {
                    0.0
                } else {
                    1.0 / 0.75
                }
            })
            .collect();
        let drop = with_dropout.then_some(&drop[..]);
        let n_att = b * nh * t * t;
        let forward = |inp: &[f64]| {
            let (mut out, mut preatt, mut att) =
                (vec![0.0; b * t * c], vec![0.0; n_att], vec![0.0; n_att]);
            attention_forward_cpu(
                &mut out,
                &mut preatt,
                &mut att,
                inp,
                drop,
                mask,
                b,
                t,
                c,
                nh,
            );
            (out, att)
        };
        let (_, att) = forward(&inp);
        let (mut dinp, mut dpreatt, mut datt) = (
            vec![f64::NAN; inp.len()],
            vec![f64::NAN; n_att],
            vec![f64::NAN; n_att],
        );
        attention_backward_cpu(
            &mut dinp,
            &mut dpreatt,
            &mut datt,
            &w,
            &inp,
            &att,
            drop,
            mask,
            b,
            t,
            c,
            nh,
        );
        check_gradient(
            &format!("attention dinp {mask:?} dropout={with_dropout}"),
            &inp,
            &dinp,
            |x| dot(&forward(x).0, &w),
        );
    }

    #[test]
    fn gradients_match_finite_differences_causal() {
        check(AttentionMask::Causal, false);
    }

    #[test]
    fn gradients_match_finite_differences_bidirectional() {
        check(AttentionMask::Bidirectional, false);
    }

    #[test]
    fn gradients_match_finite_differences_with_dropout() {
        check(AttentionMask::Causal, true);
    }

    #[test]
    fn causal_rows_are_distributions_over_the_past() {
        let (b, t, c, nh) = (1, 5, 4, 2);
        let mut rng = TestRng::new(52);
        let inp = rng.vec_f64(b * t * 3 * c);
        let (mut out, mut preatt, mut att) = (
            vec![0.0; b * t * c],
            vec![0.0; nh * t * t],
            vec![0.0; nh * t * t],
        );
        attention_forward_cpu(
            &mut out,
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
        for (r, row) in att.chunks(t).enumerate() {
            let tq = r % t;
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row[..=tq].iter().all(|&a| a > 0.0));
            assert!(
                row[tq + 1..].iter().all(|&a| a == 0.0),
                "row {r} sees the future: {row:?}"
            );
        }
        // The first position can only attend to itself: its output is its own value.
        assert!((out[0] - inp[2 * c]).abs() < 1e-12);
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::attention_forward::{ATTENTION_WG, AttentionParams};

    /// The WGSL source of the per-query-row kernel (datt, dpreatt, dq), `shaders/attention_backward.wgsl`.
    pub const ATTENTION_BACKWARD_SHADER: &str = shader!("attention_backward");

    /// The WGSL source of the per-key kernel (dk, dv), `shaders/attention_backward_dkv.wgsl`.
    pub const ATTENTION_BACKWARD_DKV_SHADER: &str = shader!("attention_backward_dkv");

    /// Adds the two kernels to `plan`: dinp (B, T, 3C), dpreatt (B, NH, T, T), datt (B, NH, T, T) from
    /// dout (B, T, C), inp (B, T, 3C), att (B, NH, T, T), as [`attention_backward_cpu`] (all assigned).
    ///
    /// The first kernel owns query rows (datt, dpreatt, dq); the second owns key positions and gathers dk and
    /// dv over the rows that see them, so no two invocations write the same element. Check the lengths with
    /// [`crate::ops::attention_forward::check_shapes`].
    #[allow(clippy::too_many_arguments)]
    pub fn attention_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dinp: View,
        dpreatt: View,
        datt: View,
        dout: View,
        inp: View,
        att: View,
        dropout: Option<View>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) {
        let params = AttentionParams::new(mask, dropout.is_some(), b, t, c, nh);
        let dropout = dropout.unwrap_or(View::all(gpu.placeholder()));
        let rows = gpu.kernel(
            "attention_backward",
            ATTENTION_BACKWARD_SHADER,
            &[
                Access::Uniform,   // params: B, T, C, NH, causal, has_dropout, scale
                Access::ReadWrite, // dinp (B, T, 3C): the q third
                Access::ReadWrite, // dpreatt (B, NH, T, T)
                Access::ReadWrite, // datt (B, NH, T, T)
                Access::Read,      // dout (B, T, C)
                Access::Read,      // inp (B, T, 3C)
                Access::Read,      // att (B, NH, T, T)
                Access::Read,      // dropout (B, NH, T, T) or the placeholder
            ],
            &[("WG", f64::from(ATTENTION_WG))],
        );
        plan.push(
            gpu,
            rows,
            Some(&params),
            &[dinp, dpreatt, datt, dout, inp, att, dropout],
            [t as u32, nh as u32, b as u32],
        );
        let keys = gpu.kernel(
            "attention_backward_dkv",
            ATTENTION_BACKWARD_DKV_SHADER,
            &[
                Access::Uniform,   // params: B, T, C, NH, causal, has_dropout, scale
                Access::ReadWrite, // dinp (B, T, 3C): the k and v thirds
                Access::Read,      // dpreatt (B, NH, T, T)
                Access::Read,      // dout (B, T, C)
                Access::Read,      // inp (B, T, 3C)
                Access::Read,      // att (B, NH, T, T)
                Access::Read,      // dropout (B, NH, T, T) or the placeholder
            ],
            &[("WG", f64::from(ATTENTION_WG))],
        );
        plan.push(
            gpu,
            keys,
            Some(&params),
            &[dinp, dpreatt, dout, inp, att, dropout],
            [(2 * c as u32).div_ceil(ATTENTION_WG), t as u32, b as u32],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::attention_forward::attention_forward_cpu;
        use crate::ops::attention_forward::check_shapes;
        use crate::ops::testing::{TestRng, assert_close};

        #[allow(clippy::too_many_arguments)]
        fn check_gpu(
            gpu: &GpuContext,
            rng: &mut TestRng,
            mask: AttentionMask,
            with_dropout: bool,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) {
            let n_map = b * nh * t * t;
            let inp = rng.vec(b * t * 3 * c);
            let dout = rng.vec(b * t * c);
            let drop = with_dropout.then(|| {
                (0..n_map)
                    .map(|_| {
                        if rng.uniform() < -0.5 {
                            0.0
                        } else {
                            1.0 / 0.75
                        }
                    })
                    .collect::<Vec<f32>>()
            });
            check_shapes(
                b * t * c,
                n_map,
                inp.len(),
                drop.as_ref().map(Vec::len),
                b,
                t,
                c,
                nh,
            )
            .expect("shapes");
            let (mut out, mut preatt, mut att) =
                (vec![0.0f32; b * t * c], vec![0.0; n_map], vec![0.0; n_map]);
            attention_forward_cpu(
                &mut out,
                &mut preatt,
                &mut att,
                &inp,
                drop.as_deref(),
                mask,
                b,
                t,
                c,
                nh,
            );
            let (mut dinp, mut dpreatt, mut datt) =
                (vec![0.0f32; inp.len()], vec![0.0; n_map], vec![0.0; n_map]);
            attention_backward_cpu(
                &mut dinp,
                &mut dpreatt,
                &mut datt,
                &dout,
                &inp,
                &att,
                drop.as_deref(),
                mask,
                b,
                t,
                c,
                nh,
            );
            // The outputs start as garbage: all three are assigned, masked entries included.
            let dinp_gpu = gpu.upload("dinp", &rng.vec(dinp.len()));
            let dpreatt_gpu = gpu.upload("dpreatt", &rng.vec(n_map));
            let datt_gpu = gpu.upload("datt", &rng.vec(n_map));
            let dout_gpu = gpu.upload("dout", &dout);
            let inp_gpu = gpu.upload("inp", &inp);
            let att_gpu = gpu.upload("att", &att);
            let drop_gpu = drop.as_ref().map(|d| gpu.upload("dropout", d));
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
                drop_gpu.as_ref().map(View::all),
                mask,
                b,
                t,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what = format!(
                "attention_backward {mask:?} dropout={with_dropout} B={b} T={t} C={c} NH={nh}"
            );
            let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("read");
            assert_close(
                &read(&datt_gpu, n_map),
                &datt,
                1e-5,
                1e-4,
                &format!("{what} datt"),
            );
            assert_close(
                &read(&dpreatt_gpu, n_map),
                &dpreatt,
                1e-5,
                1e-4,
                &format!("{what} dpreatt"),
            );
            assert_close(
                &read(&dinp_gpu, dinp.len()),
                &dinp,
                1e-5,
                1e-4,
                &format!("{what} dinp"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("attention_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(31);
            for mask in [AttentionMask::Causal, AttentionMask::Bidirectional] {
                for with_dropout in [false, true] {
                    check_gpu(gpu, &mut rng, mask, with_dropout, 2, 7, 12, 3);
                }
            }
            check_gpu(gpu, &mut rng, AttentionMask::Causal, true, 1, 1, 4, 1);
            // T = 70 > WG: each invocation owns several keys of a row; 2C = 80 > WG: two dkv workgroups.
            check_gpu(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                false,
                1,
                70,
                40,
                2,
            );
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("attention_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(32);
            for _ in 0..8 {
                let nh = rng.range(1, 4);
                let hs = rng.range(1, 32);
                let (b, t) = (rng.range(1, 3), rng.range(1, 80));
                let mask = if rng.next_u64().is_multiple_of(2) {
                    AttentionMask::Causal
                } else {
                    AttentionMask::Bidirectional
                };
                let with_dropout = rng.next_u64().is_multiple_of(2);
                check_gpu(gpu, &mut rng, mask, with_dropout, b, t, nh * hs, nh);
            }
        }
    }
}
