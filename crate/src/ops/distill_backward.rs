//! distill_backward: the gradient of the distillation loss with respect to the student's logits,
//! `alpha * tau * (soft_student - soft_teacher) + (1 - alpha) * (probs - onehot(target))` per unit of loss.
//! Intuition: the soft term pulls the student's tempered distribution onto the teacher's; the tau^2 of the
//! loss times the 1/tau of d softmax(s / tau) / ds leaves one tau. The teacher gets no gradient.
//! dstudent is assigned (an activation gradient).

use super::distill_forward::DistillWeights;
use super::float::Float;

/// dstudent (B, T, V) = dlosses (B, T) * (alpha * tau * (soft_student - soft_teacher) +
/// (1 - alpha) * (probs - onehot(targets (B, T)))), with probs, soft_student and soft_teacher (B, T, V)
/// from [`distill_forward_cpu`](super::distill_forward::distill_forward_cpu). For the mean loss over the
/// batch, dlosses = 1 / (B*T) everywhere.
#[allow(clippy::too_many_arguments)]
pub fn distill_backward_cpu<R: Float>(
    dstudent: &mut [R],
    dlosses: &[R],
    probs: &[R],
    soft_student: &[R],
    soft_teacher: &[R],
    targets: &[u32],
    weights: DistillWeights,
    b: usize,
    t: usize,
    v: usize,
) {
    let alpha = R::from_f64(weights.alpha);
    let tau = R::from_f64(weights.temperature);
    for bt in 0..b * t {
        let d = dlosses[bt];
        for i in bt * v..(bt + 1) * v {
            let soft = tau * (soft_student[i] - soft_teacher[i]);
            dstudent[i] = d * (alpha * soft + (R::ONE - alpha) * probs[i]);
        }
        dstudent[bt * v + targets[bt] as usize] -= d * (R::ONE - alpha);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::distill_forward::distill_forward_cpu;
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    /// The f64 finite-difference check of d(sum losses * w) / dstudent for one alpha and temperature.
    fn check(weights: DistillWeights, seed: u64) {
        let (b, t, v) = (2, 7, 37);
        let n = b * t * v;
        let mut rng = TestRng::new(seed);
        let student: Vec<f64> = rng.vec_f64(n).iter().map(|x| 3.0 * x).collect();
        let teacher: Vec<f64> = rng.vec_f64(n).iter().map(|x| 3.0 * x).collect();
        let targets = rng.tokens(b * t, v);
        let w = rng.vec_f64(b * t);
        let forward = |student: &[f64]| {
            let mut outs = [vec![0.0; b * t], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            let [losses, probs, soft_student, soft_teacher] = &mut outs;
            distill_forward_cpu(
                losses,
                probs,
                soft_student,
                soft_teacher,
                student,
                &teacher,
                &targets,
                weights,
                b,
                t,
                v,
            );
            outs
        };
        let [_, probs, soft_student, soft_teacher] = forward(&student);
        let mut dstudent = vec![f64::NAN; n];
        distill_backward_cpu(
            &mut dstudent,
            &w,
            &probs,
            &soft_student,
            &soft_teacher,
            &targets,
            weights,
            b,
            t,
            v,
        );
        check_gradient(
            &format!("distill dstudent {weights:?}"),
            &student,
            &dstudent,
            |x| dot(&forward(x)[0], &w),
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        let w = |alpha, temperature| DistillWeights { alpha, temperature };
        check(w(0.7, 2.0), 61);
        check(w(1.0, 4.0), 62);
        check(w(0.0, 1.0), 63);
        check(w(0.5, 0.5), 64);
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernel's dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::distill_forward::{DISTILL_WG, DistillParams, DistillWeights};

    /// The WGSL source, `shaders/distill_backward.wgsl`.
    pub const DISTILL_BACKWARD_SHADER: &str = shader!("distill_backward");

    /// Adds the kernel to `plan`: dstudent (B, T, V), assigned, from dlosses (B, T), probs, soft_student and
    /// soft_teacher (B, T, V) of `distill_forward_gpu` and targets (B, T) (u32 ids), as
    /// [`distill_backward_cpu`](super::distill_backward_cpu). Check the call with
    /// [`crate::ops::distill_forward::check_shapes`].
    #[allow(clippy::too_many_arguments)]
    pub fn distill_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dstudent: View,
        dlosses: View,
        probs: View,
        soft_student: View,
        soft_teacher: View,
        targets: View,
        weights: DistillWeights,
        b: usize,
        t: usize,
        v: usize,
    ) {
        let kernel = gpu.kernel(
            "distill_backward",
            DISTILL_BACKWARD_SHADER,
            &[
                Access::Uniform,   // params: B, T, V, alpha, temperature
                Access::ReadWrite, // dstudent (B, T, V)
                Access::Read,      // dlosses (B, T)
                Access::Read,      // probs (B, T, V)
                Access::Read,      // soft_student (B, T, V)
                Access::Read,      // soft_teacher (B, T, V)
                Access::Read,      // targets (B, T) u32
            ],
            &[("WG", f64::from(DISTILL_WG))],
        );
        plan.push(
            gpu,
            kernel,
            Some(&DistillParams::new(weights, b, t, v)),
            &[
                dstudent,
                dlosses,
                probs,
                soft_student,
                soft_teacher,
                targets,
            ],
            [(v as u32).div_ceil(DISTILL_WG), t as u32, b as u32],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::distill_backward::distill_backward_cpu;
        use crate::ops::distill_forward::{check_shapes, distill_forward_cpu};
        use crate::ops::testing::{TestRng, assert_close};

        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            v: usize,
            weights: DistillWeights,
        ) {
            let n = b * t * v;
            let student: Vec<f32> = rng.vec(n).iter().map(|x| 3.0 * x).collect();
            let teacher: Vec<f32> = rng.vec(n).iter().map(|x| 3.0 * x).collect();
            let targets = rng.tokens(b * t, v);
            check_shapes(n, n, b * t, &targets, weights, b, t, v).expect("shapes");
            let dlosses = rng.vec(b * t);
            let mut outs = [
                vec![0.0f32; b * t],
                vec![0.0; n],
                vec![0.0; n],
                vec![0.0; n],
            ];
            let [losses, probs, soft_student, soft_teacher] = &mut outs;
            distill_forward_cpu(
                losses,
                probs,
                soft_student,
                soft_teacher,
                &student,
                &teacher,
                &targets,
                weights,
                b,
                t,
                v,
            );
            let mut dstudent = vec![0.0f32; n];
            distill_backward_cpu(
                &mut dstudent,
                &dlosses,
                probs,
                soft_student,
                soft_teacher,
                &targets,
                weights,
                b,
                t,
                v,
            );
            // dstudent starts as garbage: it is assigned, not accumulated.
            let dstudent_gpu = gpu.upload("dstudent", &rng.vec(n));
            let dlosses_gpu = gpu.upload("dlosses", &dlosses);
            let probs_gpu = gpu.upload("probs", probs);
            let soft_student_gpu = gpu.upload("soft_student", soft_student);
            let soft_teacher_gpu = gpu.upload("soft_teacher", soft_teacher);
            let targets_gpu = gpu.upload_u32("targets", &targets);
            let mut plan = Plan::new();
            distill_backward_gpu(
                gpu,
                &mut plan,
                (&dstudent_gpu).into(),
                (&dlosses_gpu).into(),
                (&probs_gpu).into(),
                (&soft_student_gpu).into(),
                (&soft_teacher_gpu).into(),
                (&targets_gpu).into(),
                weights,
                b,
                t,
                v,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let actual = pollster::block_on(gpu.read(&dstudent_gpu, n)).expect("read");
            assert_close(
                &actual,
                &dstudent,
                1e-6,
                1e-4,
                &format!("distill_backward B={b} T={t} V={v} {weights:?}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("distill_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(65);
            let w = |alpha, temperature| DistillWeights { alpha, temperature };
            check(gpu, &mut rng, 2, 7, 37, w(0.7, 2.0));
            check(gpu, &mut rng, 1, 1, 1, w(0.7, 2.0));
            check(gpu, &mut rng, 2, 3, 300, w(0.3, 5.0));
            check(gpu, &mut rng, 2, 7, 37, w(0.0, 1.0));
            check(gpu, &mut rng, 2, 7, 37, w(1.0, 0.5));
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("distill_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(66);
            for _ in 0..8 {
                let (b, t, v) = (rng.range(1, 4), rng.range(1, 48), rng.range(1, 128));
                let weights = DistillWeights {
                    alpha: rng.range(0, 10) as f64 / 10.0,
                    temperature: 0.5 + rng.range(0, 8) as f64 / 2.0,
                };
                check(gpu, &mut rng, b, t, v, weights);
            }
        }
    }
}
