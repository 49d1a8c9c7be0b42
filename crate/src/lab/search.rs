//! Hyperparameter search: grid or random trials over learning rate (log scale), warmup, batch size, width,
//! depth, heads, dropout and weight decay, each trial a fixed budget of steps with its own seed, poor trials
//! stopped early by successive halving.
//!
//! The halving is the asynchronous form (ASHA, Li et al. 2018), so trials run one after another and only one
//! model is ever held: a trial is evaluated at the rungs `steps / eta^k` (k = rungs - 1 .. 0); at each rung it
//! goes on only while its validation loss is among the best `1 / eta` of the losses every trial so far had at
//! that rung (with fewer than `eta` of them there is nothing to judge by, and it goes on).
//!
//! Each finished trial is a [`TrialRecord`]: the CLI appends it as a JSON line, and a search run again with
//! the records it already has skips those trials (their rung losses still judge the later ones), so a search
//! resumes where it stopped and gives the same records as one run through.

use serde::{Deserialize, Serialize};

use crate::model::{Gpt, ModelConfig, TrainOptions, Trainer};
use crate::rng::Rng;
use crate::{Error, Result, invalid_input};

/// The values one hyperparameter may take: a list (grid and random search), or a range drawn uniformly
/// (random search only), on a log scale when `log` (the learning rate's default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Values {
    List(Vec<f64>),
    Range {
        min: f64,
        max: f64,
        #[serde(default)]
        log: bool,
    },
}

/// Grid: every combination of the lists, in order. Random: each trial draws every value from its own seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Grid,
    Random,
}

/// A search space (the CLI's `--space` JSON). A hyperparameter left out keeps the base config's or the
/// base options' value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSpace {
    pub strategy: Strategy,
    pub lr: Option<Values>,
    pub warmup_steps: Option<Values>,
    pub batch_size: Option<Values>,
    pub n_embd: Option<Values>,
    pub n_layer: Option<Values>,
    pub n_head: Option<Values>,
    pub dropout: Option<Values>,
    pub weight_decay: Option<Values>,
    /// Successive halving's factor: at each rung the best 1/eta go on; 0 turns early stopping off.
    pub eta: usize,
    /// Rungs of successive halving, the last at the full budget of steps.
    pub rungs: usize,
}

impl Default for SearchSpace {
    fn default() -> Self {
        Self {
            strategy: Strategy::Random,
            lr: None,
            warmup_steps: None,
            batch_size: None,
            n_embd: None,
            n_layer: None,
            n_head: None,
            dropout: None,
            weight_decay: None,
            eta: 2,
            rungs: 3,
        }
    }
}

/// The hyperparameters of one trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialParams {
    pub lr: f64,
    pub warmup_steps: u32,
    pub batch_size: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub dropout: f64,
    pub weight_decay: f64,
}

impl TrialParams {
    /// Equal up to the last bits of the floats (a JSON line read back may differ there).
    pub fn matches(&self, other: &Self) -> bool {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        close(self.lr, other.lr)
            && close(self.dropout, other.dropout)
            && close(self.weight_decay, other.weight_decay)
            && (
                self.warmup_steps,
                self.batch_size,
                self.n_embd,
                self.n_layer,
                self.n_head,
            ) == (
                other.warmup_steps,
                other.batch_size,
                other.n_embd,
                other.n_layer,
                other.n_head,
            )
    }
}

/// One validation of a trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungLoss {
    pub step: u32,
    pub val_loss: f64,
}

/// A finished trial: its seed, hyperparameters, the validation loss at each rung it reached, and why it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub trial: usize,
    pub seed: u64,
    pub params: TrialParams,
    pub rungs: Vec<RungLoss>,
    /// The last validation loss (NaN, written null, when the trial never got one).
    pub final_val_loss: Option<f64>,
    /// "completed", "stopped" (successive halving), "diverged" or "invalid" (a config the model refuses).
    pub status: String,
    /// The reason for "diverged" and "invalid".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What every trial shares: the data, the base model config (vocab_size, block_size, ...) and options.
pub struct SearchData {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub base_config: ModelConfig,
    pub base_options: TrainOptions,
}

impl SearchSpace {
    pub fn from_json(json: &str) -> Result<Self> {
        let space: Self = serde_json::from_str(json)
            .map_err(|e| Error::Format(format!("the search space is not valid: {e}")))?;
        for (name, values) in space.named() {
            match values {
                Some(Values::List(list)) if list.is_empty() => {
                    invalid_input!("the search space's {name} is an empty list")
                }
                Some(Values::Range { min, max, log }) => {
                    if space.strategy == Strategy::Grid {
                        invalid_input!(
                            "a grid search needs a list of values for {name}, not a range"
                        );
                    }
                    if !(min.is_finite() && max.is_finite() && min <= max) || (*log && *min <= 0.0)
                    {
                        invalid_input!(
                            "the search space's {name} range [{min}, {max}] is empty or (log scale) not positive"
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(space)
    }

    fn named(&self) -> [(&'static str, &Option<Values>); 8] {
        [
            ("lr", &self.lr),
            ("warmup_steps", &self.warmup_steps),
            ("batch_size", &self.batch_size),
            ("n_embd", &self.n_embd),
            ("n_layer", &self.n_layer),
            ("n_head", &self.n_head),
            ("dropout", &self.dropout),
            ("weight_decay", &self.weight_decay),
        ]
    }

    /// The number of trials a grid holds (the product of the lists' lengths); None for random search.
    pub fn grid_size(&self) -> Option<usize> {
        (self.strategy == Strategy::Grid).then(|| {
            self.named()
                .iter()
                .map(|(_, v)| match v {
                    Some(Values::List(list)) => list.len(),
                    _ => 1,
                })
                .product()
        })
    }

    /// The hyperparameters of trial `index` (its grid point, or draws from `seed`), over `data`'s base.
    pub fn trial_params(&self, index: usize, seed: u64, data: &SearchData) -> TrialParams {
        let (c, o) = (&data.base_config, &data.base_options);
        let mut rng = Rng::new(seed);
        let mut stride = 1;
        let mut pick = |values: &Option<Values>, base: f64| -> f64 {
            match values {
                None => base,
                Some(Values::List(list)) => {
                    let i = match self.strategy {
                        Strategy::Grid => index / stride % list.len(),
                        Strategy::Random => (rng.uniform() * list.len() as f64) as usize,
                    };
                    stride *= list.len();
                    list[i.min(list.len() - 1)]
                }
                Some(Values::Range { min, max, log }) => {
                    let u = rng.uniform();
                    if *log {
                        (min.ln() + u * (max.ln() - min.ln())).exp()
                    } else {
                        min + u * (max - min)
                    }
                }
            }
        };
        TrialParams {
            lr: pick(&self.lr, f64::from(o.lr)),
            warmup_steps: pick(&self.warmup_steps, f64::from(o.warmup_steps)) as u32,
            batch_size: pick(&self.batch_size, o.batch_size as f64) as usize,
            n_embd: pick(&self.n_embd, c.n_embd as f64) as usize,
            n_layer: pick(&self.n_layer, c.n_layer as f64) as usize,
            n_head: pick(&self.n_head, c.n_head as f64) as usize,
            dropout: pick(&self.dropout, f64::from(c.dropout)),
            weight_decay: pick(&self.weight_decay, f64::from(o.weight_decay)),
        }
    }

    /// The steps at which a trial of `steps` is judged: steps / eta^k for k = rungs - 1 .. 0 (at least 1,
    /// each once), ending at `steps`. Without halving only `steps`.
    pub fn rung_steps(&self, steps: u32) -> Vec<u32> {
        if self.eta < 2 || self.rungs < 2 {
            return vec![steps];
        }
        let mut out: Vec<u32> = (0..self.rungs)
            .rev()
            .map(|k| {
                (f64::from(steps) / (self.eta as f64).powi(k as i32))
                    .round()
                    .max(1.0) as u32
            })
            .collect();
        out.dedup();
        out
    }
}

/// The seed of trial `index` of a search seeded `seed` (SplitMix-style mixing, so neighbours differ). 32 bits:
/// a model's seed in the package and the page is a 32-bit number, so the package's search (js/src/lab-search.ts,
/// the same draws in TypeScript) gives a trial the same seed and hyperparameters as this one.
pub fn trial_seed(seed: u64, index: usize) -> u64 {
    Rng::new(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64() >> 32
}

/// Successive halving's rule at one rung: go on when `loss` is among the best `1/eta` of `earlier` (the losses
/// earlier trials had at this rung) together with itself. With fewer than `eta` losses to compare it goes on.
pub fn keeps_going(earlier: &[f64], loss: f64, eta: usize) -> bool {
    if !loss.is_finite() {
        return false;
    }
    let keep = if eta < 2 {
        usize::MAX
    } else {
        (earlier.len() + 1) / eta
    };
    keep == 0 || earlier.iter().filter(|&&l| l < loss).count() < keep
}

/// Runs trials `0..trials` of `steps` each, skipping those `done` already holds (resumption): `on_trial`
/// receives each new record as it finishes (the CLI appends it to its file). Returns every record, in order.
pub fn run_search(
    space: &SearchSpace,
    data: &SearchData,
    trials: usize,
    steps: u32,
    seed: u64,
    done: &[TrialRecord],
    mut on_trial: impl FnMut(&TrialRecord) -> Result<()>,
) -> Result<Vec<TrialRecord>> {
    let mut search = SearchRun::new(space.clone(), trials, steps, seed, done.to_vec());
    while let Some(record) = search.next_trial(data)? {
        on_trial(&record)?;
    }
    Ok(search.records)
}

/// A search run one trial per call (the package steps it from JavaScript, storing each record as it comes).
pub struct SearchRun {
    space: SearchSpace,
    trials: usize,
    seed: u64,
    rungs: Vec<u32>,
    done: Vec<TrialRecord>,
    /// The records so far, in trial order (resumed ones included).
    pub records: Vec<TrialRecord>,
}

impl SearchRun {
    /// A search of `trials` trials (a grid caps it at its size) of `steps` steps, resuming from `done`.
    pub fn new(
        space: SearchSpace,
        trials: usize,
        steps: u32,
        seed: u64,
        done: Vec<TrialRecord>,
    ) -> Self {
        let trials = space.grid_size().map_or(trials, |grid| trials.min(grid));
        let rungs = space.rung_steps(steps);
        Self {
            space,
            trials,
            seed,
            rungs,
            done,
            records: Vec::with_capacity(trials),
        }
    }

    /// The number of trials of the search.
    pub fn trials(&self) -> usize {
        self.trials
    }

    /// Runs the next trial that `done` does not hold (taking the held ones on the way) and returns its new
    /// record; None when every trial has one. A held record from another space or seed is an error.
    pub fn next_trial(&mut self, data: &SearchData) -> Result<Option<TrialRecord>> {
        while self.records.len() < self.trials {
            let index = self.records.len();
            let trial_seed = trial_seed(self.seed, index);
            let params = self.space.trial_params(index, trial_seed, data);
            if let Some(old) = self.done.iter().find(|r| r.trial == index) {
                if old.seed != trial_seed || !old.params.matches(&params) {
                    invalid_input!(
                        "trial {index} of the results file was run with another space or seed (its seed {} and parameters differ); use a new results file",
                        old.seed
                    );
                }
                self.records.push(old.clone());
                continue;
            }
            let record = run_trial(
                &self.space,
                data,
                index,
                trial_seed,
                params,
                &self.rungs,
                &self.records,
            );
            self.records.push(record.clone());
            return Ok(Some(record));
        }
        Ok(None)
    }
}

/// One trial: train, evaluate at each rung, stop when successive halving says so.
fn run_trial(
    space: &SearchSpace,
    data: &SearchData,
    index: usize,
    seed: u64,
    params: TrialParams,
    rungs: &[u32],
    earlier: &[TrialRecord],
) -> TrialRecord {
    let mut record = TrialRecord {
        trial: index,
        seed,
        params: params.clone(),
        rungs: Vec::new(),
        final_val_loss: None,
        status: "completed".into(),
        error: None,
    };
    let config = ModelConfig {
        n_embd: params.n_embd,
        n_layer: params.n_layer,
        n_head: params.n_head,
        dropout: params.dropout as f32,
        ..data.base_config.clone()
    };
    let options = TrainOptions {
        lr: params.lr as f32,
        min_lr: params.lr as f32 / 10.0,
        warmup_steps: params.warmup_steps,
        batch_size: params.batch_size,
        weight_decay: params.weight_decay as f32,
        steps: *rungs.last().expect("at least one rung"),
        eval_interval: 0,
        seed,
        ..data.base_options.clone()
    };
    let trainer = Gpt::new(config, seed)
        .and_then(|model| Trainer::new(model, data.train.clone(), data.val.clone(), options));
    let mut trainer = match trainer {
        Ok(trainer) => trainer,
        Err(e) => {
            record.status = "invalid".into();
            record.error = Some(e.to_string());
            return record;
        }
    };
    for &rung in rungs {
        let evaluated = (|| -> Result<f64> {
            while trainer.step_count() < rung {
                trainer.step()?;
            }
            Ok(trainer.evaluate()?.val_loss)
        })();
        let loss = match evaluated {
            Ok(loss) => loss,
            Err(e) => {
                record.status = "diverged".into();
                record.error = Some(e.to_string());
                return record;
            }
        };
        record.rungs.push(RungLoss {
            step: rung,
            val_loss: loss,
        });
        record.final_val_loss = Some(loss);
        let at_rung: Vec<f64> = earlier
            .iter()
            .filter_map(|r| r.rungs.iter().find(|x| x.step == rung).map(|x| x.val_loss))
            .collect();
        if rung != *rungs.last().expect("at least one rung")
            && !keeps_going(&at_rung, loss, space.eta)
        {
            record.status = "stopped".into();
            return record;
        }
    }
    record
}

/// The best completed trial (lowest final validation loss), if any.
pub fn best(records: &[TrialRecord]) -> Option<&TrialRecord> {
    records
        .iter()
        .filter(|r| r.status == "completed")
        .filter_map(|r| r.final_val_loss.map(|l| (r, l)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn data() -> SearchData {
        let tokens: Vec<u32> = (0..3000u32).map(|i| (i * 7 + i / 13) % 11).collect();
        SearchData {
            train: tokens[..2700].to_vec(),
            val: tokens[2700..].to_vec(),
            base_config: ModelConfig {
                n_layer: 1,
                n_head: 2,
                n_embd: 8,
                block_size: 8,
                ..ModelConfig::reference(11)
            },
            base_options: TrainOptions {
                batch_size: 4,
                warmup_steps: 2,
                eval_batches: 2,
                ..TrainOptions::default()
            },
        }
    }

    #[test]
    fn halving_keeps_the_best_fraction_at_a_rung() {
        // Too few to judge: go on.
        assert!(keeps_going(&[], 9.0, 2));
        assert!(keeps_going(&[], 9.0, 3));
        assert!(keeps_going(&[1.0], 9.0, 3));
        // Two of four (with itself) go on at eta 2: the second best does, the third does not.
        assert!(keeps_going(&[1.0, 3.0, 4.0], 2.0, 2));
        assert!(!keeps_going(&[1.0, 2.0, 4.0], 3.0, 2));
        assert!(!keeps_going(&[1.0], f64::NAN, 2));
        // eta 0: no early stopping.
        assert!(keeps_going(&[1.0, 2.0, 3.0], 9.0, 0));
    }

    #[test]
    fn trial_seeds_and_draws_are_those_the_package_repeats() {
        // The same numbers are pinned in tests/package/search.test.mjs (the TypeScript search's draws).
        let seeds: Vec<u64> = (0..4).map(|i| trial_seed(3, i)).collect();
        assert_eq!(seeds, [487265508, 3203108257, 942667852, 1872736331]);
        let space = SearchSpace::from_json(
            r#"{"lr": {"min": 1e-4, "max": 1e-2, "log": true}, "n_embd": [8, 16, 32]}"#,
        )
        .unwrap();
        let d = data();
        let drawn: Vec<(f64, usize)> = (0..3)
            .map(|i| {
                let p = space.trial_params(i, trial_seed(3, i), &d);
                (p.lr, p.n_embd)
            })
            .collect();
        let expected = [
            (0.0008198084309879299, 16),
            (0.0004345846885996398, 16),
            (0.008115229523270113, 32),
        ];
        for ((lr, c), (want_lr, want_c)) in drawn.iter().zip(expected) {
            assert!((lr - want_lr).abs() <= 1e-15 * want_lr, "{lr} vs {want_lr}");
            assert_eq!(*c, want_c);
        }
    }

    #[test]
    fn rungs_grid_and_seeds_are_as_specified() {
        let space = SearchSpace {
            eta: 3,
            rungs: 3,
            ..SearchSpace::default()
        };
        assert_eq!(space.rung_steps(27), [3, 9, 27]);
        assert_eq!(space.rung_steps(2), [1, 2]);
        let grid = SearchSpace::from_json(
            r#"{"strategy": "grid", "lr": [0.001, 0.01], "n_layer": [1, 2, 3]}"#,
        )
        .unwrap();
        assert_eq!(grid.grid_size(), Some(6));
        let d = data();
        let points: Vec<(f64, usize)> = (0..6)
            .map(|i| {
                let p = grid.trial_params(i, trial_seed(1, i), &d);
                (p.lr, p.n_layer)
            })
            .collect();
        assert_eq!(
            points,
            [
                (0.001, 1),
                (0.01, 1),
                (0.001, 2),
                (0.01, 2),
                (0.001, 3),
                (0.01, 3)
            ]
        );
        let random =
            SearchSpace::from_json(r#"{"lr": {"min": 1e-4, "max": 1e-2, "log": true}}"#).unwrap();
        let lrs: Vec<f64> = (0..50)
            .map(|i| random.trial_params(i, trial_seed(7, i), &d).lr)
            .collect();
        assert!(lrs.iter().all(|&lr| (1e-4..=1e-2).contains(&lr)));
        // Log scale: about half the draws below the geometric middle 1e-3.
        let below = lrs.iter().filter(|&&lr| lr < 1e-3).count();
        assert!((15..=35).contains(&below), "{below} of 50 below 1e-3");
        assert_eq!(
            random.trial_params(3, trial_seed(7, 3), &d),
            random.trial_params(3, trial_seed(7, 3), &d)
        );
        assert!(
            SearchSpace::from_json(r#"{"strategy": "grid", "lr": {"min": 1, "max": 2}}"#).is_err()
        );
        assert!(SearchSpace::from_json(r#"{"lr": []}"#).is_err());
        assert!(SearchSpace::from_json(r#"{"lrr": [1]}"#).is_err());
    }

    #[test]
    fn poor_trials_stop_early_and_good_ones_run_the_budget() {
        // Half the trials learn at lr 1e-2, half barely move at 1e-6: from the second trial on, the
        // hopeless ones stop at the first rung (worse than the best half); the learning ones run all 8 steps.
        let space = SearchSpace::from_json(
            r#"{"strategy": "grid", "lr": [0.01, 0.000001, 0.02, 0.000002], "eta": 2, "rungs": 3}"#,
        )
        .unwrap();
        let records = run_search(&space, &data(), 8, 8, 5, &[], |_| Ok(())).unwrap();
        assert_eq!(records.len(), 4, "the grid holds 4 trials");
        let status: Vec<&str> = records.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(status, ["completed", "stopped", "completed", "stopped"]);
        assert_eq!(records[1].rungs.len(), 1);
        assert_eq!(
            records[3].rungs.len(),
            1,
            "stopped at the first rung (2 steps)"
        );
        assert_eq!(
            records[2].rungs.iter().map(|r| r.step).collect::<Vec<_>>(),
            [2, 4, 8]
        );
        assert_eq!(best(&records).unwrap().params.lr, 0.02);
        // Without halving every trial runs the budget.
        let off = SearchSpace { eta: 0, ..space };
        let records = run_search(&off, &data(), 4, 8, 5, &[], |_| Ok(())).unwrap();
        assert!(
            records
                .iter()
                .all(|r| r.status == "completed" && r.rungs.len() == 1)
        );
    }

    #[test]
    fn a_resumed_search_skips_finished_trials_and_ends_as_one_run() {
        let space = SearchSpace::from_json(
            r#"{"lr": {"min": 0.001, "max": 0.03, "log": true}, "n_embd": [8, 16], "eta": 2, "rungs": 2}"#,
        )
        .unwrap();
        let d = data();
        let whole = run_search(&space, &d, 4, 6, 11, &[], |_| Ok(())).unwrap();
        // Interrupted after two trials (their JSON lines written), then run again over the same file.
        let first_two: Vec<TrialRecord> = whole[..2]
            .iter()
            .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
            .collect();
        let mut ran = Vec::new();
        let resumed = run_search(&space, &d, 4, 6, 11, &first_two, |r| {
            ran.push(r.trial);
            Ok(())
        })
        .unwrap();
        assert_eq!(ran, [2, 3], "only the unfinished trials run");
        assert_eq!(
            resumed[2..],
            whole[2..],
            "the same later trials, judged by the same earlier rungs"
        );
        assert_eq!(resumed.len(), 4);
        // A file from another seed is refused rather than mixed in.
        let err = run_search(&space, &d, 4, 6, 12, &first_two, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("another space or seed"), "{err}");
    }
}
