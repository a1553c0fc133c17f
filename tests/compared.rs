//! `generators-compared`: families take turns, each is judged the same way when its budget is
//! spent, the run ends after the last, each family's weights are kept under its name and
//! `mllab sample --part` draws from them; mistakes in the section, including inside a family's
//! own settings, are reported where they are written.

use std::path::{Path, PathBuf};

use mllab::cli::sample::{SampleOut, sample_save};
use mllab::lessons::Lesson;
use mllab::models::compared::ComparedSpec;
use mllab::models::{BuildEnv, ModelSpec, SampleRequest, summarize};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(kind: &str, name: &str) -> PathBuf {
    repo()
        .join("tests/fixtures/lessons")
        .join(kind)
        .join(format!("{name}.yaml"))
}

fn only_error(name: &str) -> mllab::config::error::LessonError {
    let path = fixture("invalid", name);
    let errors = Lesson::load(&path, &[]).expect_err("the fixture must be rejected");
    assert_eq!(errors.0.len(), 1, "{errors}");
    errors.0[0].clone()
}

fn line_of(path: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_misspelled_family_is_named_with_a_suggestion() {
    let e = only_error("compared-unknown-family");
    assert_eq!(e.key, "model.families[0]");
    assert_eq!(e.value.as_deref(), Some("ddpn"));
    assert!(e.hint.contains("did you mean `ddpm`"), "{e}");
}

#[test]
fn a_budget_of_no_time_is_refused() {
    let e = only_error("compared-zero-budget");
    assert_eq!(e.key, "model.budget_seconds");
    assert_eq!(e.value.as_deref(), Some("0"));
}

#[test]
fn a_mistake_inside_a_familys_settings_is_placed_on_its_line_under_its_full_key() {
    let path = fixture("invalid", "compared-family-setting");
    let e = only_error("compared-family-setting");
    assert_eq!(e.key, "model.settings.ddpm.min_snr");
    assert_eq!(e.value.as_deref(), Some("0"));
    assert_eq!(e.line, Some(line_of(&path, "min_snr: 0")), "{e}");
    assert!(
        e.hint.contains("`model.settings.ddpm.min_snr`"),
        "the fix names the key as written: {e}"
    );
}

#[test]
fn settings_for_a_family_that_is_not_trained_are_refused() {
    let e = only_error("compared-settings-unlisted");
    assert_eq!(e.key, "model.settings.gan");
    assert!(e.hint.contains("add gan to families"), "{e}");
}

#[test]
fn the_families_it_may_train_are_the_registrys_digit_generators_and_not_itself() {
    let g = ComparedSpec::generators();
    assert!(g.contains(&"ddpm"), "{g:?}");
    assert!(!g.contains(&"generators-compared"));
    assert!(!g.contains(&"diffusion-2d"), "2-D only: {g:?}");
}

#[test]
fn each_family_trains_its_budget_then_is_judged_and_the_run_ends_after_the_last() {
    let lesson = Lesson::load(&fixture("valid", "compared-tiny"), &[]).unwrap();
    let ModelSpec::GeneratorsCompared(spec) = &lesson.model else {
        panic!("not a comparison")
    };
    let cache = tempfile::tempdir().unwrap();
    let env = BuildEnv {
        cache_dir: cache.path().to_path_buf(),
    };
    let mut model = lesson
        .model
        .build(&lesson.data, &lesson.train, 1, &env)
        .unwrap();
    let mut steps = 0;
    while !model.finished() {
        steps += 1;
        let m = model.train_step(steps, lesson.train.lr).unwrap();
        assert!(m["loss"].is_finite());
        assert!(steps <= 100, "the comparison never ended");
    }
    assert_eq!(steps, 3 * spec.families.len() as u64);
    let summary = summarize(model.as_mut()).unwrap();
    for name in &spec.families {
        let f = &summary["families"][name.as_str()];
        assert_eq!(f["steps"], 3, "{summary:?}");
        assert_eq!(f["judge_n"], 20, "every family is judged at the same n");
        assert!(f["fid_judge"].as_f64().unwrap().is_finite());
        assert!(f["parameters"].as_u64().unwrap() > 0);
        assert!(f["sample_100_seconds"].as_f64().unwrap() > 0.0);
    }
    let files: Vec<String> = model.artifacts().into_iter().map(|(f, _)| f).collect();
    for name in &spec.families {
        assert!(
            files.contains(&format!("{name}.weights.safetensors")),
            "{files:?}"
        );
    }
}

#[test]
fn mllab_sample_reads_the_part_it_is_asked_for_and_names_the_parts_otherwise() {
    let root = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mllab"))
        .args(["run", "--headless", "--save-dir"])
        .arg(root.path())
        .arg(fixture("valid", "compared-tiny"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let save = PathBuf::from(summary["save"].as_str().unwrap());
    let out = root.path().join("d.npy");
    let ask = |part: Option<&str>| SampleRequest {
        n: 3,
        seed: 0,
        steps: Some(2),
        part: part.map(String::from),
        ..SampleRequest::default()
    };
    sample_save(&save, &ask(Some("ddpm")), &SampleOut::to(&out)).unwrap();
    let a: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(a.shape(), &[3, 28, 28]);
    let e = sample_save(&save, &ask(Some("vea")), &SampleOut::to(&out)).unwrap_err();
    assert!(e.contains("choose one of them"), "{e}");
}
