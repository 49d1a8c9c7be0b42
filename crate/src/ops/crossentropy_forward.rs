//! crossentropy_forward: softmax over the vocabulary fused with the cross-entropy of the target token.
//!
//! Intuition: the loss at a position is the surprise, -ln p(target), of the model's next-token
//! distribution. probs is kept: the backward pass and the page's top-k view read it.
//!
//! A target of [`IGNORE_INDEX`] marks a position that does not count (PyTorch's `ignore_index`): its loss is 0
//! and its gradient 0, so a masked-language model learns only from the positions it masked. The caller
//! divides by the number of positions that count ([`counted_targets`]).

use super::float::Float;
use crate::{Result, invalid_input};

/// The target id of a position that does not count: loss 0, gradient 0 (u32::MAX, never a token id).
pub const IGNORE_INDEX: u32 = u32::MAX;

/// The number of targets that count (are not [`IGNORE_INDEX`]): what the mean loss divides by.
pub fn counted_targets(targets: &[u32]) -> usize {
    targets.iter().filter(|&&id| id != IGNORE_INDEX).count()
}

/// probs (B, T, V) = softmax(logits (B, T, V));  losses (B, T) = -ln probs[b, t, targets[b, t]], or 0 where
/// the target is [`IGNORE_INDEX`]. The softmax subtracts the row maximum first, so large logits do not overflow.
#[allow(clippy::too_many_arguments)]
pub fn crossentropy_forward_cpu<R: Float>(
    losses: &mut [R],
    probs: &mut [R],
    logits: &[R],
    targets: &[u32],
    b: usize,
    t: usize,
    v: usize,
) {
    for bt in 0..b * t {
        let x = &logits[bt * v..(bt + 1) * v];
        let p = &mut probs[bt * v..(bt + 1) * v];
        let max = x.iter().fold(R::NEG_INFINITY, |m, &xi| m.max(xi));
        let mut sum = R::ZERO;
        for (pi, &xi) in p.iter_mut().zip(x) {
            *pi = (xi - max).exp();
            sum += *pi;
        }
        let inv = R::ONE / sum;
        for pi in p.iter_mut() {
            *pi *= inv;
        }
        // -ln softmax computed from the logits (log-sum-exp) rather than ln(p), so a tiny probability does
        // not round to 0 and give an infinite loss.
        losses[bt] = match targets[bt] {
            IGNORE_INDEX => R::ZERO,
            target => sum.ln() + max - x[target as usize],
        };
    }
}

/// Checks lengths and token ids, so a bad call is an error and not a panic (the CPU functions index
/// `probs` by the target) or a NaN loss (the GPU kernel's answer to an id >= V).
/// `act` is the length of logits/probs (or dlogits), `pos` of losses (or dlosses). [`IGNORE_INDEX`] is allowed.
pub fn check_shapes(
    act: usize,
    pos: usize,
    targets: &[u32],
    b: usize,
    t: usize,
    v: usize,
) -> Result<()> {
    if act != b * t * v {
        invalid_input!(
            "crossentropy: logits/probs have {act} values, expected B*T*V = {b}*{t}*{v}"
        );
    }
    if pos != b * t || targets.len() != b * t {
        invalid_input!(
            "crossentropy: losses have {pos} values and targets {} ids, expected B*T = {b}*{t}",
            targets.len()
        );
    }
    if let Some((i, &id)) = targets
        .iter()
        .enumerate()
        .find(|&(_, &id)| id != IGNORE_INDEX && id as usize >= v)
    {
        invalid_input!(
            "crossentropy: target {i} is token {id}, outside the vocabulary of V = {v} tokens"
        );
    }
    Ok(())
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/crossentropy_forward.wgsl`.
    pub const CROSSENTROPY_FORWARD_SHADER: &str = shader!("crossentropy_forward");

    /// Invocations per workgroup of the crossentropy kernels (a power of two: the reductions halve it).
    pub(crate) const CROSSENTROPY_WG: u32 = 64;

    /// Sizes for the shaders; field for field the WGSL `Params` struct of both passes.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    pub(crate) struct CrossentropyParams {
        pub b: u32,
        pub t: u32,
        pub v: u32,
        pub _pad: u32,
    }

    /// Adds the kernel to `plan`: losses (B, T) and probs (B, T, V) from logits (B, T, V) and targets (B, T)
    /// (a view of a buffer of u32 token ids), as [`crossentropy_forward_cpu`](super::crossentropy_forward_cpu). One workgroup per position.
    #[allow(clippy::too_many_arguments)]
    pub fn crossentropy_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        losses: View,
        probs: View,
        logits: View,
        targets: View,
        b: usize,
        t: usize,
        v: usize,
    ) {
        let kernel = gpu.kernel(
            "crossentropy_forward",
            CROSSENTROPY_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: B, T, V
                Access::ReadWrite, // losses (B, T)
                Access::ReadWrite, // probs (B, T, V)
                Access::Read,      // logits (B, T, V)
                Access::Read,      // targets (B, T) u32
            ],
            &[("WG", f64::from(CROSSENTROPY_WG))],
        );
        let params = CrossentropyParams {
            b: b as u32,
            t: t as u32,
            v: v as u32,
            _pad: 0,
        };
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[losses, probs, logits, targets],
            [t as u32, b as u32, 1],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::crossentropy_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        /// Logits spread over [-scale, scale], and random target ids.
        fn check(gpu: &GpuContext, rng: &mut TestRng, b: usize, t: usize, v: usize, scale: f32) {
            let logits: Vec<f32> = rng.vec(b * t * v).iter().map(|x| scale * x).collect();
            // About one target in five ignored (loss 0), as a masked-language model's batches are mostly.
            let targets: Vec<u32> = (0..b * t)
                .map(|_| match rng.range(0, 4) {
                    0 => IGNORE_INDEX,
                    _ => rng.range(0, v - 1) as u32,
                })
                .collect();
            check_shapes(logits.len(), b * t, &targets, b, t, v).expect("shapes");
            let (mut losses, mut probs) = (vec![0.0f32; b * t], vec![0.0f32; b * t * v]);
            crossentropy_forward_cpu(&mut losses, &mut probs, &logits, &targets, b, t, v);
            let losses_gpu = gpu.upload("losses", &rng.vec(b * t));
            let probs_gpu = gpu.upload("probs", &rng.vec(b * t * v));
            let logits_gpu = gpu.upload("logits", &logits);
            let targets_gpu = gpu.upload_u32("targets", &targets);
            let mut plan = Plan::new();
            crossentropy_forward_gpu(
                gpu,
                &mut plan,
                (&losses_gpu).into(),
                (&probs_gpu).into(),
                (&logits_gpu).into(),
                (&targets_gpu).into(),
                b,
                t,
                v,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what = format!("crossentropy_forward B={b} T={t} V={v} scale={scale}");
            let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("read");
            assert_close(
                &read(&probs_gpu, probs.len()),
                &probs,
                1e-5,
                1e-4,
                &format!("{what} probs"),
            );
            let losses_gpu = read(&losses_gpu, b * t);
            assert_close(&losses_gpu, &losses, 1e-5, 1e-4, &format!("{what} losses"));
            for (loss, &target) in losses_gpu.iter().zip(&targets) {
                assert!(
                    target != IGNORE_INDEX || *loss == 0.0,
                    "{what}: ignored loss {loss}"
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("crossentropy_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(41);
            check(gpu, &mut rng, 2, 7, 37, 3.0);
            check(gpu, &mut rng, 1, 1, 1, 1.0);
            // V = 300 > WG: each invocation owns several logits. Logits of +-80 would overflow exp without
            // the max subtracted.
            check(gpu, &mut rng, 2, 3, 300, 80.0);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("crossentropy_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(42);
            for _ in 0..10 {
                let (b, t, v) = (rng.range(1, 4), rng.range(1, 64), rng.range(1, 128));
                check(gpu, &mut rng, b, t, v, 5.0);
            }
        }

        #[test]
        fn huge_logits_stay_finite_on_the_gpu() {
            let Some(gpu) = gpu_or_skip("crossentropy_forward huge logits") else {
                return;
            };
            let v = 37;
            let mut logits = vec![0.0f32; v];
            logits[3] = 1000.0;
            let losses_gpu = gpu.zeros("losses", 1);
            let probs_gpu = gpu.zeros("probs", v);
            let logits_gpu = gpu.upload("logits", &logits);
            let targets_gpu = gpu.upload_u32("targets", &[4]);
            let mut plan = Plan::new();
            crossentropy_forward_gpu(
                gpu,
                &mut plan,
                (&losses_gpu).into(),
                (&probs_gpu).into(),
                (&logits_gpu).into(),
                (&targets_gpu).into(),
                1,
                1,
                v,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let losses = pollster::block_on(gpu.read(&losses_gpu, 1)).expect("read");
            let probs = pollster::block_on(gpu.read(&probs_gpu, v)).expect("read");
            assert_eq!(losses[0], 1000.0, "target 4 has logit 0 against 1000");
            assert_eq!(probs[3], 1.0);
            assert!(probs.iter().all(|p| p.is_finite()));
        }

        #[test]
        fn bad_targets_are_an_error() {
            let err = check_shapes(2 * 37, 2, &[5, 37], 1, 2, 37).unwrap_err();
            assert!(err.to_string().contains("target 1 is token 37"), "{err}");
            check_shapes(2 * 37, 2, &[IGNORE_INDEX, 36], 1, 2, 37)
                .expect("the ignore index is allowed");
            let err = check_shapes(2 * 37, 2, &[5], 1, 2, 37).unwrap_err();
            assert!(err.to_string().contains("targets 1 ids"), "{err}");
        }
    }
}
