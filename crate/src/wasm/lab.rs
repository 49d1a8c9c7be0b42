//! The lab's bindings: what a training batch looks like after augmentation, so the package (and the page) can
//! show a learner what the model reads (augmentation itself needs no binding: it is a field of the training
//! options both trainers take), and a distillation run stepped from JavaScript. The hyperparameter search needs
//! none: it is orchestration, driven by the package (js/src/lab-search.ts) over the ordinary training binding.

use wasm_bindgen::prelude::*;

use super::{options, to_js, to_value};
use crate::lab::distill::Distillation;
use crate::model::batches::Batches;
use crate::model::train::{TrainLoop, ready};
use crate::model::weights::{load_safetensors, save_safetensors};
use crate::model::{Gpt, ModelConfig, TrainOptions};
use crate::ops::distill_forward::DistillWeights;

/// The first training batch a run with `trainOptions` (batch_size, seed, augment) draws from the token
/// stream `train` for a model of `vocabSize` tokens reading `seqLen` tokens: B rows of the plain windows,
/// then B rows of what the model reads (both T tokens), flat.
#[wasm_bindgen(js_name = previewBatch)]
pub fn preview_batch(
    train: Vec<u32>,
    #[wasm_bindgen(js_name = vocabSize)] vocab_size: usize,
    #[wasm_bindgen(js_name = seqLen)] seq_len: usize,
    #[wasm_bindgen(js_name = trainOptions)] train_options: JsValue,
) -> Result<Vec<u32>, JsError> {
    let o: TrainOptions = options(train_options, "training options")?;
    if let Some(bad) = train.iter().find(|&&t| t as usize >= vocab_size) {
        return Err(JsError::new(&format!(
            "token id {bad} is outside the model's vocabulary of {vocab_size}"
        )));
    }
    let batches = Batches::new(train, Vec::new(), o.batch_size, seq_len, 0, o.seed)
        .and_then(|b| b.with_augment(o.augment, vocab_size))
        .map_err(to_js)?;
    let rows = batches.preview();
    Ok(rows
        .iter()
        .map(|(window, _)| window)
        .chain(rows.iter().map(|(_, inputs)| inputs))
        .flatten()
        .copied()
        .collect())
}

/// A student distilled from a teacher on the CPU, one step per call (the package's `distill()` runs it beside
/// the same student trained without the teacher, which is an ordinary model on either backend). The teacher
/// runs forward only; its copy lives here only while the distillation does.
#[wasm_bindgen]
pub struct CpuDistillation {
    trainer: TrainLoop<Distillation>,
    tokenizer: Option<String>,
}

#[wasm_bindgen]
impl CpuDistillation {
    /// `teacher`: the teacher's safetensors bytes (as the package's save() writes them); the student is a new
    /// model of `studentConfig` (the teacher's vocabulary) from `studentSeed`, trained on `train` (validated on
    /// `val`) with `trainOptions` and the loss weights alpha and temperature.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        teacher: &[u8],
        #[wasm_bindgen(js_name = studentConfig)] student_config: JsValue,
        #[wasm_bindgen(js_name = studentSeed)] student_seed: u32,
        train: Vec<u32>,
        val: Vec<u32>,
        #[wasm_bindgen(js_name = trainOptions)] train_options: JsValue,
        alpha: f64,
        temperature: f64,
    ) -> Result<CpuDistillation, JsError> {
        let loaded = load_safetensors(teacher).map_err(to_js)?;
        let config: ModelConfig = options(student_config, "student config")?;
        let o: TrainOptions = options(train_options, "training options")?;
        let student = Gpt::new(config, u64::from(student_seed)).map_err(to_js)?;
        let batches =
            TrainLoop::<Gpt<f32>>::batches(&student.config, train, val, &o).map_err(to_js)?;
        let weights = DistillWeights { alpha, temperature };
        let distillation = Distillation::new(student, loaded.model, weights).map_err(to_js)?;
        Ok(CpuDistillation {
            trainer: TrainLoop::from_batches(distillation, batches, o),
            tokenizer: loaded.tokenizer,
        })
    }

    /// One optimiser step of the student: `{step, loss, lr, grad_norm, tokens}` (loss: the distillation loss).
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        to_value(&ready(self.trainer.step_on(&())).map_err(to_js)?)
    }

    /// The student's validation cross-entropy: `{step, val_loss, val_ppl}`.
    pub fn evaluate(&mut self) -> Result<JsValue, JsError> {
        to_value(&ready(self.trainer.evaluate_on(&())).map_err(to_js)?)
    }

    /// Whether the training options ask for an evaluation after the current step.
    #[wasm_bindgen(js_name = evalDue)]
    pub fn eval_due(&self) -> bool {
        self.trainer.eval_due()
    }

    /// The student as safetensors bytes, with the teacher's tokenizer.
    pub fn student(&self) -> Result<Vec<u8>, JsError> {
        save_safetensors(&self.trainer.model.student, self.tokenizer.as_deref()).map_err(to_js)
    }
}
