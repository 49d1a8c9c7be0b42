//! global_norm: the L2 norm of all gradients together, and clipping by it.
//!
//! Intuition: when one step's gradient is unusually large, shrink the whole step (not each tensor
//! separately), so its direction is kept and a single bad batch cannot throw the weights far away.

use super::float::Float;

/// Invocations per workgroup of both kernels, and the most stage-0 workgroups (so the length the `partials`
/// scratch view must have): stage 1 is a single workgroup with one invocation per partial.
pub const GLOBAL_NORM_PARTIALS: usize = 256;

/// sqrt(sum of squares) of grads (N), accumulated in f64 so the result does not depend on the length.
pub fn global_norm_cpu<R: Float>(grads: &[R]) -> f64 {
    grads
        .iter()
        .map(|g| g.to_f64() * g.to_f64())
        .sum::<f64>()
        .sqrt()
}

/// Scales grads (N) by max_norm / norm when the global norm exceeds max_norm (as PyTorch's
/// `clip_grad_norm_`). Returns the norm before clipping; a non-finite norm is returned untouched, for the
/// caller to report.
pub fn clip_by_global_norm_cpu<R: Float>(grads: &mut [R], max_norm: f64) -> f64 {
    let norm = global_norm_cpu(grads);
    if norm.is_finite() && norm > max_norm {
        let scale = R::from_f64(max_norm / (norm + 1e-6));
        for g in grads.iter_mut() {
            *g *= scale;
        }
    }
    norm
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn clips_only_above_the_threshold() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_by_global_norm_cpu(&mut g, 10.0), 5.0);
        assert_eq!(g, [3.0, 4.0]);
        assert_eq!(clip_by_global_norm_cpu(&mut g, 1.0), 5.0);
        assert!(
            (g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6,
            "{g:?}"
        );
        assert!((global_norm_cpu(&g) - 1.0).abs() < 1e-6);
        let mut bad = vec![1.0f32, f32::NAN];
        assert!(clip_by_global_norm_cpu(&mut bad, 1.0).is_nan());
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// `shaders/global_norm.wgsl`: sum of squares in two stages (override `STAGE`), the norm left on the GPU.
    pub const GLOBAL_NORM_SHADER: &str = shader!("global_norm");

    /// `shaders/clip_by_global_norm.wgsl`: scales the gradients by min(1, max_norm / norm) read on the GPU.
    pub const CLIP_BY_GLOBAL_NORM_SHADER: &str = shader!("clip_by_global_norm");

    const WG: u32 = GLOBAL_NORM_PARTIALS as u32;

    /// Elements each stage-0 invocation sums at least before more workgroups are used (keeps tiny inputs to one).
    const PER_INVOCATION: u32 = 4;

    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct NormParams {
        n: u32,
        num_groups: u32,
        /// 0: stage 0 writes the partials; 1: it adds to them (the pieces after the first).
        accumulate: u32,
        _pad: u32,
    }

    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct ClipParams {
        n: u32,
        max_norm: f32,
        _pad: [u32; 2],
    }

    /// Workgroup counts for one invocation per element, spread over x and y so that no dimension exceeds
    /// the WebGPU minimum of 65535 (the shaders rebuild the flat index from `num_workgroups`).
    pub(crate) fn flat_workgroups(n: usize, wg: u32) -> [u32; 3] {
        let groups = (n as u32).div_ceil(wg).max(1);
        let x = groups.min(65535);
        [x, groups.div_ceil(x), 1]
    }

    /// Adds the norm to `plan`: norm[0] = sqrt(sum of (grads (N) * norm[1]) squared), as [`global_norm_cpu`] but in
    /// f32 and left on the GPU. `norm` holds 2 floats: the result and 1 / the loss scale (1.0 without loss
    /// scaling; the trainer writes it each step), by which each gradient is unscaled before it is squared.
    /// `partials` is scratch of [`GLOBAL_NORM_PARTIALS`] floats. Two dispatches: partial sums of
    /// squares per workgroup, then one workgroup combining them (see the shader).
    pub fn global_norm_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        norm: View,
        partials: View,
        grads: View,
        n: usize,
    ) {
        let grads = View {
            len: n.max(1) as u64,
            ..grads
        };
        global_norm_pieces_gpu(gpu, plan, norm, partials, &[grads]);
    }

    /// [`global_norm_gpu`] of gradients bound in `pieces` (views of at most one storage binding each, together
    /// the whole gradient: a model whose parameters exceed one binding): each piece's stage 0 adds its sums of
    /// squares to the same partials (the first piece writes them), then one stage 1 takes the square root.
    pub fn global_norm_pieces_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        norm: View,
        partials: View,
        pieces: &[View],
    ) {
        let longest = pieces.iter().map(|p| p.len).max().unwrap_or(1) as u32;
        // The same workgroups for every piece, so that each adds to the partials the first one wrote.
        let num_groups = longest
            .div_ceil(WG * PER_INVOCATION)
            .clamp(1, GLOBAL_NORM_PARTIALS as u32);
        let kernel = |stage: u32| {
            gpu.kernel(
                "global_norm",
                GLOBAL_NORM_SHADER,
                &[
                    Access::Uniform,   // params: N, num_groups, accumulate
                    Access::ReadWrite, // norm (2): the result, 1 / loss scale
                    Access::ReadWrite, // partials (GLOBAL_NORM_PARTIALS)
                    Access::Read,      // grads (N)
                ],
                &[("WG", f64::from(WG)), ("STAGE", f64::from(stage))],
            )
        };
        for (i, &piece) in pieces.iter().enumerate() {
            let params = NormParams {
                n: piece.len as u32,
                num_groups,
                accumulate: u32::from(i > 0),
                _pad: 0,
            };
            plan.push(
                gpu,
                kernel(0),
                Some(&params),
                &[norm, partials, piece],
                [num_groups, 1, 1],
            );
        }
        let params = NormParams {
            n: longest,
            num_groups,
            accumulate: 0,
            _pad: 0,
        };
        plan.push(
            gpu,
            kernel(1),
            Some(&params),
            &[norm, partials, pieces[0]],
            [1, 1, 1],
        );
    }

    /// Adds clipping to `plan`, as [`clip_by_global_norm_cpu`]: computes norm (2) with [`global_norm_gpu`]
    /// (`partials` is its scratch), then scales grads (N) by max_norm / (norm + 1e-6) when norm > max_norm,
    /// reading the norm on the GPU: nothing is read back in the middle of a step. The norm before clipping
    /// stays in `norm` for the trainer to read with the step's other results.
    pub fn clip_by_global_norm_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        grads: View,
        norm: View,
        partials: View,
        max_norm: f32,
        n: usize,
    ) {
        let grads = View {
            len: n.max(1) as u64,
            ..grads
        };
        clip_by_global_norm_pieces_gpu(gpu, plan, &[grads], norm, partials, max_norm);
    }

    /// [`clip_by_global_norm_gpu`] of gradients bound in `pieces` (see [`global_norm_pieces_gpu`]): the norm
    /// over all of them, then each piece clipped by it.
    pub fn clip_by_global_norm_pieces_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        pieces: &[View],
        norm: View,
        partials: View,
        max_norm: f32,
    ) {
        global_norm_pieces_gpu(gpu, plan, norm, partials, pieces);
        let kernel = gpu.kernel(
            "clip_by_global_norm",
            CLIP_BY_GLOBAL_NORM_SHADER,
            &[
                Access::Uniform,   // params: N, max_norm
                Access::ReadWrite, // grads (N)
                Access::Read,      // norm (2): the unscaled norm, 1 / loss scale
            ],
            &[("WG", f64::from(WG))],
        );
        for &piece in pieces {
            let n = piece.len as usize;
            let params = ClipParams {
                n: n as u32,
                max_norm,
                _pad: [0; 2],
            };
            plan.push(
                gpu,
                kernel.clone(),
                Some(&params),
                &[piece, norm],
                flat_workgroups(n, WG),
            );
        }
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;

        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::testing::{TestRng, assert_close};

        /// Runs clip (or only the norm) on the GPU; returns (norm, grads after).
        fn run_gpu(gpu: &GpuContext, grads: &[f32], max_norm: Option<f32>) -> (f32, Vec<f32>) {
            run_gpu_scaled(gpu, grads, max_norm, 1.0)
        }

        /// [`run_gpu`] for gradients of a loss scaled by 1 / `inv_scale`.
        fn run_gpu_scaled(
            gpu: &GpuContext,
            grads: &[f32],
            max_norm: Option<f32>,
            inv_scale: f32,
        ) -> (f32, Vec<f32>) {
            let n = grads.len();
            let grads_b = gpu.upload("grads", grads);
            let norm = gpu.upload("norm", &[-1.0, inv_scale]);
            let partials = gpu.zeros("partials", GLOBAL_NORM_PARTIALS);
            let mut plan = Plan::new();
            match max_norm {
                Some(max_norm) => clip_by_global_norm_gpu(
                    gpu,
                    &mut plan,
                    (&grads_b).into(),
                    (&norm).into(),
                    (&partials).into(),
                    max_norm,
                    n,
                ),
                None => global_norm_gpu(
                    gpu,
                    &mut plan,
                    (&norm).into(),
                    (&partials).into(),
                    (&grads_b).into(),
                    n,
                ),
            }
            pollster::block_on(plan.run(gpu)).expect("global_norm dispatch");
            let norm = pollster::block_on(gpu.read(&norm, 1)).expect("readback")[0];
            let after = pollster::block_on(gpu.read(&grads_b, n)).expect("readback");
            (norm, after)
        }

        #[test]
        fn gpu_norm_matches_cpu_on_awkward_and_large_lengths() {
            let Some(gpu) = gpu_or_skip("global_norm lengths") else {
                return;
            };
            let mut rng = TestRng::new(31);
            // 1 element, one workgroup's worth +- 1, a ragged one, and enough for the full 256 partials with
            // several strides each (300k > 256 workgroups * 256 invocations * 4).
            for n in [1, 37, 255, 256, 257, 1023, 4097, 300_001] {
                let grads = rng.vec(n);
                let (norm, after) = run_gpu(gpu, &grads, None);
                let expected = global_norm_cpu(&grads) as f32;
                // f32 tree sums against an f64 sum: relative error well under 1e-5 even at 300k elements.
                assert_close(&[norm], &[expected], 1e-6, 1e-5, &format!("norm of {n}"));
                assert_eq!(after, grads, "global_norm must not change the gradients");
            }
        }

        /// The norm and the clip of a gradient bound in pieces (as the optimizer binds the gradients of a model
        /// larger than one binding) equal the CPU's over the whole gradient: the pieces' partial sums add up.
        #[test]
        fn gpu_norm_and_clip_over_pieces_match_cpu() {
            let Some(gpu) = gpu_or_skip("global_norm in pieces") else {
                return;
            };
            let mut rng = TestRng::new(33);
            let n = 300_001;
            let grads = rng.vec(n);
            let buffer = gpu.upload("grads", &grads);
            // Pieces of 70,016 numbers (a multiple of 128, so each starts at an aligned offset), the last short.
            let piece = 70_016;
            let pieces: Vec<View> = (0..n)
                .step_by(piece)
                .map(|s| View::range(&buffer, s, piece.min(n - s)))
                .collect();
            assert_eq!(pieces.len(), 5);
            let norm = gpu.upload("norm", &[-1.0, 1.0]);
            let partials = gpu.zeros("partials", GLOBAL_NORM_PARTIALS);
            let mut plan = Plan::new();
            let max_norm = 10.0;
            clip_by_global_norm_pieces_gpu(
                gpu,
                &mut plan,
                &pieces,
                (&norm).into(),
                (&partials).into(),
                max_norm,
            );
            pollster::block_on(plan.run(gpu)).expect("dispatch");
            let got_norm = pollster::block_on(gpu.read(&norm, 1)).expect("readback")[0];
            let after = pollster::block_on(gpu.read(&buffer, n)).expect("readback");
            let mut expected = grads.clone();
            let expected_norm = clip_by_global_norm_cpu(&mut expected, f64::from(max_norm)) as f32;
            assert!(expected_norm > max_norm, "the test clips");
            assert_close(
                &[got_norm],
                &[expected_norm],
                1e-6,
                1e-5,
                "norm over pieces",
            );
            assert_close(&after, &expected, 1e-6, 1e-5, "clipped in pieces");
        }

        #[test]
        fn gpu_clip_matches_cpu() {
            let Some(gpu) = gpu_or_skip("clip_by_global_norm") else {
                return;
            };
            let mut rng = TestRng::new(32);
            for (n, max_norm) in [
                (1, 0.1),
                (37, 1.0),
                (5000, 10.0),
                (5000, 1000.0),
                (70_000, 5.0),
            ] {
                let grads = rng.vec(n);
                let mut expected = grads.clone();
                let expected_norm =
                    clip_by_global_norm_cpu(&mut expected, f64::from(max_norm)) as f32;
                let (norm, after) = run_gpu(gpu, &grads, Some(max_norm));
                assert_close(
                    &[norm],
                    &[expected_norm],
                    1e-6,
                    1e-5,
                    "norm before clipping",
                );
                assert_close(
                    &after,
                    &expected,
                    1e-6,
                    1e-5,
                    &format!("clipped n={n} max={max_norm}"),
                );
                if f64::from(max_norm) < f64::from(expected_norm) {
                    let clipped = global_norm_cpu(&after);
                    assert!(
                        (clipped - f64::from(max_norm)).abs() < 1e-3 * f64::from(max_norm),
                        "{clipped}"
                    );
                }
            }
            // A non-finite norm leaves the gradients alone.
            let grads = vec![1.0, f32::INFINITY, 2.0];
            let (norm, after) = run_gpu(gpu, &grads, Some(1.0));
            assert!(!norm.is_finite(), "{norm}");
            assert_eq!(after, grads);
        }

        /// Loss scaling (GradScaler): gradients of a loss scaled by 2^16 give the norm of the true gradients,
        /// and clipping scales them by the factor the true norm asks for (they stay scaled for adamw_update to
        /// unscale). One inf or NaN among them makes the norm non-finite: the overflow check of the step.
        #[test]
        fn gpu_norm_unscales_the_gradients_of_a_scaled_loss() {
            let Some(gpu) = gpu_or_skip("global_norm loss scaling") else {
                return;
            };
            let mut rng = TestRng::new(33);
            let scale = 65536.0f32;
            let grads = rng.vec(5000);
            let scaled: Vec<f32> = grads.iter().map(|g| g * scale).collect();
            let mut expected = grads.clone();
            let expected_norm = clip_by_global_norm_cpu(&mut expected, 1.0) as f32;
            let (norm, after) = run_gpu_scaled(gpu, &scaled, Some(1.0), 1.0 / scale);
            assert_close(&[norm], &[expected_norm], 1e-6, 1e-5, "unscaled norm");
            let unscaled: Vec<f32> = after.iter().map(|g| g / scale).collect();
            assert_close(&unscaled, &expected, 1e-6, 1e-5, "clipped, then unscaled");
            for bad in [f32::INFINITY, f32::NAN] {
                let mut overflowed = scaled.clone();
                overflowed[1234] = bad;
                let (norm, _) = run_gpu_scaled(gpu, &overflowed, None, 1.0 / scale);
                assert!(!norm.is_finite(), "a gradient {bad} gives the norm {norm}");
            }
        }
    }
}
