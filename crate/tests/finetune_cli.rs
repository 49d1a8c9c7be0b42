//! `tplay finetune` end to end: a tiny masked-language model pre-trained, then fine-tuned with a classification
//! head on the template task (and the same model from new weights with --scratch), JSON lines with the accuracy;
//! bad input is a clear error.

mod common;

use common::{assert_refused, json_lines, scratch_with_config, stderr, tplay};
use std::process::Output;

/// The model every test here trains (`--config m.json`).
const TINY_MODEL: &str = r#"{"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}"#;

const FINETUNE: &[&str] = &[
    "finetune",
    "--task",
    "template",
    "--steps",
    "4",
    "--eval-interval",
    "2",
    "--batch-size",
    "8",
    "--train-examples",
    "32",
    "--val-examples",
    "16",
];

fn accuracies(out: &Output) -> (f64, Vec<f64>) {
    let lines = json_lines(out);
    assert_eq!(lines[0]["baseline"], "majority class", "{lines:?}");
    let baseline = lines[0]["val_accuracy"].as_f64().unwrap();
    let evals = lines
        .iter()
        .filter(|l| l.get("val_loss").is_some())
        .map(|l| l["val_accuracy"].as_f64().expect("accuracy"))
        .collect();
    (baseline, evals)
}

#[test]
fn finetune_from_an_mlm_encoder_and_from_scratch_report_accuracy() {
    let dir = scratch_with_config("finetune", TINY_MODEL);
    let out = tplay(
        &dir,
        &[
            "train",
            "--objective",
            "mlm",
            "--config",
            "m.json",
            "--steps",
            "3",
            "--batch-size",
            "4",
            "--corpus-bytes",
            "20000",
            "--out",
            "mlm.safetensors",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for scratch in [false, true] {
        let mut args = FINETUNE.to_vec();
        args.extend(["--init", "mlm.safetensors", "--out", "cls.safetensors"]);
        if scratch {
            args.push("--scratch");
        }
        let out = tplay(&dir, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let (baseline, evals) = accuracies(&out);
        assert!((0.0..=1.0).contains(&baseline));
        assert_eq!(evals.len(), 2, "evaluations at steps 2 and 4");
        assert!(evals.iter().all(|a| (0.0..=1.0).contains(a)));
        assert!(stderr(&out).contains(if scratch {
            "--scratch"
        } else {
            "encoder from mlm.safetensors"
        }));
    }
    // The classifier file loads as a model with its head; it cannot be fine-tuned again as an encoder, nor
    // asked to fill masks.
    let mut args = FINETUNE.to_vec();
    args.extend(["--init", "cls.safetensors"]);
    let out = tplay(&dir, &args);
    assert_refused(&out, "is a classifier already");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn finetune_refuses_bad_input_with_reasons() {
    let dir = scratch_with_config("finetune-errors", TINY_MODEL);
    let out = tplay(&dir, &["finetune", "--task", "sentiment"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no classification task called 'sentiment'") && err.contains("template"),
        "{err}"
    );
    let out = tplay(&dir, &["finetune", "--scratch"]);
    assert_refused(&out, "--scratch starts the model of --init");
    let out = tplay(
        &dir,
        &[
            "finetune",
            "--config",
            "m.json",
            "--seq-len",
            "99",
            "--steps",
            "1",
        ],
    );
    assert_refused(&out, "--seq-len 99");
    // A new model (no --init) trains too.
    let mut args = FINETUNE.to_vec();
    args.extend(["--config", "m.json", "--out", "new.safetensors"]);
    let out = tplay(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}
