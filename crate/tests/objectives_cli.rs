//! `tplay train --objective mlm`, `tplay fill`, `tplay eval` and `tplay corpus --pairs` end to end, with their
//! errors for bad input.

mod common;

use common::{assert_refused, json_lines, scratch_with_config, stderr, tplay};
use std::path::Path;
use std::process::Output;

/// The model every test here trains (`--config m.json`).
const TINY_MODEL: &str = r#"{"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}"#;

fn train(dir: &Path, objective: &str, out: &str) -> Output {
    tplay(
        dir,
        &[
            "train",
            "--objective",
            objective,
            "--config",
            "m.json",
            "--steps",
            "4",
            "--eval-interval",
            "2",
            "--batch-size",
            "4",
            "--corpus-bytes",
            "20000",
            "--out",
            out,
        ],
    )
}

#[test]
fn mlm_training_reports_accuracy_and_fill_predicts_at_each_mask() {
    let dir = scratch_with_config("mlm", TINY_MODEL);
    let out = train(&dir, "mlm", "mlm.safetensors");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    // First the unigram baseline, then steps and evaluations with the masked-token accuracy.
    assert_eq!(lines[0]["baseline"], "unigram");
    let baseline = lines[0]["val_accuracy"].as_f64().unwrap();
    assert!(baseline > 0.05 && baseline < 0.5, "{baseline}");
    let evals: Vec<_> = lines[1..]
        .iter()
        .filter(|l| l.get("val_loss").is_some())
        .collect();
    assert_eq!(evals.len(), 2);
    for e in evals {
        let accuracy = e["val_accuracy"].as_f64().expect("accuracy");
        assert!((0.0..=1.0).contains(&accuracy), "{e}");
        assert!(e["val_ppl"].as_f64().unwrap() > 1.0);
    }

    let out = tplay(
        &dir,
        &[
            "fill",
            "--model",
            "mlm.safetensors",
            "--text",
            "Mira w[MASK]lks [MASK]",
            "--top-k",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let masks = json_lines(&out);
    assert_eq!(masks.len(), 2);
    assert_eq!(masks[0]["position"], 6);
    assert_eq!(masks[1]["position"], 11);
    for m in &masks {
        let predictions = m["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 3);
        let p: Vec<f64> = predictions
            .iter()
            .map(|p| p["probability"].as_f64().unwrap())
            .collect();
        assert!(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1.0, "{m}");
    }

    // Bad input: no [MASK], a text longer than the context, generation from an encoder.
    let out = tplay(
        &dir,
        &[
            "fill",
            "--model",
            "mlm.safetensors",
            "--text",
            "no mask here",
        ],
    );
    assert_refused(&out, "has no [MASK]");
    let long = format!("[MASK]{}", "a".repeat(40));
    let out = tplay(
        &dir,
        &["fill", "--model", "mlm.safetensors", "--text", &long],
    );
    assert_refused(&out, "longer than the model's context");
    let out = tplay(
        &dir,
        &["generate", "--model", "mlm.safetensors", "--prompt", "Mira"],
    );
    assert_refused(&out, "masked-language model");
}

#[test]
fn mask_token_and_unknown_objective_are_errors_for_a_causal_model() {
    let dir = scratch_with_config("causal-mask", TINY_MODEL);
    let out = train(&dir, "causal", "causal.safetensors");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        json_lines(&out)
            .iter()
            .all(|l| l.get("val_accuracy").is_none())
    );
    let out = tplay(
        &dir,
        &[
            "generate",
            "--model",
            "causal.safetensors",
            "--prompt",
            "Mira [MASK] home",
        ],
    );
    assert_refused(&out, "causal objective");
    let out = tplay(
        &dir,
        &[
            "fill",
            "--model",
            "causal.safetensors",
            "--text",
            "a [MASK]",
        ],
    );
    assert_refused(&out, "fill needs a model trained with --objective mlm");
    let out = train(&dir, "bert", "x.safetensors");
    assert_refused(&out, "no training objective called 'bert'");
    assert!(!dir.join("x.safetensors").exists());
}

#[test]
fn eval_prints_the_metrics_of_the_fixture_corpus() {
    let dir = scratch_with_config("eval", TINY_MODEL);
    std::fs::write(dir.join("h.txt"), "the cat sat on the mat\nhello world\n").unwrap();
    std::fs::write(dir.join("r.txt"), "the cat sat on a mat\nhello world\n").unwrap();
    let out = tplay(
        &dir,
        &[
            "eval",
            "--hypotheses",
            "h.txt",
            "--references",
            "r.txt",
            "--per-pair",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["exact_match"], true);
    let corpus = &lines[2];
    assert_eq!(corpus["pairs"], 2);
    assert_eq!(corpus["exact_match"], 0.5);
    // rouge-score: pair 1 has 5 of 6 unigrams both ways (F1 5/6), pair 2 all; the mean is 11/12.
    assert!(
        (corpus["rouge1"].as_f64().unwrap() - 11.0 / 12.0).abs() < 1e-12,
        "{corpus}"
    );
    for key in ["bleu", "chrf"] {
        let x = corpus[key].as_f64().unwrap();
        assert!(x > 0.0 && x < 100.0, "{key} {x}");
    }
    std::fs::write(dir.join("short.txt"), "one line\n").unwrap();
    let out = tplay(
        &dir,
        &["eval", "--hypotheses", "h.txt", "--references", "short.txt"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has 2 lines") && stderr(&out).contains("has 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn corpus_pairs_are_json_lines_from_a_seed() {
    let dir = scratch_with_config("pairs", TINY_MODEL);
    let run = |seed: &str| {
        let out = tplay(
            &dir,
            &[
                "corpus",
                "--name",
                "translate",
                "--pairs",
                "5",
                "--seed",
                seed,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        json_lines(&out)
    };
    let pairs = run("3");
    assert_eq!(pairs.len(), 5);
    assert_eq!(pairs, run("3"));
    assert_ne!(pairs, run("4"));
    assert!(
        pairs
            .iter()
            .all(|p| p["source"].is_string() && p["target"].is_string())
    );
    let out = tplay(&dir, &["corpus", "--name", "poems", "--pairs", "2"]);
    assert_refused(&out, "no seq2seq task called 'poems'");
}
