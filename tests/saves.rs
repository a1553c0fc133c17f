//! Saves round-trip into replays, survive being cut short, and refuse what they cannot read
//! with a message that names the file and the place.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use mllab::lessons::{Lesson, Override};
use mllab::run::{EventKind, RunConfig, RunEvent, RunStatus, spawn};
use mllab::saves::{self, SaveError, SaveWriter};

fn lesson(overrides: &[(&str, &str)]) -> Lesson {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/regression-gd.yaml");
    let o: Vec<Override> = overrides.iter().map(|(k, v)| Override::new(k, v)).collect();
    Lesson::load(&path, &o).expect("the built-in lesson is valid")
}

/// Runs a short lesson into a save under `root`; returns the save dir and every event seen live.
fn saved_run(root: &Path) -> (PathBuf, Vec<RunEvent>) {
    let l = lesson(&[("train.steps", "300")]);
    let save = SaveWriter::create(root, &l, l.train.seed).unwrap();
    let dir = save.dir().to_path_buf();
    let h = spawn(RunConfig {
        run: 1,
        lesson: l,
        paced: false,
        save: Some(Box::new(save)),
        cache_dir: None,
    });
    let mut events = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Some(ev) = h.recv_timeout(Duration::from_millis(20)) {
            let end = matches!(
                ev.kind,
                EventKind::Finished { .. } | EventKind::Failed { .. }
            );
            events.push(ev);
            if end {
                break;
            }
        }
    }
    drop(h);
    (dir, events)
}

/// Compares event lists without printing thousands of numbers on failure.
fn assert_same(a: &[RunEvent], b: &[RunEvent]) {
    assert_eq!(a.len(), b.len(), "event counts differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(x == y, "event {i} differs: step {} vs {}", x.step, y.step);
    }
}

#[test]
fn a_saved_run_replays_exactly_the_events_that_were_sent_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, live) = saved_run(tmp.path());
    let loaded = saves::load(&dir).unwrap();
    assert_same(&loaded.events.read_all(), &live);
    assert_eq!(loaded.damage, None);
    assert_eq!(loaded.summary.status, RunStatus::Finished);
    assert_eq!(loaded.summary.steps, 300);
    assert_eq!(loaded.header.lesson, "regression-gd");
    assert_eq!(
        loaded.lesson.train.steps, 300,
        "the resolved lesson records the override"
    );
}

#[test]
fn the_save_directory_is_named_by_lesson_time_and_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = saved_run(tmp.path());
    assert_eq!(dir.parent().unwrap(), tmp.path().join("regression-gd"));
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.ends_with("-s0") && name.len() == "20261130-035028-s0".len(),
        "{name}"
    );
    for f in ["header.json", "lesson.yaml", "events.jsonl", "summary.json"] {
        assert!(dir.join(f).is_file(), "{f} is missing");
    }
}

#[test]
fn two_runs_in_the_same_second_get_two_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let l = lesson(&[]);
    let a = SaveWriter::create(tmp.path(), &l, 0).unwrap();
    let b = SaveWriter::create(tmp.path(), &l, 0).unwrap();
    assert_ne!(a.dir(), b.dir());
}

#[test]
fn a_log_cut_mid_line_replays_up_to_the_cut_and_says_where() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, live) = saved_run(tmp.path());
    let events = dir.join("events.jsonl");
    let bytes = std::fs::read(&events).unwrap();
    // Cut in the middle of the 10th line.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let cut = line_starts[9] + 5;
    std::fs::write(&events, &bytes[..cut]).unwrap();
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    let loaded = saves::load(&dir).unwrap();
    assert_same(&loaded.events.read_all(), &live[..9]);
    let damage = loaded.damage.unwrap();
    assert!(
        damage.contains("events.jsonl") && damage.contains(&format!("byte {}", line_starts[9])),
        "{damage}"
    );
    assert_eq!(loaded.summary.status, RunStatus::Interrupted);
}

#[test]
fn a_garbled_line_stops_the_replay_there_and_names_the_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, live) = saved_run(tmp.path());
    let events = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{not json at all";
    let offset: usize = lines[..3].iter().map(|l| l.len() + 1).sum();
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    let loaded = saves::load(&dir).unwrap();
    assert_same(&loaded.events.read_all(), &live[..3]);
    let damage = loaded.damage.unwrap();
    assert!(
        damage.contains(&format!("damaged at byte {offset}")) && damage.contains("line 4"),
        "{damage}"
    );
}

#[test]
fn a_save_from_a_newer_format_is_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = saved_run(tmp.path());
    let header = dir.join("header.json");
    let text = std::fs::read_to_string(&header)
        .unwrap()
        .replace("\"format\": 1", "\"format\": 99");
    std::fs::write(&header, text).unwrap();
    let err = saves::load(&dir).unwrap_err();
    assert!(matches!(err, SaveError::NewerFormat { found: 99, .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("header.json") && msg.contains("update mllab"),
        "{msg}"
    );
}

#[test]
fn a_damaged_summary_is_rebuilt_from_the_events() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = saved_run(tmp.path());
    std::fs::write(dir.join("summary.json"), "{\"lesson\": ").unwrap();
    let loaded = saves::load(&dir).unwrap();
    assert_eq!(loaded.summary.status, RunStatus::Finished);
    assert_eq!(loaded.summary.steps, 300);
    assert!(loaded.damage.unwrap().contains("summary.json"));
}

#[test]
fn a_directory_that_is_not_a_save_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let err = saves::load(tmp.path()).unwrap_err();
    assert!(matches!(err, SaveError::NotASave(_)), "{err}");
}

#[test]
fn a_garbled_header_is_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = saved_run(tmp.path());
    std::fs::write(dir.join("header.json"), [0xff, 0x00, 0x13]).unwrap();
    let msg = saves::load(&dir).unwrap_err().to_string();
    assert!(msg.contains("header.json"), "{msg}");
}

#[test]
fn a_run_killed_mid_way_leaves_a_save_that_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let lessons = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let mut child = Process::new(env!("CARGO_BIN_EXE_mllab"))
        .args([
            "run",
            "regression-gd",
            "--headless",
            "--steps",
            "10000000",
            "--seconds",
            "60",
        ])
        // 100,000 points make a step slow enough (≈ 0.1 ms) that ten million steps cannot end
        // before the kill, however loaded the machine; with the lesson's 10 points they took
        // 2 s, and a busy machine let the run finish first.
        .args([
            "--set",
            "train.eval_every=100",
            "--set",
            "train.snapshot_every=5000",
            "--set",
            "data.train=100000",
        ])
        .arg("--lessons")
        .arg(&lessons)
        .arg("--save-dir")
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the run has written twenty-odd events, then kill it without warning (SIGKILL).
    let until = Instant::now() + Duration::from_secs(10);
    let dir = loop {
        let found = std::fs::read_dir(tmp.path().join("regression-gd"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        if let Some(d) = found
            && std::fs::read(d.join("events.jsonl"))
                .map(|b| b.iter().filter(|&&c| c == b'\n').count() > 20)
                .unwrap_or(false)
        {
            break d;
        }
        assert!(Instant::now() < until, "the run wrote nothing");
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.join("summary.json").exists(),
        "the run was killed before it finished"
    );

    let loaded = saves::load(&dir).unwrap();
    assert!(loaded.events.len() > 10);
    assert!(matches!(
        loaded.events.read_all()[0].kind,
        EventKind::Started { .. }
    ));
    assert_eq!(loaded.summary.status, RunStatus::Interrupted);
    assert!(loaded.summary.steps > 0);

    let out = Process::new(env!("CARGO_BIN_EXE_mllab"))
        .args(["replay", "--headless"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(json["status"], "interrupted");
}

#[test]
fn a_save_with_no_events_is_refused_whatever_its_summary_says() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = saved_run(tmp.path());
    let events = dir.join("events.jsonl");
    // Empty, missing, and cut before the first line ended.
    let first = std::fs::read(&events).unwrap();
    for (what, content) in [
        ("empty", Some(Vec::new())),
        ("missing", None),
        ("cut in its first line", Some(first[..40].to_vec())),
    ] {
        match &content {
            Some(bytes) => std::fs::write(&events, bytes).unwrap(),
            None => {
                let _ = std::fs::remove_file(&events);
            }
        }
        let err = saves::load(&dir).unwrap_err();
        assert!(matches!(err, SaveError::NoEvents(_)), "{what}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains("events.jsonl") && msg.contains("no events recorded"),
            "{what}: {msg}"
        );
    }
}

#[test]
fn a_log_written_twice_is_refused_naming_the_line_where_the_second_run_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, live) = saved_run(tmp.path());
    let events = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    std::fs::write(&events, format!("{text}{text}")).unwrap();
    let msg = saves::load(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("events.jsonl")
            && msg.contains(&format!("line {} starts a second run", live.len() + 1)),
        "{msg}"
    );
}

#[test]
fn events_after_the_end_or_a_step_going_back_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, live) = saved_run(tmp.path());
    let events = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    // A metrics line copied after the end.
    let metrics = lines
        .iter()
        .find(|l| l.contains("\"event\":\"metrics\""))
        .unwrap();
    std::fs::write(&events, format!("{text}{metrics}\n")).unwrap();
    let msg = saves::load(&dir).unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "line {} comes after the run ended",
            live.len() + 1
        )),
        "{msg}"
    );

    // The last metrics line moved to just after the start.
    let last_metrics = lines
        .iter()
        .rposition(|l| l.contains("\"event\":\"metrics\""))
        .unwrap();
    let mut moved: Vec<&str> = lines.clone();
    let line = moved.remove(last_metrics);
    moved.insert(1, line);
    std::fs::write(&events, moved.join("\n") + "\n").unwrap();
    let msg = saves::load(&dir).unwrap_err().to_string();
    assert!(msg.contains("the step goes back"), "{msg}");
}

#[test]
fn a_replay_reads_its_events_from_the_file_one_at_a_time_and_any_order_of_reads_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, live) = saved_run(tmp.path());
    let mut log = saves::load(&dir).unwrap().events;
    assert_eq!(log.len(), live.len());
    // Backwards, then a jump, then forwards: every read is the event at that place.
    for i in (0..live.len()).rev().step_by(7) {
        assert!(log.get(i).as_ref() == Some(&live[i]), "event {i}");
    }
    for i in [3, 4, 5, 0, 1, live.len() - 1] {
        assert!(log.get(i).as_ref() == Some(&live[i]), "event {i}");
    }
    assert_eq!(log.get(live.len()), None);
    assert_eq!(log.time(2), Some(live[2].t));
}
