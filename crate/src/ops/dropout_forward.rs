//! dropout_forward: during training, zero each value with probability p and scale the rest by 1/(1-p).
//!
//! Intuition: a unit cannot rely on any single other unit being present, so the model spreads what it
//! learns. The mask is an explicit output (0 or 1/(1-p) per value), kept for the backward pass.
//!
//! The random numbers are counter-based: value i of a call with seed s is decided by hash(hash(s) ^ i)
//! alone, using the PCG output permutation as a 32-bit hash (Jarzynski & Olano 2020, "Hash Functions for
//! GPU Rendering"). So the mask depends only on (seed, index): a GPU kernel computing the same hash gives
//! the same mask bit for bit, in any order, and a training run is reproducible from its seed.

use super::float::Float;

/// A 32-bit integer hash (the "pcg" hash): state step of a PCG generator, then its output permutation.
#[inline]
pub fn pcg_hash(input: u32) -> u32 {
    let state = input.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The uniform number in [0, 1) that decides value `index` of the call seeded with `seed` (24 bits).
#[inline]
pub fn dropout_uniform(seed: u32, index: u32) -> f32 {
    (pcg_hash(pcg_hash(seed) ^ index) >> 8) as f32 / (1u32 << 24) as f32
}

/// mask (N) = 0 where the uniform number is below p, else 1/(1-p). p = 0 gives a mask of ones.
pub fn dropout_mask_cpu<R: Float>(mask: &mut [R], p: f32, seed: u32, n: usize) {
    let keep = R::from_f64(1.0 / (1.0 - f64::from(p)));
    for (i, m) in mask[..n].iter_mut().enumerate() {
        *m = if dropout_uniform(seed, i as u32) < p {
            R::ZERO
        } else {
            keep
        };
    }
}

/// out (N) = inp (N) * mask (N), with mask (N) written by [`dropout_mask_cpu`] from (p, seed).
pub fn dropout_forward_cpu<R: Float>(
    out: &mut [R],
    mask: &mut [R],
    inp: &[R],
    p: f32,
    seed: u32,
    n: usize,
) {
    dropout_mask_cpu(mask, p, seed, n);
    for ((o, &x), &m) in out[..n].iter_mut().zip(&inp[..n]).zip(&mask[..n]) {
        *o = x * m;
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/dropout_forward.wgsl`.
    pub const DROPOUT_FORWARD_SHADER: &str = shader!("dropout_forward");

    /// Sizes and the random stream for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        seed: u32,
        p: f32,
        /// 1/(1-p), rounded to f32 from f64 exactly as `dropout_mask_cpu` does.
        keep: f32,
    }

    /// Invocations per workgroup (the `WG` override of the shader).
    const WG: u32 = 64;

    /// Adds the kernel to `plan`: mask (N) = 0 or 1/(1-p) from (p, seed), the same mask as
    /// [`dropout_mask_cpu`](super::dropout_mask_cpu) bit for bit;  out (N) = inp (N) * mask. Returns the dispatch's index in `plan`.
    #[allow(clippy::too_many_arguments)]
    pub fn dropout_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        mask: View,
        inp: View,
        p: f32,
        seed: u32,
        n: usize,
    ) -> usize {
        let kernel = gpu.kernel(
            "dropout_forward",
            DROPOUT_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: N, seed, p, keep
                Access::ReadWrite, // out (N)
                Access::ReadWrite, // mask (N)
                Access::Read,      // inp (N)
            ],
            &[("WG", f64::from(WG))],
        );
        let workgroups = gpu.grid_1d((n as u32).div_ceil(WG));
        plan.push(
            gpu,
            kernel,
            Some(&params(p, seed, n)),
            &[out, mask, inp],
            workgroups,
        )
    }

    fn params(p: f32, seed: u32, n: usize) -> Params {
        Params {
            n: n as u32,
            seed,
            p,
            keep: (1.0 / (1.0 - f64::from(p))) as f32,
        }
    }

    /// Gives dispatch `index` of `plan` (made by [`dropout_forward_gpu`]) a new seed: a training step's plan is
    /// built once, and each step draws new masks.
    pub fn dropout_forward_reseed(
        gpu: &GpuContext,
        plan: &Plan,
        index: usize,
        p: f32,
        seed: u32,
        n: usize,
    ) {
        plan.rewrite_params(gpu, index, &params(p, seed, n));
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::dropout_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        fn check(gpu: &GpuContext, rng: &mut TestRng, n: usize, p: f32, seed: u32) {
            let inp = rng.vec(n);
            let (mut out, mut mask) = (vec![0.0; n], vec![0.0; n]);
            dropout_forward_cpu(&mut out, &mut mask, &inp, p, seed, n);
            let out_buf = gpu.upload("out", &vec![f32::NAN; n]);
            let mask_buf = gpu.upload("mask", &vec![f32::NAN; n]);
            let inp_buf = gpu.upload("inp", &inp);
            let mut plan = Plan::new();
            dropout_forward_gpu(
                gpu,
                &mut plan,
                (&out_buf).into(),
                (&mask_buf).into(),
                (&inp_buf).into(),
                p,
                seed,
                n,
            );
            pollster::block_on(plan.run(gpu)).expect("dropout_forward dispatch");
            let what = format!("dropout_forward N={n} p={p} seed={seed}");
            // The same hash in the same integer arithmetic: the masks are equal bit for bit.
            let mask_gpu = pollster::block_on(gpu.read(&mask_buf, n)).expect("readback");
            assert_eq!(mask_gpu, mask, "{what}: mask");
            let out_gpu = pollster::block_on(gpu.read(&out_buf, n)).expect("readback");
            assert_close(&out_gpu, &out, 0.0, 0.0, &format!("{what}: out"));
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("dropout_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(81);
            check(gpu, &mut rng, 2 * 7 * 12, 0.1, 0);
            check(gpu, &mut rng, 2 * 7 * 12, 0.5, 42);
            check(gpu, &mut rng, 1, 0.3, 7);
            // p = 0 keeps everything; a seed with the top bit set exercises the full u32 range.
            check(gpu, &mut rng, 2 * 7 * 4 * 12, 0.0, u32::MAX);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes_and_seeds() {
            let Some(gpu) = gpu_or_skip("dropout_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(82);
            for _ in 0..8 {
                let (b, t, c) = (rng.range(1, 4), rng.range(1, 128), rng.range(1, 128));
                let p = rng.range(0, 90) as f32 / 100.0;
                let seed = rng.next_u64() as u32;
                check(gpu, &mut rng, b * t * c, p, seed);
            }
        }

        #[test]
        fn gpu_mask_has_the_right_rate() {
            let Some(gpu) = gpu_or_skip("dropout_forward rate") else {
                return;
            };
            // A mask that matched a broken CPU hash would still pass the tests above; check the rate too.
            let n = 100_000;
            let mut rng = TestRng::new(83);
            check(gpu, &mut rng, n, 0.2, 1234);
            let mut mask = vec![0.0f32; n];
            dropout_mask_cpu(&mut mask, 0.2, 1234, n);
            let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / n as f64;
            assert!((dropped - 0.2).abs() < 0.01, "dropped fraction {dropped}");
        }
    }
}
