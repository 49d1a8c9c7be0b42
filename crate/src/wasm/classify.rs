//! Fine-tuning an encoder from JavaScript: the built-in labelled tasks, a classification head on a (pre-trained)
//! model, its labelled training data, and the class probabilities of one passage. Training and evaluation are the
//! model's own `step`, `evaluate` and `evalDue` (a classifier is the same model with a head: `model::classifier`),
//! so only what differs is here. The package's `finetune()` (js/src/finetune.ts) drives it.

use wasm_bindgen::prelude::*;

use super::model::CpuModel;
use super::{options, to_js};
use crate::corpus::{ClassifyTask, classify};
use crate::model::{Gpt, TrainOptions, Trainer};
use crate::tokenizer::Tokenizer;

#[derive(serde::Serialize)]
struct TaskInfo {
    name: &'static str,
    description: &'static str,
    classes: &'static [&'static str],
}

/// The built-in labelled tasks as a JSON string: `[{name, description, classes}]`, classes in label order.
#[wasm_bindgen(js_name = classifyTasks)]
pub fn classify_tasks() -> Result<String, JsError> {
    let tasks: Vec<TaskInfo> = ClassifyTask::all()
        .iter()
        .map(|&task| TaskInfo {
            name: task.name(),
            description: task.description(),
            classes: task.classes(),
        })
        .collect();
    serde_json::to_string(&tasks).map_err(|e| JsError::new(&e.to_string()))
}

#[wasm_bindgen]
impl CpuModel {
    /// A classifier for `task` made of this model, an encoder: its weights (or, with `scratch`, new weights of the
    /// same config from `seed`) under a new classification head from `seed`, with this model's tokenizer. This
    /// model is left as it is. Throws for a causal model, a model with LoRA adapters or an unknown task.
    #[wasm_bindgen(js_name = withClassifier)]
    pub fn with_classifier(
        &self,
        task: &str,
        scratch: bool,
        seed: u32,
    ) -> Result<CpuModel, JsError> {
        let task = ClassifyTask::from_name(task).map_err(to_js)?;
        let (base, seed) = (self.model(), u64::from(seed));
        let fresh = if scratch {
            Some(Gpt::new(base.config.clone(), seed).map_err(to_js)?)
        } else {
            None
        };
        let model = fresh
            .as_ref()
            .unwrap_or(base)
            .with_classifier(task.classes().len(), seed)
            .map_err(to_js)?;
        Ok(CpuModel {
            model: Some(model),
            trainer: None,
            tokenizer: self.tokenizer.clone(),
        })
    }

    /// Sets a classifier's labelled data and training options (as `setTrainingData` takes them): `trainExamples`
    /// passages of `task` drawn from the options' seed and `valExamples` validation passages, encoded with the
    /// model's tokenizer and cut to their first seq_len tokens (0: block_size). The same passages whatever the
    /// weights, so a run from new weights sees the same data. Starts a fresh optimiser; on error nothing changes.
    #[wasm_bindgen(js_name = setClassifyData)]
    pub fn set_classify_data(
        &mut self,
        task: &str,
        #[wasm_bindgen(js_name = trainExamples)] train_examples: usize,
        #[wasm_bindgen(js_name = valExamples)] val_examples: usize,
        #[wasm_bindgen(js_name = trainOptions)] train_options: JsValue,
    ) -> Result<(), JsError> {
        let task = ClassifyTask::from_name(task).map_err(to_js)?;
        let o: TrainOptions = options(train_options, "training options")?;
        let json = self.tokenizer.as_deref().ok_or_else(|| {
            JsError::new("the model has no tokenizer to encode the passages with")
        })?;
        let tokenizer = Tokenizer::from_json(json).map_err(to_js)?;
        let config = &self.model().config;
        match &config.classifier {
            Some(head) if head.classes == task.classes().len() => {}
            Some(head) => {
                return Err(JsError::new(&format!(
                    "the classifier has {} classes and the task '{}' has {}: make a classifier for this task",
                    head.classes,
                    task.name(),
                    task.classes().len()
                )));
            }
            None => {
                return Err(JsError::new(
                    "the model has no classification head: make one with withClassifier(task, scratch, seed)",
                ));
            }
        }
        let t = if o.seq_len == 0 {
            config.block_size
        } else {
            o.seq_len
        };
        let (train, val) = classify::train_val_examples(
            task,
            o.seed,
            train_examples,
            val_examples,
            t,
            |s| tokenizer.encode(s),
        )
        .map_err(to_js)?;
        self.set_trainer(|model| Trainer::labelled(model, train, val, o))
    }

    /// The class probabilities (K, in label order) of one passage of 1 to block_size tokens under this classifier.
    #[wasm_bindgen(js_name = classProbabilities)]
    pub fn class_probabilities(&mut self, tokens: Vec<u32>) -> Result<Vec<f32>, JsError> {
        self.model_mut()
            .class_probabilities(&tokens)
            .map_err(to_js)
    }
}
