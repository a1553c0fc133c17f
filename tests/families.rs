//! The family registry holds to what it declares: every lesson in `lessons/`, run headless
//! for a few steps, emits only panels its family declared (with `loss`, the chart, among them)
//! and ends with a summary whose every number is finite; kinds are named once, each family
//! declares `loss` first, and `mllab sample` names exactly the families that can sample.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mllab::lessons::Lesson;
use mllab::models::{KINDS, kinds_that_sample, panels_of};
use mllab::run::EventKind;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mllab");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every lesson file shipped in `lessons/`, so that a new lesson is checked without a change
/// here.
fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("lessons"))
        .expect("lessons/ is readable")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no lessons shipped");
    files
}

/// Every number in a JSON value, with its path; NaN and infinities are written as strings.
fn numbers(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Number(_) => out.push((path.to_string(), v.clone())),
        Value::String(s) if ["NaN", "inf", "-inf", "+inf"].contains(&s.as_str()) => {
            out.push((path.to_string(), v.clone()))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| numbers(x, &format!("{path}[{i}]"), out)),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| numbers(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

#[test]
fn every_shipped_lesson_emits_only_the_panels_its_family_declares_and_a_finite_summary() {
    for file in shipped() {
        let lesson = Lesson::load(&file, &[]).expect("a shipped lesson is valid");
        let declared = lesson.model.panels();
        let tmp = tempfile::tempdir().unwrap();
        let out = Command::new(BIN)
            .args(["run", "--headless", "--steps", "6", "--save-dir"])
            .arg(tmp.path())
            .arg(&file)
            .output()
            .expect("mllab runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", lesson.id);
        let line = String::from_utf8_lossy(&out.stdout);
        let summary: Value = serde_json::from_str(line.trim()).expect("one JSON line");
        let mut found = Vec::new();
        numbers(&summary["metrics"], "metrics", &mut found);
        assert!(
            !found.is_empty(),
            "{}: the summary reports no numbers",
            lesson.id
        );
        for (path, n) in &found {
            assert!(
                n.as_f64().is_some_and(f64::is_finite),
                "{}: {path} is {n}",
                lesson.id
            );
        }
        let save = summary["save"].as_str().expect("the run was saved");
        let loaded = mllab::saves::load(Path::new(save)).expect("its save loads");
        let emitted: BTreeSet<String> = loaded
            .events
            .read_all()
            .into_iter()
            .filter_map(|ev| match ev.kind {
                EventKind::Visual(u) => Some(u.panel),
                _ => None,
            })
            .collect();
        assert!(!emitted.is_empty(), "{}: no panel was drawn", lesson.id);
        for panel in &emitted {
            assert!(
                declared.contains(&panel.as_str()),
                "{}: emitted panel `{panel}`, which `{}` does not declare ({declared:?})",
                lesson.id,
                lesson.model.kind_name()
            );
        }
    }
}

#[test]
fn each_kind_is_named_once_and_declares_the_loss_chart_first() {
    let unique: BTreeSet<_> = KINDS.iter().collect();
    assert_eq!(
        unique.len(),
        KINDS.len(),
        "a kind is registered twice: {KINDS:?}"
    );
    for kind in KINDS {
        let panels = panels_of(kind).expect("a registered kind has panels");
        assert_eq!(panels.first(), Some(&"loss"), "{kind}: {panels:?}");
        let names: BTreeSet<_> = panels.iter().collect();
        assert_eq!(names.len(), panels.len(), "{kind} declares a panel twice");
    }
    assert_eq!(panels_of("no-such-kind"), None);
}

#[test]
fn exactly_the_generators_and_the_language_model_can_sample_from_a_save() {
    assert_eq!(
        kinds_that_sample(),
        vec![
            "ddpm",
            "vae",
            "flow",
            "gan",
            "generators-compared",
            "next-token"
        ]
    );
}
