//! The `next-token` lesson from the outside: its keys are checked where they are written, a
//! text file that is not UTF-8 is refused with its line, a headless run reports nats and bits
//! per character, and `mllab sample` writes text from its save with a prompt.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mllab::lessons::Lesson;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    repo().join(format!("tests/fixtures/lessons/invalid/{name}.yaml"))
}

fn mllab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mllab"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A short headless run of the shipped lesson with `sets`; returns its summary.
fn run(saves: &Path, sets: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", "next-token", "--headless", "--save-dir"];
    args.push(saves.to_str().unwrap());
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = mllab(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn heads_that_do_not_divide_the_width_are_refused_at_their_line_with_a_fix() {
    let errors = Lesson::load(&fixture("next-token-heads"), &[]).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!(
        (e.key.as_str(), e.value.as_deref()),
        ("model.heads", Some("8"))
    );
    assert_eq!(e.line, Some(16));
    assert!(
        e.hint.contains("heads: 6") && e.hint.contains("width: 64"),
        "{e}"
    );
}

#[test]
fn a_text_file_that_is_not_utf8_is_refused_at_check_time_with_its_line() {
    let lesson = repo().join("tests/fixtures/text/next-token-latin1.yaml");
    let out = mllab(&["check", lesson.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stdout) + &text(&out.stderr);
    assert!(err.contains("notes-latin1.txt:2"), "{err}");
    assert!(err.contains("not UTF-8") && err.contains("0xE9"), "{err}");
}

#[test]
fn a_missing_text_file_is_named() {
    let errors = Lesson::load(&fixture("next-token-no-file"), &[]).unwrap_err();
    let e = &errors.0[0];
    assert_eq!(e.key, "data.path");
    assert!(
        e.value.as_deref().unwrap().ends_with("no-such-notes.txt"),
        "{e}"
    );
}

#[test]
fn a_headless_bigram_run_reports_bits_and_meets_its_counted_table() {
    let saves = tempfile::tempdir().unwrap();
    let s = run(
        saves.path(),
        &[
            "model.arch=bigram",
            "train.steps=300",
            "train.lr=0.05",
            "data.chars=20000",
        ],
    );
    let m = &s["metrics"];
    let (nats, bits) = (
        m["val_loss"].as_f64().unwrap(),
        m["val_bits"].as_f64().unwrap(),
    );
    assert!((bits * std::f64::consts::LN_2 - nats).abs() < 1e-9, "{m}");
    assert!(nats < 0.75 * (m["vocab"].as_f64().unwrap()).ln(), "{m}");
    assert!(
        (nats - m["count_val_loss"].as_f64().unwrap()).abs() < 0.25,
        "{m}"
    );
}

#[test]
fn a_chinese_corpus_trains_and_samples_in_chinese() {
    let saves = tempfile::tempdir().unwrap();
    let s = run(
        saves.path(),
        &[
            "data.language=zh",
            "data.chars=20000",
            "model.prompt=小米",
            "model.arch=mlp",
            "model.context=8",
            "train.steps=50",
        ],
    );
    let sample = s["metrics"]["sample"].as_str().unwrap();
    assert!(sample.starts_with("小米"), "{sample}");
    assert!(!sample.is_ascii());
}

#[test]
fn a_saved_run_writes_text_with_a_prompt_as_lines_or_json_and_names_unknown_characters() {
    let saves = tempfile::tempdir().unwrap();
    let s = run(
        saves.path(),
        &[
            "train.steps=30",
            "model.layers=1",
            "model.width=32",
            "data.chars=20000",
        ],
    );
    let save = s["save"].as_str().unwrap();
    let args = [
        "sample", save, "--prompt", "tom ", "--n", "3", "--chars", "20", "--top-k", "5",
    ];
    let out = mllab(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("tom ")), "{lines:?}");

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = mllab(&json_args);
    let texts: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(texts.len(), 3);
    assert!(texts.iter().all(|t| t.chars().count() == 24), "{texts:?}");

    let out = mllab(&["sample", save, "--prompt", "tom @"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("the prompt's character @"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_digit_save_still_needs_out_and_refuses_json() {
    // The text options are for text; a save of numbers says what it needs instead.
    let saves = tempfile::tempdir().unwrap();
    let out = mllab(&[
        "run",
        "gan",
        "--headless",
        "--steps",
        "5",
        "--save-dir",
        saves.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = mllab(&["sample", s["save"].as_str().unwrap(), "--n", "2"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("give --out FILE.npy"),
        "{}",
        text(&out.stderr)
    );
}
