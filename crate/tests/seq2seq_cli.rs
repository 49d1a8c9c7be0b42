//! `tplay train --objective seq2seq` and `tplay translate` end to end, with their errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tplay(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tplay runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tplay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.json"),
        r#"{"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8}"#,
    )
    .unwrap();
    dir
}

#[test]
fn trains_evaluates_and_translates() {
    let dir = temp_dir("seq2seq");
    let out = tplay(
        &dir,
        &[
            "train",
            "--objective",
            "seq2seq",
            "--task",
            "reverse",
            "--lengths",
            "3-5",
            "--config",
            "m.json",
            "--steps",
            "6",
            "--eval-interval",
            "3",
            "--batch-size",
            "4",
            "--train-pairs",
            "100",
            "--val-pairs",
            "5",
            "--out",
            "r.safetensors",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let steps = lines.iter().filter(|l| l.get("loss").is_some()).count();
    let evals: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.get("exact_match").is_some())
        .collect();
    assert_eq!(steps, 6);
    assert_eq!(evals.len(), 2, "{lines:?}");
    for key in ["val_loss", "bleu", "chrf", "rouge_l", "examples"] {
        assert!(evals[1].get(key).is_some(), "{key} missing: {}", evals[1]);
    }
    let out = tplay(
        &dir,
        &["translate", "--model", "r.safetensors", "--source", "abc"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    // Bad input: clear errors.
    let out = tplay(
        &dir,
        &["translate", "--model", "r.safetensors", "--source", ""],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("source is empty"), "{}", stderr(&out));
    let out = tplay(
        &dir,
        &[
            "translate",
            "--model",
            "r.safetensors",
            "--source",
            "abcabcabcabc",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("encoder's context"),
        "{}",
        stderr(&out)
    );
    let out = tplay(
        &dir,
        &[
            "train",
            "--objective",
            "seq2seq",
            "--task",
            "poetry",
            "--out",
            "x.safetensors",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no seq2seq task called 'poetry'") && err.contains("reverse"),
        "{err}"
    );
    let out = tplay(
        &dir,
        &["train", "--objective", "seq2seq", "--out", "x.safetensors"],
    );
    assert!(stderr(&out).contains("needs --task"), "{}", stderr(&out));
    let out = tplay(
        &dir,
        &[
            "train",
            "--task",
            "copy",
            "--steps",
            "1",
            "--out",
            "x.safetensors",
        ],
    );
    assert!(
        stderr(&out).contains("--objective seq2seq"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).ok();
}
