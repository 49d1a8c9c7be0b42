//! What the `tplay` end-to-end tests share: running the binary in a scratch folder and reading what it printed.
//! Each test file that needs it says `mod common;` (Cargo does not build `tests/common/mod.rs` as a test of its
//! own), so not every file uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `tplay ARGS` in `dir` and returns what it exited with and printed.
pub fn tplay(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tplay runs")
}

/// stdout as one JSON object per line (the training commands' progress format).
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh folder of this test process under the system's temp dir: `tplay-NAME-PID`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tplay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scratch folder holding `m.json`, the model config the test passes with `--config m.json`.
pub fn scratch_with_config(name: &str, config_json: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("m.json"), config_json).unwrap();
    dir
}

/// Asserts that the command failed and said `expected` on stderr; returns stderr for further checks.
#[track_caller]
pub fn assert_refused(out: &Output, expected: &str) -> String {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected a refusal saying {expected:?}, but it succeeded: {err}"
    );
    assert!(
        err.contains(expected),
        "expected stderr to say {expected:?}: {err}"
    );
    err
}
