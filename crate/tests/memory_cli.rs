//! `tplay memory` and `tplay train --checkpoint-activations` end to end on a tiny model.

use std::process::Command;

fn tplay(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tplay runs")
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tplay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.json"),
        r#"{"n_layer": 3, "n_head": 2, "n_embd": 16, "block_size": 16, "dropout": 0.1}"#,
    )
    .unwrap();
    dir
}

#[test]
fn memory_reports_four_footprints_and_checkpointing_shrinks_activations() {
    let dir = scratch("memory-cli");
    let out = tplay(
        &dir,
        &[
            "memory",
            "--config",
            "m.json",
            "--batch-size",
            "4",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let footprints = report["footprints"].as_array().expect("footprints");
    assert_eq!(footprints.len(), 4);
    let field = |i: usize, name: &str| footprints[i][name].as_u64().expect(name);
    assert_eq!(footprints[1]["checkpoint_every"], 1);
    assert!(field(1, "activations") < field(0, "activations"));
    assert_eq!(field(1, "parameters"), field(0, "parameters"));
    for (i, f) in footprints.iter().enumerate() {
        let parts: u64 = ["parameters", "gradients", "adamw", "activations", "scratch"]
            .iter()
            .map(|p| f[p].as_u64().unwrap())
            .sum();
        assert_eq!(parts, field(i, "total"));
    }
    let text = tplay(&dir, &["memory", "--config", "m.json"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("f32, checkpoint 1") && text.contains("f16 assumes"),
        "{text}"
    );
    let bad = tplay(&dir, &["memory", "--config", "m.json", "--seq-len", "99"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("block_size (16)"));
}

#[test]
fn training_with_checkpointing_prints_the_same_losses() {
    let dir = scratch("checkpoint-cli");
    let losses = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--config",
            "m.json",
            "--steps",
            "4",
            "--batch-size",
            "2",
            "--corpus-bytes",
            "20000",
            "--out",
            "m.safetensors",
        ];
        args.extend_from_slice(extra);
        let out = tplay(&dir, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let losses: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["loss"].as_f64())
            .collect();
        (losses, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (plain, _) = losses(&[]);
    assert_eq!(plain.len(), 4);
    let (every, stderr) = losses(&["--checkpoint-activations", "--memory-report"]);
    assert_eq!(
        every, plain,
        "checkpointing every block: the same losses, bit for bit"
    );
    assert!(stderr.contains("training memory"), "{stderr}");
    let (two, _) = losses(&["--checkpoint-activations", "--checkpoint-every", "2"]);
    assert_eq!(two, plain, "checkpointing every 2 blocks");
    let out = tplay(&dir, &["train", "--checkpoint-every", "2"]);
    assert!(
        !out.status.success(),
        "--checkpoint-every needs --checkpoint-activations"
    );
}
