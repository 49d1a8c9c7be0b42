//! Knowledge distillation (Hinton et al., 2015) on the CPU: a student trained on
//! `alpha * tau^2 * KL(teacher || student at temperature tau) + (1 - alpha) * CE`, and the same student trained
//! on the cross-entropy alone (same initial weights, data, seed and steps), so the teacher's benefit, or its
//! absence, is a measured difference of validation losses.
//!
//! The teacher runs forward only: no gradients are allocated for it and it has no optimizer state. The student
//! reuses the one CPU optimizer step through its loss hook ([`Gpt::train_step_with`]) and the one model
//! description through [`Gpt::backward_from_dlogits`].

use serde::Serialize;

use crate::model::batches::Batches;
use crate::model::train::{AdamwMoments, EvalStats, StepResult, TrainLoop, Trainable};
use crate::model::{Gpt, ModelConfig, TrainOptions};
use crate::ops::distill_backward::distill_backward_cpu;
use crate::ops::distill_forward::{DistillWeights, check_shapes, distill_forward_cpu};
use crate::{Result, invalid_input};

/// A student and its teacher, trained by the [`TrainLoop`] with the distillation loss. Its validation loss
/// ([`Trainable::loss`]) is the student's plain cross-entropy, comparable with a student trained without
/// the teacher.
pub struct Distillation {
    pub student: Gpt<f32>,
    pub teacher: Gpt<f32>,
    pub weights: DistillWeights,
    scratch: Scratch,
}

/// The distillation loss's buffers for one micro-batch, (B, T) and (B, T, V), reused from step to step.
#[derive(Default)]
struct Scratch {
    losses: Vec<f32>,
    probs: Vec<f32>,
    soft_student: Vec<f32>,
    soft_teacher: Vec<f32>,
    dlosses: Vec<f32>,
    dstudent: Vec<f32>,
}

impl Distillation {
    /// Checks that the two models share the vocabulary (the same tokenizer) and that the teacher sees
    /// sequences as long as the student's, and the weights.
    pub fn new(student: Gpt<f32>, teacher: Gpt<f32>, weights: DistillWeights) -> Result<Self> {
        weights.check()?;
        let (s, t) = (&student.config, &teacher.config);
        if s.vocab_size != t.vocab_size {
            invalid_input!(
                "the student's vocabulary has {} tokens and the teacher's {}: distillation needs the same tokenizer",
                s.vocab_size,
                t.vocab_size
            );
        }
        if t.block_size < s.block_size {
            invalid_input!(
                "the teacher reads at most {} tokens and the student {}: give the student a block_size <= the teacher's",
                t.block_size,
                s.block_size
            );
        }
        Ok(Self {
            student,
            teacher,
            weights,
            scratch: Scratch::default(),
        })
    }
}

/// One micro-batch: the teacher's logits (forward only, no dropout), the student's forward pass with dropout,
/// the distillation loss and its gradient into the student's logits, then the student's backward pass from
/// there. Returns the mean distillation loss.
#[allow(clippy::too_many_arguments)]
fn distill_micro_step(
    student: &mut Gpt<f32>,
    teacher: &mut Gpt<f32>,
    scratch: &mut Scratch,
    weights: DistillWeights,
    inputs: &[u32],
    targets: &[u32],
    b: usize,
    t: usize,
    dropout_seed: u64,
    scale: f64,
) -> Result<f64> {
    let v = student.config.vocab_size;
    let (bt, n) = (b * t, b * t * v);
    teacher.forward(inputs, None, b, t, None)?;
    student.forward(inputs, Some(targets), b, t, Some(dropout_seed))?;
    let teacher_logits = teacher.act(teacher.acts().logits);
    let student_logits = student.act(student.acts().logits);
    check_shapes(
        student_logits.len(),
        teacher_logits.len(),
        bt,
        targets,
        weights,
        b,
        t,
        v,
    )?;
    let s = scratch;
    for (buffer, len) in [
        (&mut s.losses, bt),
        (&mut s.probs, n),
        (&mut s.soft_student, n),
        (&mut s.soft_teacher, n),
        (&mut s.dstudent, n),
    ] {
        buffer.resize(len, 0.0);
    }
    distill_forward_cpu(
        &mut s.losses,
        &mut s.probs,
        &mut s.soft_student,
        &mut s.soft_teacher,
        student_logits,
        teacher_logits,
        targets,
        weights,
        b,
        t,
        v,
    );
    let loss = s.losses.iter().map(|&l| f64::from(l)).sum::<f64>() / bt as f64;
    if !loss.is_finite() {
        return Ok(loss);
    }
    s.dlosses.clear();
    s.dlosses.resize(bt, (scale / bt as f64) as f32);
    distill_backward_cpu(
        &mut s.dstudent,
        &s.dlosses,
        &s.probs,
        &s.soft_student,
        &s.soft_teacher,
        targets,
        weights,
        b,
        t,
        v,
    );
    student.backward_from_dlogits(&s.dstudent)?;
    Ok(loss)
}

impl Trainable for Distillation {
    type Device = ();
    type Optimizer = AdamwMoments;

    fn config(&self) -> &ModelConfig {
        &self.student.config
    }

    fn optimizer(&self) -> AdamwMoments {
        self.student.optimizer()
    }

    async fn train_step(
        &mut self,
        _: &(),
        adamw: &mut AdamwMoments,
        batches: &[(Vec<u32>, Vec<u32>)],
        b: usize,
        t: usize,
        step: u32,
        o: &TrainOptions,
    ) -> Result<StepResult> {
        let Self {
            student,
            teacher,
            weights,
            scratch,
        } = self;
        student.train_step_with(
            adamw,
            batches,
            step,
            o,
            |student, inputs, targets, seed, scale| {
                distill_micro_step(
                    student, teacher, scratch, *weights, inputs, targets, b, t, seed, scale,
                )
            },
        )
    }

    async fn loss(
        &mut self,
        device: &(),
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        t: usize,
    ) -> Result<f64> {
        self.student.loss(device, inputs, targets, b, t).await
    }

    async fn predictions(&self, device: &()) -> Result<Vec<u32>> {
        Trainable::predictions(&self.student, device).await
    }

    async fn params(&self, device: &()) -> Result<Vec<f32>> {
        self.student.params(device).await
    }
}

/// Which of the two runs an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Run {
    /// The student trained with the teacher.
    Distilled,
    /// The same student trained on the data alone.
    Baseline,
}

/// The outcome of [`distill_against_baseline`]: final validation losses (the students' cross-entropy on the
/// same validation batches) and every evaluation of both runs.
#[derive(Clone, Debug, Serialize)]
pub struct DistillSummary {
    pub teacher_val_loss: f64,
    pub distilled_val_loss: f64,
    pub baseline_val_loss: f64,
    /// baseline - distilled: positive when the teacher helped.
    pub improvement: f64,
    pub alpha: f64,
    pub temperature: f64,
    pub steps: u32,
    pub student_params: usize,
    pub teacher_params: usize,
    #[serde(skip)]
    pub distilled: Vec<EvalStats>,
    #[serde(skip)]
    pub baseline: Vec<EvalStats>,
}

/// Trains a student of `student_config` (initial weights from `student_seed`) twice over the same token
/// streams and options: with `teacher` and `weights`, then without a teacher. `on_eval` sees each evaluation
/// as it happens (every `options.eval_interval` steps and at the end).
#[allow(clippy::too_many_arguments)]
pub fn distill_against_baseline(
    teacher: Gpt<f32>,
    student_config: ModelConfig,
    student_seed: u64,
    train: Vec<u32>,
    val: Vec<u32>,
    options: TrainOptions,
    weights: DistillWeights,
    mut on_eval: impl FnMut(Run, &EvalStats),
) -> Result<DistillSummary> {
    // Each run gets its own sampler and student, made alike from the same seeds.
    let batches =
        || TrainLoop::<Gpt<f32>>::batches(&student_config, train.clone(), val.clone(), &options);
    let student = || Gpt::new(student_config.clone(), student_seed);
    let val_batches = batches()?;
    if !val_batches.has_validation() {
        invalid_input!(
            "distillation compares validation losses, and the validation split is shorter than one sequence"
        );
    }
    let (student_params, teacher_params) =
        (student_config.param_count(), teacher.config.param_count());
    let mut teacher = teacher;
    let teacher_val_loss = validation_loss(&mut teacher, &val_batches, options.batch_size)?;
    let distillation = Distillation::new(student()?, teacher, weights)?;
    let mut distilled = TrainLoop::from_batches(distillation, val_batches, options.clone());
    let distilled_evals = train_and_evaluate(&mut distilled, Run::Distilled, &mut on_eval)?;
    drop(distilled); // the teacher and the first student go before the second student trains
    let mut baseline = TrainLoop::from_batches(student()?, batches()?, options.clone());
    let baseline_evals = train_and_evaluate(&mut baseline, Run::Baseline, &mut on_eval)?;
    let last = |evals: &[EvalStats]| evals.last().map_or(f64::NAN, |e| e.val_loss);
    let (distilled_val_loss, baseline_val_loss) = (last(&distilled_evals), last(&baseline_evals));
    Ok(DistillSummary {
        teacher_val_loss,
        distilled_val_loss,
        baseline_val_loss,
        improvement: baseline_val_loss - distilled_val_loss,
        alpha: weights.alpha,
        temperature: weights.temperature,
        steps: options.steps,
        student_params,
        teacher_params,
        distilled: distilled_evals,
        baseline: baseline_evals,
    })
}

/// Every step of the run, evaluating when due (and always after the last step).
fn train_and_evaluate<M: Trainable<Device = ()>>(
    trainer: &mut TrainLoop<M>,
    run: Run,
    on_eval: &mut impl FnMut(Run, &EvalStats),
) -> Result<Vec<EvalStats>> {
    let mut evals = Vec::new();
    for _ in 0..trainer.options.steps {
        crate::model::train::ready(trainer.step_on(&()))?;
        if trainer.eval_due() || trainer.step_count() == trainer.options.steps {
            let eval = crate::model::train::ready(trainer.evaluate_on(&()))?;
            on_eval(run, &eval);
            evals.push(eval);
        }
    }
    Ok(evals)
}

/// The mean cross-entropy of `model` over the fixed validation batches of `batches` (forward only).
pub(crate) fn validation_loss(model: &mut Gpt<f32>, batches: &Batches, b: usize) -> Result<f64> {
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    let mut total = 0.0;
    for index in 0..batches.val_batches() {
        batches.val_batch(index, &mut inputs, &mut targets);
        total += model
            .forward(&inputs, Some(&targets), b, batches.seq_len, None)?
            .expect("targets were given");
    }
    Ok(total / batches.val_batches() as f64)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn config(n_layer: usize, n_embd: usize) -> ModelConfig {
        ModelConfig {
            n_layer,
            n_head: 2,
            n_embd,
            block_size: 8,
            ..ModelConfig::reference(11)
        }
    }

    fn data() -> Vec<u32> {
        (0..3000u32).map(|i| (i * 7 + i / 13) % 11).collect()
    }

    fn options(steps: u32) -> TrainOptions {
        TrainOptions {
            batch_size: 4,
            steps,
            lr: 1e-2,
            warmup_steps: 2,
            eval_interval: steps,
            eval_batches: 2,
            ..TrainOptions::default()
        }
    }

    #[test]
    fn alpha_zero_trains_exactly_as_the_baseline() {
        // Without the teacher's term the hook must reproduce the plain cross-entropy step bit for bit: the
        // same losses, so the same weights.
        let tokens = data();
        let teacher = Gpt::new(config(2, 16), 9).unwrap();
        let hard = DistillWeights {
            alpha: 0.0,
            temperature: 2.0,
        };
        let summary = distill_against_baseline(
            teacher,
            config(1, 8),
            3,
            tokens[..2700].to_vec(),
            tokens[2700..].to_vec(),
            options(6),
            hard,
            |_, _| {},
        )
        .unwrap();
        assert_eq!(summary.distilled_val_loss, summary.baseline_val_loss);
        assert!(summary.distilled_val_loss.is_finite());
    }

    #[test]
    fn a_trained_teacher_pulls_the_student_towards_itself() {
        // Train a teacher on the data, then distill with alpha = 1 (the teacher alone, no labels): the
        // student's validation cross-entropy must fall well below its start, although it never saw a target.
        let tokens = data();
        let (train, val) = (tokens[..2700].to_vec(), tokens[2700..].to_vec());
        let mut teacher = crate::model::Trainer::new(
            Gpt::new(config(1, 16), 9).unwrap(),
            train.clone(),
            val.clone(),
            options(40),
        )
        .unwrap();
        for _ in 0..40 {
            teacher.step().unwrap();
        }
        let teacher = teacher.model;
        let start = {
            let mut student = Gpt::new(config(1, 8), 3).unwrap();
            let batches = TrainLoop::<Gpt<f32>>::batches(
                &student.config,
                train.clone(),
                val.clone(),
                &options(40),
            )
            .unwrap();
            validation_loss(&mut student, &batches, 4).unwrap()
        };
        let soft = DistillWeights {
            alpha: 1.0,
            temperature: 2.0,
        };
        let mut seen = Vec::new();
        let summary = distill_against_baseline(
            teacher,
            config(1, 8),
            3,
            train,
            val,
            options(40),
            soft,
            |run, eval| seen.push((run, eval.step)),
        )
        .unwrap();
        assert_eq!(seen, [(Run::Distilled, 40), (Run::Baseline, 40)]);
        assert!(
            summary.distilled_val_loss < start - 0.3,
            "student {start} -> {} with the teacher alone (teacher {})",
            summary.distilled_val_loss,
            summary.teacher_val_loss
        );
    }

    #[test]
    fn mismatched_models_are_errors() {
        let soft = DistillWeights {
            alpha: 0.5,
            temperature: 2.0,
        };
        let student = Gpt::new(config(1, 8), 1).unwrap();
        let other_vocab = Gpt::new(
            ModelConfig {
                vocab_size: 12,
                ..config(1, 8)
            },
            1,
        )
        .unwrap();
        let err = Distillation::new(student, other_vocab, soft).err().unwrap();
        assert!(err.to_string().contains("the same tokenizer"), "{err}");
        let short = Gpt::new(
            ModelConfig {
                block_size: 4,
                ..config(1, 8)
            },
            1,
        )
        .unwrap();
        let err = Distillation::new(Gpt::new(config(1, 8), 1).unwrap(), short, soft)
            .err()
            .unwrap();
        assert!(err.to_string().contains("teacher reads at most 4"), "{err}");
    }
}
