//! The `tplay` binary as a person runs it.

use std::process::Command;

fn tplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        .output()
        .expect("tplay runs")
}

#[test]
fn help_lists_the_commands() {
    let output = tplay(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["gpu", "check", "corpus", "tokenizer"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(command)),
            "--help lists `{command}`:\n{help}"
        );
    }
}

#[test]
fn an_unknown_command_is_a_clear_error() {
    let output = tplay(&["frobnicate"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unrecognized subcommand 'frobnicate'")
    );
}

#[test]
fn check_runs_the_kernel_on_the_gpu() {
    let output = tplay(&["check"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!in_ci, "CI=true but `tplay check` failed: {stderr}");
        eprintln!("\n!!! SKIPPED GPU TEST tplay check: {stderr}");
        return;
    }
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    eprintln!("[gpu] tplay check: {report}");
    assert_eq!(report["pass"], true, "{report}");
    assert!(report["max_abs_diff"].as_f64().unwrap() <= 1e-4);
}

#[test]
fn train_and_generate_on_the_gpu_match_the_cpu() {
    let dir = std::env::temp_dir().join(format!("tplay-cli-gpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("model.json");
    std::fs::write(
        &config,
        r#"{"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}"#,
    )
    .unwrap();
    let model = dir.join("model.safetensors");
    let (config, model_path) = (config.to_str().unwrap(), model.to_str().unwrap());
    let train = tplay(&[
        "train",
        "--device",
        "gpu",
        "--config",
        config,
        "--steps",
        "3",
        "--corpus-bytes",
        "20000",
        "--batch-size",
        "4",
        "--out",
        model_path,
    ]);
    let stderr = String::from_utf8_lossy(&train.stderr);
    if !train.status.success() && stderr.contains("no GPU adapter") {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !in_ci,
            "CI=true but no GPU adapter for tplay train --device gpu: {stderr}"
        );
        eprintln!("\n!!! SKIPPED GPU TEST tplay train --device gpu: {stderr}");
        return;
    }
    assert!(
        train.status.success(),
        "tplay train --device gpu failed: {stderr}"
    );
    let steps = String::from_utf8_lossy(&train.stdout)
        .lines()
        .filter(|l| l.contains("\"loss\""))
        .count();
    assert_eq!(steps, 3, "one JSON line per step");
    let generate = |device| {
        let out = tplay(&[
            "generate",
            "--device",
            device,
            "--model",
            model_path,
            "--prompt",
            "The",
            "--max-tokens",
            "20",
        ]);
        assert!(
            out.status.success(),
            "generate on {device}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (on_gpu, on_cpu) = (generate("gpu"), generate("cpu"));
    eprintln!("[gpu] tplay generate --device gpu: {on_gpu:?}");
    assert_eq!(
        on_gpu, on_cpu,
        "the same weights and seed give the same text on both devices"
    );
    assert!(on_gpu.starts_with("The") && on_gpu.trim_end().len() > 3);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn tokenizer_train_says_why_bpe_stopped_early() {
    let dir = std::env::temp_dir().join(format!("tplay-cli-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("small.txt");
    let out = dir.join("tokenizer.json");
    std::fs::write(&input, "the cat sat on the mat. the cat ate.\n".repeat(20)).unwrap();
    let output = tplay(&[
        "tokenizer",
        "train",
        "--vocab-size",
        "4096",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for part in [
        "of the 4096 tokens asked for",
        "every word of the text is already one token, so no pair is left to merge",
        "merges were all this text allows",
        "too small for this vocabulary",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
