//! The memory guard tells the truth: for every shipped lesson, and a wide or large variant of
//! each, the plan made before anything is allocated is within a factor of 1.5 of the peak
//! memory the run really reaches (its peak resident set, which headless runs report on
//! stderr); and sizes that would not fit are refused at the key that drives them.

use std::path::Path;
use std::process::Command;

use mllab::lessons::{Lesson, Override};

const BIN: &str = env!("CARGO_BIN_EXE_mllab");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a short headless run; returns (peak, planned) in MB from its last stderr line.
fn peak_and_plan(lesson: &str, saves: &Path, sets: &[&str]) -> (f64, f64) {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", lesson, "--headless", "--steps", "3", "--lessons"])
        .arg(repo().join("lessons"))
        .arg("--save-dir")
        .arg(saves);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().expect("mllab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{lesson} {sets:?} failed:\n{stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("mllab: peak memory "))
        .unwrap_or_else(|| panic!("no peak memory line:\n{stderr}"));
    // "412 MB (planned 398 MB: ...)"
    let mut words = line.split_whitespace();
    let peak: f64 = words.next().unwrap().parse().unwrap();
    let planned: f64 = line
        .split("planned ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no plan in: {line}"));
    (peak, planned)
}

fn assert_plan_holds(lesson: &str, sets: &[&str]) {
    if !cfg!(target_os = "linux") {
        return; // peak memory is read from /proc
    }
    let tmp = tempfile::tempdir().unwrap();
    let (peak, planned) = peak_and_plan(lesson, tmp.path(), sets);
    let ratio = planned / peak;
    assert!(
        (1.0 / 1.5..=1.5).contains(&ratio),
        "{lesson} {sets:?}: planned {planned} MB for a peak of {peak} MB (ratio {ratio:.2})"
    );
}

#[test]
fn regression_plans_within_half_again_of_its_peak_small_and_with_a_million_points() {
    assert_plan_holds("regression-gd", &[]);
    assert_plan_holds(
        "regression-gd",
        &["data.train=1000000", "data.test=1000000"],
    );
}

#[test]
fn model_selection_plans_within_half_again_of_its_peak_small_and_with_100_000_points() {
    assert_plan_holds("model-selection", &[]);
    assert_plan_holds("model-selection", &["data.train=100000"]);
}

#[test]
fn the_generative_classifier_plans_within_half_again_of_its_peak_small_and_large() {
    assert_plan_holds("generative-classifier", &[]);
    assert_plan_holds("generative-classifier", &["data.train=[100000, 100000]"]);
}

#[test]
fn diffusion_2d_plans_within_half_again_of_its_peak_as_shipped_and_wide() {
    assert_plan_holds("diffusion-2d", &[]);
    assert_plan_holds(
        "diffusion-2d",
        &["model.hidden=512", "train.batch_size=16384"],
    );
}

/// Few sampling steps: they change the time a run takes, not what it holds.
const QUICK_SAMPLING: &str = "model.sample_steps=4";

#[test]
fn ddpm_plans_within_half_again_of_its_peak_as_shipped_wide_with_attention_and_as_an_mlp() {
    assert_plan_holds("ddpm", &[QUICK_SAMPLING]);
    assert_plan_holds(
        "ddpm",
        &[
            QUICK_SAMPLING,
            "model.channels=[32, 64, 64]",
            "model.attention=4",
            "train.batch_size=256",
        ],
    );
    assert_plan_holds(
        "ddpm",
        &[
            QUICK_SAMPLING,
            "model.net=mlp",
            "model.width=2048",
            "train.batch_size=256",
        ],
    );
}

#[test]
fn the_wide_ddpm_that_grew_to_15_gb_is_refused_at_the_batch_size_with_the_parts_named() {
    let overrides = [
        "model.channels=[128,128,128]",
        "train.batch_size=4096",
        "model.attention=8",
    ]
    .map(|s| Override::parse(s).unwrap());
    let errors = Lesson::load(&repo().join("lessons/ddpm.yaml"), &overrides).unwrap_err();
    let text = errors.to_string();
    let e = errors
        .0
        .iter()
        .find(|e| e.message.contains("GiB of memory"))
        .unwrap_or_else(|| panic!("no memory error in:\n{text}"));
    assert_eq!(e.key, "train.batch_size", "{text}");
    assert!(
        e.hint.contains("`model.channels`"),
        "the fix names the other key the activations grow with: {text}"
    );
    assert!(
        e.message.contains("the activations a training step keeps")
            && e.message.contains("attention's maps"),
        "{text}"
    );
    // About 32 GiB, not the 0.75 GiB the old guard planned.
    let gib: f64 = e
        .message
        .split("about ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(gib > 16.0, "{text}");
}

#[test]
fn a_wide_mlp_is_refused_at_its_width() {
    let overrides = ["model.net=mlp", "model.width=4096", "model.blocks=12"]
        .map(|s| Override::parse(s).unwrap());
    let errors = Lesson::load(&repo().join("lessons/ddpm.yaml"), &overrides).unwrap_err();
    let text = errors.to_string();
    assert!(errors.0.iter().any(|e| e.key == "model.width"), "{text}");
}

#[test]
fn the_vae_plans_within_half_again_of_its_peak_as_shipped_wide_and_with_importance_samples() {
    assert_plan_holds("vae", &[]);
    assert_plan_holds(
        "vae",
        &[
            "model.hidden=[2048, 1024]",
            "model.latent=64",
            "train.batch_size=1024",
            "model.iw_samples=5",
            "data.test=2000",
        ],
    );
}

#[test]
fn next_token_plans_within_half_again_of_its_peak_as_shipped_wide_and_as_a_wide_mlp() {
    assert_plan_holds("next-token", &[]);
    assert_plan_holds("next-token", &["model.width=256", "train.batch_size=64"]);
    assert_plan_holds("next-token", &["model.arch=mlp", "model.hidden=2048"]);
}
