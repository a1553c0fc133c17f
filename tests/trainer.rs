//! The trainer thread obeys commands, and turns panics, errors and divergence into a failed
//! run that names the step, without taking the caller down.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mllab::lessons::{Lesson, Override};
use mllab::models::{Finals, Finish, Knob, Metrics, Model, ModelError};
use mllab::run::trainer::{Builder, spawn_with};
use mllab::run::{Command, EventKind, FinishReason, RunConfig, RunEvent, TrainerHandle, spawn};
use mllab::visual::PanelUpdate;

fn lesson(overrides: &[(&str, &str)]) -> Lesson {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/regression-gd.yaml");
    let o: Vec<Override> = overrides.iter().map(|(k, v)| Override::new(k, v)).collect();
    Lesson::load(&path, &o).expect("the built-in lesson is valid")
}

/// Collects events until the run ends (or the deadline passes).
fn collect(handle: &TrainerHandle, deadline: Duration) -> Vec<RunEvent> {
    let until = Instant::now() + deadline;
    let mut out = Vec::new();
    while Instant::now() < until {
        if let Some(ev) = handle.recv_timeout(Duration::from_millis(20)) {
            let end = matches!(
                ev.kind,
                EventKind::Finished { .. } | EventKind::Failed { .. }
            );
            out.push(ev);
            if end {
                return out;
            }
        }
    }
    panic!(
        "the run did not end within {deadline:?}; got {} events",
        out.len()
    );
}

/// Waits for the first event matching `pred`.
fn wait_for(handle: &TrainerHandle, pred: impl Fn(&RunEvent) -> bool) -> RunEvent {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if let Some(ev) = handle.recv_timeout(Duration::from_millis(20))
            && pred(&ev)
        {
            return ev;
        }
    }
    panic!("no matching event within 5 s");
}

/// A model whose loss is scripted, for testing the loop itself.
struct Scripted {
    at_step: u64,
    what: &'static str,
    /// The parameter `w`; "nan-param" spoils it.
    w: f64,
}

impl Model for Scripted {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into()]
    }
    fn train_step(&mut self, step: u64, _lr: f64) -> Result<Metrics, ModelError> {
        if step == self.at_step {
            match self.what {
                "panic" => panic!("scripted crash"),
                "error" => return Err("scripted error".into()),
                "nan" => return Ok(Metrics::from([("loss".to_string(), f64::NAN)])),
                "nan-param" => self.w = f64::NAN,
                _ => {}
            }
        }
        if self.what == "slow" {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Metrics::from([("loss".to_string(), 1.0 / step as f64)]))
    }
    fn nonfinite_parameter(&self) -> Option<String> {
        (!self.w.is_finite()).then(|| "w".to_string())
    }
    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        Ok(Metrics::from([("w".to_string(), self.w)]))
    }
    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        Ok(Vec::new())
    }
    fn finish_estimate(&self) -> Option<f64> {
        Some(30.0)
    }
    /// "score" scores 300 units of 10 ms each, reporting each; "nan-score" finds NaN samples.
    fn summary(&mut self, finish: &mut Finish) -> Result<Finals, ModelError> {
        assert!(self.w.is_finite(), "a summary is never computed over NaN");
        match self.what {
            "score" => {
                for done in 1..=300 {
                    if finish.cancelled() {
                        return Ok(Finals::new());
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    finish.progress("scoring 300 samples", done, 300);
                }
                Ok(Finals::from([(
                    "score".to_string(),
                    serde_json::json!(1.0),
                )]))
            }
            "nan-score" => Err(ModelError::diverged("the final samples are not finite")),
            _ => Ok(Finals::from([("w".to_string(), serde_json::json!(self.w))])),
        }
    }
    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        vec![("weights.bin".to_string(), self.w.to_le_bytes().to_vec())]
    }
}

fn scripted(at_step: u64, what: &'static str) -> Builder {
    Box::new(move || {
        Ok(Box::new(Scripted {
            at_step,
            what,
            w: 1.0,
        }) as Box<dyn Model>)
    })
}

fn failure_of(events: &[RunEvent]) -> (u64, String) {
    match events.last().map(|e| (&e.kind, e.step)) {
        Some((EventKind::Failed { reason, .. }, step)) => (step, reason.clone()),
        other => panic!("expected a failed run, got {other:?}"),
    }
}

#[test]
fn a_full_run_starts_reports_metrics_and_finishes_after_all_steps() {
    let h = spawn(RunConfig {
        run: 1,
        lesson: lesson(&[("train.steps", "200")]),
        paced: false,
        save: None,
        cache_dir: None,
    });
    let events = collect(&h, Duration::from_secs(10));
    assert!(matches!(
        events[0].kind,
        EventKind::Started {
            total_steps: 200,
            ..
        }
    ));
    assert!(
        events.iter().any(
            |e| matches!(&e.kind, EventKind::Metrics { values } if values.contains_key("loss"))
        )
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Visual(u) if u.panel == "surface"))
    );
    let last = events.last().unwrap();
    assert_eq!(last.step, 200);
    assert!(matches!(
        last.kind,
        EventKind::Finished {
            reason: FinishReason::AllSteps,
            ..
        }
    ));
    assert!(
        events.iter().all(|e| e.run == 1),
        "every event carries the run id"
    );
}

#[test]
fn pause_holds_the_step_one_step_advances_it_by_one_and_resume_goes_on() {
    let h = spawn(RunConfig {
        run: 7,
        lesson: lesson(&[("train.steps", "100000"), ("train.pace", "500")]),
        paced: true,
        save: None,
        cache_dir: None,
    });
    wait_for(&h, |e| e.step >= 5);
    h.send(Command::Pause);
    let paused = wait_for(&h, |e| {
        matches!(
            e.kind,
            EventKind::Command {
                command: Command::Pause
            }
        )
    });
    std::thread::sleep(Duration::from_millis(150));
    let later: Vec<RunEvent> = h.drain(usize::MAX);
    assert!(
        later.iter().all(|e| e.step == paused.step),
        "no step is taken while paused"
    );
    h.send(Command::Step);
    let stepped = wait_for(&h, |e| matches!(e.kind, EventKind::Metrics { .. }));
    assert_eq!(stepped.step, paused.step + 1);
    h.send(Command::Resume);
    wait_for(&h, |e| e.step >= paused.step + 10);
    h.send(Command::Stop);
    let events = collect(&h, Duration::from_secs(5));
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::Finished {
            reason: FinishReason::Stopped,
            ..
        }
    ));
}

#[test]
fn scaling_the_learning_rate_is_recorded_and_changes_the_rate_used() {
    let h = spawn(RunConfig {
        run: 2,
        lesson: lesson(&[("train.steps", "100000"), ("train.pace", "1000")]),
        paced: true,
        save: None,
        cache_dir: None,
    });
    wait_for(&h, |e| e.step >= 2);
    h.send(Command::ScaleLr { factor: 0.5 });
    wait_for(&h, |e| {
        matches!(
            e.kind,
            EventKind::Command {
                command: Command::ScaleLr { .. }
            }
        )
    });
    let ev = wait_for(
        &h,
        |e| matches!(&e.kind, EventKind::Metrics { values } if values.contains_key("lr")),
    );
    let EventKind::Metrics { values } = ev.kind else {
        unreachable!()
    };
    assert_eq!(values["lr"], 5.0, "the lesson's lr 10 halved");
}

#[test]
fn a_panicking_model_ends_the_run_as_failed_at_that_step() {
    let h = spawn_with(
        RunConfig {
            run: 3,
            lesson: lesson(&[("train.steps", "50")]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        scripted(4, "panic"),
    );
    let (step, reason) = failure_of(&collect(&h, Duration::from_secs(5)));
    assert_eq!(step, 3, "the last completed step");
    assert!(
        reason.contains("crashed at step 4") && reason.contains("scripted crash"),
        "{reason}"
    );
}

#[test]
fn a_model_error_ends_the_run_with_its_message() {
    let h = spawn_with(
        RunConfig {
            run: 4,
            lesson: lesson(&[("train.steps", "50")]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        scripted(9, "error"),
    );
    let (_, reason) = failure_of(&collect(&h, Duration::from_secs(5)));
    assert!(
        reason.contains("failed at step 9: scripted error"),
        "{reason}"
    );
}

#[test]
fn a_nan_loss_is_reported_as_divergence_at_its_step() {
    let h = spawn_with(
        RunConfig {
            run: 5,
            lesson: lesson(&[("train.steps", "50")]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        scripted(6, "nan"),
    );
    let (step, reason) = failure_of(&collect(&h, Duration::from_secs(5)));
    assert_eq!(step, 6);
    assert!(
        reason.starts_with("diverged at step 6: `loss` is NaN"),
        "{reason}"
    );
}

#[test]
fn a_model_that_cannot_be_built_fails_before_the_first_step() {
    let build: Builder = Box::new(|| Err("no data".to_string()));
    let h = spawn_with(
        RunConfig {
            run: 6,
            lesson: lesson(&[]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        build,
    );
    let (step, reason) = failure_of(&collect(&h, Duration::from_secs(5)));
    assert_eq!(step, 0);
    assert!(reason.contains("could not be built: no data"), "{reason}");
}

/// A model that counts its steps and says when it is dropped (its thread is then over).
struct Watched {
    steps: Arc<AtomicU64>,
    dropped: Arc<AtomicBool>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl Model for Watched {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into()]
    }
    fn train_step(&mut self, step: u64, _lr: f64) -> Result<Metrics, ModelError> {
        self.steps.fetch_add(1, Ordering::SeqCst);
        Ok(Metrics::from([("loss".to_string(), 1.0 / step as f64)]))
    }
    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        Ok(Metrics::new())
    }
    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        Ok(Vec::new())
    }
    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        Ok(Finals::new())
    }
}

#[test]
fn dropping_the_handle_stops_and_joins_the_thread() {
    let steps = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let (s, d) = (steps.clone(), dropped.clone());
    let h = spawn_with(
        RunConfig {
            run: 8,
            lesson: lesson(&[("train.steps", "10000000"), ("train.pace", "10")]),
            paced: true,
            save: None,
            cache_dir: None,
        },
        Box::new(move || {
            Ok(Box::new(Watched {
                steps: s,
                dropped: d,
            }) as Box<dyn Model>)
        }),
    );
    wait_for(&h, |e| matches!(e.kind, EventKind::Started { .. }));
    // Dropped on another thread, so that a drop that never returns fails here instead of
    // hanging the test.
    let (done, dropping) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(h);
        done.send(()).unwrap();
    });
    dropping
        .recv_timeout(Duration::from_secs(30))
        .expect("dropping the handle never returned");
    assert!(
        dropped.load(Ordering::SeqCst),
        "the drop returned before the trainer thread had ended"
    );
    let taken = steps.load(Ordering::SeqCst);
    assert!(
        taken < 10_000_000,
        "the run was stopped, not played to its end ({taken} steps)"
    );
}

#[test]
fn the_time_budget_ends_a_long_run() {
    let h = spawn(RunConfig {
        run: 9,
        lesson: lesson(&[("train.steps", "10000000"), ("train.max_seconds", "0.2")]),
        paced: false,
        save: None,
        cache_dir: None,
    });
    let events = collect(&h, Duration::from_secs(10));
    let last = events.last().unwrap();
    assert!(matches!(
        last.kind,
        EventKind::Finished {
            reason: FinishReason::TimeBudget,
            ..
        }
    ));
    assert!(last.step < 10_000_000);
}

#[test]
fn a_parameter_gone_nan_ends_the_run_as_diverged_with_the_last_finite_numbers() {
    let h = spawn_with(
        RunConfig {
            run: 10,
            lesson: lesson(&[("train.steps", "50"), ("train.eval_every", "1")]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        scripted(7, "nan-param"),
    );
    let events = collect(&h, Duration::from_secs(5));
    let (step, reason) = failure_of(&events);
    assert_eq!(step, 7);
    assert!(
        reason.starts_with("diverged at step 7: the parameter `w` is not finite"),
        "{reason}"
    );
    // The Scripted summary asserts it is never called over NaN; the run's numbers are the
    // last finite ones it reported.
    let Some(EventKind::Failed { metrics, .. }) = events.last().map(|e| &e.kind) else {
        unreachable!()
    };
    assert_eq!(metrics["w"], serde_json::json!(1.0));
    assert_eq!(metrics["loss"], serde_json::json!(1.0 / 6.0));
}

#[test]
fn samples_found_nan_by_the_final_scoring_fail_the_run_as_diverged() {
    let h = spawn_with(
        RunConfig {
            run: 11,
            lesson: lesson(&[("train.steps", "5")]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        scripted(0, "nan-score"),
    );
    let (step, reason) = failure_of(&collect(&h, Duration::from_secs(5)));
    assert_eq!(step, 5);
    assert!(
        reason.starts_with("diverged at step 5: the final samples are not finite"),
        "{reason}"
    );
}

#[test]
fn the_final_scoring_reports_its_progress_and_can_be_skipped_and_says_so() {
    let h = spawn_with(
        RunConfig {
            run: 12,
            lesson: lesson(&[("train.steps", "5")]),
            paced: false,
            save: None,
            cache_dir: None,
        },
        scripted(0, "score"),
    );
    let estimate = wait_for(&h, |e| matches!(e.kind, EventKind::Estimate { .. }));
    assert!(
        matches!(estimate.kind, EventKind::Estimate { finish_seconds } if finish_seconds == 30.0)
    );
    let first = wait_for(&h, |e| {
        matches!(e.kind, EventKind::Progress { done: 3, .. })
    });
    let EventKind::Progress { phase, total, .. } = &first.kind else {
        unreachable!()
    };
    assert_eq!((phase.as_str(), *total), ("scoring 300 samples", 300));
    h.skip_scoring();
    let events = collect(&h, Duration::from_secs(10));
    let scored = events
        .iter()
        .chain([&first])
        .filter_map(|e| match e.kind {
            EventKind::Progress { done, .. } => Some(done),
            _ => None,
        })
        .max();
    assert!(
        scored.is_some_and(|n| n < 300),
        "the scoring stopped short of its 300 samples, at {scored:?}"
    );
    let Some(EventKind::Finished {
        reason, metrics, ..
    }) = events.last().map(|e| &e.kind)
    else {
        panic!("{:?}", events.last())
    };
    assert_eq!(*reason, FinishReason::AllSteps);
    assert!(!metrics.contains_key("score"), "{metrics:?}");
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::Log { text } if text.starts_with("final scoring skipped"))
    ));
}

#[test]
fn an_interrupt_ends_the_run_as_interrupted_after_its_scoring() {
    let h = spawn_with(
        RunConfig {
            run: 13,
            lesson: lesson(&[("train.steps", "1000000"), ("train.pace", "100")]),
            paced: true,
            save: None,
            cache_dir: None,
        },
        scripted(0, "plain"),
    );
    wait_for(&h, |e| e.step >= 2);
    h.send(Command::Interrupt);
    let events = collect(&h, Duration::from_secs(5));
    let Some(EventKind::Finished {
        reason, metrics, ..
    }) = events.last().map(|e| &e.kind)
    else {
        panic!("{:?}", events.last())
    };
    assert_eq!(*reason, FinishReason::Interrupted);
    assert_eq!(
        metrics["w"],
        serde_json::json!(1.0),
        "the summary was computed"
    );
}

#[test]
fn a_long_run_checkpoints_its_weights_into_the_save_before_it_ends() {
    let root = tempfile::tempdir().unwrap();
    let lesson = lesson(&[
        ("train.steps", "1000000"),
        ("train.checkpoint_seconds", "1"),
    ]);
    let save = mllab::saves::SaveWriter::create(root.path(), &lesson, 0).unwrap();
    let dir = save.dir().to_path_buf();
    let h = spawn_with(
        RunConfig {
            run: 14,
            lesson,
            paced: false,
            save: Some(Box::new(save)),
            cache_dir: None,
        },
        scripted(0, "slow"),
    );
    let ev = wait_for(
        &h,
        |e| matches!(&e.kind, EventKind::Log { text } if text.starts_with("checkpoint: weights.bin")),
    );
    assert!(ev.step > 0 && ev.step < 1_000_000);
    // Written atomically, and there while the run goes on.
    assert_eq!(
        std::fs::read(dir.join("weights.bin")).unwrap(),
        1.0f64.to_le_bytes()
    );
    drop(h);
}

#[test]
fn turning_a_knob_while_paused_is_recorded_logged_and_redrawn_at_once() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/next-token.yaml");
    let o: Vec<Override> = [
        ("train.steps", "100000"),
        ("train.pace", "200"),
        ("model.arch", "bigram"),
        ("data.chars", "20000"),
    ]
    .iter()
    .map(|(k, v)| Override::new(k, v))
    .collect();
    let h = spawn(RunConfig {
        run: 3,
        lesson: Lesson::load(&path, &o).unwrap(),
        paced: true,
        save: None,
        cache_dir: None,
    });
    let started = wait_for(&h, |e| matches!(e.kind, EventKind::Started { .. }));
    let EventKind::Started { knobs, .. } = started.kind else {
        unreachable!()
    };
    assert_eq!(knobs, vec![Knob::Temperature, Knob::TopK]);
    h.send(Command::Pause);
    wait_for(&h, |e| {
        matches!(
            e.kind,
            EventKind::Command {
                command: Command::Pause
            }
        )
    });
    h.send(Command::Turn {
        knob: Knob::Temperature,
        up: false,
    });
    wait_for(&h, |e| {
        matches!(
            e.kind,
            EventKind::Command {
                command: Command::Turn { up: false, .. }
            }
        )
    });
    let log = wait_for(&h, |e| matches!(e.kind, EventKind::Log { .. }));
    assert!(
        matches!(&log.kind, EventKind::Log { text } if text.contains("temperature 0.80")),
        "{log:?}"
    );
    let redrawn = wait_for(
        &h,
        |e| matches!(&e.kind, EventKind::Visual(u) if u.panel == "samples"),
    );
    let EventKind::Visual(u) = redrawn.kind else {
        unreachable!()
    };
    assert!(
        matches!(&u.visual, mllab::visual::Visual::Text { text } if text.starts_with("temperature 0.80")),
        "{u:?}"
    );
    h.send(Command::Stop);
    collect(&h, Duration::from_secs(10));
}

#[test]
fn a_model_without_knobs_logs_that_it_has_none_and_records_nothing() {
    let h = spawn(RunConfig {
        run: 4,
        lesson: lesson(&[("train.steps", "100000"), ("train.pace", "500")]),
        paced: true,
        save: None,
        cache_dir: None,
    });
    wait_for(&h, |e| e.step >= 2);
    h.send(Command::Turn {
        knob: Knob::TopK,
        up: true,
    });
    let log = wait_for(&h, |e| {
        matches!(e.kind, EventKind::Log { .. } | EventKind::Command { .. })
    });
    assert!(
        matches!(&log.kind, EventKind::Log { text } if text.contains("no top-k to turn")),
        "{log:?}"
    );
    h.send(Command::Stop);
    collect(&h, Duration::from_secs(5));
}
