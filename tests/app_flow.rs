//! The real state machine end to end, without a terminal: a `Runtime` with a real trainer
//! thread, driven by the same `Msg`s the event loop sends, over a temporary lessons directory.
//!
//! Every wait is a loop with a deadline that pumps trainer events; a paced copy of the
//! regression lesson keeps a run slow enough to pause mid-way and short enough to finish.
//!
//! The later sections drive an `App` alone, feeding it the messages the runtime would send
//! (`settle` does the reads it asks for as the runtime does), to show that it changes only in
//! `update` and never reads the file system itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mllab::i18n::Lang;
use mllab::lessons::Lesson;
use mllab::models::{Finals, Finish, Metrics, Model, ModelError};
use mllab::run::trainer::spawn_with;
use mllab::run::{Command, EventKind, FinishReason, RunConfig, RunEvent, RunStatus, Summary};
use mllab::saves::{self, SaveInfo, SaveWriter};
use mllab::ui::app::{App, BrowserFocus, Effect, Msg};
use mllab::ui::keymap::Screen;
use mllab::ui::run_state::{RunState, Status};
use mllab::ui::{Runtime, TuiOptions};
use mllab::visual::PanelUpdate;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tempfile::TempDir;

/// The committed copy of the regression lesson this file edits.
const FIXTURE: &str = "tests/fixtures/tui/lessons/regression-gd.yaml";
const BROKEN_FIXTURE: &str = "tests/fixtures/tui/lessons/broken-lr.yaml";

/// The regression lesson with `train.steps`, `train.pace` and `train.seed` replaced.
fn regression(steps: u64, pace: u64, seed: u64) -> String {
    let text = std::fs::read_to_string(FIXTURE).expect("the fixture lesson is readable");
    let mut replaced = [false; 3];
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let key = |k: &str| line.starts_with(&format!("  {k}:"));
            if key("steps") {
                replaced[0] = true;
                format!("  steps: {steps}")
            } else if key("pace") {
                replaced[1] = true;
                format!("  pace: {pace}")
            } else if key("seed") {
                replaced[2] = true;
                format!("  seed: {seed}")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert_eq!(
        replaced, [true; 3],
        "the fixture has train.steps, train.pace and train.seed"
    );
    lines.join("\n") + "\n"
}

/// A temporary `lessons/` and `saves/` and a runtime over them.
struct Lab {
    dir: TempDir,
    rt: Runtime,
}

impl Lab {
    fn new(lessons: &[(&str, String)]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lessons")).unwrap();
        for (name, text) in lessons {
            std::fs::write(dir.path().join("lessons").join(name), text).unwrap();
        }
        let rt = Runtime::new(&TuiOptions {
            lessons_dir: dir.path().join("lessons"),
            saves_dir: dir.path().join("saves"),
            overrides: Vec::new(),
            start: None,
            replay: None,
            lang: Lang::En,
        });
        Lab { dir, rt }
    }

    fn lesson_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("lessons").join(name)
    }

    fn saves(&self) -> PathBuf {
        self.dir.path().join("saves")
    }

    fn app(&self) -> &App {
        &self.rt.app
    }

    fn press(&mut self, code: KeyCode) -> Vec<Effect> {
        self.rt
            .dispatch(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn ctrl_c(&mut self) -> Vec<Effect> {
        self.rt.dispatch(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )))
    }

    fn run(&self) -> &RunState {
        &self.app().run.as_ref().expect("a live run").state
    }

    /// Pumps trainer events until `done` holds; false if `secs` pass first.
    fn pump_until(&mut self, secs: f64, done: impl Fn(&App) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            self.rt.pump(10_000);
            if done(&self.rt.app) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Pumps for `ms` milliseconds whatever happens.
    fn pump_for(&mut self, ms: u64) {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            self.rt.pump(10_000);
            std::thread::sleep(Duration::from_millis(5));
        }
        self.rt.pump(10_000);
    }

    /// Waits until the trainer thread has ended (and so has written its summary).
    fn wait_trainer_done(&mut self, secs: f64) -> bool {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        while self.rt.training() {
            if Instant::now() > deadline {
                return false;
            }
            self.rt.pump(10_000);
            std::thread::sleep(Duration::from_millis(5));
        }
        self.rt.pump(10_000);
        true
    }

    /// Starts the selected lesson and waits until the trainer reports it running.
    fn start(&mut self) {
        let effects = self.press(KeyCode::Enter);
        assert!(
            matches!(effects.as_slice(), [Effect::StartRun { .. }]),
            "Enter starts a run: {effects:?}"
        );
        assert_eq!(self.app().screen, Screen::Run);
        assert!(
            self.pump_until(5.0, |a| a
                .run
                .as_ref()
                .is_some_and(|r| r.state.status == Status::Running)),
            "the run starts"
        );
    }
}

/// What going back to the browser asks for: the saves of the regression lesson.
fn list_saves_of_regression() -> Effect {
    Effect::ListSaves {
        lesson: "regression-gd".into(),
    }
}

fn status(app: &App) -> Status {
    app.run
        .as_ref()
        .map(|r| r.state.status.clone())
        .unwrap_or(Status::Starting)
}

fn step(app: &App) -> u64 {
    app.run.as_ref().map_or(0, |r| r.state.step)
}

fn read_summary(save_dir: &Path) -> Summary {
    let text = std::fs::read_to_string(save_dir.join(saves::SUMMARY_FILE))
        .expect("the save has a summary");
    serde_json::from_str(&text).expect("the summary is valid JSON")
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_run_pauses_steps_once_resumes_doubles_its_rate_finishes_and_replays_to_the_same_end() {
    // 1000 steps at 400 steps per second: 2.5 s of running, slow enough to pause early.
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(1000, 400, 0))]);
    assert_eq!(lab.app().screen, Screen::Browser);
    assert!(lab.app().browser.saves.is_empty());
    lab.start();
    assert!(lab.rt.training());

    // Space pauses; the step stops advancing.
    lab.press(KeyCode::Char(' '));
    assert!(
        lab.pump_until(3.0, |a| status(a) == Status::Paused),
        "Space pauses the run"
    );
    let paused_at = step(lab.app());
    assert!(
        paused_at < 1000,
        "paused before the end, at step {paused_at}"
    );
    lab.pump_for(120);
    assert_eq!(step(lab.app()), paused_at, "a paused run does not advance");

    // n: exactly one step.
    lab.press(KeyCode::Char('n'));
    assert!(
        lab.pump_until(3.0, |a| step(a) > paused_at),
        "n advances the paused run"
    );
    lab.pump_for(120);
    assert_eq!(
        step(lab.app()),
        paused_at + 1,
        "n advances exactly one step"
    );
    assert_eq!(status(lab.app()), Status::Paused);

    // +: the learning rate doubles, and the view records it.
    lab.press(KeyCode::Char('+'));
    assert!(
        lab.pump_until(3.0, |a| a
            .run
            .as_ref()
            .is_some_and(|r| r.state.lr_scale == 2.0)),
        "+ doubles the learning rate"
    );
    assert!(
        lab.run()
            .last_log()
            .is_some_and(|l| l.contains("learning rate ×2")),
        "{:?}",
        lab.run().last_log()
    );

    // Space again resumes.
    lab.press(KeyCode::Char(' '));
    assert!(
        lab.pump_until(3.0, |a| status(a) == Status::Running
            && step(a) > paused_at + 1),
        "Space resumes the run"
    );

    // It finishes with the chart and both visual panels filled.
    assert!(
        lab.pump_until(8.0, |a| status(a).is_over()),
        "the run finishes"
    );
    assert!(lab.wait_trainer_done(5.0), "the trainer thread ends");
    let run = lab.run().clone();
    assert_eq!(run.status, Status::Finished(FinishReason::AllSteps));
    assert_eq!(run.step, 1000);
    assert_eq!(
        run.charts,
        vec!["loss".to_string(), "test_loss".to_string()]
    );
    assert!(run.series.get("loss").is_some_and(|s| s.len() > 10));
    assert!(run.series.get("test_loss").is_some_and(|s| !s.is_empty()));
    assert!(run.visuals.contains_key("fit"));
    assert!(run.visuals.contains_key("surface"));
    assert_eq!(run.lr_scale, 2.0);
    let save_dir = PathBuf::from(run.save_dir.clone().expect("the run is saved"));

    // q: back to the browser, whose save list now holds the run.
    lab.press(KeyCode::Char('q'));
    assert_eq!(lab.app().screen, Screen::Browser);
    let listed = &lab.app().browser.saves;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dir, save_dir);
    assert_eq!(listed[0].status, RunStatus::Finished);
    assert_eq!(listed[0].steps, 1000);

    // Tab + Enter replays it; ticking reaches the same end.
    lab.press(KeyCode::Tab);
    assert_eq!(lab.app().browser.focus, BrowserFocus::Saves);
    lab.press(KeyCode::Enter);
    assert_eq!(
        lab.app().screen,
        Screen::Replay,
        "message: {:?}",
        lab.app().message
    );
    for _ in 0..1000 {
        if lab.app().replay.as_ref().unwrap().at_end() {
            break;
        }
        lab.rt.dispatch(Msg::Tick(1.0));
    }
    let replay = lab.app().replay.as_ref().unwrap();
    assert!(replay.at_end(), "the replay reaches its end");
    assert!(!replay.playing, "a replay stops at its end");
    assert_eq!(replay.state.step, run.step);
    assert_eq!(replay.state.status, run.status);
    assert_eq!(
        replay.state.lr_scale, 2.0,
        "the replay shows the learner's + too"
    );
    assert_eq!(replay.state.latest.get("loss"), run.latest.get("loss"));

    // q leaves the replay.
    lab.press(KeyCode::Char('q'));
    assert_eq!(lab.app().screen, Screen::Browser);
    assert!(lab.app().replay.is_none());
}

#[test]
fn r_reruns_with_the_same_seed_under_a_new_run_id() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 42))]);
    lab.start();
    assert!(lab.pump_until(3.0, |a| step(a) >= 3));
    let first = lab.run().clone();
    assert_eq!(first.seed, 42);

    lab.press(KeyCode::Char('r'));
    assert_eq!(lab.app().screen, Screen::Run);
    assert_ne!(lab.run().run, first.run, "a rerun gets a new run id");
    assert_eq!(lab.run().seed, 42, "r keeps the seed");
    assert!(
        lab.pump_until(3.0, |a| status(a) == Status::Running && step(a) >= 1),
        "the rerun runs"
    );
    let rerun = lab.run().run;

    // Both runs are saved, the first as stopped.
    let listed = saves::list_saves(&lab.saves(), "regression-gd");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let first_dir = PathBuf::from(first.save_dir.unwrap());
    assert_eq!(read_summary(&first_dir).status, RunStatus::Stopped);

    // A late event of the first run changes nothing.
    let before = lab.run().clone();
    let stale = RunEvent {
        run: first.run,
        t: 99.0,
        step: 1999,
        kind: EventKind::Log {
            text: "from the old run".into(),
        },
    };
    lab.rt.dispatch(Msg::Run(stale));
    assert_eq!(lab.run().run, rerun);
    assert_eq!(lab.run().step, before.step);
    assert_eq!(lab.run().t, before.t);
    assert_eq!(lab.run().log, before.log);
}

#[test]
fn run_state_ignores_events_of_another_run() {
    let lesson = Lesson::load(Path::new(FIXTURE), &[]).unwrap();
    let mut state = RunState::new(2, &lesson);
    let started = |run| RunEvent {
        run,
        t: 0.5,
        step: 0,
        kind: EventKind::Started {
            lesson: "regression-gd".into(),
            seed: 9,
            total_steps: 50,
            charts: vec!["loss".into()],
            parts: Vec::new(),
            knobs: Vec::new(),
        },
    };
    assert!(
        !state.apply(&started(1)),
        "an event of run 1 is not for run 2"
    );
    assert_eq!(state.status, Status::Starting);
    assert_eq!(state.seed, 0);
    assert!(state.charts.is_empty());

    assert!(state.apply(&started(2)));
    assert_eq!(state.status, Status::Running);
    assert_eq!((state.seed, state.total_steps), (9, 50));

    let metrics = |run, step| RunEvent {
        run,
        t: 1.0,
        step,
        kind: EventKind::Metrics {
            values: BTreeMap::from([("loss".to_string(), 3.0)]),
        },
    };
    assert!(!state.apply(&metrics(1, 40)));
    assert_eq!(state.step, 0);
    assert!(state.series.is_empty());
    assert!(state.apply(&metrics(2, 4)));
    assert_eq!(state.step, 4);
    assert_eq!(state.series["loss"], vec![(4.0, 3.0)]);
}

#[test]
fn s_stops_a_run_and_its_save_says_stopped() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    assert!(lab.pump_until(3.0, |a| step(a) >= 5));
    lab.press(KeyCode::Char('s'));
    assert!(
        lab.pump_until(3.0, |a| status(a).is_over()),
        "s ends the run"
    );
    assert_eq!(lab.run().status, Status::Finished(FinishReason::Stopped));
    assert!(
        lab.run().log.iter().any(|l| l == "stop requested"),
        "{:?}",
        lab.run().log
    );
    assert!(lab.wait_trainer_done(3.0));
    let stopped_at = lab.run().step;
    assert!(stopped_at < 2000);

    let save_dir = PathBuf::from(lab.run().save_dir.clone().unwrap());
    let summary = read_summary(&save_dir);
    assert_eq!(summary.status, RunStatus::Stopped);
    assert_eq!(summary.reason.as_deref(), Some("stopped"));
    assert_eq!(summary.steps, stopped_at);

    // Keys that change a live run do nothing once it is over.
    assert!(lab.press(KeyCode::Char(' ')).is_empty());
    assert!(lab.press(KeyCode::Char('+')).is_empty());
    assert_eq!(lab.run().lr_scale, 1.0);

    lab.press(KeyCode::Char('q'));
    assert_eq!(lab.app().browser.saves[0].status, RunStatus::Stopped);
    assert_eq!(lab.app().browser.saves[0].steps, stopped_at);
}

#[test]
fn q_on_a_live_run_stops_it_without_waiting_shows_the_end_and_q_again_goes_back() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    assert!(lab.pump_until(3.0, |a| step(a) >= 5));
    let save_dir = PathBuf::from(lab.run().save_dir.clone().unwrap());
    assert_eq!(
        lab.press(KeyCode::Char('q')),
        vec![Effect::Command(Command::Stop)]
    );
    // The key is answered by the UI alone: it says it is stopping while the run it shows is
    // still live, since the trainer's end has not been taken yet (it comes through a pump).
    assert!(
        lab.app()
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("Stopping")),
        "{:?}",
        lab.app().message
    );
    assert!(
        !status(lab.app()).is_over(),
        "a key never waits for the trainer's end: {:?}",
        status(lab.app())
    );
    assert_eq!(lab.app().screen, Screen::Run, "the end of the run is shown");
    assert!(lab.wait_trainer_done(3.0));
    assert_eq!(
        status(lab.app()),
        Status::Finished(FinishReason::Stopped),
        "the run's last events were taken"
    );
    assert_eq!(read_summary(&save_dir).status, RunStatus::Stopped);
    lab.press(KeyCode::Char('q'));
    assert_eq!(lab.app().screen, Screen::Browser);
    let listed = &lab.app().browser.saves;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dir, save_dir);
    assert_eq!(
        listed[0].status,
        RunStatus::Stopped,
        "the list is read after the run ended"
    );
    assert!(listed[0].steps >= 5);
}

#[test]
fn a_second_q_before_the_stopped_run_has_ended_skips_its_scoring_and_goes_back() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    assert!(lab.pump_until(3.0, |a| step(a) >= 2));
    // No event has been taken since the first q: the run may still look like it is training.
    assert_eq!(
        lab.press(KeyCode::Char('q')),
        vec![Effect::Command(Command::Stop)]
    );
    assert_eq!(
        lab.press(KeyCode::Char('q')),
        vec![
            Effect::SkipScoring,
            Effect::StopRun,
            list_saves_of_regression()
        ]
    );
    assert_eq!(lab.app().screen, Screen::Browser);
    assert!(
        lab.wait_trainer_done(3.0),
        "the stopped run ends in the background"
    );
}

#[test]
fn q_or_s_during_the_final_scoring_skips_it() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    assert!(lab.pump_until(3.0, |a| step(a) >= 2));
    // What the status line shows while a run is being scored.
    let finishing = mllab::run::RunEvent {
        run: lab.run().run,
        t: 1.0,
        step: 2,
        kind: EventKind::Progress {
            phase: "scoring 500 samples".into(),
            done: 120,
            total: 500,
        },
    };
    lab.rt.app.update(Msg::Run(finishing));
    assert!(matches!(
        status(lab.app()),
        Status::Finishing { done: 120, .. }
    ));
    assert_eq!(lab.press(KeyCode::Char('s')), vec![Effect::SkipScoring]);
    assert_eq!(
        lab.press(KeyCode::Char('q')),
        vec![
            Effect::SkipScoring,
            Effect::StopRun,
            list_saves_of_regression()
        ]
    );
    assert_eq!(lab.app().screen, Screen::Browser);
    assert!(
        lab.wait_trainer_done(3.0),
        "the stopped run ends in the background"
    );
}

#[test]
fn a_broken_lesson_shows_a_message_on_enter_and_starts_no_run() {
    let broken = std::fs::read_to_string(BROKEN_FIXTURE).unwrap();
    let mut lab = Lab::new(&[
        ("regression-gd.yaml", regression(300, 0, 0)),
        ("broken-lr.yaml", broken),
    ]);
    lab.press(KeyCode::Down);
    assert!(
        lab.app()
            .selected_entry()
            .is_some_and(|e| e.path().ends_with("broken-lr.yaml"))
    );
    let effects = lab.press(KeyCode::Enter);
    assert!(effects.is_empty());
    assert_eq!(lab.app().screen, Screen::Browser);
    assert!(lab.app().run.is_none());
    assert!(!lab.rt.training());
    let message = lab
        .app()
        .message
        .clone()
        .expect("a message says why nothing started");
    assert!(message.contains("errors"), "{message}");
    assert!(!lab.saves().exists(), "nothing is saved");
    // Any key clears the message.
    lab.press(KeyCode::Up);
    assert!(lab.app().message.is_none());
}

#[test]
fn a_lesson_broken_after_the_scan_shows_its_first_error_and_starts_no_run() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(300, 0, 0))]);
    std::fs::write(
        lab.lesson_path("regression-gd.yaml"),
        regression(300, 0, 0).replace("lr: 10", "lr: -10"),
    )
    .unwrap();
    lab.press(KeyCode::Enter);
    assert_eq!(lab.app().screen, Screen::Browser);
    assert!(lab.app().run.is_none());
    let message = lab.app().message.clone().expect("the error is shown");
    assert!(message.contains("train.lr"), "{message}");
    assert!(
        matches!(
            lab.app().selected_entry(),
            Some(mllab::lessons::registry::Entry::Broken { .. })
        ),
        "the browser is rescanned and lists the lesson as broken"
    );
}

#[test]
fn ctrl_c_quits_from_the_browser_from_a_run_and_from_the_help() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    assert_eq!(lab.ctrl_c(), vec![Effect::Quit]);
    assert!(lab.app().quit);

    // From a live run, with the help open: the run is stopped and saved, then the program
    // quits by itself.
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    lab.press(KeyCode::Char('?'));
    assert!(lab.app().help);
    assert_eq!(lab.ctrl_c(), vec![Effect::Command(Command::Stop)]);
    assert!(!lab.app().quit);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut quit = false;
    while !quit && Instant::now() < deadline {
        quit = lab.rt.pump(10_000).1.contains(&Effect::Quit);
    }
    assert!(quit && lab.app().quit, "quits once the run has ended");
    lab.rt.shutdown();
    assert!(!lab.rt.training());

    // Three Ctrl-C quit at once, skipping the scoring.
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    lab.ctrl_c();
    assert_eq!(
        lab.ctrl_c(),
        vec![Effect::Command(Command::Stop), Effect::SkipScoring]
    );
    assert_eq!(lab.ctrl_c(), vec![Effect::SkipScoring, Effect::Quit]);
    lab.rt.shutdown();
    assert!(!lab.rt.training());
}

#[test]
fn any_key_closes_the_help_and_does_nothing_else() {
    let mut lab = Lab::new(&[
        ("regression-gd.yaml", regression(300, 0, 0)),
        (
            "second.yaml",
            regression(300, 0, 0).replace("id: regression-gd", "id: second"),
        ),
    ]);
    for key in [
        KeyCode::Char('x'),
        KeyCode::Char('j'),
        KeyCode::Enter,
        KeyCode::Char('q'),
    ] {
        lab.press(KeyCode::Char('?'));
        assert!(lab.app().help);
        assert!(lab.press(key).is_empty(), "{key:?} only closes the help");
        assert!(!lab.app().help, "{key:?} closes the help");
        assert_eq!(lab.app().browser.selected, 0, "{key:?} moved the selection");
        assert!(!lab.app().quit);
    }
}

#[test]
fn q_in_the_browser_quits_but_in_a_run_goes_back() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    assert_eq!(
        lab.press(KeyCode::Char('q')),
        vec![Effect::Command(Command::Stop)]
    );
    assert!(lab.wait_trainer_done(3.0));
    assert_eq!(
        lab.press(KeyCode::Char('q')),
        vec![list_saves_of_regression()],
        "going back only asks for the lesson's saves"
    );
    assert!(!lab.app().quit);
    assert_eq!(lab.app().screen, Screen::Browser);
    assert_eq!(lab.press(KeyCode::Char('q')), vec![Effect::Quit]);
    assert!(lab.app().quit);
}

// ---------------------------------------------------------------------------------------------
// A model that panics must end its run, not the program.

struct PanicsAtStepThree;

impl Model for PanicsAtStepThree {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into()]
    }

    fn train_step(&mut self, step: u64, _lr: f64) -> Result<Metrics, ModelError> {
        if step == 3 {
            panic!("this model breaks on purpose");
        }
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
fn a_model_that_panics_at_step_three_fails_its_run_and_the_save_says_failed() {
    let saves_root = tempfile::tempdir().unwrap();
    let lesson = Lesson::load(Path::new(FIXTURE), &[]).unwrap();
    let save = SaveWriter::create(saves_root.path(), &lesson, lesson.train.seed).unwrap();
    let save_dir = save.dir().to_path_buf();
    let mut handle = spawn_with(
        RunConfig {
            run: 7,
            lesson: lesson.clone(),
            paced: false,
            save: Some(Box::new(save)),
            cache_dir: None,
        },
        Box::new(|| Ok(Box::new(PanicsAtStepThree) as Box<dyn Model>)),
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut events = Vec::new();
    let failed = loop {
        assert!(
            Instant::now() < deadline,
            "no Failed event within 5 s; got {events:?}"
        );
        let Some(ev) = handle.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        events.push(ev.clone());
        if let EventKind::Failed { reason, .. } = &ev.kind {
            break (ev.step, reason.clone());
        }
    };
    assert!(failed.1.contains("step 3"), "{}", failed.1);
    assert!(
        failed.1.contains("this model breaks on purpose"),
        "{}",
        failed.1
    );
    assert_eq!(failed.0, 2, "the last completed step was 2");
    handle.stop_and_join();

    // The view shows it failed.
    let mut state = RunState::new(7, &lesson);
    for ev in &events {
        state.apply(ev);
    }
    assert!(
        matches!(&state.status, Status::Failed(r) if r.contains("step 3")),
        "{:?}",
        state.status
    );

    // The save keeps the steps before and a summary that says failed.
    let summary = read_summary(&save_dir);
    assert_eq!(summary.status, RunStatus::Failed);
    assert!(
        summary
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("step 3")),
        "{:?}",
        summary.reason
    );
    let loaded = saves::load(&save_dir).unwrap();
    assert!(loaded.damage.is_none());
    assert!(matches!(
        loaded.events.read_all().last().map(|e| e.kind.clone()),
        Some(EventKind::Failed { .. })
    ));
    assert_eq!(loaded.summary.status, RunStatus::Failed);
}

// ---------------------------------------------------------------------------------------------
// The runtime changes the app only by messages: what it did (a run started or refused, a save
// opened or not, the editor closed, the terminal resized, the screen drawn) arrives as a `Msg`.

/// Feeds `msg` to an app driven without a runtime and carries out the reads it asks for as the
/// runtime does, saves listed under `saves`; returns every effect asked for.
fn settle(app: &mut App, msg: Msg, saves: &Path) -> Vec<Effect> {
    let mut pending = vec![msg];
    let mut asked = Vec::new();
    while let Some(msg) = pending.pop() {
        for effect in app.update(msg) {
            if let Effect::ListSaves { lesson } = &effect {
                pending.push(Msg::SavesListed {
                    lesson: lesson.clone(),
                    saves: saves::list_saves(saves, lesson),
                });
            }
            asked.push(effect);
        }
    }
    asked
}

fn fixture_entries() -> Vec<mllab::lessons::registry::Entry> {
    mllab::lessons::registry::scan(Path::new("tests/fixtures/tui/lessons")).unwrap()
}

/// An app over the fixture lessons (a good one, then a broken one), its saves read under `saves`.
fn app_over_fixtures(saves: &Path) -> App {
    let mut app = App::new(Lang::En);
    settle(&mut app, Msg::LessonsScanned(fixture_entries()), saves);
    app
}

/// A save as the browser lists it, of a directory that does not exist.
fn listed_save(name: &str) -> SaveInfo {
    SaveInfo {
        dir: PathBuf::from("/nonexistent/saves/regression-gd").join(name),
        name: name.into(),
        status: RunStatus::Finished,
        steps: 300,
        loss: Some(1.5),
    }
}

fn fixture_lesson() -> Lesson {
    Lesson::load(Path::new(FIXTURE), &[]).unwrap()
}

#[test]
fn a_run_the_runtime_started_arrives_as_a_message_with_its_note() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_over_fixtures(saves.path());
    let effects = app.update(Msg::RunStarted {
        state: Box::new(RunState::new(3, &fixture_lesson())),
        path: PathBuf::from(FIXTURE),
        note: Some("warning: this run is not saved".into()),
    });
    assert!(effects.is_empty());
    assert_eq!(app.screen, Screen::Run);
    assert_eq!(app.run.as_ref().map(|r| r.state.run), Some(3));
    assert_eq!(
        app.message.as_deref(),
        Some("warning: this run is not saved")
    );
}

#[test]
fn a_refused_run_goes_back_to_the_browser_says_why_and_asks_for_the_lessons_again() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_over_fixtures(saves.path());
    let effects = app.update(Msg::RunRefused("`train.lr` must be greater than 0".into()));
    assert_eq!(effects, vec![Effect::ScanLessons]);
    assert_eq!(app.screen, Screen::Browser);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.contains("train.lr"))
    );
}

#[test]
fn a_save_that_cannot_be_opened_for_replay_is_reported_and_the_browser_stays() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_over_fixtures(saves.path());
    app.update(Msg::ReplayOpened(Err("no such save".into())));
    assert_eq!(app.screen, Screen::Browser);
    assert!(app.replay.is_none());
    assert_eq!(app.message.as_deref(), Some("no such save"));
}

#[test]
fn a_closed_editor_reports_the_reload_and_asks_for_the_lessons_again() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_over_fixtures(saves.path());
    assert_eq!(app.update(Msg::Edited(Ok(()))), vec![Effect::ScanLessons]);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.starts_with("Lesson reloaded"))
    );
    app.update(Msg::Edited(Err("cannot start the editor `nope`".into())));
    assert_eq!(
        app.message.as_deref(),
        Some("cannot start the editor `nope`")
    );
}

#[test]
fn the_app_is_drawn_again_after_a_resize_and_not_after_it_was_drawn() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_over_fixtures(saves.path());
    assert!(app.dirty, "a new app has never been drawn");
    app.update(Msg::Drawn);
    assert!(!app.dirty);
    app.update(Msg::Resized);
    assert!(app.dirty);
}

// ---------------------------------------------------------------------------------------------
// `update` never reads the file system: the saves it shows are those a message brought.

#[test]
fn the_app_asks_for_the_saves_of_the_first_lesson_and_shows_only_what_the_message_brings() {
    let mut app = App::new(Lang::En);
    assert_eq!(
        app.update(Msg::LessonsScanned(fixture_entries())),
        vec![list_saves_of_regression()]
    );
    assert!(
        app.browser.saves.is_empty(),
        "nothing is listed before the answer"
    );
    // A list no file system holds: the app shows it as given.
    app.update(Msg::SavesListed {
        lesson: "regression-gd".into(),
        saves: vec![listed_save("20260101-090000-s0")],
    });
    assert_eq!(app.browser.saves, vec![listed_save("20260101-090000-s0")]);
    assert_eq!(app.browser.saves_of.as_deref(), Some("regression-gd"));
}

#[test]
fn a_save_directory_that_does_not_exist_lists_no_saves_and_says_nothing() {
    let missing = Path::new("/nonexistent/mllab-saves");
    let app = app_over_fixtures(missing);
    assert!(app.browser.saves.is_empty());
    assert_eq!(app.browser.saves_of.as_deref(), Some("regression-gd"));
    assert!(app.message.is_none());
}

#[test]
fn a_list_of_saves_for_a_lesson_no_longer_selected_is_dropped() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_over_fixtures(saves.path());
    // The broken lesson has no saves, and nothing is read for it.
    assert!(
        app.update(Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)))
            .is_empty()
    );
    app.update(Msg::SavesListed {
        lesson: "regression-gd".into(),
        saves: vec![listed_save("late")],
    });
    assert!(app.browser.saves.is_empty(), "a late list is not shown");
}

#[test]
fn moving_to_another_lesson_hides_the_old_list_until_the_new_one_arrives() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = App::new(Lang::En);
    let mut first = fixture_lesson();
    first.id = "first".into();
    let mut entries = fixture_entries();
    entries.insert(0, mllab::lessons::registry::Entry::Ok(Box::new(first)));
    assert_eq!(
        app.update(Msg::LessonsScanned(entries)),
        vec![Effect::ListSaves {
            lesson: "first".into()
        }]
    );
    app.update(Msg::SavesListed {
        lesson: "first".into(),
        saves: vec![listed_save("of-first")],
    });
    let down = Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
    assert_eq!(app.update(down), vec![list_saves_of_regression()]);
    assert!(
        app.browser.saves.is_empty(),
        "the first lesson's saves are not shown as the second's"
    );
    settle(
        &mut app,
        Msg::SavesListed {
            lesson: "regression-gd".into(),
            saves: saves::list_saves(saves.path(), "regression-gd"),
        },
        saves.path(),
    );
    assert_eq!(app.browser.saves_of.as_deref(), Some("regression-gd"));
}

// ---------------------------------------------------------------------------------------------
// `e` during a run: the run is paused first, like Space, and stays paused after the editor.

fn run_path(lab: &Lab) -> PathBuf {
    lab.app().run.as_ref().expect("a live run").path.clone()
}

#[test]
fn e_in_a_run_pauses_it_before_the_editor_opens_and_it_stays_paused_after() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    lab.start();
    assert!(lab.pump_until(3.0, |a| step(a) >= 2));
    let path = run_path(&lab);
    assert_eq!(
        lab.press(KeyCode::Char('e')),
        vec![Effect::Command(Command::Pause), Effect::Edit(path)],
        "the pause goes out before the editor opens"
    );
    assert_eq!(lab.app().message.as_deref(), Some("Paused for editing."));
    assert!(
        lab.pump_until(3.0, |a| status(a) == Status::Paused),
        "the run pauses"
    );

    // The editor closes: the lessons are read again and the run waits for the learner.
    assert_eq!(
        lab.rt.dispatch(Msg::Edited(Ok(()))),
        vec![Effect::ScanLessons, list_saves_of_regression()]
    );
    let message = lab.app().message.clone().unwrap_or_default();
    assert!(message.contains("stays paused"), "{message}");
    let paused_at = step(lab.app());
    lab.pump_for(120);
    assert_eq!(step(lab.app()), paused_at, "the run is still paused");
    assert_eq!(status(lab.app()), Status::Paused);

    // Space resumes it; the save records the pause like any command.
    lab.press(KeyCode::Char(' '));
    assert!(lab.pump_until(3.0, |a| step(a) > paused_at));
    assert!(!lab.app().run.as_ref().unwrap().paused_for_edit);
    lab.press(KeyCode::Char('s'));
    assert!(lab.wait_trainer_done(3.0));
    let save_dir = PathBuf::from(lab.run().save_dir.clone().unwrap());
    let commands: Vec<Command> = saves::load(&save_dir)
        .unwrap()
        .events
        .read_all()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Command { command } => Some(command),
            _ => None,
        })
        .collect();
    assert_eq!(
        commands,
        vec![Command::Pause, Command::Resume, Command::Stop],
        "the save records e's pause"
    );
}

#[test]
fn e_on_a_paused_or_ended_run_and_in_the_browser_only_opens_the_editor() {
    let mut lab = Lab::new(&[("regression-gd.yaml", regression(2000, 200, 0))]);
    let lesson = lab.app().selected_entry().unwrap().path().to_path_buf();
    assert_eq!(
        lab.press(KeyCode::Char('e')),
        vec![Effect::Edit(lesson.clone())]
    );
    lab.start();
    lab.press(KeyCode::Char(' '));
    assert!(lab.pump_until(3.0, |a| status(a) == Status::Paused));
    assert_eq!(
        lab.press(KeyCode::Char('e')),
        vec![Effect::Edit(lesson.clone())],
        "a paused run is not paused twice"
    );
    assert!(!lab.app().run.as_ref().unwrap().paused_for_edit);
    lab.press(KeyCode::Char('s'));
    assert!(lab.wait_trainer_done(3.0));
    assert_eq!(
        lab.press(KeyCode::Char('e')),
        vec![Effect::Edit(lesson)],
        "an ended run has nothing to pause"
    );
    lab.rt.dispatch(Msg::Edited(Ok(())));
    assert!(
        lab.app()
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("Lesson reloaded. Press Enter")),
        "{:?}",
        lab.app().message
    );
}
