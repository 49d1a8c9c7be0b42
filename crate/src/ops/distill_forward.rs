//! distill_forward: the knowledge-distillation loss of Hinton et al. (2015), per position,
//! `alpha * tau^2 * KL(softmax(teacher / tau) || softmax(student / tau)) + (1 - alpha) * CE(student, target)`.
//!
//! Intuition: a temperature tau > 1 flattens both distributions, so the student learns from the teacher's
//! "dark knowledge" (which wrong tokens are nearly right), not only from the one true token. tau^2 keeps the
//! soft term's gradient on the scale of the hard one as tau grows. The teacher runs forward only; its logits
//! are an input here, and nothing flows back to it. probs, soft_student and soft_teacher are kept for the
//! backward pass.

use super::crossentropy_forward;
use super::float::Float;
use crate::{Result, invalid_input};

/// How much of the teacher and at what temperature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistillWeights {
    /// Weight of the teacher's (soft) term, in [0, 1]; 1 - alpha weighs the cross-entropy with the data.
    pub alpha: f64,
    /// tau > 0: both softmaxes of the soft term divide the logits by it.
    pub temperature: f64,
}

impl DistillWeights {
    /// A clear error for an alpha outside [0, 1] or a temperature that is not a positive finite number.
    pub fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.alpha) {
            invalid_input!(
                "distillation: alpha is {}, it must lie in [0, 1] (the weight of the teacher's term)",
                self.alpha
            );
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            invalid_input!(
                "distillation: the temperature is {}, it must be a positive number",
                self.temperature
            );
        }
        Ok(())
    }
}

/// losses (B, T) = alpha * tau^2 * KL(soft_teacher || soft_student) + (1 - alpha) * -ln probs[target], with
/// probs (B, T, V) = softmax(student (B, T, V)), soft_student (B, T, V) = softmax(student / tau) and
/// soft_teacher (B, T, V) = softmax(teacher (B, T, V) / tau). Each log-probability comes from log-sum-exp
/// (the row maximum subtracted), so neither large logits nor a teacher probability of 0 gives inf or NaN.
#[allow(clippy::too_many_arguments)]
pub fn distill_forward_cpu<R: Float>(
    losses: &mut [R],
    probs: &mut [R],
    soft_student: &mut [R],
    soft_teacher: &mut [R],
    student: &[R],
    teacher: &[R],
    targets: &[u32],
    weights: DistillWeights,
    b: usize,
    t: usize,
    v: usize,
) {
    let alpha = R::from_f64(weights.alpha);
    let tau = R::from_f64(weights.temperature);
    for bt in 0..b * t {
        let row = bt * v..(bt + 1) * v;
        let (s, te) = (&student[row.clone()], &teacher[row.clone()]);
        let student_max = s.iter().fold(R::NEG_INFINITY, |m, &x| m.max(x));
        let teacher_max = te.iter().fold(R::NEG_INFINITY, |m, &x| m.max(x));
        // ln of each row's sum of exponentials (after the maximum is subtracted).
        let log_sum = softmax_into(&mut probs[row.clone()], s, student_max, R::ONE);
        let log_student_sum = softmax_into(&mut soft_student[row.clone()], s, student_max, tau);
        let log_teacher_sum = softmax_into(&mut soft_teacher[row.clone()], te, teacher_max, tau);
        let mut kl = R::ZERO;
        for i in 0..v {
            let log_pt = (te[i] - teacher_max) / tau - log_teacher_sum;
            let log_ps = (s[i] - student_max) / tau - log_student_sum;
            kl += soft_teacher[bt * v + i] * (log_pt - log_ps);
        }
        let ce = log_sum + student_max - s[targets[bt] as usize];
        losses[bt] = alpha * tau * tau * kl + (R::ONE - alpha) * ce;
    }
}

/// out = softmax((x - max) / tau) of one row; returns ln of the sum of its exponentials.
fn softmax_into<R: Float>(out: &mut [R], x: &[R], max: R, tau: R) -> R {
    let mut sum = R::ZERO;
    for (o, &xi) in out.iter_mut().zip(x) {
        *o = ((xi - max) / tau).exp();
        sum += *o;
    }
    let inv = R::ONE / sum;
    for o in out.iter_mut() {
        *o *= inv;
    }
    sum.ln()
}

/// Checks lengths, token ids and the weights, so a bad call is an error and not a panic or a NaN.
/// `act` is the length of the student's logits (and of probs, soft_student, soft_teacher, dstudent),
/// `teacher` the length of the teacher's logits, `pos` of losses (or dlosses).
#[allow(clippy::too_many_arguments)]
pub fn check_shapes(
    act: usize,
    teacher: usize,
    pos: usize,
    targets: &[u32],
    weights: DistillWeights,
    b: usize,
    t: usize,
    v: usize,
) -> Result<()> {
    if teacher != act {
        invalid_input!(
            "distillation: the teacher gives {teacher} logits and the student {act}; both need B*T*V = {b}*{t}*{v} (the same tokenizer)"
        );
    }
    weights.check()?;
    crossentropy_forward::check_shapes(act, pos, targets, b, t, v)
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::DistillWeights;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/distill_forward.wgsl`.
    pub const DISTILL_FORWARD_SHADER: &str = shader!("distill_forward");

    /// Invocations per workgroup of the distillation kernels (a power of two: the reductions halve it).
    pub(crate) const DISTILL_WG: u32 = 64;

    /// Sizes and weights for the shaders; field for field the WGSL `Params` struct of both passes
    /// (`shaders/include/distill_params.wgsl`).
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    pub(crate) struct DistillParams {
        pub b: u32,
        pub t: u32,
        pub v: u32,
        pub _pad0: u32,
        pub alpha: f32,
        pub temperature: f32,
        pub _pad1: [u32; 2],
    }

    impl DistillParams {
        pub(crate) fn new(weights: DistillWeights, b: usize, t: usize, v: usize) -> Self {
            Self {
                b: b as u32,
                t: t as u32,
                v: v as u32,
                _pad0: 0,
                alpha: weights.alpha as f32,
                temperature: weights.temperature as f32,
                _pad1: [0; 2],
            }
        }
    }

    /// Adds the kernel to `plan`: losses (B, T), probs, soft_student and soft_teacher (B, T, V) from the
    /// student's and the teacher's logits (B, T, V) and targets (B, T) (a view of u32 token ids), as
    /// [`distill_forward_cpu`](super::distill_forward_cpu). One workgroup per position. Check the call with
    /// [`check_shapes`](super::check_shapes) first.
    #[allow(clippy::too_many_arguments)]
    pub fn distill_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        losses: View,
        probs: View,
        soft_student: View,
        soft_teacher: View,
        student: View,
        teacher: View,
        targets: View,
        weights: DistillWeights,
        b: usize,
        t: usize,
        v: usize,
    ) {
        let kernel = gpu.kernel(
            "distill_forward",
            DISTILL_FORWARD_SHADER,
            &[
                Access::Uniform,   // params: B, T, V, alpha, temperature
                Access::ReadWrite, // losses (B, T)
                Access::ReadWrite, // probs (B, T, V)
                Access::ReadWrite, // soft_student (B, T, V)
                Access::ReadWrite, // soft_teacher (B, T, V)
                Access::Read,      // student logits (B, T, V)
                Access::Read,      // teacher logits (B, T, V)
                Access::Read,      // targets (B, T) u32
            ],
            &[("WG", f64::from(DISTILL_WG))],
        );
        plan.push(
            gpu,
            kernel,
            Some(&DistillParams::new(weights, b, t, v)),
            &[
                losses,
                probs,
                soft_student,
                soft_teacher,
                student,
                teacher,
                targets,
            ],
            [t as u32, b as u32, 1],
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::distill_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        /// Logits spread over [-scale, scale] for both models, and random target ids.
        #[allow(clippy::too_many_arguments)]
        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            v: usize,
            scale: f32,
            weights: DistillWeights,
        ) {
            let n = b * t * v;
            let student: Vec<f32> = rng.vec(n).iter().map(|x| scale * x).collect();
            let teacher: Vec<f32> = rng.vec(n).iter().map(|x| scale * x).collect();
            let targets = rng.tokens(b * t, v);
            check_shapes(n, n, b * t, &targets, weights, b, t, v).expect("shapes");
            let mut expected = [
                vec![0.0f32; b * t],
                vec![0.0; n],
                vec![0.0; n],
                vec![0.0; n],
            ];
            let [losses, probs, soft_student, soft_teacher] = &mut expected;
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
            // Outputs start as garbage: they are assigned.
            let outputs = [
                gpu.upload("losses", &rng.vec(b * t)),
                gpu.upload("probs", &rng.vec(n)),
                gpu.upload("soft_student", &rng.vec(n)),
                gpu.upload("soft_teacher", &rng.vec(n)),
            ];
            let student_gpu = gpu.upload("student", &student);
            let teacher_gpu = gpu.upload("teacher", &teacher);
            let targets_gpu = gpu.upload_u32("targets", &targets);
            let mut plan = Plan::new();
            distill_forward_gpu(
                gpu,
                &mut plan,
                (&outputs[0]).into(),
                (&outputs[1]).into(),
                (&outputs[2]).into(),
                (&outputs[3]).into(),
                (&student_gpu).into(),
                (&teacher_gpu).into(),
                (&targets_gpu).into(),
                weights,
                b,
                t,
                v,
            );
            pollster::block_on(plan.run(gpu)).expect("run");
            let what = format!("distill_forward B={b} T={t} V={v} scale={scale} {weights:?}");
            for (name, (buffer, cpu)) in ["losses", "probs", "soft_student", "soft_teacher"]
                .iter()
                .zip(outputs.iter().zip(&expected))
            {
                let gpu_values = pollster::block_on(gpu.read(buffer, cpu.len())).expect("read");
                assert_close(&gpu_values, cpu, 1e-5, 1e-4, &format!("{what} {name}"));
            }
        }

        const HINTON: DistillWeights = DistillWeights {
            alpha: 0.7,
            temperature: 2.0,
        };

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("distill_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(51);
            check(gpu, &mut rng, 2, 7, 37, 3.0, HINTON);
            check(gpu, &mut rng, 1, 1, 1, 1.0, HINTON);
            // V = 300 > WG: each invocation owns several logits; +-80 would overflow exp without the maxima.
            check(gpu, &mut rng, 2, 3, 300, 80.0, HINTON);
            // The two ends of alpha, and a temperature below 1 (sharper than the logits).
            let hard = DistillWeights {
                alpha: 0.0,
                temperature: 1.0,
            };
            check(gpu, &mut rng, 2, 7, 37, 3.0, hard);
            let soft = DistillWeights {
                alpha: 1.0,
                temperature: 0.5,
            };
            check(gpu, &mut rng, 2, 7, 37, 3.0, soft);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("distill_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(52);
            for _ in 0..8 {
                let (b, t, v) = (rng.range(1, 4), rng.range(1, 48), rng.range(1, 128));
                let weights = DistillWeights {
                    alpha: rng.range(0, 10) as f64 / 10.0,
                    temperature: 0.5 + rng.range(0, 8) as f64 / 2.0,
                };
                check(gpu, &mut rng, b, t, v, 5.0, weights);
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::crossentropy_forward::crossentropy_forward_cpu;
    use crate::ops::testing::TestRng;

    fn run(
        student: &[f64],
        teacher: &[f64],
        targets: &[u32],
        weights: DistillWeights,
        v: usize,
    ) -> Vec<f64> {
        let (bt, n) = (targets.len(), student.len());
        let mut losses = vec![0.0; bt];
        let (mut p, mut ps, mut pt) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        distill_forward_cpu(
            &mut losses,
            &mut p,
            &mut ps,
            &mut pt,
            student,
            teacher,
            targets,
            weights,
            1,
            bt,
            v,
        );
        losses
    }

    #[test]
    fn alpha_zero_is_the_cross_entropy_and_a_perfect_copy_adds_nothing() {
        let (t, v) = (7, 37);
        let mut rng = TestRng::new(53);
        let student: Vec<f64> = rng.vec_f64(t * v).iter().map(|x| 4.0 * x).collect();
        let teacher: Vec<f64> = rng.vec_f64(t * v).iter().map(|x| 4.0 * x).collect();
        let targets = rng.tokens(t, v);
        let (mut ce, mut probs) = (vec![0.0; t], vec![0.0; t * v]);
        crossentropy_forward_cpu(&mut ce, &mut probs, &student, &targets, 1, t, v);
        let hard = DistillWeights {
            alpha: 0.0,
            temperature: 3.0,
        };
        assert_eq!(run(&student, &teacher, &targets, hard, v), ce);
        // The student equal to the teacher: KL = 0, so alpha only scales the cross-entropy.
        let weights = DistillWeights {
            alpha: 0.25,
            temperature: 2.0,
        };
        for (l, c) in run(&student, &student, &targets, weights, v)
            .iter()
            .zip(&ce)
        {
            assert!((l - 0.75 * c).abs() < 1e-12, "{l} vs 0.75 * {c}");
        }
        // Any other teacher adds a positive KL.
        for (l, c) in run(&student, &teacher, &targets, weights, v)
            .iter()
            .zip(&ce)
        {
            assert!(*l > 0.75 * c + 1e-6, "{l} vs 0.75 * {c}");
        }
    }

    #[test]
    fn kl_matches_its_definition_and_stays_finite_at_extremes() {
        // One position, V = 3, alpha = 1: the loss is tau^2 * sum pt ln(pt / ps), computed here directly.
        let (student, teacher) = ([1.0, 2.0, 0.5], [0.0, -1.0, 3.0]);
        let tau: f64 = 1.5;
        let softmax = |x: &[f64]| {
            let e: Vec<f64> = x.iter().map(|xi| (xi / tau).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|ei| ei / s).collect::<Vec<_>>()
        };
        let (ps, pt) = (softmax(&student), softmax(&teacher));
        let kl: f64 = pt.iter().zip(&ps).map(|(t, s)| t * (t / s).ln()).sum();
        let weights = DistillWeights {
            alpha: 1.0,
            temperature: tau,
        };
        let loss = run(&student, &teacher, &[0], weights, 3)[0];
        assert!(
            (loss - tau * tau * kl).abs() < 1e-12,
            "{loss} vs {}",
            tau * tau * kl
        );
        // A teacher certain to the point of exp underflow (probabilities of exactly 0) and huge logits.
        let loss = run(
            &[1000.0, 0.0, -1000.0],
            &[0.0, 5000.0, 0.0],
            &[2],
            weights,
            3,
        )[0];
        assert!(loss.is_finite() && loss > 0.0, "{loss}");
    }

    #[test]
    fn bad_weights_and_shapes_are_errors() {
        let w = |alpha, temperature| DistillWeights { alpha, temperature };
        let ok = w(0.5, 2.0);
        assert!(check_shapes(74, 74, 2, &[1, 2], ok, 1, 2, 37).is_ok());
        let err = check_shapes(74, 74, 2, &[1, 2], w(1.5, 2.0), 1, 2, 37).unwrap_err();
        assert!(err.to_string().contains("alpha is 1.5"), "{err}");
        let err = check_shapes(74, 74, 2, &[1, 2], w(0.5, 0.0), 1, 2, 37).unwrap_err();
        assert!(err.to_string().contains("temperature is 0"), "{err}");
        let err = check_shapes(74, 74, 2, &[1, 2], w(0.5, f64::NAN), 1, 2, 37).unwrap_err();
        assert!(err.to_string().contains("temperature is NaN"), "{err}");
        let err = check_shapes(74, 70, 2, &[1, 2], ok, 1, 2, 37).unwrap_err();
        assert!(err.to_string().contains("the teacher gives 70"), "{err}");
        let err = check_shapes(74, 74, 2, &[1, 37], ok, 1, 2, 37).unwrap_err();
        assert!(err.to_string().contains("target 1 is token 37"), "{err}");
    }
}
