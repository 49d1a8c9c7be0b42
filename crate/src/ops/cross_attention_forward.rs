//! cross_attention_forward: multi-head attention of one sequence's queries over another sequence's keys and
//! values (an encoder-decoder's cross-attention: the decoder asks, the encoder's output answers).
//!
//! Intuition: as in self-attention, each query position takes a softmax-weighted mix of the values, but the
//! queries come from the decoder (Tq positions) and the keys and values from the encoder (Tk positions), so
//! the maps are Tq x Tk and nothing is masked: every target position may look at the whole source.
//!
//! Layout: q (B, Tq, C) is the decoder's query projection; kv (B, Tk, 2C) holds the encoder's k and v side by
//! side per source position (PyTorch's `in_proj_weight` rows C..3C applied to the encoder's output); head h owns
//! channels h*hs..(h+1)*hs of each, hs = C / NH. Decoding one token is the same op with Tq = 1 over the cached
//! kv of the source, computed once.

use super::float::Float;
use crate::{Result, invalid_input};

/// out (B, Tq, C);  preatt (B, NH, Tq, Tk) = q.k / sqrt(hs);  att (B, NH, Tq, Tk) = softmax of preatt over
/// the Tk keys. `dropout` (B, NH, Tq, Tk), when given, multiplies att in the weighted sum of the values
/// (attention dropout; 0 or 1/(1-p)); `att` keeps the weights before dropout.
#[allow(clippy::too_many_arguments)]
pub fn cross_attention_forward_cpu<R: Float>(
    out: &mut [R],
    preatt: &mut [R],
    att: &mut [R],
    q: &[R],
    kv: &[R],
    dropout: Option<&[R]>,
    b: usize,
    tq: usize,
    tk: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let scale = R::ONE / R::from_usize(hs).sqrt();
    for bb in 0..b {
        for h in 0..nh {
            for i in 0..tq {
                let qi = &q[(bb * tq + i) * c + h * hs..][..hs];
                let row = ((bb * nh + h) * tq + i) * tk;
                let mut max = R::NEG_INFINITY;
                for j in 0..tk {
                    let k = &kv[(bb * tk + j) * 2 * c + h * hs..][..hs];
                    let score: R = qi.iter().zip(k).map(|(&a, &b)| a * b).sum();
                    preatt[row + j] = score * scale;
                    max = max.max(preatt[row + j]);
                }
                let mut sum = R::ZERO;
                for j in 0..tk {
                    let e = (preatt[row + j] - max).exp();
                    att[row + j] = e;
                    sum += e;
                }
                let inv = R::ONE / sum;
                for a in &mut att[row..row + tk] {
                    *a *= inv;
                }
                let o = &mut out[(bb * tq + i) * c + h * hs..][..hs];
                o.fill(R::ZERO);
                for j in 0..tk {
                    let weight = att[row + j] * dropout.map_or(R::ONE, |d| d[row + j]);
                    let v = &kv[(bb * tk + j) * 2 * c + c + h * hs..][..hs];
                    for (oi, &vi) in o.iter_mut().zip(v) {
                        *oi += weight * vi;
                    }
                }
            }
        }
    }
}

/// Checks the lengths of cross-attention's tensors against the sizes (forward or backward: `out` is out or
/// dout, `q` q or dq, `kv` kv or dkv, `map` preatt/att or their gradients), so a bad call is an error and
/// not a panic or a kernel reading out of bounds.
#[allow(clippy::too_many_arguments)]
pub fn check_shapes(
    out: usize,
    map: usize,
    q: usize,
    kv: usize,
    dropout: Option<usize>,
    b: usize,
    tq: usize,
    tk: usize,
    c: usize,
    nh: usize,
) -> Result<()> {
    if nh == 0 || !c.is_multiple_of(nh) {
        invalid_input!(
            "cross-attention: C = {c} channels do not split into NH = {nh} heads; choose NH dividing C"
        );
    }
    if tk == 0 {
        invalid_input!(
            "cross-attention: the source is empty (Tk = 0): there is nothing to attend to"
        );
    }
    if q != b * tq * c {
        invalid_input!("cross-attention: q has {q} values, expected B*Tq*C = {b}*{tq}*{c}");
    }
    if out != b * tq * c {
        invalid_input!("cross-attention: out has {out} values, expected B*Tq*C = {b}*{tq}*{c}");
    }
    if kv != b * tk * 2 * c {
        invalid_input!("cross-attention: kv has {kv} values, expected B*Tk*2C = {b}*{tk}*2*{c}");
    }
    let n_map = b * nh * tq * tk;
    if map != n_map {
        invalid_input!(
            "cross-attention: preatt/att have {map} values, expected B*NH*Tq*Tk = {n_map}"
        );
    }
    if let Some(dropout) = dropout
        && dropout != n_map
    {
        invalid_input!(
            "cross-attention: the dropout mask has {dropout} values, expected B*NH*Tq*Tk = {n_map}"
        );
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::attention_forward::attention_forward_cpu;
    use crate::ops::attention_mask::AttentionMask;
    use crate::ops::testing::TestRng;

    #[test]
    fn shape_mismatch_is_an_error() {
        let err = check_shapes(24, 30, 24, 40, None, 1, 2, 5, 12, 5).unwrap_err();
        assert!(err.to_string().contains("do not split"), "{err}");
        let err = check_shapes(24, 30, 24, 0, None, 1, 2, 0, 12, 3).unwrap_err();
        assert!(err.to_string().contains("source is empty"), "{err}");
        let err = check_shapes(24, 30, 24, 120, Some(7), 1, 2, 5, 12, 3).unwrap_err();
        assert!(err.to_string().contains("dropout mask has 7"), "{err}");
        check_shapes(24, 30, 24, 120, Some(30), 1, 2, 5, 12, 3).expect("consistent shapes");
    }

    /// With Tq = Tk and q, k, v of the same positions, cross-attention is bidirectional self-attention.
    #[test]
    fn equals_bidirectional_self_attention_when_q_and_kv_share_positions() {
        let (b, t, c, nh) = (2, 5, 8, 2);
        let mut rng = TestRng::new(61);
        let qkv = rng.vec_f64(b * t * 3 * c);
        let q: Vec<f64> = qkv.chunks(3 * c).flat_map(|r| r[..c].to_vec()).collect();
        let kv: Vec<f64> = qkv.chunks(3 * c).flat_map(|r| r[c..].to_vec()).collect();
        let n_map = b * nh * t * t;
        let (mut out, mut preatt, mut att) =
            (vec![0.0; b * t * c], vec![0.0; n_map], vec![0.0; n_map]);
        cross_attention_forward_cpu(
            &mut out,
            &mut preatt,
            &mut att,
            &q,
            &kv,
            None,
            b,
            t,
            t,
            c,
            nh,
        );
        let (mut out2, mut preatt2, mut att2) =
            (vec![0.0; b * t * c], vec![0.0; n_map], vec![0.0; n_map]);
        attention_forward_cpu(
            &mut out2,
            &mut preatt2,
            &mut att2,
            &qkv,
            None,
            AttentionMask::Bidirectional,
            b,
            t,
            c,
            nh,
        );
        for (x, y) in out.iter().zip(&out2).chain(att.iter().zip(&att2)) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernel's dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::attention_forward::ATTENTION_WG;

    /// The WGSL source, `shaders/cross_attention_forward.wgsl`.
    pub const CROSS_ATTENTION_FORWARD_SHADER: &str = shader!("cross_attention_forward");

    /// Sizes for the shaders; field for field the WGSL `Params` struct (include/cross_attention_params.wgsl).
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    pub(crate) struct CrossAttentionParams {
        pub b: u32,
        pub tq: u32,
        pub tk: u32,
        pub c: u32,
        pub nh: u32,
        pub has_dropout: u32,
        /// 1 / sqrt(hs), in f32 exactly as the CPU reference computes it.
        pub scale: f32,
        pub _pad: u32,
    }

    impl CrossAttentionParams {
        pub(crate) fn new(
            has_dropout: bool,
            b: usize,
            tq: usize,
            tk: usize,
            c: usize,
            nh: usize,
        ) -> Self {
            let hs = c / nh.max(1);
            Self {
                b: b as u32,
                tq: tq as u32,
                tk: tk as u32,
                c: c as u32,
                nh: nh as u32,
                has_dropout: u32::from(has_dropout),
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: 0,
            }
        }
    }

    /// Adds the kernel to `plan`: out (B, Tq, C), preatt and att (B, NH, Tq, Tk) from q (B, Tq, C) and
    /// kv (B, Tk, 2C), as [`cross_attention_forward_cpu`]. One workgroup per (b, h, query row).
    #[allow(clippy::too_many_arguments)]
    pub fn cross_attention_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        preatt: View,
        att: View,
        q: View,
        kv: View,
        dropout: Option<View>,
        b: usize,
        tq: usize,
        tk: usize,
        c: usize,
        nh: usize,
    ) {
        let kernel = gpu.kernel(
            "cross_attention_forward",
            CROSS_ATTENTION_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: B, Tq, Tk, C, NH, has_dropout, scale
                Access::ReadWrite, // out (B, Tq, C)
                Access::ReadWrite, // preatt (B, NH, Tq, Tk)
                Access::ReadWrite, // att (B, NH, Tq, Tk)
                Access::Read,      // q (B, Tq, C)
                Access::Read,      // kv (B, Tk, 2C)
                Access::Read,      // dropout (B, NH, Tq, Tk) or the placeholder
            ],
            &[("WG", f64::from(ATTENTION_WG))],
        );
        let params = CrossAttentionParams::new(dropout.is_some(), b, tq, tk, c, nh);
        let dropout = dropout.unwrap_or(View::all(gpu.placeholder()));
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, preatt, att, q, kv, dropout],
            [tq as u32, nh as u32, b as u32],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
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
            let (q, kv) = (rng.vec(b * tq * c), rng.vec(b * tk * 2 * c));
            let drop = with_dropout.then(|| dropout_mask(rng, n_map));
            check_shapes(
                b * tq * c,
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
                (vec![0.0; b * tq * c], vec![0.0; n_map], vec![0.0; n_map]);
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
            // Outputs start as garbage: every element must be written.
            let out_gpu = gpu.upload("out", &rng.vec(out.len()));
            let preatt_gpu = gpu.upload("preatt", &rng.vec(n_map));
            let att_gpu = gpu.upload("att", &rng.vec(n_map));
            let q_gpu = gpu.upload("q", &q);
            let kv_gpu = gpu.upload("kv", &kv);
            let drop_gpu = drop.as_ref().map(|d| gpu.upload("dropout", d));
            let mut plan = Plan::new();
            cross_attention_forward_gpu(
                gpu,
                &mut plan,
                (&out_gpu).into(),
                (&preatt_gpu).into(),
                (&att_gpu).into(),
                (&q_gpu).into(),
                (&kv_gpu).into(),
                drop_gpu.as_ref().map(View::all),
                b,
                tq,
                tk,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what = format!(
                "cross_attention_forward dropout={with_dropout} B={b} Tq={tq} Tk={tk} C={c} NH={nh}"
            );
            let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("read");
            assert_close(
                &read(&preatt_gpu, n_map),
                &preatt,
                1e-5,
                1e-4,
                &format!("{what} preatt"),
            );
            assert_close(
                &read(&att_gpu, n_map),
                &att,
                1e-5,
                1e-4,
                &format!("{what} att"),
            );
            assert_close(
                &read(&out_gpu, out.len()),
                &out,
                1e-5,
                1e-4,
                &format!("{what} out"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("cross_attention_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(62);
            for with_dropout in [false, true] {
                check(gpu, &mut rng, with_dropout, 2, 7, 11, 12, 3);
                check(gpu, &mut rng, with_dropout, 2, 11, 7, 12, 3);
            }
            // One query over one key; one decode step (Tq = 1); Tk = 70 > WG keys per row.
            check(gpu, &mut rng, false, 1, 1, 1, 4, 1);
            check(gpu, &mut rng, false, 1, 1, 9, 6, 2);
            check(gpu, &mut rng, true, 1, 3, 70, 8, 2);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("cross_attention_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(63);
            for _ in 0..6 {
                let nh = rng.range(1, 4);
                let hs = rng.range(1, 24);
                let (b, tq, tk) = (rng.range(1, 3), rng.range(1, 40), rng.range(1, 80));
                let with_dropout = rng.next_u64().is_multiple_of(2);
                check(gpu, &mut rng, with_dropout, b, tq, tk, nh * hs, nh);
            }
        }
    }
}
