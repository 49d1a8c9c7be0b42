//! `tplay train / generate / forward` end to end on a tiny model.

use std::process::Command;

fn tplay(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tplay runs")
}

#[test]
fn train_generate_forward_round_trip() {
    let dir = std::env::temp_dir().join(format!("tplay-model-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.json"),
        r#"{"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}"#,
    )
    .unwrap();
    let out = tplay(
        &dir,
        &[
            "train",
            "--config",
            "m.json",
            "--steps",
            "6",
            "--eval-interval",
            "3",
            "--batch-size",
            "4",
            "--corpus-bytes",
            "20000",
            "--out",
            "m.safetensors",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let steps: Vec<_> = lines.iter().filter(|l| l.get("loss").is_some()).collect();
    let evals: Vec<_> = lines
        .iter()
        .filter(|l| l.get("val_loss").is_some())
        .collect();
    assert_eq!(steps.len(), 6);
    assert_eq!(evals.len(), 2);
    for s in &steps {
        assert!(
            s["loss"].as_f64().unwrap() > 0.0
                && s["tokens_per_s"].as_f64().unwrap() > 0.0
                && s["lr"].is_number()
        );
    }
    assert!(evals[1]["val_ppl"].as_f64().unwrap() > 1.0);

    let generate = |seed: &str| {
        let out = tplay(
            &dir,
            &[
                "generate",
                "--model",
                "m.safetensors",
                "--prompt",
                "Once",
                "--max-tokens",
                "20",
                "--seed",
                seed,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = generate("3");
    assert!(text.starts_with("Once"));
    assert_eq!(text, generate("3"), "same seed, same text");

    std::fs::write(dir.join("ids.json"), "[[1, 2, 3], [4, 5, 6]]").unwrap();
    std::fs::write(dir.join("tg.json"), "[[2, 3, 4], [5, 6, 7]]").unwrap();
    let out = tplay(
        &dir,
        &[
            "forward",
            "--model",
            "m.safetensors",
            "--tokens",
            "ids.json",
            "--targets",
            "tg.json",
            "--out",
            "dump.safetensors",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(dir.join("dump.safetensors")).unwrap();
    let dump = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let logits = dump.tensor("logits").unwrap();
    assert_eq!(logits.shape()[..2], [2, 3]);
    assert!(dump.tensor("loss").unwrap().shape().is_empty());
    assert_eq!(
        dump.tensor("grad.transformer.h.0.mlp.c_fc.weight")
            .unwrap()
            .shape(),
        [64, 16]
    );
    assert!(
        dump.names()
            .iter()
            .filter(|n| n.starts_with("grad."))
            .count()
            == 2 + 12 + 2
    );

    let out = tplay(
        &dir,
        &[
            "forward",
            "--model",
            "m.safetensors",
            "--tokens",
            "ids.json",
            "--targets",
            "ids.json",
            "--out",
            "d.safetensors",
            "--device",
            "gpu",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --device cpu"));
    let out = tplay(&dir, &["generate", "--model", "missing.safetensors"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read missing.safetensors"));
    std::fs::remove_dir_all(&dir).ok();
}
