//! attention_forward: multi-head self-attention over a fused qkv buffer, as in llm.c.
//!
//! Intuition: each position asks a question (query), every visible position offers a label (key) and
//! a content (value); the softmax of question.label / sqrt(hs) says how much of each content to take.
//!
//! Layout: inp (B, T, 3C) holds q, k, v side by side per position (nanoGPT's `c_attn` output order);
//! head h owns channels h*hs..(h+1)*hs of each, hs = C / NH. The output concatenates the heads again.
//! The mask is a parameter: `Causal` (decoder: position t sees 0..=t) or `Bidirectional` (encoder: sees all).

use super::attention_mask::AttentionMask;
use super::float::Float;
use crate::{Result, invalid_input};

/// out (B, T, C);  preatt (B, NH, T, T) = q.k / sqrt(hs) on visible entries;  att (B, NH, T, T) = softmax
/// of preatt over the visible keys. Masked entries of preatt and att hold 0.
/// `dropout` (B, NH, T, T), when given, multiplies att before the weighted sum of the values (attention
/// dropout; the mask holds 0 or 1/(1-p), see `dropout_forward`); `att` keeps the weights before dropout.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_cpu<R: Float>(
    out: &mut [R],
    preatt: &mut [R],
    att: &mut [R],
    inp: &[R],
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
    for bb in 0..b {
        for h in 0..nh {
            for tq in 0..t {
                let q = &inp[(bb * t + tq) * c3 + h * hs..][..hs];
                let row = ((bb * nh + h) * t + tq) * t;
                let visible = mask.visible(tq, t);
                let preatt_row = &mut preatt[row..row + t];
                let mut max = R::NEG_INFINITY;
                for (tk, p) in preatt_row.iter_mut().enumerate() {
                    if tk < visible {
                        let k = &inp[(bb * t + tk) * c3 + c + h * hs..][..hs];
                        let score: R = q.iter().zip(k).map(|(&a, &b)| a * b).sum();
                        *p = score * scale;
                        max = max.max(*p);
                    } else {
                        *p = R::ZERO;
                    }
                }
                let att_row = &mut att[row..row + t];
                let mut sum = R::ZERO;
                for tk in 0..t {
                    att_row[tk] = if tk < visible {
                        let e = (preatt_row[tk] - max).exp();
                        sum += e;
                        e
                    } else {
                        R::ZERO
                    };
                }
                let inv = R::ONE / sum;
                for a in att_row.iter_mut() {
                    *a *= inv;
                }
                let o = &mut out[(bb * t + tq) * c + h * hs..][..hs];
                o.fill(R::ZERO);
                for tk in 0..visible {
                    let weight = att_row[tk] * dropout.map_or(R::ONE, |d| d[row + tk]);
                    let v = &inp[(bb * t + tk) * c3 + 2 * c + h * hs..][..hs];
                    for (oi, &vi) in o.iter_mut().zip(v) {
                        *oi += weight * vi;
                    }
                }
            }
        }
    }
}

/// Checks the lengths of attention's tensors against the sizes, so a bad call is an error and not a panic
/// or a kernel reading out of bounds. `qkv` is the length of inp (or dinp), `map` of preatt/att (or their
/// gradients), `act` of out (or dout), `dropout` of the optional mask.
#[allow(clippy::too_many_arguments)]
pub fn check_shapes(
    act: usize,
    map: usize,
    qkv: usize,
    dropout: Option<usize>,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) -> Result<()> {
    if nh == 0 || !c.is_multiple_of(nh) {
        invalid_input!(
            "attention: C = {c} channels do not split into NH = {nh} heads; choose NH dividing C"
        );
    }
    if qkv != b * t * 3 * c {
        invalid_input!("attention: qkv has {qkv} values, expected B*T*3C = {b}*{t}*3*{c}");
    }
    if act != b * t * c {
        invalid_input!("attention: out has {act} values, expected B*T*C = {b}*{t}*{c}");
    }
    let n_map = b * nh * t * t;
    if map != n_map {
        invalid_input!("attention: preatt/att have {map} values, expected B*NH*T*T = {n_map}");
    }
    if let Some(dropout) = dropout
        && dropout != n_map
    {
        invalid_input!(
            "attention: the dropout mask has {dropout} values, expected B*NH*T*T = {n_map}"
        );
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn shape_mismatch_is_an_error() {
        let err = check_shapes(24, 2 * 3 * 49, 2 * 7 * 36, None, 2, 7, 12, 5).unwrap_err();
        assert!(err.to_string().contains("do not split"), "{err}");
        let err =
            check_shapes(2 * 7 * 12, 2 * 3 * 49, 2 * 7 * 36, Some(5), 2, 7, 12, 3).unwrap_err();
        assert!(err.to_string().contains("dropout mask has 5"), "{err}");
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/attention_forward.wgsl`.
    pub const ATTENTION_FORWARD_SHADER: &str = shader!("attention_forward");

    /// Invocations per workgroup of the attention kernels (a power of two: their reductions halve it).
    pub(crate) const ATTENTION_WG: u32 = 64;

    /// Sizes for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    pub(crate) struct AttentionParams {
        pub b: u32,
        pub t: u32,
        pub c: u32,
        pub nh: u32,
        pub causal: u32,
        pub has_dropout: u32,
        /// 1 / sqrt(hs), in f32 exactly as the CPU reference computes it.
        pub scale: f32,
        pub _pad: u32,
    }

    impl AttentionParams {
        pub(crate) fn new(
            mask: AttentionMask,
            has_dropout: bool,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) -> Self {
            let hs = c / nh.max(1);
            Self {
                b: b as u32,
                t: t as u32,
                c: c as u32,
                nh: nh as u32,
                causal: u32::from(mask == AttentionMask::Causal),
                has_dropout: u32::from(has_dropout),
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: 0,
            }
        }
    }

    /// Adds the kernel to `plan`: out (B, T, C), preatt (B, NH, T, T), att (B, NH, T, T) from inp (B, T, 3C),
    /// as [`attention_forward_cpu`]. One dispatch, all heads: one workgroup per (b, h, query row).
    #[allow(clippy::too_many_arguments)]
    pub fn attention_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        preatt: View,
        att: View,
        inp: View,
        dropout: Option<View>,
        mask: AttentionMask,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) {
        let kernel = gpu.kernel(
            "attention_forward",
            ATTENTION_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: B, T, C, NH, causal, has_dropout, scale
                Access::ReadWrite, // out (B, T, C)
                Access::ReadWrite, // preatt (B, NH, T, T)
                Access::ReadWrite, // att (B, NH, T, T)
                Access::Read,      // inp (B, T, 3C)
                Access::Read,      // dropout (B, NH, T, T) or the placeholder
            ],
            &[("WG", f64::from(ATTENTION_WG))],
        );
        let params = AttentionParams::new(mask, dropout.is_some(), b, t, c, nh);
        let dropout = dropout.unwrap_or(View::all(gpu.placeholder()));
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, preatt, att, inp, dropout],
            [t as u32, nh as u32, b as u32],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::testing::{TestRng, assert_close};

        /// A dropout mask of 0 and 1/(1-p) with p = 0.25.
        pub(crate) fn dropout_mask(rng: &mut TestRng, n: usize) -> Vec<f32> {
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
            mask: AttentionMask,
            with_dropout: bool,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) {
            let n_map = b * nh * t * t;
            let inp = rng.vec(b * t * 3 * c);
            let drop = with_dropout.then(|| dropout_mask(rng, n_map));
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
                (vec![0.0; b * t * c], vec![0.0; n_map], vec![0.0; n_map]);
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
            // Start the outputs with garbage: every element must be written, masked ones included.
            let out_gpu = gpu.upload("out", &rng.vec(out.len()));
            let preatt_gpu = gpu.upload("preatt", &rng.vec(n_map));
            let att_gpu = gpu.upload("att", &rng.vec(n_map));
            let inp_gpu = gpu.upload("inp", &inp);
            let drop_gpu = drop.as_ref().map(|d| gpu.upload("dropout", d));
            let mut plan = Plan::new();
            attention_forward_gpu(
                gpu,
                &mut plan,
                (&out_gpu).into(),
                (&preatt_gpu).into(),
                (&att_gpu).into(),
                (&inp_gpu).into(),
                drop_gpu.as_ref().map(View::all),
                mask,
                b,
                t,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what = format!(
                "attention_forward {mask:?} dropout={with_dropout} B={b} T={t} C={c} NH={nh}"
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
            let Some(gpu) = gpu_or_skip("attention_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(21);
            for mask in [AttentionMask::Causal, AttentionMask::Bidirectional] {
                for with_dropout in [false, true] {
                    check(gpu, &mut rng, mask, with_dropout, 2, 7, 12, 3);
                }
            }
            // One position; and T = 70 > WG, so each invocation owns several keys of a row.
            check(gpu, &mut rng, AttentionMask::Causal, false, 1, 1, 4, 1);
            check(
                gpu,
                &mut rng,
                AttentionMask::Bidirectional,
                true,
                1,
                70,
                8,
                2,
            );
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("attention_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(22);
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
                check(gpu, &mut rng, mask, with_dropout, b, t, nh * hs, nh);
            }
        }
    }
}
