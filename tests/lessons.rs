//! Lesson files as a learner writes them: every shipped lesson validates, and every kind of
//! mistake is reported with its key, its value and its line, all at once.
//!
//! Each file in `tests/fixtures/lessons/invalid/` is a complete lesson with one thing broken
//! (except `several-errors.yaml`, which breaks four). Expected lines are found by searching the
//! fixture's text, so editing a fixture's comments does not break a test.

use std::fs;
use std::path::{Path, PathBuf};

use mllab::lessons::registry::{Entry, resolve, scan};
use mllab::lessons::{Lesson, LessonError, LessonErrors, MEMORY_LIMIT_BYTES, Override};
use mllab::models::ModelSpec;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lessons shipped in `lessons/`.
const SHIPPED: [&str; 10] = [
    "next-token",
    "regression-gd",
    "model-selection",
    "generative-classifier",
    "diffusion-2d",
    "ddpm",
    "vae",
    "flow",
    "gan",
    "generators-compared",
];

fn fixture(kind: &str, name: &str) -> PathBuf {
    repo()
        .join("tests/fixtures/lessons")
        .join(kind)
        .join(format!("{name}.yaml"))
}

/// Reads an invalid fixture; returns its text and the errors it must produce.
fn invalid(name: &str) -> (String, LessonErrors) {
    let path = fixture("invalid", name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match Lesson::load(&path, &[]) {
        Ok(l) => panic!("{name}.yaml was accepted as lesson `{}`", l.id),
        Err(errors) => (text, errors),
    }
}

fn valid(name: &str) -> Lesson {
    let path = fixture("valid", name);
    Lesson::load(&path, &[]).unwrap_or_else(|e| panic!("{name}.yaml should be valid:\n{e}"))
}

/// The 1-based number of the only line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "`{needle}` should be on exactly one line of the fixture, found on {hits:?}"
    );
    hits[0]
}

/// The only error about `key`.
fn error_on<'a>(errors: &'a LessonErrors, key: &str) -> &'a LessonError {
    let found: Vec<&LessonError> = errors.0.iter().filter(|e| e.key == key).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one error on `{key}`, got:\n{errors}"
    );
    found[0]
}

/// Asserts the common shape: one error, on `key`, with `value`, at the line holding `needle`,
/// and a printed form that names all three.
fn assert_single_error(name: &str, key: &str, value: &str, needle: &str) -> LessonError {
    let (text, errors) = invalid(name);
    assert_eq!(
        errors.0.len(),
        1,
        "{name}.yaml should have exactly one error, got:\n{errors}"
    );
    let e = error_on(&errors, key).clone();
    assert_eq!(e.value.as_deref(), Some(value), "{e}");
    assert_eq!(e.line, Some(line_of(&text, needle)), "{e}");
    assert!(!e.from_override, "{e}");
    assert!(e.file.ends_with(format!("{name}.yaml")), "{e}");
    let shown = e.to_string();
    let place = format!("{name}.yaml:{}:", e.line.unwrap());
    assert!(shown.contains(&place), "`{place}` missing from: {shown}");
    assert!(
        shown.contains(&format!("`{key}` = {value}")),
        "key and value missing from: {shown}"
    );
    e
}

// ---------------------------------------------------------------------------------------------
// Lessons that must be accepted.

#[test]
fn every_lesson_shipped_in_the_lessons_directory_validates() {
    let dir = repo().join("lessons");
    let mut seen = 0;
    for item in fs::read_dir(&dir).unwrap() {
        let path = item.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = Lesson::load(&path, &[]) {
                panic!("{} is shipped but invalid:\n{e}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 1, "no lesson files found in {}", dir.display());
}

#[test]
fn the_diffusion_2d_lesson_file_describes_a_diffusion_2d_model() {
    let path = repo().join("lessons/diffusion-2d.yaml");
    let lesson = Lesson::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(lesson.model, ModelSpec::Diffusion2d(_)),
        "diffusion-2d.yaml describes a {} model",
        lesson.model.kind_name()
    );
}

#[test]
fn every_valid_fixture_validates() {
    let dir = repo().join("tests/fixtures/lessons/valid");
    let mut seen = 0;
    for item in fs::read_dir(&dir).unwrap() {
        let path = item.unwrap().path();
        if let Err(e) = Lesson::load(&path, &[]) {
            panic!("{} should be valid:\n{e}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 3);
}

#[test]
fn every_invalid_fixture_is_rejected_with_a_located_message() {
    let dir = repo().join("tests/fixtures/lessons/invalid");
    let mut seen = 0;
    for item in fs::read_dir(&dir).unwrap() {
        let path = item.unwrap().path();
        let errors = match Lesson::load(&path, &[]) {
            Ok(l) => panic!("{} was accepted as `{}`", path.display(), l.id),
            Err(errors) => errors,
        };
        assert!(!errors.0.is_empty());
        for e in &errors.0 {
            assert_eq!(e.file, path);
            assert!(!e.message.is_empty() && !e.hint.is_empty(), "{e}");
            assert!(
                !e.key.is_empty() || e.line.is_some(),
                "neither key nor line: {e}"
            );
        }
        seen += 1;
    }
    assert!(seen >= 19, "only {seen} invalid fixtures");
}

#[test]
fn keys_left_out_take_the_models_defaults() {
    let l = valid("defaults-only");
    assert_eq!(l.id, "defaults-only");
    assert_eq!(l.model.kind_name(), "linear-regression");
    assert_eq!(l.data.source_name(), "cp");
    assert_eq!(l.train.steps, 3000);
    assert_eq!(l.train.lr, 10.0);
    assert_eq!(l.train.optimizer.name(), "adagrad");
    assert_eq!(l.train.eval_every, 3000 / 50);
    assert_eq!(l.train.snapshot_every, 3000 / 100);
    assert_eq!(l.train.warmup_steps, 0);
    assert_eq!(l.view.panels, ["loss", "fit", "surface"]);
}

#[test]
fn the_largest_allowed_data_set_is_accepted_and_fits_the_memory_limit() {
    // The memory check cannot fire for linear regression within the allowed ranges: 2,000,000
    // CP points are a few dozen MB. The range check on data.train is what stops huge sizes.
    let l = valid("largest-data");
    let need = l.model.memory(&l.data, &l.train).total();
    assert!(
        need > 2_000_000 * 16,
        "the estimate should count every point: {need}"
    );
    assert!(need < MEMORY_LIMIT_BYTES, "{need} bytes");
}

// ---------------------------------------------------------------------------------------------
// One mistake per file.

#[test]
fn a_misspelled_key_is_reported_with_its_line_and_a_suggestion() {
    let (text, errors) = invalid("misspelled-key");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = error_on(&errors, "train.stpes");
    assert_eq!(e.line, Some(line_of(&text, "stpes:")), "{e}");
    assert_eq!(e.column, Some(3), "{e}");
    assert!(e.message.contains("stpes"), "{e}");
    assert!(e.hint.contains("did you mean `steps`"), "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("misspelled-key.yaml:{}:3", e.line.unwrap())),
        "{shown}"
    );
    assert!(shown.contains("`train.stpes`"), "{shown}");
    // Not asserted (see the report): the value written after the key, `300`, is not shown;
    // the error's value is the key's own name ("`train.stpes` = stpes").
}

#[test]
fn an_unknown_top_level_key_is_reported_with_the_allowed_keys() {
    let (text, errors) = invalid("unknown-top-level-key");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = error_on(&errors, "author");
    assert_eq!(e.line, Some(line_of(&text, "author:")), "{e}");
    assert!(e.message.contains("unknown key `author`"), "{e}");
    assert!(
        e.hint
            .contains("id, chapter, order, title, summary, model, data, train, view"),
        "{e}"
    );
}

#[test]
fn a_word_where_a_number_belongs_is_a_type_error_on_that_key() {
    let e = assert_single_error("wrong-type", "train.steps", "\"ten\"", "steps: ten");
    assert!(e.message.contains("must be a whole number"), "{e}");
}

#[test]
fn a_negative_learning_rate_is_rejected() {
    let e = assert_single_error("negative-lr", "train.lr", "-0.5", "lr: -0.5");
    assert!(e.message.contains("greater than 0"), "{e}");
}

#[test]
fn a_zero_learning_rate_is_rejected() {
    let e = assert_single_error("zero-lr", "train.lr", "0", "lr: 0");
    assert!(e.message.contains("greater than 0"), "{e}");
}

#[test]
fn a_min_snr_gamma_of_zero_is_rejected_with_its_range() {
    let e = assert_single_error("min-snr-zero", "model.min_snr", "0", "min_snr: 0");
    assert!(e.message.contains("between 0.1 and 100"), "{e}");
}

#[test]
fn attention_heads_that_do_not_divide_the_middle_channels_are_rejected() {
    let e = assert_single_error(
        "attention-heads-uneven",
        "model.attention",
        "3",
        "attention: 3",
    );
    assert!(e.message.contains("16 channels"), "{e}");
    assert!(e.hint.contains("divides"), "{e}");
}

#[test]
fn an_unknown_prediction_target_is_rejected_with_the_choices() {
    let (text, errors) = invalid("prediction-unknown");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = error_on(&errors, "model.prediction");
    assert_eq!(e.line, Some(line_of(&text, "prediction: x0")), "{e}");
    assert!(
        format!("{e}").contains("eps") && format!("{e}").contains('v'),
        "{e}"
    );
}

#[test]
fn a_vae_code_of_no_dimensions_is_rejected() {
    let e = assert_single_error("vae-latent-zero", "model.latent", "0", "latent: 0");
    assert!(e.message.contains("between 1 and 256"), "{e}");
    assert!(e.hint.contains("`model.latent`"), "{e}");
}

#[test]
fn a_vae_hidden_layer_of_width_zero_is_rejected_naming_the_layer() {
    let e = assert_single_error(
        "vae-hidden-width-zero",
        "model.hidden",
        "[64, 0]",
        "hidden: [64, 0]",
    );
    assert!(
        e.message.contains("hidden layer 2") && e.message.contains("found 0"),
        "{e}"
    );
    assert!(e.hint.contains("hidden: [400]"), "{e}");
}

#[test]
fn too_many_importance_samples_are_rejected() {
    let e = assert_single_error(
        "vae-iw-samples-too-many",
        "model.iw_samples",
        "5000",
        "iw_samples: 5000",
    );
    assert!(e.message.contains("between 0 and 1000"), "{e}");
}

#[test]
fn too_many_judged_vae_samples_are_rejected() {
    let e = assert_single_error(
        "vae-judge-samples-too-many",
        "model.judge_samples",
        "6000",
        "judge_samples: 6000",
    );
    assert!(e.message.contains("between 0 and 5000"), "{e}");
}

#[test]
fn a_misspelled_vae_likelihood_gets_a_suggestion() {
    let e = assert_single_error(
        "vae-likelihood-misspelled",
        "model.likelihood",
        "\"bernouli\"",
        "likelihood: bernouli",
    );
    assert!(e.hint.contains("did you mean `bernoulli`"), "{e}");
    assert!(e.hint.contains("gaussian"), "{e}");
}

#[test]
fn zero_steps_are_rejected() {
    let e = assert_single_error("zero-steps", "train.steps", "0", "steps: 0");
    assert!(e.message.contains("between 1 and"), "{e}");
}

#[test]
fn a_zero_batch_size_is_rejected() {
    let e = assert_single_error("zero-batch-size", "train.batch_size", "0", "batch_size: 0");
    assert!(e.message.contains("between 1 and"), "{e}");
}

#[test]
fn more_training_points_than_allowed_are_rejected_before_anything_is_allocated() {
    let e = assert_single_error("too-much-data", "data.train", "1000001", "train: 1000001");
    assert!(e.message.contains("1000000"), "{e}");
}

#[test]
fn an_unknown_model_kind_gets_a_suggestion() {
    let e = assert_single_error(
        "unknown-model-kind",
        "model.kind",
        "linear-regresion",
        "kind: linear-regresion",
    );
    assert!(e.hint.contains("did you mean `linear-regression`"), "{e}");
}

#[test]
fn an_unknown_data_source_lists_the_sources() {
    let e = assert_single_error(
        "unknown-data-source",
        "data.source",
        "mnist",
        "source: mnist",
    );
    assert!(e.message.contains("no data source `mnist`"), "{e}");
    assert!(e.hint.contains("cp"), "{e}");
}

#[test]
fn a_missing_id_is_reported_without_a_line() {
    let (_, errors) = invalid("missing-id");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = error_on(&errors, "id");
    assert_eq!(e.value, None);
    assert_eq!(e.line, None, "there is no line to point at: {e}");
    assert!(e.message.contains("`id` is missing"), "{e}");
    assert!(e.to_string().contains("missing-id.yaml: `id`"), "{e}");
}

#[test]
fn text_that_is_not_yaml_is_reported_at_its_line() {
    let (text, errors) = invalid("bad-indentation");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!(e.line, Some(line_of(&text, "   steps: 300")), "{e}");
    assert!(e.column.is_some(), "{e}");
    assert!(e.message.contains("not valid YAML"), "{e}");
    assert!(e.hint.contains("indentation"), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("bad-indentation.yaml:{}:", e.line.unwrap())),
        "{e}"
    );
}

#[test]
fn an_empty_title_is_rejected() {
    let e = assert_single_error("empty-title", "title.en", "\"\"", "en: \"\"");
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn an_unknown_panel_gets_a_suggestion() {
    let e = assert_single_error("unknown-panel", "view.panels", "fitt", "panels:");
    assert!(e.hint.contains("did you mean `fit`"), "{e}");
}

#[test]
fn a_warm_up_as_long_as_the_run_is_rejected() {
    let e = assert_single_error(
        "warmup-too-long",
        "train.warmup_steps",
        "300",
        "warmup_steps: 300",
    );
    assert!(e.message.contains("300 steps"), "{e}");
}

#[test]
fn an_optimizer_the_model_does_not_implement_is_rejected_with_the_choices() {
    let e = assert_single_error(
        "unsupported-optimizer",
        "train.optimizer",
        "adam",
        "optimizer: adam",
    );
    assert!(e.hint.contains("sgd, adagrad"), "{e}");
}

#[test]
fn an_id_with_capitals_and_spaces_is_rejected() {
    let e = assert_single_error("invalid-id", "id", "\"Tiny Line\"", "id: \"Tiny Line\"");
    assert!(e.message.contains("lowercase"), "{e}");
}

#[test]
fn a_chapter_beyond_the_course_is_rejected() {
    let e = assert_single_error("chapter-out-of-range", "chapter", "9", "chapter: 9");
    assert!(e.message.contains("between 1 and 5"), "{e}");
}

#[test]
fn a_file_with_several_mistakes_reports_all_of_them_in_file_order() {
    let (text, errors) = invalid("several-errors");
    assert!(errors.0.len() >= 3, "{errors}");
    let expected = [
        ("chapter", "0", "chapter: 0"),
        ("train.lr", "-1", "lr: -1"),
        ("train.stpes", "300", "stpes:"),
        ("view.panels", "curve", "panels:"),
    ];
    for (key, value, needle) in expected {
        let e = error_on(&errors, key);
        assert_eq!(e.value.as_deref(), Some(value), "{e}");
        assert_eq!(e.line, Some(line_of(&text, needle)), "{e}");
    }
    let lines: Vec<usize> = errors
        .0
        .iter()
        .map(|e| e.line.unwrap_or(usize::MAX))
        .collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "not in file order: {lines:?}"
    );
    assert_eq!(
        errors.to_string().matches("several-errors.yaml:").count(),
        errors.0.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Resolved YAML and overrides.

fn assert_same_lesson(a: &Lesson, b: &Lesson) {
    assert_eq!(a.id, b.id);
    assert_eq!(a.chapter, b.chapter);
    assert_eq!(a.order, b.order);
    assert_eq!(a.title, b.title);
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.model, b.model);
    assert_eq!(a.data, b.data);
    assert_eq!(a.train, b.train);
    assert_eq!(a.view, b.view);
}

#[test]
fn a_resolved_lesson_reads_back_into_an_equal_lesson() {
    let mut lessons: Vec<Lesson> = ["tiny-line", "defaults-only", "largest-data"]
        .map(valid)
        .into();
    lessons.push(Lesson::load(&repo().join("lessons/regression-gd.yaml"), &[]).unwrap());
    for original in &lessons {
        let yaml = original.to_resolved_yaml();
        assert!(
            yaml.contains("max_seconds:"),
            "defaults should be written out:\n{yaml}"
        );
        let elsewhere = Path::new("saves/some-run/lesson.yaml");
        let back = Lesson::from_text(elsewhere, &yaml, &[]).unwrap_or_else(|e| {
            panic!(
                "the resolved form of `{}` does not validate:\n{e}\n{yaml}",
                original.id
            )
        });
        assert_same_lesson(original, &back);
        assert_eq!(back.path(), elsewhere);
        assert_ne!(back.path(), original.path());
        assert_eq!(
            back.to_resolved_yaml(),
            yaml,
            "resolving twice should change nothing"
        );
    }
}

#[test]
fn overrides_change_values_without_touching_the_rest() {
    let path = fixture("valid", "tiny-line");
    let before = Lesson::load(&path, &[]).unwrap();
    let overrides = [
        Override::parse("train.lr=0.5").unwrap(),
        Override::parse("train.optimizer=sgd").unwrap(),
        Override::parse("model.init_w=2").unwrap(),
        Override::new("train.steps", 42),
        Override::new("train.seed", 7),
    ];
    let after = Lesson::load(&path, &overrides).unwrap();
    assert_eq!(after.train.lr, 0.5);
    assert_eq!(after.train.optimizer.name(), "sgd");
    assert_eq!(after.train.steps, 42);
    assert_eq!(after.train.seed, 7);
    assert_eq!(
        serde_yaml_value(&after.to_resolved_yaml(), &["model", "init_w"]),
        "2.0"
    );
    assert_eq!(after.train.eval_every, before.train.eval_every);
    assert_eq!(after.title, before.title);
    assert_eq!(after.data, before.data);
}

/// A scalar from resolved YAML, found by reading the text line by line (no YAML crate here).
fn serde_yaml_value(yaml: &str, path: &[&str]) -> String {
    let mut depth = 0;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent != depth * 2 {
            continue;
        }
        if let Some(rest) = line.trim_start().strip_prefix(&format!("{}:", path[depth])) {
            depth += 1;
            if depth == path.len() {
                return rest.trim().to_string();
            }
        }
    }
    panic!("{path:?} not found in:\n{yaml}")
}

#[test]
fn an_override_with_a_bad_value_is_marked_as_coming_from_the_command_line() {
    let path = fixture("valid", "tiny-line");
    let errors = Lesson::load(&path, &[Override::parse("train.lr=-2").unwrap()]).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = error_on(&errors, "train.lr");
    assert!(e.from_override, "{e}");
    assert_eq!(e.value.as_deref(), Some("-2"));
    assert_eq!(e.line, None, "a --set value has no line in the file: {e}");
    assert!(
        e.to_string().contains("`train.lr` = -2 (from --set)"),
        "{e}"
    );
}

#[test]
fn an_override_that_cannot_be_applied_is_marked_as_coming_from_the_command_line() {
    let path = fixture("valid", "tiny-line");
    let errors = Lesson::load(&path, &[Override::parse("id.deeper=5").unwrap()]).unwrap_err();
    let e = error_on(&errors, "id.deeper");
    assert!(e.from_override, "{e}");
    assert_eq!(e.value.as_deref(), Some("5"));
    assert!(e.message.contains("`id` is not a mapping"), "{e}");
}

#[test]
fn an_override_with_a_misspelled_key_gets_a_suggestion_and_is_marked() {
    let path = fixture("valid", "tiny-line");
    let errors = Lesson::load(&path, &[Override::parse("train.seeed=3").unwrap()]).unwrap_err();
    let e = error_on(&errors, "train.seeed");
    assert!(e.from_override, "{e}");
    assert!(e.hint.contains("did you mean `seed`"), "{e}");
}

#[test]
fn errors_in_the_file_are_not_marked_as_overrides_when_overrides_are_given() {
    let path = fixture("invalid", "negative-lr");
    let errors = Lesson::load(&path, &[Override::new("train.steps", 10)]).unwrap_err();
    let e = error_on(&errors, "train.lr");
    assert!(!e.from_override, "{e}");
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn an_override_can_repair_a_broken_file() {
    let path = fixture("invalid", "negative-lr");
    let l = Lesson::load(&path, &[Override::parse("train.lr=0.1").unwrap()]).unwrap();
    assert_eq!(l.train.lr, 0.1);
}

#[test]
fn a_set_without_an_equals_sign_is_refused() {
    let err = Override::parse("train.lr").unwrap_err();
    assert!(err.contains("key.path=value"), "{err}");
    let err = Override::parse("train..lr=1").unwrap_err();
    assert!(err.contains("empty"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The registry.

/// A lessons directory with two good lessons, one broken one and a file that is not a lesson.
fn lessons_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        fixture("valid", "defaults-only"),
        dir.path().join("defaults-only.yaml"),
    )
    .unwrap();
    fs::copy(
        fixture("valid", "tiny-line"),
        dir.path().join("tiny-line.yml"),
    )
    .unwrap();
    fs::copy(
        fixture("invalid", "misspelled-key"),
        dir.path().join("broken.yaml"),
    )
    .unwrap();
    fs::write(dir.path().join("notes.txt"), "not a lesson").unwrap();
    dir
}

#[test]
fn scanning_lists_broken_files_after_good_ones_without_failing() {
    let dir = lessons_dir();
    let entries = scan(dir.path()).unwrap();
    let names: Vec<String> = entries
        .iter()
        .map(|e| e.path().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["tiny-line.yml", "defaults-only.yaml", "broken.yaml"],
        "sorted by chapter and order"
    );
    match &entries[2] {
        Entry::Broken { path, errors } => {
            assert_eq!(path, &dir.path().join("broken.yaml"));
            assert_eq!(errors.0[0].key, "train.stpes");
        }
        Entry::Ok(l) => panic!("broken.yaml was accepted as `{}`", l.id),
    }
    assert!(matches!(&entries[0], Entry::Ok(l) if l.id == "tiny-line"));
    assert!(matches!(&entries[1], Entry::Ok(l) if l.id == "defaults-only"));
}

#[test]
fn scanning_a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(scan(&dir.path().join("nowhere")).is_err());
}

#[test]
fn resolving_finds_a_lesson_by_id_by_path_and_by_file_name() {
    let dir = lessons_dir();
    assert_eq!(
        resolve("tiny-line", dir.path()).unwrap(),
        dir.path().join("tiny-line.yml")
    );
    let by_path = dir.path().join("defaults-only.yaml");
    assert_eq!(
        resolve(by_path.to_str().unwrap(), dir.path()).unwrap(),
        by_path
    );
    assert_eq!(
        resolve("broken", dir.path()).unwrap(),
        dir.path().join("broken.yaml")
    );
}

#[test]
fn resolving_a_near_miss_suggests_the_id() {
    let dir = lessons_dir();
    let err = resolve("tiny-lin", dir.path()).unwrap_err();
    assert!(err.contains("Did you mean `tiny-line`?"), "{err}");
    assert!(
        err.contains("defaults-only"),
        "known lessons should be listed: {err}"
    );
    let err = resolve("zzzz", dir.path()).unwrap_err();
    assert!(!err.contains("Did you mean"), "{err}");
}

#[test]
fn an_unknown_key_beside_kind_or_source_lists_them_among_the_allowed_keys() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/regression-gd.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace("  init_w: -4", "  init_w: -4\n  slope: 2")
        .replace("  test: 10 ", "  tset: 10 ");
    let errors = Lesson::from_text(&path, &text, &[]).unwrap_err();
    let model = errors
        .0
        .iter()
        .find(|e| e.key == "model.slope")
        .expect("model.slope is reported");
    assert!(model.hint.contains("kind, init_b, init_w"), "{model}");
    assert_eq!(model.value.as_deref(), Some("2"));
    let data = errors
        .0
        .iter()
        .find(|e| e.key == "data.tset")
        .expect("data.tset is reported");
    assert!(
        data.hint.contains("did you mean `test`") && data.hint.contains("source, train, test"),
        "{data}"
    );
}

// ---------------------------------------------------------------------------------------------
// Files that are not a lesson's text: not regular, too large, not UTF-8.

fn scratch_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// The only error of loading `path`, whose message must not be the old catch-all.
fn only_error(path: &Path) -> LessonError {
    let errors = Lesson::load(path, &[]).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = errors.0[0].clone();
    assert!(!e.hint.contains("permissions"), "{e}");
    assert!(!e.to_string().contains("at that line"), "{e}");
    e
}

#[test]
fn a_latin1_file_is_named_as_not_utf8_with_the_offset_of_its_first_bad_byte() {
    let (_dir, path) = scratch_file("latin.yaml", b"id: caf\xe9\nchapter: 2\n");
    let e = only_error(&path);
    assert!(e.message.contains("not UTF-8"), "{e}");
    assert!(e.message.contains("byte offset 7"), "{e}");
    assert!(e.message.contains("0xE9"), "{e}");
    assert!(e.message.contains("Latin-1"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(8)), "{e}");
}

#[test]
fn a_utf16_file_with_a_byte_order_mark_is_named_as_utf16() {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend("id: x\n".encode_utf16().flat_map(|u| u.to_le_bytes()));
    let (_dir, path) = scratch_file("utf16.yaml", &bytes);
    let e = only_error(&path);
    assert!(e.message.contains("UTF-16"), "{e}");
    assert!(
        e.message.contains("little-endian, with a byte-order mark"),
        "{e}"
    );
    assert!(e.message.contains("byte offset 0"), "{e}");
    assert!(e.hint.contains("UTF-8"), "{e}");
}

#[test]
fn a_utf16_file_without_a_byte_order_mark_is_named_as_utf16() {
    let bytes: Vec<u8> = "id: x\nchapter: 2\n"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    let (_dir, path) = scratch_file("utf16.yaml", &bytes);
    let e = only_error(&path);
    assert!(e.message.contains("UTF-16"), "{e}");
    assert!(
        e.message.contains("big-endian, without a byte-order mark"),
        "{e}"
    );
    assert!(e.message.contains("byte offset 0"), "{e}");
}

#[test]
fn a_file_over_the_size_cap_is_refused_with_its_size_and_the_cap() {
    let mut text = fs::read(fixture("valid", "tiny-line")).unwrap();
    text.extend(std::iter::repeat_n(b'#', 1 << 20));
    let (_dir, path) = scratch_file("huge.yaml", &text);
    let e = only_error(&path);
    assert!(e.message.contains(&format!("{} bytes", text.len())), "{e}");
    assert!(e.message.contains("1048576 bytes (1 MiB)"), "{e}");
}

#[test]
fn a_directory_given_as_a_lesson_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let e = only_error(dir.path());
    assert!(e.message.contains("a directory, not a regular file"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_named_pipe_given_as_a_lesson_is_refused_at_once_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || tx.send(Lesson::load(&path, &[])).unwrap());
    let result = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("loading a named pipe blocked");
    let errors = result.unwrap_err();
    assert!(
        errors.0[0].message.contains("named pipe (FIFO)"),
        "{errors}"
    );
    let err = resolve(fifo.to_str().unwrap(), dir.path()).unwrap();
    assert_eq!(
        err, fifo,
        "resolving keeps the path, so that loading it says what it is"
    );
}

// ---------------------------------------------------------------------------------------------
// Nesting deep enough to stall the YAML parser.

#[test]
fn deep_nesting_is_refused_at_its_line_before_the_yaml_parser_runs() {
    let n = 100_000;
    for (shape, text) in [
        (
            "brackets",
            format!("id: x\nmodel: {}{}\n", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "braces",
            format!("id: x\nmodel: {}1{}\n", "{a: ".repeat(n), "}".repeat(n)),
        ),
        (
            "list items",
            format!("id: x\nmodel:\n{}a\n", "- ".repeat(n)),
        ),
    ] {
        // The refusal is mllab's own depth check (its message, at its line), not whatever
        // the YAML parser would say after descending 100,000 levels.
        let errors = Lesson::from_text(Path::new("deep.yaml"), &text, &[]).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{shape}: {errors}");
        let e = &errors.0[0];
        assert!(e.message.contains("more than 64 levels"), "{shape}: {e}");
        assert!(e.line.is_some_and(|l| l >= 2), "{shape}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// One document, each key once, no tags, numbers that fit: each said at its own line.

#[test]
fn a_duplicate_key_is_reported_at_the_duplicate_and_names_the_first() {
    let e = assert_single_error("duplicate-key", "train.lr", "0.5", "lr: 0.5");
    let (text, _) = invalid("duplicate-key");
    let first = line_of(&text, "lr: 0.1");
    assert!(
        e.message
            .contains(&format!("duplicate of the key at line {first}")),
        "{e}"
    );
    assert!(
        e.message.contains("`lr` is written twice in `train`"),
        "{e}"
    );
}

/// The lines of `text` that hold a key of a block mapping (not prose in a `|` block).
fn key_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut prose_deeper_than: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if let Some(p) = prose_deeper_than {
            if line.trim().is_empty() || indent > p {
                continue;
            }
            prose_deeper_than = None;
        }
        let body = line.trim_start();
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        if value.trim_start().starts_with('|') {
            prose_deeper_than = Some(indent);
        }
        lines.push(i + 1);
    }
    lines
}

#[test]
fn any_key_of_a_shipped_lesson_written_twice_is_reported_at_the_second() {
    let mut tried = 0;
    for name in SHIPPED {
        let path = repo().join(format!("lessons/{name}.yaml"));
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for n in key_lines(&text) {
            let mut twice: Vec<&str> = lines.clone();
            twice.insert(n, lines[n - 1]);
            let errors = Lesson::from_text(&path, &twice.join("\n"), &[]).unwrap_err();
            assert_eq!(errors.0.len(), 1, "line {n} of {name} twice:\n{errors}");
            let e = &errors.0[0];
            assert_eq!(e.line, Some(n + 1), "line {n} of {name} twice: {e}");
            assert!(
                e.message
                    .contains(&format!("duplicate of the key at line {n}")),
                "line {n} of {name} twice: {e}"
            );
            tried += 1;
        }
    }
    assert!(tried > 100, "only {tried} keys tried");
}

#[test]
fn a_duplicate_key_in_a_flow_mapping_is_reported_at_its_column() {
    let path = fixture("valid", "tiny-line");
    let text = fs::read_to_string(&path).unwrap().replace(
        "panels: [loss, fit, surface]",
        "panels: [loss]\n  x: {a: 1, a: 2}",
    );
    let errors = Lesson::from_text(&path, &text, &[]).unwrap_err();
    let e = error_on(&errors, "view.x.a");
    assert_eq!(e.line, Some(line_of(&text, "x: {a: 1, a: 2}")), "{e}");
    assert_eq!(e.column, Some(13), "{e}");
    assert!(e.message.contains("column 7"), "{e}");
}

#[test]
fn a_second_yaml_document_is_named_with_the_line_where_it_starts() {
    let (text, errors) = invalid("second-document");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = &errors.0[0];
    let start = line_of(&text, "id: another-lesson") - 1;
    assert_eq!(e.line, Some(start), "{e}");
    assert!(
        e.message.contains(&format!(
            "a lesson is one YAML document; a second starts at line {start}"
        )),
        "{e}"
    );
    assert!(e.hint.contains("---"), "{e}");
}

#[test]
fn a_yaml_tag_is_reported_at_its_value() {
    let e = assert_single_error("tagged-value", "train.steps", "!big 300", "steps: !big 300");
    assert!(e.message.contains("tag `!big`"), "{e}");
    assert!(e.hint.contains("remove `!big`"), "{e}");
}

#[test]
fn a_whole_number_past_64_bits_is_reported_at_its_key_in_plain_words() {
    let e = assert_single_error(
        "number-too-large",
        "train.steps",
        "18446744073709551616",
        "steps: 18446744073709551616",
    );
    assert!(e.message.contains("too large"), "{e}");
    assert!(!e.to_string().contains("u128"), "{e}");
}

#[test]
fn a_message_without_a_line_does_not_point_at_one() {
    // Aliases that repeat a list 9⁹ times: serde_yaml stops them without a position.
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        text += &format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        );
    }
    let errors = Lesson::from_text(Path::new("laughs.yaml"), &text, &[]).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!(e.line, None, "{e}");
    assert!(!e.to_string().contains("at that line"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Plain words: the key, what it takes and what was found, never serde's wording.

#[test]
fn a_number_where_a_choice_belongs_lists_the_choices_and_what_was_found() {
    let e = assert_single_error(
        "choice-given-a-number",
        "train.optimizer",
        "-1",
        "optimizer: -1",
    );
    assert_eq!(
        e.message,
        "`train.optimizer` must be one of sgd, momentum, adagrad, adam, adamw (found -1)"
    );
    assert!(e.hint.contains("choose one of: sgd"), "{e}");
}

#[test]
fn a_text_where_a_mapping_belongs_names_the_keys_it_takes() {
    let e = assert_single_error(
        "title-not-a-mapping",
        "title",
        "\"A tiny line\"",
        "title: A tiny line",
    );
    assert_eq!(
        e.message,
        "`title` must be a mapping with the keys en, zh (found the text \"A tiny line\")"
    );
}

#[test]
fn a_bad_value_of_a_required_key_is_one_error_not_also_a_missing_key() {
    let path = fixture("valid", "tiny-line");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("en: \"A tiny line\"", "en: [1, 2]");
    let errors = Lesson::from_text(&path, &text, &[]).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = error_on(&errors, "title.en");
    assert_eq!(
        e.message,
        "`title.en` must be a text (found the list [1, 2])"
    );
}

#[test]
fn a_bad_item_of_a_list_is_named_with_its_position() {
    let path = repo().join("lessons/ddpm.yaml");
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replace("channels: [16, 32, 32]", "channels: [16, \"wide\", 32]");
    let errors = Lesson::from_text(&path, &text, &[]).unwrap_err();
    let e = error_on(&errors, "model.channels[1]");
    assert_eq!(e.value.as_deref(), Some("\"wide\""), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "channels:")), "{e}");
    assert!(
        e.message
            .contains("must be a whole number of 0 or more (found the text \"wide\")"),
        "{e}"
    );
}

/// Words of serde, serde_yaml or Rust that a learner must never read.
const INTERNALS: &[&str] = &[
    "invalid type",
    "invalid value",
    "invalid length",
    "untagged",
    "Value::",
    "Tagged",
    "u128",
    "i128",
    "u64",
    "u32",
    "usize",
    "f64",
    "any YAML value",
    "newtype",
    "struct ",
    "variant",
    ", expected",
    "sequence",
    "unit value",
    "more than one document",
];

#[test]
fn no_change_to_a_value_of_a_shipped_lesson_is_reported_in_rust_words() {
    let mutations = [
        "\"text\"",
        "-1",
        "-2.5",
        "[1, 2]",
        "{a: 1}",
        "!foo 3",
        "true",
        "~",
        "[]",
        "{}",
        "18446744073709551616",
        "-9223372036854775809",
        "1e400",
        ".nan",
        "-.inf",
        "\"-1\"",
        "!!int x",
        "&anchor 3",
        "*nowhere",
        "[[[1]]]",
    ];
    let mut tried = 0;
    for name in SHIPPED {
        let path = repo().join(format!("lessons/{name}.yaml"));
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for n in key_lines(&text) {
            let (key, _) = lines[n - 1].split_once(':').unwrap();
            for m in mutations {
                let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                changed[n - 1] = format!("{key}: {m}");
                let Err(errors) = Lesson::from_text(&path, &changed.join("\n"), &[]) else {
                    continue;
                };
                for e in &errors.0 {
                    let shown = e.to_string();
                    for word in INTERNALS {
                        assert!(
                            !shown.contains(word),
                            "`{word}` in the message for line {n} of {name} set to {m}:\n{shown}"
                        );
                    }
                    assert!(!e.hint.is_empty(), "no fix: {shown}");
                    assert!(
                        !e.key.is_empty() || e.line.is_some(),
                        "no key, no line: {shown}"
                    );
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 1000, "only {tried} changes were rejected");
}

// ---------------------------------------------------------------------------------------------
// Two files, one id.

#[test]
fn two_lessons_with_the_same_id_are_both_broken_and_name_each_other() {
    let dir = lessons_dir();
    fs::copy(fixture("valid", "tiny-line"), dir.path().join("copy.yaml")).unwrap();
    let entries = scan(dir.path()).unwrap();
    let (a, b) = (
        dir.path().join("copy.yaml"),
        dir.path().join("tiny-line.yml"),
    );
    for (this, other) in [(&a, &b), (&b, &a)] {
        let entry = entries.iter().find(|e| e.path() == this).unwrap();
        let Entry::Broken { errors, .. } = entry else {
            panic!("{} was accepted with a shared id", this.display());
        };
        let e = error_on(errors, "id");
        assert!(
            e.message.contains(&other.display().to_string()),
            "{} should name {}: {e}",
            this.display(),
            other.display()
        );
        assert_eq!(
            e.line,
            Some(line_of(&fs::read_to_string(this).unwrap(), "id:")),
            "{e}"
        );
    }
    assert!(
        entries
            .iter()
            .any(|e| matches!(e, Entry::Ok(l) if l.id == "defaults-only"))
    );
}

#[test]
fn resolving_an_id_that_two_files_share_fails_naming_both() {
    let dir = lessons_dir();
    fs::copy(fixture("valid", "tiny-line"), dir.path().join("copy.yaml")).unwrap();
    for name in ["tiny-line", "copy"] {
        let err = resolve(name, dir.path()).unwrap_err();
        assert!(
            err.contains("copy.yaml") && err.contains("tiny-line.yml"),
            "{err}"
        );
        assert!(err.contains("`tiny-line`"), "{err}");
    }
    assert_eq!(
        resolve("defaults-only", dir.path()).unwrap(),
        dir.path().join("defaults-only.yaml")
    );
}

#[test]
fn an_odd_number_of_couplings_is_rejected_with_the_even_neighbours() {
    let e = assert_single_error("odd-couplings", "model.couplings", "5", "couplings: 5");
    assert!(e.to_string().contains("couplings: 4 or 6"), "{e}");
}

#[test]
fn a_sampling_temperature_of_zero_is_rejected() {
    let e = assert_single_error(
        "zero-temperature",
        "model.temperature",
        "0",
        "temperature: 0",
    );
    assert!(e.to_string().contains("above 0"), "{e}");
}
