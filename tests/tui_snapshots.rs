//! Whole screens of the TUI, drawn on a `TestBackend` from hand-built state and compared with
//! the committed snapshots in `tests/snapshots/`.
//!
//! The lessons come from `tests/fixtures/tui/lessons/` (a copy of the regression lesson and a
//! broken lesson), read through a *relative* path so the path the preview prints is the same
//! on every machine. Runs and replays are fed hand-made events with fixed times: no trainer
//! thread, no wall clock, so every frame is the same on every run.
//!
//! Regenerate with `INSTA_UPDATE=always cargo test --release --test tui_snapshots`, then read
//! every changed `.snap` file before committing it.

use std::collections::BTreeMap;
use std::path::Path;

use mllab::i18n::Lang;
use mllab::lessons::Lesson;
use mllab::lessons::registry::{Entry, scan};
use mllab::run::{Command, EventKind, FinishReason, RunEvent, RunStatus, Summary};
use mllab::saves::{self, Header, SaveWriter};
use mllab::ui::app::{App, Effect, Msg};
use mllab::ui::keymap::{self, Screen};
use mllab::ui::replay::ReplayState;
use mllab::ui::run_state::RunState;
use mllab::visual::{Color, Figure, Layer, PanelUpdate, Visual, contour_segments};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Relative to the package root, where cargo runs integration tests.
const LESSONS: &str = "tests/fixtures/tui/lessons";
const BROKEN_FILE: &str = "broken-lr.yaml";
/// The run id every hand-made event carries.
const RUN: u64 = 1;

fn entries() -> Vec<Entry> {
    let entries = scan(Path::new(LESSONS)).expect("the fixture lessons directory is readable");
    assert_eq!(
        entries.len(),
        2,
        "the fixture holds one good and one broken lesson"
    );
    entries
}

fn lesson() -> Lesson {
    entries()
        .into_iter()
        .find_map(|e| match e {
            Entry::Ok(l) => Some(*l),
            Entry::Broken { .. } => None,
        })
        .expect("the regression lesson in the fixture is valid")
}

/// An app over the fixture lessons, its saves listed under `saves_root` as the runtime would:
/// the app asks with `Effect::ListSaves` and the list comes back as `Msg::SavesListed`.
fn app_with(saves_root: &Path, lang: Lang) -> App {
    let mut app = App::new(lang);
    let mut pending = vec![Msg::LessonsScanned(entries())];
    while let Some(msg) = pending.pop() {
        for effect in app.update(msg) {
            match effect {
                Effect::ListSaves { lesson } => pending.push(Msg::SavesListed {
                    saves: saves::list_saves(saves_root, &lesson),
                    lesson,
                }),
                other => panic!("a new app asks only for saves, not {other:?}"),
            }
        }
    }
    app
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|f| f.render_widget(app, f.area()))
        .expect("drawing on a test backend cannot fail");
    terminal
}

fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

/// A save with a fixed name, written by hand, so the browser's save list does not depend on the
/// clock.
fn write_fixed_save(root: &Path) {
    let dir = root.join("regression-gd").join("20260101-090000-s0");
    std::fs::create_dir_all(&dir).unwrap();
    let header = Header {
        format: saves::FORMAT_VERSION,
        mllab: "0.1.0".into(),
        lesson: "regression-gd".into(),
        seed: 0,
        started: "2026-01-01T09:00:00Z".into(),
        lesson_file: format!("{LESSONS}/regression-gd.yaml"),
    };
    std::fs::write(
        dir.join(saves::HEADER_FILE),
        serde_json::to_string_pretty(&header).unwrap(),
    )
    .unwrap();
    let summary = Summary {
        lesson: "regression-gd".into(),
        seed: 0,
        steps: 3000,
        seconds: 7.5,
        status: RunStatus::Finished,
        reason: Some("all steps done".into()),
        metrics: BTreeMap::from([("loss".to_string(), serde_json::json!(9876.5))]),
        save: None,
    };
    std::fs::write(
        dir.join(saves::SUMMARY_FILE),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Hand-made events of a regression run: the line y = b + w·x walks from (−120, −4) towards
// (10, 1.8) over 3000 steps. Everything is a pure function of the step.

const TOTAL_STEPS: u64 = 3000;

/// Training points (x, y) of a CP-like data set, fixed.
fn points() -> Vec<[f64; 2]> {
    (0..10)
        .map(|i| {
            let x = 40.0 + 55.0 * i as f64;
            let wiggle = [
                30.0, -45.0, 10.0, 60.0, -20.0, -55.0, 25.0, 40.0, -30.0, 5.0,
            ][i];
            [x, 10.0 + 1.8 * x + wiggle]
        })
        .collect()
}

/// Held-out points, fixed.
fn test_points() -> Vec<[f64; 2]> {
    points()
        .iter()
        .map(|p| [p[0] + 25.0, p[1] + 20.0])
        .collect()
}

/// Where descent is at `step`.
fn params(step: u64) -> (f64, f64) {
    let k = (-(step as f64) / 400.0).exp();
    (10.0 + (-120.0 - 10.0) * k, 1.8 + (-4.0 - 1.8) * k)
}

fn loss_at(step: u64) -> f64 {
    2.0e5 * (-(step as f64) / 150.0).exp() + 900.0
}

fn event(step: u64, kind: EventKind) -> RunEvent {
    // The lesson's pace: 400 steps per second.
    RunEvent {
        run: RUN,
        t: step as f64 / 400.0,
        step,
        kind,
    }
}

fn fit_figure(step: u64) -> Figure {
    let (b, w) = params(step);
    Figure {
        x_label: "x (CP before)".into(),
        y_label: "y (CP after)".into(),
        x_range: [0.0, 600.0],
        y_range: [-200.0, 1200.0],
        layers: vec![
            Layer::Line {
                label: "optimum".into(),
                color: Color::Gray,
                points: vec![[0.0, 10.0], [600.0, 10.0 + 600.0 * 1.8]],
            },
            Layer::Line {
                label: "y = b + w·x".into(),
                color: Color::Yellow,
                points: vec![[0.0, b], [600.0, b + 600.0 * w]],
            },
            Layer::Points {
                label: "train".into(),
                color: Color::Cyan,
                points: points(),
            },
            Layer::Points {
                label: "test".into(),
                color: Color::Magenta,
                points: test_points(),
            },
        ],
    }
}

/// Contours of log L over (b, w): a long, narrow valley, drawn with the real marching squares.
fn surface_background() -> Figure {
    let (nx, ny) = (41, 41);
    let (b_range, w_range) = ([-200.0, 200.0], [-5.0, 5.0]);
    let mut values = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let b = b_range[0] + (b_range[1] - b_range[0]) * i as f64 / (nx - 1) as f64;
            let w = w_range[0] + (w_range[1] - w_range[0]) * j as f64 / (ny - 1) as f64;
            let (db, dw) = (b - 10.0, w - 1.8);
            values.push((1.0 + db * db + 9.0e4 * dw * dw + 300.0 * db * dw).ln());
        }
    }
    let segments = [6.0, 8.0, 10.0, 12.0]
        .iter()
        .flat_map(|&level| contour_segments(&values, nx, ny, b_range, w_range, level))
        .collect();
    Figure {
        x_label: "b".into(),
        y_label: "w".into(),
        x_range: b_range,
        y_range: w_range,
        layers: vec![
            Layer::Segments {
                label: "log loss contours".into(),
                color: Color::Blue,
                segments,
            },
            Layer::Marker {
                label: "optimum".into(),
                color: Color::Red,
                at: [10.0, 1.8],
                symbol: "×".into(),
            },
        ],
    }
}

fn surface_path(step: u64) -> Figure {
    let path = (0..=step).step_by(30).map(|s| {
        let (b, w) = params(s);
        [b, w]
    });
    Figure {
        x_label: "b".into(),
        y_label: "w".into(),
        x_range: [-200.0, 200.0],
        y_range: [-5.0, 5.0],
        layers: vec![
            Layer::Line {
                label: "descent path".into(),
                color: Color::Yellow,
                points: path.collect(),
            },
            Layer::Marker {
                label: "now".into(),
                color: Color::White,
                at: [params(step).0, params(step).1],
                symbol: "●".into(),
            },
        ],
    }
}

fn visual(panel: &str, part: &str, figure: Figure) -> EventKind {
    EventKind::Visual(PanelUpdate {
        panel: panel.into(),
        part: part.into(),
        visual: Visual::Figure(figure),
    })
}

/// The events of the run up to `last` (inclusive), as the trainer would send them.
fn run_events(last: u64) -> Vec<RunEvent> {
    let mut out = vec![
        event(
            0,
            EventKind::Started {
                lesson: "regression-gd".into(),
                seed: 0,
                total_steps: TOTAL_STEPS,
                charts: vec!["loss".into(), "test_loss".into()],
                parts: Vec::new(),
                knobs: Vec::new(),
            },
        ),
        event(0, visual("surface", "background", surface_background())),
    ];
    for step in (0..=last).step_by(30) {
        let values = BTreeMap::from([
            ("loss".to_string(), loss_at(step)),
            ("test_loss".to_string(), 1.15 * loss_at(step)),
        ]);
        out.push(event(step, EventKind::Metrics { values }));
        if step % 150 == 0 {
            out.push(event(step, visual("fit", "main", fit_figure(step))));
            out.push(event(step, visual("surface", "path", surface_path(step))));
        }
        if step == 600 {
            out.push(event(
                step,
                EventKind::Command {
                    command: Command::ScaleLr { factor: 2.0 },
                },
            ));
            out.push(event(
                step,
                EventKind::Log {
                    text: "learning rate ×2: now 2.000e1".into(),
                },
            ));
        }
    }
    out
}

/// An app showing a live run that has reached step 1200 of 3000.
fn app_in_run(saves_root: &Path, lang: Lang) -> App {
    let mut app = app_with(saves_root, lang);
    let lesson = lesson();
    let mut state = RunState::new(RUN, &lesson);
    state.save_dir = Some("saves/regression-gd/20260101-090000-s0".into());
    app.update(Msg::RunStarted {
        state: Box::new(state),
        path: lesson.path().to_path_buf(),
        note: None,
    });
    for ev in run_events(1200) {
        app.update(Msg::Run(ev));
    }
    app
}

/// An app replaying a finished run saved in `saves_root`, stopped after `steps` events.
fn app_in_replay(saves_root: &Path, steps: usize) -> App {
    let lesson = lesson();
    let mut writer = SaveWriter::create(saves_root, &lesson, 0).expect("a save in the temp dir");
    let mut events = run_events(TOTAL_STEPS);
    events.push(event(
        TOTAL_STEPS,
        EventKind::Finished {
            reason: FinishReason::AllSteps,
            metrics: BTreeMap::from([("loss".to_string(), serde_json::json!(900.0))]),
            note: None,
        },
    ));
    for ev in &events {
        writer.append(ev).unwrap();
    }
    let summary = Summary {
        lesson: "regression-gd".into(),
        seed: 0,
        steps: TOTAL_STEPS,
        seconds: 7.5,
        status: RunStatus::Finished,
        reason: Some("all steps done".into()),
        metrics: BTreeMap::from([("loss".to_string(), serde_json::json!(900.0))]),
        save: None,
    };
    writer.finish(&summary).unwrap();
    let loaded = saves::load(writer.dir()).expect("the save just written loads");
    assert_eq!(loaded.events.len(), events.len());
    assert!(loaded.damage.is_none());
    let (mut replay, mut log) = ReplayState::new(loaded);
    for _ in 0..steps {
        if let Some(want) = replay.step_forward() {
            let events = mllab::ui::read_events(&mut log, want);
            replay.receive(want, &events);
        }
    }
    let mut app = app_with(saves_root, Lang::En);
    app.update(Msg::ReplayOpened(Ok(Box::new(replay))));
    app
}

#[test]
fn a_replay_asks_the_runtime_for_its_events_and_changes_only_when_they_arrive() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_in_replay(saves.path(), 0);
    let replay = app.replay.as_ref().unwrap();
    assert_eq!(replay.cursor, 0);
    // Ten seconds of replay: every event is due, but update reads nothing itself.
    let asked = app.update(Msg::Tick(10.0));
    let want = match asked.as_slice() {
        [Effect::ReadReplay(want)] => *want,
        other => panic!("a tick asks for the due events, not {other:?}"),
    };
    assert_eq!(want.from, 0);
    assert!(want.to > 1, "{want:?}");
    assert_eq!(
        app.replay.as_ref().unwrap().cursor,
        0,
        "nothing applied yet"
    );
    // The runtime's answer moves the cursor; a stale answer (not from the cursor) is dropped.
    let dir = std::path::PathBuf::from(&app.replay.as_ref().unwrap().dir);
    let mut log = saves::load(&dir).unwrap().events;
    let events = mllab::ui::read_events(&mut log, want);
    app.update(Msg::ReplayRead {
        want,
        events: events.clone(),
    });
    assert_eq!(app.replay.as_ref().unwrap().cursor, want.to);
    app.update(Msg::ReplayRead { want, events });
    assert_eq!(
        app.replay.as_ref().unwrap().cursor,
        want.to,
        "a stale read is dropped"
    );
    // Home starts afresh at once and asks for nothing.
    assert!(app.update(key(KeyCode::Home)).is_empty());
    assert_eq!(app.replay.as_ref().unwrap().cursor, 0);
}

// ---------------------------------------------------------------------------------------------

#[test]
fn the_browser_shows_the_selected_lesson_with_its_preview_and_saves() {
    let saves = tempfile::tempdir().unwrap();
    write_fixed_save(saves.path());
    let app = app_with(saves.path(), Lang::En);
    assert_eq!(app.browser.selected, 0);
    assert_eq!(app.browser.saves.len(), 1);
    let terminal = draw(&app, 100, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("Fitting a line by gradient descent"));
    assert!(text.contains("tests/fixtures/tui/lessons/regression-gd.yaml"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_browser_shows_the_errors_of_a_broken_lesson_in_place_of_the_preview() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_with(saves.path(), Lang::En);
    app.update(key(KeyCode::Down));
    assert!(matches!(app.selected_entry(), Some(Entry::Broken { .. })));
    let terminal = draw(&app, 100, 30);
    let text = screen_text(&terminal);
    assert!(text.contains(BROKEN_FILE));
    assert!(
        text.contains("broken-lr.yaml:15:3"),
        "the error names its line and column"
    );
    assert!(text.contains("`train.lr`") && text.contains("greater than 0"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_run_view_shows_status_loss_chart_fit_and_surface() {
    let saves = tempfile::tempdir().unwrap();
    let app = app_in_run(saves.path(), Lang::En);
    assert_eq!(app.screen, Screen::Run);
    let state = app.shown_run().unwrap();
    assert_eq!(state.step, 1200);
    assert_eq!(state.lr_scale, 2.0);
    let terminal = draw(&app, 100, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("step 1200/3000"));
    assert!(text.contains(" loss ") && text.contains(" fit "));
    // Not asserted: the surface panel's name. At 100 columns its legend is longer than the room
    // beside the name and overwrites it ("┌ su■ log loss contours…"), reported as a bug.
    assert!(
        text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)),
        "the chart is drawn in braille"
    );
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_replay_view_shows_the_run_as_far_as_the_cursor_and_the_timeline() {
    let saves = tempfile::tempdir().unwrap();
    let app = app_in_replay(saves.path(), 30);
    assert_eq!(app.screen, Screen::Replay);
    let replay = app.replay.as_ref().unwrap();
    assert_eq!(replay.cursor, 30);
    assert!(!replay.playing, "stepping pauses the replay");
    let terminal = draw(&app, 100, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("replay"));
    assert!(text.contains(&format!("event 30/{}", replay.len())));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_help_overlay_lists_the_keys_of_the_run_view() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_in_run(saves.path(), Lang::En);
    app.update(key(KeyCode::Char('?')));
    assert!(app.help);
    let terminal = draw(&app, 100, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("keys — any key closes"));
    assert!(text.contains("double the learning rate"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_help_overlay_lists_the_keys_of_the_browser() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_with(saves.path(), Lang::En);
    app.update(key(KeyCode::Char('?')));
    let terminal = draw(&app, 100, 30);
    assert!(screen_text(&terminal).contains("switch between lessons and saves"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_browser_speaks_chinese_when_the_language_is_zh() {
    let saves = tempfile::tempdir().unwrap();
    let app = app_with(saves.path(), Lang::Zh);
    let terminal = draw(&app, 100, 30);
    let text = screen_text(&terminal);
    assert!(text.contains("课程"));
    assert!(text.contains("梯度下降"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_run_view_speaks_chinese_when_the_language_is_zh() {
    let saves = tempfile::tempdir().unwrap();
    let app = app_in_run(saves.path(), Lang::Zh);
    let terminal = draw(&app, 100, 30);
    assert!(screen_text(&terminal).contains("训练中"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn a_terminal_too_small_asks_to_be_enlarged() {
    let saves = tempfile::tempdir().unwrap();
    let app = app_with(saves.path(), Lang::En);
    let terminal = draw(&app, 40, 10);
    let text = screen_text(&terminal);
    assert!(text.contains("enlarge"));
    assert!(text.contains("40×10"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn every_screen_draws_at_tiny_and_borderline_sizes_without_panicking() {
    let saves = tempfile::tempdir().unwrap();
    let browser = app_with(saves.path(), Lang::En);
    let mut broken = app_with(saves.path(), Lang::Zh);
    broken.update(key(KeyCode::Down));
    let run = app_in_run(saves.path(), Lang::En);
    let mut run_help = app_in_run(saves.path(), Lang::Zh);
    run_help.update(key(KeyCode::Char('?')));
    let mut zoomed = app_in_run(saves.path(), Lang::En);
    zoomed.update(key(KeyCode::Tab));
    zoomed.update(key(KeyCode::Tab));
    assert_eq!(zoomed.zoom, 2, "Tab enlarges one panel at a time");
    let replay = app_in_replay(saves.path(), 5);
    let sizes = [
        (0, 0),
        (1, 1),
        (2, 2),
        (0, 30),
        (100, 0),
        (59, 16),
        (60, 15),
        (60, 16),
        (61, 17),
        (300, 90),
    ];
    for app in [&browser, &broken, &run, &run_help, &zoomed, &replay] {
        for (w, h) in sizes {
            let terminal = draw(app, w, h);
            if w < 60 || h < 16 {
                continue;
            }
            assert!(
                !screen_text(&terminal).contains("enlarge"),
                "{w}×{h} is large enough"
            );
        }
    }
}

#[test]
fn each_screen_ends_with_the_footer_the_keymap_writes_in_its_language() {
    let saves = tempfile::tempdir().unwrap();
    let screens = [
        (app_with(saves.path(), Lang::En), Screen::Browser, Lang::En),
        (app_with(saves.path(), Lang::Zh), Screen::Browser, Lang::Zh),
        (app_in_run(saves.path(), Lang::En), Screen::Run, Lang::En),
        (app_in_run(saves.path(), Lang::Zh), Screen::Run, Lang::Zh),
        (app_in_replay(saves.path(), 5), Screen::Replay, Lang::En),
    ];
    for (app, screen, lang) in screens {
        let terminal = draw(&app, 120, 30);
        let last_row = screen_text(&terminal)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        let footer = keymap::footer(screen, &[], lang);
        assert!(
            last_row.contains(&footer),
            "{screen:?} in {lang:?}: {last_row:?} lacks {footer:?}"
        );
    }
}

#[test]
fn a_run_paused_by_e_says_it_is_paused_for_editing() {
    let saves = tempfile::tempdir().unwrap();
    let mut app = app_in_run(saves.path(), Lang::En);
    app.update(key(KeyCode::Char('e')));
    // The trainer's answer to the pause `e` sent.
    app.update(Msg::Run(event(
        1200,
        EventKind::Command {
            command: Command::Pause,
        },
    )));
    let text = screen_text(&draw(&app, 100, 30));
    assert!(text.contains("⏸ paused for editing"), "{text}");
    assert!(text.contains("Paused for editing."));
}
