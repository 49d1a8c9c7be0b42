//! `tplay import | export` and `train --model DIR --lora-rank` end to end on the transformers fixture.

use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf/tiny-gpt2");
const ADAPTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/hf/tiny-gpt2-lora"
);

fn tplay(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tplay runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tplay-hf-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn import_export_generate_and_lora_fine_tuning() {
    let dir = scratch("round-trip");
    let (ok, _, err) = tplay(&dir, &["import", FIXTURE, "--out", "m.safetensors"]);
    assert!(ok, "{err}");
    let (ok, _, err) = tplay(
        &dir,
        &[
            "export",
            "--model",
            "m.safetensors",
            "--format",
            "hf",
            "--out",
            "hf",
        ],
    );
    assert!(ok, "{err}");
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        assert!(dir.join("hf").join(file).is_file(), "{file}");
    }
    // --model takes the directory; greedy text is the same from the fixture and from our export of it.
    let generate = |model: &str| {
        let (ok, out, err) = tplay(
            &dir,
            &[
                "generate",
                "--model",
                model,
                "--prompt",
                "Once upon",
                "--max-tokens",
                "8",
                "--temperature",
                "0",
            ],
        );
        assert!(ok, "{err}");
        out
    };
    assert_eq!(generate(FIXTURE), generate("hf"));
    std::fs::write(
        dir.join("text.txt"),
        "Once upon a time the robot counted stars. ".repeat(40),
    )
    .unwrap();
    let (ok, out, err) = tplay(
        &dir,
        &[
            "train",
            "--model",
            FIXTURE,
            "--corpus",
            "text.txt",
            "--lora-rank",
            "2",
            "--lora-targets",
            "c_attn,mlp.c_proj",
            "--steps",
            "3",
            "--batch-size",
            "2",
            "--eval-interval",
            "0",
            "--out",
            "lora.safetensors",
            "--adapter-out",
            "adapter",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(err.contains("LoRA: 1152 trainable of"), "{err}");
    let config = std::fs::read_to_string(dir.join("adapter/adapter_config.json")).unwrap();
    assert!(
        config.contains("\"fan_in_fan_out\": true") && config.contains("\"mlp.c_proj\""),
        "{config}"
    );
    // A PEFT-trained adapter attaches on import.
    let (ok, out, err) = tplay(
        &dir,
        &[
            "import",
            FIXTURE,
            "--adapter",
            ADAPTER,
            "--out",
            "peft.safetensors",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"lora\""), "{out}");
    // A pickle is refused with advice.
    let pickled = dir.join("pickled");
    std::fs::create_dir_all(&pickled).unwrap();
    std::fs::copy(
        Path::new(FIXTURE).join("config.json"),
        pickled.join("config.json"),
    )
    .unwrap();
    std::fs::write(pickled.join("pytorch_model.bin"), b"not read").unwrap();
    let (ok, _, err) = tplay(&dir, &["generate", "--model", "pickled"]);
    assert!(
        !ok && err.contains("pickle") && err.contains("safetensors"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
