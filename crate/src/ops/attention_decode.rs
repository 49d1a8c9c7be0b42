//! attention_decode: one new position attending over a KV cache, the inner step of generation.
//!
//! Intuition: when a sequence grows by one token, only the new query is new; the keys and values of the earlier
//! positions were computed before. Keeping them in a cache turns each generated token's attention from a
//! T x T map into one row of T scores.

use super::float::Float;

/// Appends the new position's k and v (from qkv (3C)) at row `len - 1` of k_cache and v_cache (Tmax, C), then for
/// each head h: att[h, 0..len] = softmax(q_h . k_h[t] * scale over t < len) into att (NH, Tmax), and
/// out (C)[head h] = sum_t att[h, t] v_h[t]. scale = 1/sqrt(hs), hs = C / NH.
#[allow(clippy::too_many_arguments)]
pub fn attention_decode_cpu<R: Float>(
    out: &mut [R],
    att: &mut [R],
    k_cache: &mut [R],
    v_cache: &mut [R],
    qkv: &[R],
    len: usize,
    t_max: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let scale = R::ONE / R::from_usize(hs).sqrt();
    let new_row = (len - 1) * c;
    k_cache[new_row..new_row + c].copy_from_slice(&qkv[c..2 * c]);
    v_cache[new_row..new_row + c].copy_from_slice(&qkv[2 * c..3 * c]);
    for h in 0..nh {
        let q = &qkv[h * hs..(h + 1) * hs];
        let weights = &mut att[h * t_max..h * t_max + len];
        let mut max = R::NEG_INFINITY;
        for (t, w) in weights.iter_mut().enumerate() {
            let k = &k_cache[t * c + h * hs..t * c + (h + 1) * hs];
            *w = q.iter().zip(k).map(|(&a, &b)| a * b).sum::<R>() * scale;
            max = max.max(*w);
        }
        let mut sum = R::ZERO;
        for w in weights.iter_mut() {
            *w = (*w - max).exp();
            sum += *w;
        }
        for w in weights.iter_mut() {
            *w /= sum;
        }
        // Row by row of the cache (contiguous reads); each output still sums over t in order.
        let out_h = &mut out[h * hs..(h + 1) * hs];
        out_h.fill(R::ZERO);
        for (t, &w) in weights.iter().enumerate() {
            let v = &v_cache[t * c + h * hs..t * c + (h + 1) * hs];
            for (o, &x) in out_h.iter_mut().zip(v) {
                *o += w * x;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn cpu_reference_weights_sum_to_one_and_attend_to_the_matching_key() {
        // One head, C = 2: the new query equals the key of position 0, far from position 1's.
        let (c, nh, t_max) = (2, 1, 3);
        let mut k_cache = vec![10.0, 0.0, -10.0, 0.0, 0.0, 0.0];
        let mut v_cache = vec![1.0, 2.0, 3.0, 4.0, 0.0, 0.0];
        let qkv = [10.0, 0.0, 0.0, 10.0, 5.0, 6.0]; // q, k, v of position 2
        let (mut att, mut out) = (vec![0.0f64; 3], vec![0.0f64; 2]);
        attention_decode_cpu(
            &mut out,
            &mut att,
            &mut k_cache,
            &mut v_cache,
            &qkv,
            3,
            t_max,
            c,
            nh,
        );
        assert!((att.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(att[0] > 0.999, "{att:?}");
        assert!(
            (out[0] - 1.0).abs() < 1e-3 && (out[1] - 2.0).abs() < 1e-3,
            "{out:?}"
        );
        assert_eq!(&k_cache[4..], &[0.0, 10.0]);
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/attention_decode.wgsl`.
    pub const ATTENTION_DECODE_SHADER: &str = shader!("attention_decode");

    /// Invocations per workgroup (the `WG` override of the shader).
    const WG: u32 = 64;

    /// Sizes for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        c: u32,
        nh: u32,
        len: u32,
        t_max: u32,
        scale: f32,
        has_att: u32,
        _pad: [u32; 2],
    }

    /// Adds the kernel to `plan`, as [`attention_decode_cpu`](super::attention_decode_cpu): one workgroup per head, an online softmax over
    /// tiles of the cache (no array of `len` scores anywhere). `att` (NH, Tmax), when given, receives the weights
    /// for inspection (recomputed after the pass); generation leaves it out.
    #[allow(clippy::too_many_arguments)]
    pub fn attention_decode_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        att: Option<View>,
        k_cache: View,
        v_cache: View,
        qkv: View,
        len: usize,
        t_max: usize,
        c: usize,
        nh: usize,
    ) {
        let kernel = gpu.kernel(
            "attention_decode",
            ATTENTION_DECODE_SHADER,
            &[
                Access::Uniform,   // params: C, NH, len, Tmax, scale
                Access::ReadWrite, // out (C)
                Access::ReadWrite, // att (NH, Tmax) or the placeholder
                Access::ReadWrite, // k_cache (Tmax, C): row len-1 appended
                Access::ReadWrite, // v_cache (Tmax, C): row len-1 appended
                Access::Read,      // qkv (3C)
            ],
            &[("WG", f64::from(WG))],
        );
        let hs = c / nh;
        let params = Params {
            c: c as u32,
            nh: nh as u32,
            len: len as u32,
            t_max: t_max as u32,
            scale: 1.0 / (hs as f32).sqrt(),
            has_att: u32::from(att.is_some()),
            _pad: [0; 2],
        };
        let att = att.unwrap_or(View::all(gpu.placeholder()));
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, att, k_cache, v_cache, qkv],
            [nh as u32, 1, 1],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::attention_decode::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            len: usize,
            t_max: usize,
            c: usize,
            nh: usize,
        ) {
            check_with(gpu, rng, len, t_max, c, nh, true);
            check_with(gpu, rng, len, t_max, c, nh, false);
        }

        /// `with_att`: ask for the weights (inspection) or not (generation).
        fn check_with(
            gpu: &GpuContext,
            rng: &mut TestRng,
            len: usize,
            t_max: usize,
            c: usize,
            nh: usize,
            with_att: bool,
        ) {
            let what =
                format!("attention_decode len={len} Tmax={t_max} C={c} NH={nh} att={with_att}");
            let qkv = rng.vec(3 * c);
            // Rows past len - 1 hold garbage the kernel must not read.
            let (mut k_cache, mut v_cache) = (rng.vec(t_max * c), rng.vec(t_max * c));
            let mut att = vec![0.0; nh * t_max];
            let mut out = vec![0.0; c];
            let (k_gpu, v_gpu) = (gpu.upload("k", &k_cache), gpu.upload("v", &v_cache));
            attention_decode_cpu(
                &mut out,
                &mut att,
                &mut k_cache,
                &mut v_cache,
                &qkv,
                len,
                t_max,
                c,
                nh,
            );
            let out_gpu = gpu.upload("out", &vec![f32::NAN; c]);
            let att_gpu = gpu.upload("att", &vec![0.0; nh * t_max]);
            let qkv_gpu = gpu.upload("qkv", &qkv);
            let mut plan = Plan::new();
            let all = View::all;
            attention_decode_gpu(
                gpu,
                &mut plan,
                all(&out_gpu),
                with_att.then(|| all(&att_gpu)),
                all(&k_gpu),
                all(&v_gpu),
                all(&qkv_gpu),
                len,
                t_max,
                c,
                nh,
            );
            pollster::block_on(plan.run(gpu)).expect("dispatch");
            let read = |b, n| pollster::block_on(gpu.read(b, n)).expect("readback");
            assert_close(
                &read(&out_gpu, c),
                &out,
                1e-5,
                1e-4,
                &format!("{what}: out"),
            );
            if with_att {
                assert_close(
                    &read(&att_gpu, nh * t_max),
                    &att,
                    1e-6,
                    1e-4,
                    &format!("{what}: att"),
                );
            } else {
                assert!(
                    read(&att_gpu, nh * t_max).iter().all(|&a| a == 0.0),
                    "{what}: att untouched when not asked for"
                );
            }
            assert_eq!(
                read(&k_gpu, t_max * c),
                k_cache,
                "{what}: k appended at row len - 1, nothing else touched"
            );
            assert_eq!(
                read(&v_gpu, t_max * c),
                v_cache,
                "{what}: v appended at row len - 1, nothing else touched"
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("attention_decode awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(21);
            for len in 1..=7 {
                check(gpu, &mut rng, len, 7, 12, 3);
            }
            // More positions than invocations in a workgroup: several tiles, a ragged last one; and a head larger
            // than the workgroup (hs = 80: invocations own two output channels).
            check(gpu, &mut rng, 70, 80, 12, 3);
            check(gpu, &mut rng, 130, 130, 160, 2);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("attention_decode random shapes") else {
                return;
            };
            let mut rng = TestRng::new(22);
            for _ in 0..8 {
                let nh = rng.range(1, 4);
                let c = nh * rng.range(1, 32);
                let t_max = rng.range(1, 100);
                let len = rng.range(1, t_max);
                check(gpu, &mut rng, len, t_max, c, nh);
            }
        }
    }
}
