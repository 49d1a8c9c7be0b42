//! `tplay search` end to end on tiny models: a JSON line per trial, a summary, and a rerun over a cut
//! results file that runs only the missing trials and ends with the same file.

use std::process::Command;

fn tplay(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tplay runs")
}

#[test]
fn search_writes_a_line_per_trial_and_resumes() {
    let dir = std::env::temp_dir().join(format!("tplay-lab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("space.json"),
        r#"{"lr": {"min": 0.001, "max": 0.03, "log": true}, "n_embd": [8, 16], "eta": 2, "rungs": 2}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("base.json"),
        r#"{"n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 8}"#,
    )
    .unwrap();
    let args = [
        "search",
        "--space",
        "space.json",
        "--trials",
        "4",
        "--steps",
        "4",
        "--config",
        "base.json",
        "--corpus-bytes",
        "20000",
        "--out",
        "trials.jsonl",
    ];
    let first = tplay(&dir, &args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8(first.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        5,
        "4 trials and a summary: {stdout}"
    );
    assert!(
        stdout.lines().last().unwrap().contains("\"best\""),
        "{stdout}"
    );
    let whole = std::fs::read_to_string(dir.join("trials.jsonl")).unwrap();
    let cut: String = whole.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("trials.jsonl"), cut).unwrap();
    let again = tplay(&dir, &args);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let stdout = String::from_utf8(again.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        3,
        "only trials 2 and 3 ran: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("trials.jsonl")).unwrap(),
        whole
    );
    let bad = tplay(
        &dir,
        &["search", "--space", "base.json", "--out", "x.jsonl"],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("search space is not valid"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
