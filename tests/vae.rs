//! The `vae` lesson from the command line: a short run leaves weights that `mllab sample`
//! decodes (at the lesson's temperature or another), sampler flags that mean nothing to a VAE
//! are refused with the reason, and a rate that blows the loss up ends the run as diverged at
//! its step, with the save kept and marked failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mllab");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Sizes that keep a run to a second or two.
const TINY: &[&str] = &[
    "--set",
    "model.hidden=[32]",
    "--set",
    "model.grid=2",
    "--set",
    "model.judge_samples=10",
    "--set",
    "data.train=500",
    "--set",
    "data.test=50",
];

fn mllab(saves: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--lessons")
        .arg(repo().join("lessons"))
        .arg("--save-dir")
        .arg(saves)
        .output()
        .expect("mllab runs")
}

fn run(saves: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["run", "vae", "--headless"];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    let out = mllab(saves, &args);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let summary = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {line}\n{}", stderr(&out)));
    (out, summary)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn npy_shape(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let header = String::from_utf8_lossy(&bytes[10..bytes.len().min(128)]).to_string();
    let start = header.find("'shape': ").unwrap() + 9;
    let end = start + header[start..].find(')').unwrap() + 1;
    header[start..end].to_string()
}

#[test]
fn a_vae_save_is_sampled_at_any_temperature_and_refuses_diffusion_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let saves = tmp.path().join("saves");
    let (out, summary) = run(&saves, &["--steps", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for key in [
        "test_neg_elbo",
        "test_reconstruction",
        "test_kl",
        "fid_judge",
    ] {
        assert!(
            summary["metrics"][key].as_f64().is_some(),
            "{key}: {summary}"
        );
    }
    let save = PathBuf::from(summary["save"].as_str().unwrap());
    assert!(save.join("weights.safetensors").is_file());
    let file = tmp.path().join("s.npy");
    let sample = |extra: &[&str]| {
        let mut args = vec![
            "sample",
            save.to_str().unwrap(),
            "--n",
            "3",
            "--out",
            file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        mllab(&saves, &args)
    };
    let plain = sample(&[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(npy_shape(&file), "(3, 28, 28)");
    let first = std::fs::read(&file).unwrap();
    let cool = sample(&["--temperature", "0.3"]);
    assert!(cool.status.success(), "{}", stderr(&cool));
    assert_ne!(
        std::fs::read(&file).unwrap(),
        first,
        "the temperature is used"
    );
    for flag in [
        &["--steps", "10"][..],
        &["--sampler", "ddim"],
        &["--eta", "0.5"],
    ] {
        let refused = sample(flag);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{flag:?}: {}",
            stderr(&refused)
        );
        let text = stderr(&refused);
        assert!(
            text.contains(flag[0]) && text.contains("one pass"),
            "{flag:?}: {text}"
        );
    }
}

#[test]
fn a_vae_whose_loss_blows_up_is_diverged_at_its_step_and_the_save_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let saves = tmp.path().join("saves");
    let (out, summary) = run(&saves, &["--steps", "50", "--set", "train.lr=100"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(summary["status"], "failed", "{summary}");
    let reason = summary["reason"].as_str().unwrap();
    assert!(reason.starts_with("diverged at step"), "{summary}");
    assert!(summary["steps"].as_u64().unwrap() < 50, "{summary}");
    assert!(
        summary["metrics"].get("fid_judge").is_none(),
        "never scored: {summary}"
    );
    let save = PathBuf::from(summary["save"].as_str().unwrap());
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(save.join("summary.json")).unwrap()).unwrap();
    assert_eq!(kept["status"], "failed");
    assert!(
        !save.join("weights.safetensors").exists(),
        "diverged weights are not kept"
    );
}
