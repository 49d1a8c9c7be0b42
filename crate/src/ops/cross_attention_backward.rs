//! cross_attention_backward: gradients of cross-attention back to the decoder's queries and the encoder's
//! packed keys and values.
//!
//! Intuition: as in self-attention's backward, but the two sides differ: each query row (Tq of them) gathers
//! its dq over the Tk keys, and each key row gathers its dk and dv over the Tq queries that looked at it.
//! Because every query sees every key, the softmax's correction term sum_j att[j] datt[j] is D = dout . out
//! per query row when there is no dropout (the forward's output is sum_j att[j] v[j]).
//!
//! All outputs are assigned: dq and dkv are activation gradients; dpreatt and datt are scratch buffers kept
//! explicit so the GPU splits the same steps into a per-query kernel and a per-key kernel without races.

use super::float::Float;

/// dq (B, Tq, C), dkv (B, Tk, 2C), dpreatt and datt (B, NH, Tq, Tk) from dout (B, Tq, C), the forward's
/// q (B, Tq, C), kv (B, Tk, 2C), att (B, NH, Tq, Tk) and the same dropout mask.
#[allow(clippy::too_many_arguments)]
pub fn cross_attention_backward_cpu<R: Float>(
    dq: &mut [R],
    dkv: &mut [R],
    dpreatt: &mut [R],
    datt: &mut [R],
    dout: &[R],
    q: &[R],
    kv: &[R],
    att: &[R],
    dropout: Option<&[R]>,
    b: usize,
    tq: usize,
    tk: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let scale = R::ONE / R::from_usize(hs).sqrt();
    dq[..b * tq * c].fill(R::ZERO);
    dkv[..b * tk * 2 * c].fill(R::ZERO);
    for bb in 0..b {
        for h in 0..nh {
            for i in 0..tq {
                let row = ((bb * nh + h) * tq + i) * tk;
                let g = &dout[(bb * tq + i) * c + h * hs..][..hs];
                // Through the weighted sum: out = sum_j (att * drop)[j] v[j].
                for j in 0..tk {
                    let drop = dropout.map_or(R::ONE, |d| d[row + j]);
                    let v_at = (bb * tk + j) * 2 * c + c + h * hs;
                    let mut d = R::ZERO;
                    for x in 0..hs {
                        d += g[x] * kv[v_at + x];
                        dkv[v_at + x] += att[row + j] * drop * g[x];
                    }
                    datt[row + j] = d * drop;
                }
                // Through the softmax: dpreatt = att * (datt - sum_j att[j] datt[j]).
                let weighted: R = (0..tk).map(|j| att[row + j] * datt[row + j]).sum();
                for j in 0..tk {
                    dpreatt[row + j] = att[row + j] * (datt[row + j] - weighted);
                }
                // Through the scores: preatt = q.k * scale.
                let q_at = (bb * tq + i) * c + h * hs;
                for j in 0..tk {
                    let k_at = (bb * tk + j) * 2 * c + h * hs;
                    let d = dpreatt[row + j] * scale;
                    for x in 0..hs {
                        dq[q_at + x] += d * kv[k_at + x];
                        dkv[k_at + x] += d * q[q_at + x];
                    }
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::cross_attention_forward::cross_attention_forward_cpu;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    fn check(with_dropout: bool, tq: usize, tk: usize) {
        // B=2, C=12, NH=3 (hs=4), Tq != Tk.
        let (b, c, nh) = (2, 12, 3);
        let mut rng = TestRng::new(64);
        let (q, kv, w) = (
            rng.vec_f64(b * tq * c),
            rng.vec_f64(b * tk * 2 * c),
            rng.vec_f64(b * tq * c),
        );
        let n_map = b * nh * tq * tk;
        let drop: Vec<f64> = (0..n_map)
            .map(|_| {
                if rng.uniform_f64() < -0.5 {
                    0.0
                } else {
                    1.0 / 0.75
                }
            })
            .collect();
        let drop = with_dropout.then_some(&drop[..]);
        let forward = |q: &[f64], kv: &[f64]| {
            let (mut out, mut preatt, mut att) =
                (vec![0.0; b * tq * c], vec![0.0; n_map], vec![0.0; n_map]);
            cross_attention_forward_cpu(
                &mut out,
                &mut preatt,
                &mut att,
                q,
                kv,
                drop,
                b,
                tq,
                tk,
                c,
                nh,
            );
            (out, att)
        };
        let (_, att) = forward(&q, &kv);
        let (mut dq, mut dkv, mut dpreatt, mut datt) = (
            vec![f64::NAN; q.len()],
            vec![f64::NAN; kv.len()],
            vec![f64::NAN; n_map],
            vec![f64::NAN; n_map],
        );
        cross_attention_backward_cpu(
            &mut dq,
            &mut dkv,
            &mut dpreatt,
            &mut datt,
            &w,
            &q,
            &kv,
            &att,
            drop,
            b,
            tq,
            tk,
            c,
            nh,
        );
        let what = format!("cross-attention dropout={with_dropout} Tq={tq} Tk={tk}");
        check_gradient(&format!("{what} dq"), &q, &dq, |x| {
            dot(&forward(x, &kv).0, &w)
        });
        check_gradient(&format!("{what} dkv"), &kv, &dkv, |x| {
            dot(&forward(&q, x).0, &w)
        });
    }

    #[test]
    fn gradients_match_finite_differences() {
        check(false, 5, 9);
        check(false, 9, 5);
        check(false, 1, 7);
    }

    #[test]
    fn gradients_match_finite_differences_with_dropout() {
        check(true, 6, 4);
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::attention_forward::ATTENTION_WG;
    use crate::ops::cross_attention_forward::CrossAttentionParams;

    /// The per-query-row kernel (datt, dpreatt, dq), `shaders/cross_attention_backward.wgsl`.
    pub const CROSS_ATTENTION_BACKWARD_SHADER: &str = shader!("cross_attention_backward");

    /// The per-key kernel (dk, dv), `shaders/cross_attention_backward_dkv.wgsl`.
    pub const CROSS_ATTENTION_BACKWARD_DKV_SHADER: &str = shader!("cross_attention_backward_dkv");

    /// Adds the two kernels to `plan`: dq (B, Tq, C), dkv (B, Tk, 2C), dpreatt and datt (B, NH, Tq, Tk) from
    /// dout (B, Tq, C), q, kv and att, as [`super::cross_attention_backward_cpu`] (all assigned). The first
    /// owns query rows, the second key elements (gathering over the Tq rows), so no two invocations write the
    /// same element. Check the lengths with [`crate::ops::cross_attention_forward::check_shapes`].
    #[allow(clippy::too_many_arguments)]
    pub fn cross_attention_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dq: View,
        dkv: View,
        dpreatt: View,
        datt: View,
        dout: View,
        q: View,
        kv: View,
        att: View,
        dropout: Option<View>,
        b: usize,
        tq: usize,
        tk: usize,
        c: usize,
        nh: usize,
    ) {
        let params = CrossAttentionParams::new(dropout.is_some(), b, tq, tk, c, nh);
        let dropout = dropout.unwrap_or(View::all(gpu.placeholder()));
        let rows = gpu.kernel(
            "cross_attention_backward",
            CROSS_ATTENTION_BACKWARD_SHADER,
            &[
                Access::Uniform,   // params: B, Tq, Tk, C, NH, has_dropout, scale
                Access::ReadWrite, // dq (B, Tq, C)
                Access::ReadWrite, // dpreatt (B, NH, Tq, Tk)
                Access::ReadWrite, // datt (B, NH, Tq, Tk)
                Access::Read,      // dout (B, Tq, C)
                Access::Read,      // kv (B, Tk, 2C)
                Access::Read,      // att (B, NH, Tq, Tk)
                Access::Read,      // dropout (B, NH, Tq, Tk) or the placeholder
            ],
            &[("WG", f64::from(ATTENTION_WG))],
        );
        plan.push(
            gpu,
            rows,
            Some(&params),
            &[dq, dpreatt, datt, dout, kv, att, dropout],
            [tq as u32, nh as u32, b as u32],
        );
        let keys = gpu.kernel(
            "cross_attention_backward_dkv",
            CROSS_ATTENTION_BACKWARD_DKV_SHADER,
            &[
                Access::Uniform,   // params: B, Tq, Tk, C, NH, has_dropout, scale
                Access::ReadWrite, // dkv (B, Tk, 2C)
                Access::Read,      // dpreatt (B, NH, Tq, Tk)
                Access::Read,      // dout (B, Tq, C)
                Access::Read,      // q (B, Tq, C)
                Access::Read,      // att (B, NH, Tq, Tk)
                Access::Read,      // dropout (B, NH, Tq, Tk) or the placeholder
            ],
            &[("WG", f64::from(ATTENTION_WG))],
        );
        plan.push(
            gpu,
            keys,
            Some(&params),
            &[dkv, dpreatt, dout, q, att, dropout],
            [(2 * c as u32).div_ceil(ATTENTION_WG), tk as u32, b as u32],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::cross_attention_backward::cross_attention_backward_cpu;
        use crate::ops::cross_attention_forward::{check_shapes, cross_attention_forward_cpu};
        use crate::ops::testing::{TestRng, assert_close};

        /// A dropout mask of 0 and 1/(1-p) with p = 0.25.
        fn dropout_mask(rng: &mut TestRng, n: usize) -> Vec<f32> {
            (0..n)
                .map(|_| {
                    if rng.uniform() < -0.5 {
                        0.0
                    } else {
                        1.0 / 0.75
                    }
                })
                .collect()
        }

        #[allow(clippy::too_many_arguments)]
        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            with_dropout: bool,
            b: usize,
            tq: usize,
            tk: usize,
            c: usize,
            nh: usize,
        ) {
            let n_map = b * nh * tq * tk;
            let (q, kv, dout) = (
                rng.vec(b * tq * c),
                rng.vec(b * tk * 2 * c),
                rng.vec(b * tq * c),
            );
            let drop = with_dropout.then(|| dropout_mask(rng, n_map));
            check_shapes(
                dout.len(),
                n_map,
                q.len(),
                kv.len(),
                drop.as_ref().map(Vec::len),
                b,
                tq,
                tk,
                c,
                nh,
            )
            .expect("shapes");
            let (mut out, mut preatt, mut att) =
                (vec![0.0f32; b * tq * c], vec![0.0; n_map], vec![0.0; n_map]);
            cross_attention_forward_cpu(
                &mut out,
                &mut preatt,
                &mut att,
                &q,
                &kv,
                drop.as_deref(),
                b,
                tq,
                tk,
                c,
                nh,
            );
            let (mut dq, mut dkv, mut dpreatt, mut datt) = (
                vec![0.0f32; q.len()],
                vec![0.0; kv.len()],
                vec![0.0; n_map],
                vec![0.0; n_map],
            );
            cross_attention_backward_cpu(
                &mut dq,
                &mut dkv,
                &mut dpreatt,
                &mut datt,
                &dout,
                &q,
                &kv,
                &att,
                drop.as_deref(),
                b,
                tq,
                tk,
                c,
                nh,
            );
            // Outputs start as garbage: all four are assigned.
            let dq_gpu = gpu.upload("dq", &rng.vec(dq.len()));
            let dkv_gpu = gpu.upload("dkv", &rng.vec(dkv.len()));
            let dpreatt_gpu = gpu.upload("dpreatt", &rng.vec(n_map));
            let datt_gpu = gpu.upload("datt", &rng.vec(n_map));
            let dout_gpu = gpu.upload("dout", &dout);
            let q_gpu = gpu.upload("q", &q);
            let kv_gpu = gpu.upload("kv", &kv);
            let att_gpu = gpu.upload("att", &att);
            let drop_gpu = drop.as_ref().map(|d| gpu.upload("dropout", d));
            let mut plan = Plan::new();
            cross_attention_backward_gpu(
                gpu,
                &mut plan,
                (&dq_gpu).into(),
                (&dkv_gpu).into(),
                (&dpreatt_gpu).into(),
                (&datt_gpu).into(),
                (&dout_gpu).into(),
                (&q_gpu).into(),
                (&kv_gpu).into(),
                (&att_gpu).into(),
                drop_gpu.as_ref().map(View::all),
                b,
                tq,
                tk,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what = format!(
                "cross_attention_backward dropout={with_dropout} B={b} Tq={tq} Tk={tk} C={c} NH={nh}"
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
                &read(&dq_gpu, dq.len()),
                &dq,
                1e-5,
                1e-4,
                &format!("{what} dq"),
            );
            assert_close(
                &read(&dkv_gpu, dkv.len()),
                &dkv,
                1e-5,
                1e-4,
                &format!("{what} dkv"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("cross_attention_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(65);
            for with_dropout in [false, true] {
                check(gpu, &mut rng, with_dropout, 2, 7, 11, 12, 3);
                check(gpu, &mut rng, with_dropout, 2, 11, 7, 12, 3);
            }
            check(gpu, &mut rng, false, 1, 1, 1, 4, 1);
            // 2C = 80 > WG channels per key row; Tk = 70 > WG keys per query row.
            check(gpu, &mut rng, true, 1, 3, 70, 40, 2);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("cross_attention_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(66);
            for _ in 0..6 {
                let nh = rng.range(1, 4);
                let hs = rng.range(1, 24);
                let (b, tq, tk) = (rng.range(1, 3), rng.range(1, 40), rng.range(1, 60));
                let with_dropout = rng.next_u64().is_multiple_of(2);
                check(gpu, &mut rng, with_dropout, b, tq, tk, nh * hs, nh);
            }
        }
    }
}
