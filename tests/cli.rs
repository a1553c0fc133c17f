//! The `mllab` binary as a learner or a script calls it: exit codes, the one JSON line of a
//! headless run, the files of a save, and messages that say what to do.
//!
//! Every test works in its own temporary directory with its own copy of the lessons it needs,
//! and every process is waited for with a deadline, so a hang fails the test instead of
//! stalling the suite.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mllab");
/// Longer than any run here takes, short enough that a hang is noticed.
const DEADLINE: Duration = Duration::from_secs(10);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What a finished process left behind.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// The single line on stdout, parsed as JSON.
    fn json_line(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "stdout should be exactly one line:\n{}",
            self.show()
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.show()))
    }
}

/// A scratch directory with a lessons directory and a saves directory.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    /// Copies the shipped regression-gd lesson plus the named fixtures (`valid/x`, `invalid/y`).
    fn new(fixtures: &[&str]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let lessons = dir.path().join("lessons");
        fs::create_dir(&lessons).unwrap();
        fs::copy(
            repo().join("lessons/regression-gd.yaml"),
            lessons.join("regression-gd.yaml"),
        )
        .unwrap();
        for f in fixtures {
            let from = repo()
                .join("tests/fixtures/lessons")
                .join(format!("{f}.yaml"));
            let name = Path::new(f).file_name().unwrap();
            fs::copy(&from, lessons.join(name).with_extension("yaml")).unwrap();
        }
        Lab { dir }
    }

    fn lessons(&self) -> PathBuf {
        self.dir.path().join("lessons")
    }

    fn saves(&self) -> PathBuf {
        self.dir.path().join("saves")
    }

    fn lesson(&self, name: &str) -> PathBuf {
        self.lessons().join(format!("{name}.yaml"))
    }

    /// Runs `mllab ARGS --lessons L --save-dir S` in the lab, stdin closed, output captured.
    fn mllab<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Out {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--lessons")
            .arg(self.lessons())
            .arg("--save-dir")
            .arg(self.saves());
        cmd.current_dir(self.dir.path())
            .env("LANG", "en_US.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES");
        run_with_deadline(cmd)
    }

    /// `mllab run regression-gd --headless EXTRA…`.
    fn headless(&self, extra: &[&str]) -> Out {
        let mut args = vec!["run", "regression-gd", "--headless"];
        args.extend_from_slice(extra);
        self.mllab(&args)
    }
}

/// Spawns `cmd` with piped stdout and stderr, kills it if it outlives [`DEADLINE`].
fn run_with_deadline(mut cmd: Command) -> Out {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            pipe.read_to_string(&mut s).unwrap();
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "mllab {:?} was still running after {DEADLINE:?}; killed",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    Out {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn metric(summary: &Value, name: &str) -> f64 {
    summary["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no number `{name}` in {summary}"))
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The save directory a summary names (relative paths are relative to the lab).
fn save_dir(lab: &Lab, summary: &Value) -> PathBuf {
    let save = summary["save"]
        .as_str()
        .unwrap_or_else(|| panic!("no save in {summary}"));
    lab.dir.path().join(save)
}

// ---------------------------------------------------------------------------------------------
// list and check

#[test]
fn list_shows_each_lesson_under_its_chapter() {
    let lab = Lab::new(&["valid/tiny-line"]);
    let out = lab.mllab(&["list"]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert!(out.stdout.contains("2 Regression"), "{}", out.show());
    assert!(out.stdout.contains("regression-gd"), "{}", out.show());
    assert!(out.stdout.contains("tiny-line"), "{}", out.show());
}

#[test]
fn list_json_is_one_document_with_the_chapter_of_each_lesson_and_the_broken_files() {
    let lab = Lab::new(&["invalid/zero-lr"]);
    let out = lab.mllab(&["list", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    let items = out.json_line();
    let items = items.as_array().expect("a JSON array");
    let gd = items
        .iter()
        .find(|i| i["id"] == "regression-gd")
        .expect("regression-gd is listed");
    assert_eq!(gd["chapter"], 2);
    assert_eq!(gd["ok"], true);
    assert_eq!(gd["model"], "linear-regression");
    let broken = items
        .iter()
        .find(|i| i["ok"] == false)
        .expect("the broken file is listed");
    assert!(
        broken["path"].as_str().unwrap().ends_with("zero-lr.yaml"),
        "{broken}"
    );
    assert!(
        broken["errors"][0].as_str().unwrap().contains("train.lr"),
        "{broken}"
    );
}

#[test]
fn check_accepts_good_files_with_exit_0() {
    let lab = Lab::new(&["valid/tiny-line", "valid/defaults-only"]);
    let files =
        ["regression-gd", "tiny-line", "defaults-only"].map(|n| lab.lesson(n).into_os_string());
    let out = lab.mllab(&[&["check".into()], &files[..]].concat());
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        3,
        "{}",
        out.show()
    );
}

#[test]
fn check_rejects_a_bad_file_with_exit_2_and_its_file_and_line() {
    let lab = Lab::new(&["invalid/negative-lr"]);
    let bad = lab.lesson("negative-lr");
    let text = fs::read_to_string(&bad).unwrap();
    let line = text.lines().position(|l| l.contains("lr: -0.5")).unwrap() + 1;
    let out = lab.mllab(&[
        "check".as_ref(),
        lab.lesson("regression-gd").as_os_str(),
        bad.as_os_str(),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    let place = format!("{}:{line}:", bad.display());
    assert!(
        out.stderr.contains(&place),
        "`{place}` missing:\n{}",
        out.show()
    );
    assert!(out.stderr.contains("`train.lr` = -0.5"), "{}", out.show());
    assert!(
        out.stderr.contains("1 of 2 files have errors"),
        "{}",
        out.show()
    );
}

// ---------------------------------------------------------------------------------------------
// run --headless

#[test]
fn a_headless_run_prints_one_json_line_and_fits_the_line() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&[]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    let s = out.json_line();
    for key in ["lesson", "seed", "steps", "seconds", "metrics", "save"] {
        assert!(s.get(key).is_some(), "no `{key}` in {s}");
    }
    assert_eq!(s["lesson"], "regression-gd");
    assert_eq!(s["status"], "finished");
    assert_eq!(s["steps"], 3000);
    for m in ["w", "b", "w_star", "b_star", "train_error", "test_error"] {
        assert!(metric(&s, m).is_finite(), "{m} in {s}");
    }
    let (w, w_star) = (metric(&s, "w"), metric(&s, "w_star"));
    assert!(
        (w - w_star).abs() / w_star.abs() < 1e-3,
        "w = {w}, w* = {w_star}"
    );
}

#[test]
fn a_headless_run_leaves_a_complete_save() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&[]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    let s = out.json_line();
    let dir = save_dir(&lab, &s);
    assert!(
        dir.starts_with(lab.saves().join("regression-gd")),
        "{}",
        dir.display()
    );
    for f in ["header.json", "lesson.yaml", "events.jsonl", "summary.json"] {
        assert!(dir.join(f).is_file(), "{f} missing from {}", dir.display());
    }
    let header = read_json(&dir.join("header.json"));
    assert_eq!(header["lesson"], "regression-gd");
    assert_eq!(header["seed"], 0);
    let summary = read_json(&dir.join("summary.json"));
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["steps"], 3000);
    let events = fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(events.lines().count() > 2, "too few events");
    for (i, line) in events.lines().enumerate() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("events.jsonl line {}: {e}", i + 1));
    }
    let lesson = fs::read_to_string(dir.join("lesson.yaml")).unwrap();
    assert!(lesson.contains("id: regression-gd"), "{lesson}");
}

#[test]
fn steps_and_seed_flags_are_honoured() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&["--steps", "50", "--seed", "7"]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    let s = out.json_line();
    assert_eq!(s["steps"], 50);
    assert_eq!(s["seed"], 7);
    let dir = save_dir(&lab, &s);
    let summary = read_json(&dir.join("summary.json"));
    assert_eq!(summary["steps"], 50);
    assert_eq!(summary["seed"], 7);
    assert_eq!(read_json(&dir.join("header.json"))["seed"], 7);
    assert!(
        dir.file_name().unwrap().to_string_lossy().contains("-s7"),
        "{}",
        dir.display()
    );
}

#[test]
fn plain_descent_with_a_large_rate_diverges_and_exits_1() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&["--set", "train.optimizer=sgd", "--set", "train.lr=0.001"]);
    assert_eq!(out.code, Some(1), "{}", out.show());
    let s = out.json_line();
    assert_eq!(s["status"], "failed");
    let reason = s["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("diverged at step"), "{s}");
    assert!(s["steps"].as_u64().unwrap() < 3000, "{s}");
    assert!(
        out.stderr.contains("mllab: run failed: diverged at step"),
        "{}",
        out.show()
    );
    let summary = read_json(&save_dir(&lab, &s).join("summary.json"));
    assert_eq!(summary["status"], "failed");
}

#[test]
fn an_unknown_lesson_id_exits_2_with_a_suggestion() {
    let lab = Lab::new(&[]);
    let out = lab.mllab(&["run", "regresion-gd", "--headless"]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(
        out.stderr.contains("Did you mean `regression-gd`?"),
        "{}",
        out.show()
    );
    assert!(out.stdout.is_empty(), "{}", out.show());
    assert!(!lab.saves().exists(), "nothing should be saved");
}

#[test]
fn a_set_without_an_equals_sign_exits_2() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&["--set", "train.lr"]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(out.stderr.contains("key.path=value"), "{}", out.show());
    assert!(out.stdout.is_empty(), "{}", out.show());
}

#[test]
fn a_set_with_a_bad_value_exits_2_and_says_it_came_from_the_command_line() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&["--set", "train.lr=-1"]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(
        out.stderr.contains("`train.lr` = -1 (from --set)"),
        "{}",
        out.show()
    );
}

#[test]
fn running_a_broken_lesson_exits_2_with_its_file_and_line() {
    let lab = Lab::new(&["invalid/zero-steps"]);
    let bad = lab.lesson("zero-steps");
    let line = fs::read_to_string(&bad)
        .unwrap()
        .lines()
        .position(|l| l.contains("steps: 0"))
        .unwrap()
        + 1;
    let out = lab.mllab(&["run".as_ref(), bad.as_os_str(), "--headless".as_ref()]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(
        out.stderr.contains(&format!("{}:{line}:", bad.display())),
        "{}",
        out.show()
    );
}

#[test]
fn a_time_budget_ends_a_long_run_early_as_finished() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&["--steps", "10000000", "--seconds", "0.05"]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    let s = out.json_line();
    assert_eq!(s["status"], "finished");
    assert!(
        s["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("time budget"),
        "{s}"
    );
    let steps = s["steps"].as_u64().unwrap();
    assert!(steps > 0 && steps < 10_000_000, "{s}");
}

#[test]
fn headless_progress_on_a_pipe_is_plain_lines_starting_with_mllab() {
    let lab = Lab::new(&[]);
    let out = lab.headless(&[]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert!(
        out.stderr.starts_with("mllab: running regression-gd"),
        "{}",
        out.show()
    );
    assert!(
        !out.stderr.contains('\r'),
        "no progress bar on a pipe:\n{}",
        out.show()
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(lines.len() >= 3, "{}", out.show());
    for l in &lines {
        assert!(l.starts_with("mllab:"), "`{l}` in:\n{}", out.show());
    }
    assert!(
        lines.iter().any(|l| l.starts_with("mllab: step ")),
        "{}",
        out.show()
    );
}

// ---------------------------------------------------------------------------------------------
// replay

#[test]
fn a_headless_replay_prints_the_recorded_summary() {
    let lab = Lab::new(&[]);
    let run = lab.headless(&["--steps", "200"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    let ran = run.json_line();
    let dir = save_dir(&lab, &ran);
    let replay = lab.mllab(&["replay".as_ref(), dir.as_os_str(), "--headless".as_ref()]);
    assert_eq!(replay.code, Some(0), "{}", replay.show());
    let replayed = replay.json_line();
    let recorded = read_json(&dir.join("summary.json"));
    assert_eq!(replayed["metrics"], recorded["metrics"]);
    for key in ["lesson", "seed", "steps", "status", "reason"] {
        assert_eq!(replayed[key], ran[key], "{key}");
    }
    // The line a headless run prints is the very summary the save holds.
    assert_eq!(ran, recorded);
}

#[test]
fn replay_of_a_lesson_id_replays_its_newest_save_and_saves_lists_them_all() {
    let lab = Lab::new(&[]);
    // The second run's seed sorts first, so its name alone would not say it is the newest.
    let first = lab.headless(&["--steps", "100", "--seed", "2"]).json_line();
    let second = lab.headless(&["--steps", "200", "--seed", "1"]).json_line();
    let replay = lab.mllab(&["replay", "regression-gd", "--headless"]);
    assert_eq!(replay.code, Some(0), "{}", replay.show());
    assert_eq!(
        replay.json_line()["steps"],
        200,
        "the newest save is replayed"
    );

    let listed = lab.mllab(&["saves", "regression-gd", "--json"]);
    assert_eq!(listed.code, Some(0), "{}", listed.show());
    let doc: Value = serde_json::from_str(listed.stdout.trim()).unwrap();
    let rows = doc.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, ran) in rows.iter().zip([&second, &first]) {
        assert_eq!(row["lesson"], "regression-gd");
        assert_eq!(row["steps"], ran["steps"]);
        assert_eq!(row["status"], "finished");
        assert_eq!(row["loss"], ran["metrics"]["loss"]);
        assert_eq!(
            lab.dir.path().join(row["path"].as_str().unwrap()),
            save_dir(&lab, ran)
        );
    }
    // As text: a header and one line per save, with its path, status, steps and loss.
    let text = lab.mllab(&["saves"]);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", text.show());
    assert!(lines[0].contains("status") && lines[0].contains("loss"));
    assert!(
        lines[1].contains("finished") && lines[1].contains(" 200 "),
        "{}",
        text.show()
    );

    let none = lab.mllab(&["replay", "ddpm", "--headless"]);
    assert_eq!(none.code, Some(2), "{}", none.show());
    assert!(none.stderr.contains("mllab saves"), "{}", none.show());
}

/// The peak memory a headless command reports on stderr, in MB.
fn peak_mb(out: &Out) -> Option<u64> {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("mllab: peak memory "))
        .and_then(|l| l.trim_end_matches(" MB").parse().ok())
}

#[test]
fn a_run_of_ten_million_steps_keeps_its_log_under_50_mb_and_replays_in_little_memory() {
    let lab = Lab::new(&[]);
    // Before: 472 MB of log in 3 s, and 767 MB of memory to replay it.
    let ran = lab.headless(&["--steps", "10000000", "--seconds", "3"]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let dir = save_dir(&lab, &ran.json_line());
    let bytes = fs::metadata(dir.join("events.jsonl")).unwrap().len();
    assert!(bytes <= 50 << 20, "the log is {} MB", bytes >> 20);
    let replay = lab.mllab(&["replay".as_ref(), dir.as_os_str(), "--headless".as_ref()]);
    assert_eq!(replay.code, Some(0), "{}", replay.show());
    if let Some(peak) = peak_mb(&replay) {
        assert!(
            peak < 64,
            "replaying a {} MB log took {peak} MB",
            bytes >> 20
        );
    }
}

#[test]
fn replaying_a_save_whose_log_is_empty_says_no_events_recorded_and_exits_2() {
    let lab = Lab::new(&[]);
    let ran = lab.headless(&["--steps", "50"]).json_line();
    let dir = save_dir(&lab, &ran);
    fs::write(dir.join("events.jsonl"), b"").unwrap();
    let out = lab.mllab(&["replay".as_ref(), dir.as_os_str(), "--headless".as_ref()]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(out.stderr.contains("no events recorded"), "{}", out.show());
    assert!(
        out.stdout.is_empty(),
        "no summary says finished: {}",
        out.show()
    );
}

#[test]
fn the_readmes_headless_example_is_what_the_command_really_prints() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("$ mllab run regression-gd --headless\n")
        .nth(1)
        .expect("the README shows a headless run");
    let block = &block[..block.find("```").unwrap()];
    let shown: Value = serde_json::from_str(block.lines().find(|l| l.starts_with('{')).unwrap())
        .expect("the README's summary line is JSON");
    let run = Lab::new(&[]).headless(&[]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    let real = run.json_line();
    for key in ["lesson", "seed", "steps", "status", "reason"] {
        assert_eq!(shown[key], real[key], "{key}");
    }
    let (shown_m, real_m) = (
        shown["metrics"].as_object().unwrap(),
        real["metrics"].as_object().unwrap(),
    );
    assert_eq!(
        shown_m.keys().collect::<Vec<_>>(),
        real_m.keys().collect::<Vec<_>>(),
        "the README shows the metrics the run reports, and only those"
    );
    for (k, v) in shown_m {
        let (a, b) = (v.as_f64().unwrap(), real_m[k].as_f64().unwrap());
        // Exact on the machine that wrote it; the last bits may differ with the vector kernels.
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{k}: README {a}, run {b}"
        );
    }
    // Every progress line shown is one the run prints, up to the numbers that vary.
    let words = |l: &str| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    for line in block.lines().filter(|l| l.starts_with("mllab: ")) {
        assert!(
            run.stderr.lines().any(|r| words(r) == words(line)),
            "the README shows `{line}`, the run printed:\n{}",
            run.stderr
        );
    }
}

#[test]
fn check_of_two_files_with_the_same_id_names_both_and_exits_2() {
    let lab = Lab::new(&[]);
    let copy = lab.lessons().join("copy.yaml");
    fs::copy(lab.lesson("regression-gd"), &copy).unwrap();
    let out = lab.mllab(&[
        "check".as_ref(),
        lab.lesson("regression-gd").as_os_str(),
        copy.as_os_str(),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(
        out.stderr.contains("copy.yaml")
            && out.stderr.contains("regression-gd.yaml has the same id"),
        "{}",
        out.show()
    );
}

#[test]
fn replaying_a_directory_that_is_not_a_save_exits_2() {
    let lab = Lab::new(&[]);
    let out = lab.mllab(&[
        "replay".as_ref(),
        lab.lessons().as_os_str(),
        "--headless".as_ref(),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(out.stderr.contains("is not a mllab save"), "{}", out.show());
    assert!(out.stdout.is_empty(), "{}", out.show());
}

// ---------------------------------------------------------------------------------------------
// The TUI without a terminal

#[test]
fn the_tui_without_a_terminal_exits_2_and_points_to_headless() {
    let lab = Lab::new(&[]);
    let out = lab.mllab::<&str>(&[]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(out.stderr.contains("--headless"), "{}", out.show());
}

// ---------------------------------------------------------------------------------------------
// the other chapter-2 and chapter-3 lessons

/// Runs a shipped lesson headless with the shipped lessons folder; returns its summary line.
fn shipped_headless(id: &str) -> serde_json::Value {
    let lab = Lab::new(&[]);
    let mut cmd = Command::new(BIN);
    cmd.args(["run", id, "--headless", "--lessons"])
        .arg(repo().join("lessons"))
        .arg("--save-dir")
        .arg(lab.saves());
    let out = run_with_deadline(cmd);
    assert_eq!(out.code, Some(0), "{}", out.show());
    out.json_line()
}

#[test]
fn model_selection_reports_errors_by_degree_and_by_lambda() {
    let s = shipped_headless("model-selection");
    let m = &s["metrics"];
    let train = m["train_error_by_degree"].as_array().unwrap();
    let test = m["test_error_by_degree"].as_array().unwrap();
    assert_eq!((train.len(), test.len()), (5, 5), "degree 1 to 5");
    let lambdas = m["lambdas"].as_array().unwrap();
    assert_eq!(
        m["train_error_by_lambda"].as_array().unwrap().len(),
        lambdas.len()
    );
    assert_eq!(
        m["test_error_by_lambda"].as_array().unwrap().len(),
        lambdas.len()
    );
    assert!(m["closed_form_gap"].as_f64().unwrap() < 1e-6);
    let t: Vec<f64> = test.iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(
        t[4] > t[0],
        "the test error rises at high degree at the default seed: {t:?}"
    );
}

#[test]
fn the_generative_classifier_reports_each_variant() {
    let s = shipped_headless("generative-classifier");
    let m = &s["metrics"];
    for variant in ["shared_cov", "separate_cov", "logistic"] {
        for key in ["train_acc", "test_acc"] {
            let v = m[variant][key]
                .as_f64()
                .unwrap_or_else(|| panic!("{variant}.{key}"));
            assert!((0.5..=1.0).contains(&v), "{variant}.{key} = {v}");
        }
    }
    for variant in ["shared_cov", "logistic"] {
        assert_eq!(m[variant]["w"].as_array().unwrap().len(), 2);
        assert!(m[variant]["b"].as_f64().is_some());
    }
}

// ---------------------------------------------------------------------------------------------
// data and sample

/// The shape written in a .npy header, e.g. "(10, 2)".
fn npy_shape(path: &Path) -> String {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{} is not a .npy file",
        path.display()
    );
    let header =
        String::from_utf8_lossy(&bytes[10..10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize])
            .to_string();
    let start = header.find("'shape': ").unwrap() + "'shape': ".len();
    header[start..start + header[start..].find(')').unwrap() + 1].to_string()
}

#[test]
fn data_writes_a_toy_and_its_labels_as_npy() {
    let lab = Lab::new(&[]);
    let (x, y) = (lab.dir.path().join("x.npy"), lab.dir.path().join("y.npy"));
    let out = lab.mllab(&[
        "data".as_ref(),
        "moons".as_ref(),
        "--n".as_ref(),
        "10".as_ref(),
        "--out".as_ref(),
        x.as_os_str(),
        "--labels".as_ref(),
        y.as_os_str(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert_eq!(npy_shape(&x), "(10, 2)");
    assert_eq!(npy_shape(&y), "(10,)");
}

#[test]
fn data_writes_digits_as_n_by_28_by_28() {
    let lab = Lab::new(&[]);
    let x = lab.dir.path().join("d.npy");
    let out = lab.mllab(&[
        "data".as_ref(),
        "digits".as_ref(),
        "--n".as_ref(),
        "12".as_ref(),
        "--out".as_ref(),
        x.as_os_str(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert_eq!(npy_shape(&x), "(12, 28, 28)");
}

#[test]
fn data_with_an_unknown_name_exits_2_with_a_suggestion() {
    let lab = Lab::new(&[]);
    let x = lab.dir.path().join("x.npy");
    let out = lab.mllab(&[
        "data".as_ref(),
        "spirals".as_ref(),
        "--out".as_ref(),
        x.as_os_str(),
    ]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("`spiral`"), "{}", out.show());
}

/// The shipped ddpm lesson shrunk to a second's work: a tiny U-Net on 300 digits.
const TINY_DDPM: [&str; 12] = [
    "--set",
    "model.channels=[4,8,8]",
    "--set",
    "model.timesteps=20",
    "--set",
    "model.sample_steps=4",
    "--set",
    "model.grid=2",
    "--set",
    "data.train=300",
    "--set",
    "data.test=40",
];

/// `mllab run ddpm --headless --steps STEPS`, shrunk by `TINY_DDPM`, with `extra` arguments.
fn tiny_ddpm_run<'a>(steps: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "ddpm", "--headless", "--steps", steps];
    args.extend(TINY_DDPM);
    args.extend(extra);
    args
}

#[test]
fn a_quick_try_shorter_than_the_warm_up_shortens_the_warm_up_unless_it_was_set() {
    let lab = Lab::new(&[]);
    fs::copy(repo().join("lessons/ddpm.yaml"), lab.lesson("ddpm")).unwrap();
    let tiny = tiny_ddpm_run("20", &["--set", "model.judge_samples=0"]);
    // The lesson warms up for 200 steps; --steps 20 runs, warming up for 2.
    let run = lab.mllab(&tiny);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(
        run.stderr.contains("warming up for 2 steps instead"),
        "{}",
        run.show()
    );
    // A warm-up given with --set is the learner's own choice: checked, not changed.
    let mut args = tiny.clone();
    args.extend(["--set", "train.warmup_steps=50"]);
    let refused = lab.mllab(&args);
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(
        refused.stderr.contains("train.warmup_steps"),
        "{}",
        refused.show()
    );
}

#[test]
fn sample_draws_digits_from_a_saved_ddpm_run() {
    let lab = Lab::new(&[]);
    fs::copy(repo().join("lessons/ddpm.yaml"), lab.lesson("ddpm")).unwrap();
    let args = tiny_ddpm_run(
        "4",
        &[
            "--set",
            "train.warmup_steps=0",
            "--set",
            "model.judge_samples=20",
        ],
    );
    let run = lab.mllab(&args);
    assert_eq!(run.code, Some(0), "{}", run.show());
    let summary = run.json_line();
    assert!(
        summary["metrics"]["fid_judge"].as_f64().is_some(),
        "{summary}"
    );
    let save = save_dir(&lab, &summary);
    assert!(save.join("weights.safetensors").is_file());
    let out = lab.dir.path().join("s.npy");
    let sampled = lab.mllab(&[
        "sample".as_ref(),
        save.as_os_str(),
        "--n".as_ref(),
        "3".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(sampled.code, Some(0), "{}", sampled.show());
    assert_eq!(npy_shape(&out), "(3, 28, 28)");
    // Deterministic DDIM instead of the lesson's η = 1, and an η out of range.
    let eta = |e: &str| {
        lab.mllab(&[
            "sample".as_ref(),
            save.as_os_str(),
            "--n".as_ref(),
            "2".as_ref(),
            "--eta".as_ref(),
            e.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
    };
    assert_eq!(eta("0").code, Some(0));
    let bad = eta("1.5");
    assert_eq!(bad.code, Some(2), "{}", bad.show());
    assert!(bad.stderr.contains("--eta 1.5"), "{}", bad.show());

    // Weights with a NaN in them: refused, and nothing written (was 3,136 NaN and exit 0).
    let weights = save.join("weights.safetensors");
    let mut bytes = fs::read(&weights).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..8 + header + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    fs::write(&weights, &bytes).unwrap();
    let nan_out = lab.dir.path().join("nan.npy");
    let sampled = lab.mllab(&[
        "sample".as_ref(),
        save.as_os_str(),
        "--out".as_ref(),
        nan_out.as_os_str(),
    ]);
    assert_eq!(sampled.code, Some(2), "{}", sampled.show());
    assert!(
        sampled.stderr.contains("weights.safetensors")
            && sampled.stderr.contains("NaN or infinite"),
        "{}",
        sampled.show()
    );
    assert!(!nan_out.exists(), "no file of NaN is written");
}

#[test]
fn sample_refuses_a_run_of_another_lesson() {
    let lab = Lab::new(&[]);
    let run = lab.headless(&["--steps", "10"]);
    let save = save_dir(&lab, &run.json_line());
    let out = lab.dir.path().join("s.npy");
    let sampled = lab.mllab(&[
        "sample".as_ref(),
        save.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(sampled.code, Some(2));
    assert!(
        sampled
            .stderr
            .contains("`linear-regression`, which cannot draw samples")
            && sampled.stderr.contains("works on saves of: ddpm"),
        "{}",
        sampled.show()
    );
}

#[test]
fn bench_prints_one_json_line_per_item_with_its_timings() {
    let lab = Lab::new(&[]);
    let out = lab.mllab(&["bench", "--json", "--filter", "mlp"]);
    assert_eq!(out.code, Some(0), "{}", out.show());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.show());
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["name"], "mlp");
    let (lo, med, hi) = (
        v["ms_min"].as_f64().unwrap(),
        v["ms_median"].as_f64().unwrap(),
        v["ms_max"].as_f64().unwrap(),
    );
    assert!(0.0 < lo && lo <= med && med <= hi, "{v}");
    assert!(v["gflops"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_with_an_unknown_name_lists_the_names() {
    let lab = Lab::new(&[]);
    let out = lab.mllab(&["bench", "--filter", "resnet"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("mlp") && out.stderr.contains("unet"),
        "{}",
        out.show()
    );
}

// ---------------------------------------------------------------------------------------------
// how runs end: divergence, Ctrl-C, quick tries, bad save folders

#[test]
fn a_diffusion_run_whose_samples_turn_nan_is_diverged_with_exit_1_and_never_scored() {
    let lab = Lab::new(&[]);
    fs::copy(
        repo().join("lessons/diffusion-2d.yaml"),
        lab.lesson("diffusion-2d"),
    )
    .unwrap();
    let out = lab.mllab(&[
        "run",
        "diffusion-2d",
        "--headless",
        "--steps",
        "400",
        "--set",
        "train.lr=100",
        "--set",
        "train.eval_every=20",
        "--set",
        "train.snapshot_every=20",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.show());
    let s = out.json_line();
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .starts_with("diverged at step"),
        "{s}"
    );
    // Before: exit 0 with "mmd": 0.0, a perfect score for NaN samples.
    for scored in ["mmd_data_floor", "mmd_points"] {
        assert!(s["metrics"].get(scored).is_none(), "{s}");
    }
    if let Some(mmd) = s["metrics"].get("mmd") {
        assert!(mmd.as_f64().unwrap() > 0.0, "{s}");
    }
    // The save replays, NaN and all.
    let replay = lab.mllab(&[
        "replay".as_ref(),
        save_dir(&lab, &s).as_os_str(),
        "--headless".as_ref(),
    ]);
    assert_eq!(replay.code, Some(0), "{}", replay.show());
    assert_eq!(replay.json_line()["status"], "failed");
}

/// Starts `mllab ARGS` in the lab and sends it SIGINT `times` times once its training has
/// begun (a gap of `gap` between signals); returns what it left.
#[cfg(unix)]
fn interrupted(lab: &Lab, args: &[&str], times: usize, gap: Duration) -> Out {
    let started = Instant::now();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--lessons")
        .arg(lab.lessons())
        .arg("--save-dir")
        .arg(lab.saves())
        .current_dir(lab.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            pipe.read_to_string(&mut s).unwrap();
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    // Wait until training has begun: the event log holds the start.
    let trained = || {
        fs::read_dir(lab.saves())
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|l| fs::read_dir(l.path()).into_iter().flatten().flatten())
            .any(|d| {
                fs::read_to_string(d.path().join("events.jsonl"))
                    .is_ok_and(|t| t.contains("\"event\":\"started\""))
            })
    };
    while !trained() {
        assert!(started.elapsed() < DEADLINE, "the run never got going");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    for _ in 0..times {
        let ok = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        thread::sleep(gap);
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < DEADLINE * 2,
            "still running after Ctrl-C"
        );
        thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_ends_a_headless_run_with_its_json_line_summary_and_weights_and_exit_130() {
    let lab = Lab::new(&[]);
    fs::copy(repo().join("lessons/ddpm.yaml"), lab.lesson("ddpm")).unwrap();
    let args = tiny_ddpm_run(
        "1000000",
        &[
            "--set",
            "train.warmup_steps=0",
            "--set",
            "model.judge_samples=20",
        ],
    );
    let out = interrupted(&lab, &args, 1, Duration::ZERO);
    assert_eq!(out.code, Some(130), "{}", out.show());
    let s = out.json_line();
    assert_eq!(s["status"], "interrupted", "{s}");
    assert!(s["metrics"]["fid_judge"].as_f64().is_some(), "scored: {s}");
    let save = save_dir(&lab, &s);
    assert_eq!(
        read_json(&save.join("summary.json"))["status"],
        "interrupted"
    );
    // `mllab sample` works on the interrupted save.
    let npy = lab.dir.path().join("s.npy");
    let sampled = lab.mllab(&[
        "sample".as_ref(),
        save.as_os_str(),
        "--n".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        npy.as_os_str(),
    ]);
    assert_eq!(sampled.code, Some(0), "{}", sampled.show());
    assert_eq!(npy_shape(&npy), "(2, 28, 28)");
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_skips_the_final_scoring_and_the_summary_says_so() {
    let lab = Lab::new(&[]);
    fs::copy(repo().join("lessons/ddpm.yaml"), lab.lesson("ddpm")).unwrap();
    // 5,000 samples would take minutes to score.
    let args = tiny_ddpm_run(
        "1000000",
        &[
            "--set",
            "train.warmup_steps=0",
            "--set",
            "model.judge_samples=5000",
        ],
    );
    let out = interrupted(&lab, &args, 2, Duration::from_millis(300));
    assert_eq!(out.code, Some(130), "{}", out.show());
    let s = out.json_line();
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .ends_with("final scoring skipped"),
        "{s}"
    );
    assert!(s["metrics"].get("fid_judge").is_none(), "{s}");
    assert!(
        out.stderr.contains("scoring 5000 samples"),
        "{}",
        out.show()
    );
    // Skipped, not finished: the last progress report is short of the 5,000 samples.
    let scored = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("mllab: scoring 5000 samples "))
        .filter_map(|l| l.split('/').next()?.parse::<u64>().ok())
        .next_back();
    assert!(
        scored.is_some_and(|n| n < 5000),
        "scored {scored:?} of 5000 before the skip:\n{}",
        out.show()
    );
}

#[test]
fn a_quick_try_of_ddpm_scores_fewer_samples_and_says_so() {
    let lab = Lab::new(&[]);
    fs::copy(repo().join("lessons/ddpm.yaml"), lab.lesson("ddpm")).unwrap();
    let run = lab.mllab(&tiny_ddpm_run("20", &[]));
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(
        run.stderr
            .contains("scores 50 samples instead of 500 (--set model.judge_samples=500"),
        "{}",
        run.show()
    );
    assert_eq!(run.json_line()["metrics"]["judge_n"], 50);
    assert!(
        run.stderr.contains("mllab: scoring 50 samples 50/50"),
        "{}",
        run.show()
    );
}

#[test]
fn a_quick_try_of_a_broken_lesson_reports_only_the_real_error() {
    let lab = Lab::new(&[]);
    let text = fs::read_to_string(repo().join("lessons/ddpm.yaml")).unwrap();
    fs::write(
        lab.lesson("ddpm"),
        text.replace("timesteps: 1000", "timesteps: -5"),
    )
    .unwrap();
    let out = lab.mllab(&["run", "ddpm", "--headless", "--steps", "20"]);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(out.stderr.contains("model.timesteps"), "{}", out.show());
    assert!(!out.stderr.contains("train.warmup_steps"), "{}", out.show());
}

#[test]
fn a_save_folder_that_cannot_be_written_is_refused_with_exit_2_before_the_run() {
    let lab = Lab::new(&[]);
    let file = lab.dir.path().join("a-file");
    fs::write(&file, "").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "regression-gd", "--headless", "--lessons"])
        .arg(lab.lessons())
        .arg("--save-dir")
        .arg(file.join("saves"));
    let out = run_with_deadline(cmd);
    assert_eq!(out.code, Some(2), "{}", out.show());
    assert!(out.stderr.contains("--save-dir"), "{}", out.show());
    assert!(out.stdout.is_empty(), "{}", out.show());
}
