//! Overfitting and its cures, side by side: the same model trained on a deliberately tiny text several times,
//! once with no regularization and once with each cure (dropout, weight decay, data augmentation), each from
//! the same initial weights, batches and seed. Every evaluation measures the loss on the training text and on
//! unseen validation text, both without dropout or augmentation, so the gap between them (how much the model
//! memorised rather than learnt) is measured the same way for every run.

use serde::{Deserialize, Serialize};

use super::distill::validation_loss;
use crate::model::Trainer;
use crate::model::augment::Augment;
use crate::model::batches::Batches;
use crate::model::{Gpt, ModelConfig, TrainOptions};
use crate::{Result, invalid_input};

/// One run of the demo: its name and the regularization it adds to the base config and options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// Dropout of the model (attention, residual and embedding dropout).
    pub dropout: f32,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f32,
    pub augment: Augment,
}

impl Default for Variant {
    fn default() -> Self {
        Self {
            name: "none".into(),
            dropout: 0.0,
            weight_decay: 0.0,
            augment: Augment::default(),
        }
    }
}

/// The demo's four runs: nothing, dropout `dropout`, weight decay `weight_decay`, augmentation `augment`.
pub fn variants(dropout: f32, weight_decay: f32, augment: Augment) -> Vec<Variant> {
    vec![
        Variant::default(),
        Variant {
            name: "dropout".into(),
            dropout,
            ..Variant::default()
        },
        Variant {
            name: "weight_decay".into(),
            weight_decay,
            ..Variant::default()
        },
        Variant {
            name: "augment".into(),
            augment,
            ..Variant::default()
        },
    ]
}

/// One evaluation of a run: the loss on (fixed windows of) the training text and on the validation text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OverfitPoint {
    pub variant: String,
    pub step: u32,
    pub train_loss: f64,
    pub val_loss: f64,
}

/// A run's result: its last evaluation, the gap (validation minus training loss), and its best validation loss.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OverfitSummary {
    pub variant: String,
    pub train_loss: f64,
    pub val_loss: f64,
    pub gap: f64,
    pub best_val_loss: f64,
    pub best_step: u32,
}

/// Trains `config` on `train` once per variant for `options.steps` steps from the weights of `seed`, evaluating
/// every `options.eval_interval` steps (and at the end) on `options.eval_batches` batches of the training
/// stream and of `val`. `on_point` sees each evaluation as it happens. Returns one summary per variant.
pub fn run_overfit(
    config: &ModelConfig,
    seed: u64,
    train: &[u32],
    val: &[u32],
    options: &TrainOptions,
    variants: &[Variant],
    mut on_point: impl FnMut(&OverfitPoint),
) -> Result<Vec<OverfitSummary>> {
    if options.eval_interval == 0 {
        invalid_input!(
            "the overfitting demo evaluates as it trains: eval_interval must be at least 1"
        );
    }
    let mut summaries = Vec::with_capacity(variants.len());
    for variant in variants {
        let config = ModelConfig {
            dropout: variant.dropout,
            ..config.clone()
        };
        let options = TrainOptions {
            weight_decay: variant.weight_decay,
            augment: variant.augment.clone(),
            ..options.clone()
        };
        let model = Gpt::new(config, seed)?;
        let mut trainer = Trainer::new(model, train.to_vec(), val.to_vec(), options.clone())?;
        if !trainer.has_validation() {
            invalid_input!(
                "the validation text is shorter than one sequence: give the demo more validation text"
            );
        }
        // The training text's own fixed windows, evaluated like the validation ones (no dropout, no augmentation).
        let on_train = Batches::new(
            train.to_vec(),
            train.to_vec(),
            options.batch_size,
            trainer.seq_len(),
            options.eval_batches,
            options.seed,
        )?;
        let mut points: Vec<OverfitPoint> = Vec::new();
        for _ in 0..options.steps {
            let stats = trainer.step()?;
            if stats.step % options.eval_interval == 0 || stats.step == options.steps {
                let val_loss = trainer.evaluate()?.val_loss;
                let train_loss =
                    validation_loss(&mut trainer.model, &on_train, options.batch_size)?;
                let point = OverfitPoint {
                    variant: variant.name.clone(),
                    step: stats.step,
                    train_loss,
                    val_loss,
                };
                on_point(&point);
                points.push(point);
            }
        }
        let Some(last) = points.last() else {
            invalid_input!("the overfitting demo needs at least one step");
        };
        let best = points
            .iter()
            .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
            .expect("points is not empty");
        summaries.push(OverfitSummary {
            variant: variant.name.clone(),
            train_loss: last.train_loss,
            val_loss: last.val_loss,
            gap: last.val_loss - last.train_loss,
            best_val_loss: best.val_loss,
            best_step: best.step,
        });
    }
    Ok(summaries)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn config() -> ModelConfig {
        ModelConfig {
            n_layer: 1,
            n_head: 2,
            n_embd: 16,
            block_size: 16,
            ..ModelConfig::reference(12)
        }
    }

    /// A tiny training stream and unrelated validation text from the same 12 tokens.
    fn data() -> (Vec<u32>, Vec<u32>) {
        let mut rng = crate::rng::Rng::new(4);
        let train = (0..120).map(|_| rng.below(12) as u32).collect();
        let val = (0..400).map(|_| rng.below(12) as u32).collect();
        (train, val)
    }

    #[test]
    fn a_tiny_corpus_is_memorised_and_each_run_is_reproducible() {
        let (train, val) = data();
        let options = TrainOptions {
            batch_size: 8,
            steps: 60,
            lr: 1e-2,
            min_lr: 1e-3,
            warmup_steps: 5,
            eval_interval: 30,
            eval_batches: 2,
            seed: 3,
            ..TrainOptions::default()
        };
        let variants = variants(0.2, 1.0, Augment::parse("replace=0.2,mask=0.1").unwrap());
        let mut points = Vec::new();
        let run = |points: &mut Vec<OverfitPoint>| {
            run_overfit(&config(), 9, &train, &val, &options, &variants, |p| {
                points.push(p.clone())
            })
            .unwrap()
        };
        let summaries = run(&mut points);
        assert_eq!(points.len(), 4 * 2);
        assert_eq!(
            summaries
                .iter()
                .map(|s| s.variant.as_str())
                .collect::<Vec<_>>(),
            ["none", "dropout", "weight_decay", "augment"]
        );
        // Random text: the unregularised model memorises the 120 training tokens, and learns nothing that
        // carries over, so its gap is wide.
        let none = &summaries[0];
        assert!(none.gap > 0.5, "{none:?}");
        assert!((none.gap - (none.val_loss - none.train_loss)).abs() < 1e-12);
        // Augmentation makes memorising harder: a higher training loss.
        assert!(summaries[3].train_loss > none.train_loss, "{summaries:?}");
        let mut again = Vec::new();
        let summaries2 = run(&mut again);
        assert_eq!(format!("{summaries:?}"), format!("{summaries2:?}"));
    }

    #[test]
    fn bad_settings_are_errors() {
        let (train, val) = data();
        let options = TrainOptions {
            eval_interval: 0,
            ..TrainOptions::default()
        };
        let e = run_overfit(
            &config(),
            1,
            &train,
            &val,
            &options,
            &[Variant::default()],
            |_| {},
        );
        assert!(e.unwrap_err().to_string().contains("eval_interval"));
    }
}
