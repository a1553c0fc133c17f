//! The `gan` lesson's keys are checked where they are written, and its saves can be sampled.

use std::path::{Path, PathBuf};

use mllab::lessons::Lesson;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lessons/invalid")
        .join(format!("{name}.yaml"))
}

fn only_error(name: &str) -> mllab::config::error::LessonError {
    let errors = Lesson::load(&fixture(name), &[]).expect_err("the fixture must be rejected");
    assert_eq!(errors.0.len(), 1, "{errors}");
    errors.0[0].clone()
}

#[test]
fn zero_discriminator_steps_are_refused_with_the_range() {
    let e = only_error("gan-zero-d-steps");
    assert_eq!(e.key, "model.d_steps");
    assert_eq!(e.value.as_deref(), Some("0"));
    assert_eq!(e.line, Some(15));
    assert!(e.message.contains("between 1 and 20"), "{e}");
}

#[test]
fn a_misspelled_loss_gets_a_suggestion() {
    let e = only_error("gan-unknown-loss");
    assert_eq!(e.key, "model.loss");
    assert!(e.hint.contains("did you mean `minimax`"), "{e}");
}

#[test]
fn a_finished_gan_run_samples_points_from_its_save() {
    let root = tempfile::tempdir().unwrap();
    let lesson = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/gan.yaml");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mllab"))
        .args(["run", "--headless", "--steps", "20", "--save-dir"])
        .arg(root.path())
        .arg(&lesson)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(
        summary["metrics"]["modes_covered"].as_u64().is_some(),
        "{summary}"
    );
    let save = PathBuf::from(summary["save"].as_str().unwrap());
    let out = root.path().join("p.npy");
    let request = mllab::models::SampleRequest {
        n: 5,
        ..Default::default()
    };
    mllab::cli::sample::sample_save(&save, &request, &mllab::cli::sample::SampleOut::to(&out))
        .unwrap();
    let a: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(a.shape(), &[5, 2]);
}
