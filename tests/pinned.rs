//! A healthy run's numbers do not move: every shipped lesson, run headless for a few steps with
//! a fixed seed, reports exactly the metrics recorded in `tests/fixtures/pinned/`.
//!
//! Fixes to the shared machinery (the trainer's end of run, the event log, divergence checks,
//! the memory guard) must leave these numbers bit for bit as they were. The recorded values
//! come from a machine whose vector kernels are named in the file (`avx512`, `avx2`, …): on
//! such a machine the comparison is exact; elsewhere the matrix products add in another order,
//! so numbers are compared to a relative 1e-3 and everything else exactly.
//!
//! `MLLAB_PIN=write cargo test --release --test pinned` records the numbers afresh; only do
//! that for a change that is meant to move them, and say why in the commit.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mllab");

/// Each shipped lesson with a short run's arguments.
const CASES: &[(&str, &[&str])] = &[
    ("regression-gd", &["--steps", "300", "--seed", "3"]),
    ("model-selection", &["--steps", "200", "--seed", "3"]),
    ("generative-classifier", &["--steps", "200", "--seed", "3"]),
    ("diffusion-2d", &["--steps", "120", "--seed", "3"]),
    ("flow", &["--steps", "120", "--seed", "3"]),
    (
        "ddpm",
        &[
            "--steps",
            "30",
            "--seed",
            "3",
            "--set",
            "train.warmup_steps=2",
            "--set",
            "model.channels=[4,8,8]",
            "--set",
            "model.timesteps=40",
            "--set",
            "model.sample_steps=5",
            "--set",
            "model.grid=3",
            "--set",
            "model.judge_samples=24",
            "--set",
            "data.train=3000",
            "--set",
            "data.test=60",
        ],
    ),
    (
        "vae",
        &[
            "--steps",
            "40",
            "--seed",
            "3",
            "--set",
            "model.hidden=[64]",
            "--set",
            "model.grid=3",
            "--set",
            "model.judge_samples=24",
            "--set",
            "model.iw_samples=4",
            "--set",
            "data.train=3000",
            "--set",
            "data.test=60",
        ],
    ),
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Which vector code the engine runs here; results are bit-identical only within one kind.
fn isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("fma")
        {
            return "avx512";
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return "avx2";
        }
    }
    "generic"
}

/// Runs one case headless in a scratch save directory; the summary line's lasting parts.
fn run(id: &str, args: &[&str]) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["run", id, "--headless"])
        .args(args)
        .arg("--lessons")
        .arg(repo().join("lessons"))
        .arg("--save-dir")
        .arg(scratch.path().join("saves"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{id}: exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{id}: not one JSON line ({e}): {stdout}"));
    json!({
        "steps": line["steps"],
        "status": line["status"],
        "metrics": line["metrics"],
    })
}

/// The first place where `got` differs from `want`, as a path and both values.
fn first_difference(path: &str, want: &Value, got: &Value, exact: bool) -> Option<String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let keys: std::collections::BTreeSet<&String> = w.keys().chain(g.keys()).collect();
            keys.into_iter().find_map(|k| match (w.get(k), g.get(k)) {
                (Some(a), Some(b)) => first_difference(&format!("{path}.{k}"), a, b, exact),
                (a, b) => Some(format!("{path}.{k}: pinned {a:?}, got {b:?}")),
            })
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => w
            .iter()
            .zip(g)
            .enumerate()
            .find_map(|(i, (a, b))| first_difference(&format!("{path}[{i}]"), a, b, exact)),
        (Value::Number(a), Value::Number(b)) if !exact => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            let close = (a - b).abs() <= 1e-3 * a.abs().max(b.abs()).max(1e-9);
            (!close).then(|| format!("{path}: pinned {a}, got {b}"))
        }
        (a, b) => (a != b).then(|| format!("{path}: pinned {a}, got {b}")),
    }
}

#[test]
fn every_shipped_lesson_reports_the_pinned_numbers() {
    let dir = repo().join("tests/fixtures/pinned");
    let write = std::env::var("MLLAB_PIN").is_ok_and(|v| v == "write");
    let mut failures = Vec::new();
    for (id, args) in CASES {
        let got = run(id, args);
        let file = dir.join(format!("{id}.json"));
        if write {
            let mut pin = Map::new();
            pin.insert("isa".into(), json!(isa()));
            pin.insert("args".into(), json!(args));
            pin.insert("result".into(), got);
            std::fs::create_dir_all(&dir).unwrap();
            let text = serde_json::to_string_pretty(&Value::Object(pin)).unwrap();
            std::fs::write(&file, text + "\n").unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (record it with MLLAB_PIN=write)", file.display()));
        let pin: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            pin["args"],
            json!(args),
            "{id}: the case's arguments changed; record the numbers again"
        );
        let exact = pin["isa"] == isa();
        if let Some(d) = first_difference(id, &pin["result"], &got, exact) {
            failures.push(d);
        }
    }
    assert!(
        failures.is_empty(),
        "healthy runs' numbers moved ({} kernels here):\n{}",
        isa(),
        failures.join("\n")
    );
}

#[test]
fn a_difference_in_the_last_bit_is_caught_where_the_kernels_match() {
    let a = json!({"metrics": {"loss": 0.1234567890123}});
    let b = json!({"metrics": {"loss": 0.1234567890124}});
    assert!(first_difference("x", &a, &b, true).is_some());
    assert!(first_difference("x", &a, &b, false).is_none());
    let far = json!({"metrics": {"loss": 0.13}});
    assert!(first_difference("x", &a, &far, false).is_some());
    let missing = json!({"metrics": {}});
    assert!(first_difference("x", &a, &missing, false).is_some());
}
