//! Fine-tuning an encoder for classification: the same model with a classification head in place of the
//! language-model head ([`ClassifierConfig`] in its config, one branch in [`super::transformer`]).
//!
//! ```text
//! x = the encoder's blocks, then ln_f                          (B, T, C)
//! pooled = mean over t of x                                    (B, C)   mean pooling (ops::meanpool_forward)
//! logits = pooled @ classifier.weight^T + classifier.bias      (B, K)
//! loss = mean over b of -ln softmax(logits)[label]
//! ```
//!
//! Mean pooling rather than BERT's first token (`[CLS]`): it needs no special token, so a model pre-trained with
//! the masked-language objective on plain text is fine-tuned as it is, and every position's gradient flows.
//!
//! The labels travel as a batch's targets (B, T): the B labels first, then the ignore index, so the trainers,
//! the loss averaging and the accuracy of the masked-language model serve the classifier unchanged.
//! `classifier.weight` (K, C) and `classifier.bias` (K) come after `transformer.ln_f` in the parameter layout, so a
//! pre-trained model's parameters are the classifier's first ones ([`Gpt::with_classifier`]).

use super::config::{ClassifierConfig, ModelConfig};
use super::gpt::Gpt;
use super::params::ParamLayout;
use crate::ops::attention_mask::AttentionMask;
use crate::rng::Rng;
use crate::{Result, invalid_input};

impl Gpt<f32> {
    /// This (pre-trained) model with a new classification head of `classes` classes in place of its language-model
    /// head: every other weight is kept, the head is initialised as [`Gpt::new`] would (weights normal(0, 0.02)
    /// from `seed`, bias 0).
    pub fn with_classifier(&self, classes: usize, seed: u64) -> Result<Gpt<f32>> {
        if self.config.attention_mask == AttentionMask::Causal {
            invalid_input!(
                "a classification head goes on an encoder, which reads the whole passage: this model's attention is \
                 causal (a decoder, trained on the next token). Pre-train an encoder with the masked-language \
                 objective (mlm) and fine-tune that"
            );
        }
        if self.config.lora.is_some() {
            invalid_input!(
                "the model has LoRA adapters: merge them before adding a classification head"
            );
        }
        let config = ModelConfig {
            classifier: Some(ClassifierConfig { classes }),
            ..self.config.clone()
        };
        config.validate()?;
        let base = ModelConfig {
            classifier: None,
            ..self.config.clone()
        };
        let keep = ParamLayout::new(&base).total;
        let mut params = self.params[..keep].to_vec();
        let layout = ParamLayout::new(&config);
        params.resize(layout.total, 0.0);
        let (w, _) = layout.classifier.expect("the config has a classifier");
        let spec = &layout.specs[w];
        let mut rng = Rng::new(seed ^ 0x0c1a_55e5);
        for x in &mut params[spec.offset..spec.offset + spec.len] {
            *x = (rng.normal() * 0.02) as f32;
        }
        Gpt::from_params(config, params)
    }

    /// The class probabilities (K, in label order) of one passage of 1 to block_size tokens: softmax of the class
    /// logits of a forward pass without dropout.
    pub fn class_probabilities(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let Some(head) = &self.config.classifier else {
            invalid_input!(
                "the model has no classification head: fine-tune it for a task first (Gpt::with_classifier)"
            );
        };
        let k = head.classes;
        if tokens.is_empty() {
            invalid_input!("the passage is empty: a classifier reads at least one token");
        }
        let t = tokens.len();
        if t > self.config.block_size {
            invalid_input!(
                "the passage is {t} tokens, more than the classifier's context of {}: give it fewer",
                self.config.block_size
            );
        }
        self.forward(tokens, None, 1, t, None)?;
        let Some(acts) = &self.acts().classifier else {
            invalid_input!("the forward pass made no class logits");
        };
        let logits = &self.act(acts.logits)[..k];
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let exps: Vec<f64> = logits.iter().map(|&x| f64::from(x - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        Ok(exps.iter().map(|&e| (e / sum) as f32).collect())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::corpus::{ClassifyTask, classify};
    use crate::model::Objective;
    use crate::model::batches::Batches;
    use crate::model::Trainer;
    use crate::model::train::{TrainLoop, TrainOptions};
    use crate::ops::crossentropy_forward::IGNORE_INDEX;
    use crate::ops::testing::TestRng;

    fn small_classifier() -> ModelConfig {
        // B=3, T=7 over block_size 8, C=12, NH=3, V=37, K=5, L=2.
        ModelConfig {
            vocab_size: 37,
            n_layer: 2,
            n_head: 3,
            n_embd: 12,
            block_size: 8,
            attention_mask: AttentionMask::Bidirectional,
            objective: Objective::Mlm,
            classifier: Some(ClassifierConfig { classes: 5 }),
            ..ModelConfig::reference(37)
        }
    }

    /// Every parameter gradient of a small classifier (head, pooling and the encoder below) in f64 against central
    /// differences, with and without dropout.
    #[test]
    fn whole_classifier_gradients_match_finite_differences() {
        for (config, dropout_seed) in [
            (small_classifier(), None),
            (
                ModelConfig {
                    dropout: 0.2,
                    ..small_classifier()
                },
                Some(4),
            ),
        ] {
            let (b, t) = (3, 7);
            let mut rng = TestRng::new(17);
            let mut model = Gpt::<f64>::new(config.clone(), 2).unwrap();
            for x in model.params.iter_mut() {
                *x += 0.3 * rng.uniform_f64();
            }
            let inputs = rng.tokens(b * t, config.vocab_size);
            let mut targets = vec![IGNORE_INDEX; b * t];
            targets[..b].copy_from_slice(&[4, 0, 2]);
            model.zero_grad();
            let loss = model
                .forward(&inputs, Some(&targets), b, t, dropout_seed)
                .unwrap()
                .unwrap();
            assert!(loss > 0.1, "{loss}");
            model.backward(1.0).unwrap();
            let analytic = model.grads.clone();
            let eps = 1e-5;
            #[allow(clippy::needless_range_loop)] // i indexes params and analytic alike
            for i in 0..model.params.len() {
                let x = model.params[i];
                let at = |v: f64, m: &mut Gpt<f64>| {
                    m.params[i] = v;
                    m.forward(&inputs, Some(&targets), b, t, dropout_seed)
                        .unwrap()
                        .unwrap()
                };
                let numeric = (at(x + eps, &mut model) - at(x - eps, &mut model)) / (2.0 * eps);
                model.params[i] = x;
                let name = &model
                    .layout
                    .specs
                    .iter()
                    .rfind(|s| s.offset <= i)
                    .unwrap()
                    .name;
                assert!(
                    (numeric - analytic[i]).abs() <= 1e-7 + 1e-5 * numeric.abs(),
                    "parameter {i} ({name}): analytic {} vs finite difference {numeric}",
                    analytic[i]
                );
            }
            // The LM head is not used: wte's gradient comes from the embedding alone, and the head's is sizeable.
            let (w, bias) = model.layout.classifier.unwrap();
            for id in [w, bias] {
                let spec = &model.layout.specs[id];
                let g = &analytic[spec.offset..spec.offset + spec.len];
                assert!(g.iter().any(|x| x.abs() > 1e-3), "{}", spec.name);
            }
        }
    }

    #[test]
    fn with_classifier_keeps_the_encoder_and_predicts_one_class_per_sequence() {
        let base_config = ModelConfig {
            classifier: None,
            ..small_classifier()
        };
        let base = Gpt::<f32>::new(base_config, 3).unwrap();
        let model = base.with_classifier(4, 9).unwrap();
        assert_eq!(&model.params[..base.params.len()], &base.params[..]);
        assert_eq!(
            model.config.classifier,
            Some(ClassifierConfig { classes: 4 })
        );
        let (w, bias) = model.layout.classifier.unwrap();
        assert_eq!(model.layout.specs[w].name, "classifier.weight");
        assert_eq!(model.layout.specs[w].shape, vec![4, 12]);
        assert_eq!(model.layout.specs[bias].shape, vec![4]);
        assert_eq!(model.config.param_count(), model.params.len());
        let mut model = model;
        model.forward(&[1; 14], None, 2, 7, None).unwrap();
        let predictions = model.predictions();
        assert_eq!(predictions.len(), 2);
        assert!(predictions.iter().all(|&p| p < 4));
        // Bad labels and a bad layout of the targets are errors, not panics.
        let mut targets = vec![IGNORE_INDEX; 14];
        targets[..2].copy_from_slice(&[4, 2]);
        let err = model
            .forward(&[1; 14], Some(&targets), 2, 7, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("label 4") && err.contains("4 classes"),
            "{err}"
        );
        targets[0] = 1;
        targets[5] = 1;
        let err = model
            .forward(&[1; 14], Some(&targets), 2, 7, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ignore index"), "{err}");
        assert!(base.with_classifier(1, 0).is_err());
    }

    #[test]
    fn class_probabilities_are_the_softmax_of_the_head_and_a_causal_model_gets_none() {
        let mut model = Gpt::<f32>::new(small_classifier(), 5).unwrap();
        let tokens = [3, 1, 4, 1, 5];
        let probs = model.class_probabilities(&tokens).unwrap();
        assert_eq!(probs.len(), 5);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{probs:?}");
        assert!(probs.iter().all(|&p| p > 0.0 && p < 1.0), "{probs:?}");
        // The same pass as predictions() reads: the likeliest class is its prediction.
        let best = (0..5).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap() as u32;
        assert_eq!(model.predictions(), vec![best]);
        // Against the logits themselves, in f64.
        let logits = model.act(model.acts().classifier.as_ref().unwrap().logits)[..5].to_vec();
        let z: f64 = logits.iter().map(|&x| f64::from(x).exp()).sum();
        for (p, x) in probs.iter().zip(&logits) {
            assert!((f64::from(*p) - f64::from(*x).exp() / z).abs() < 1e-6);
        }
        // A passage of one token reads too; none, one past the context, or a model without a head: errors.
        assert_eq!(model.class_probabilities(&[7]).unwrap().len(), 5);
        let err = model.class_probabilities(&[]).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = model.class_probabilities(&[1; 9]).unwrap_err().to_string();
        assert!(err.contains("9 tokens") && err.contains("context of 8"), "{err}");
        let plain = ModelConfig {
            classifier: None,
            ..small_classifier()
        };
        let err = Gpt::<f32>::new(plain.clone(), 1)
            .unwrap()
            .class_probabilities(&tokens)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no classification head"), "{err}");
        // A decoder is refused a head, with the way out.
        let causal = ModelConfig {
            attention_mask: AttentionMask::Causal,
            objective: Objective::Causal,
            ..plain
        };
        let err = Gpt::<f32>::new(causal, 1)
            .unwrap()
            .with_classifier(4, 1)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("causal") && err.contains("masked-language"), "{err}");
    }

    #[test]
    fn a_labelled_trainer_checks_its_options_and_data() {
        let config = small_classifier();
        let examples = vec![(vec![1u32; 6], 2u32); 8];
        let options = TrainOptions {
            batch_size: 4,
            eval_batches: 2,
            ..TrainOptions::default()
        };
        let model = || Gpt::new(config.clone(), 1).unwrap();
        let mut trainer =
            Trainer::labelled(model(), examples.clone(), examples.clone(), options.clone())
                .unwrap();
        assert_eq!(trainer.seq_len(), 6);
        trainer.step().unwrap();
        let eval = trainer.evaluate().unwrap();
        assert!(eval.val_accuracy.is_some_and(|a| (0.0..=1.0).contains(&a)));
        let bad_lr = TrainOptions {
            lr: f32::NAN,
            ..options.clone()
        };
        let err = Trainer::labelled(model(), examples.clone(), examples.clone(), bad_lr)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("learning rates"), "{err}");
        let f16 = TrainOptions {
            precision: crate::model::Precision::F16,
            ..options.clone()
        };
        let err = Trainer::labelled(model(), examples.clone(), examples.clone(), f16)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("f16"), "{err}");
        let err = Trainer::labelled(model(), vec![(vec![1; 6], 5)], examples, options)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("label 5"), "{err}");
    }

    /// A tiny classifier learns the template task from the labels (CPU; the GPU test checks the same steps).
    #[test]
    fn a_classifier_learns_which_template_a_passage_comes_from() {
        let t = 32;
        let encode = |s: &str| s.bytes().map(|b| u32::from(b) % 96).collect::<Vec<u32>>();
        let train = classify::generate_examples(ClassifyTask::Template, 1, 256, t, encode);
        let val = classify::generate_examples(ClassifyTask::Template, 2, 64, t, encode);
        let config = ModelConfig {
            vocab_size: 96,
            n_layer: 1,
            n_head: 2,
            n_embd: 32,
            block_size: t,
            attention_mask: AttentionMask::Bidirectional,
            classifier: Some(ClassifierConfig { classes: 4 }),
            ..ModelConfig::reference(96)
        };
        let options = TrainOptions {
            batch_size: 16,
            steps: 120,
            lr: 3e-3,
            eval_batches: 4,
            ..TrainOptions::default()
        };
        let batches = Batches::labelled(&config, train, val, &options).unwrap();
        let mut trainer = TrainLoop::from_batches(Gpt::new(config, 1).unwrap(), batches, options);
        let before = trainer.evaluate().unwrap();
        for _ in 0..120 {
            trainer.step().unwrap();
        }
        let after = trainer.evaluate().unwrap();
        let (acc0, acc1) = (before.val_accuracy.unwrap(), after.val_accuracy.unwrap());
        eprintln!(
            "template classifier: accuracy {acc0} -> {acc1}, loss {} -> {}",
            before.val_loss, after.val_loss
        );
        assert!(
            after.val_loss < before.val_loss - 0.2,
            "{before:?} -> {after:?}"
        );
        assert!(acc1 > 0.45, "{before:?} -> {after:?}");
    }
}
