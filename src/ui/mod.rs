//! The terminal UI: the runtime that owns the trainer and carries out effects, and the loop
//! that reads input, drains trainer events in bounded batches and redraws.
//!
//! The loop never blocks on the trainer: it polls input with a short timeout, takes whatever
//! events have arrived, and draws at most ~30 times a second when something changed. The
//! terminal is restored on every exit path: normal return, error (a guard's `Drop`), and a
//! panic on the UI thread (the panic hook). A panic on a trainer thread does not touch the
//! screen; the trainer reports it as a failed run.

pub mod app;
pub mod keymap;
pub mod replay;
pub mod run_state;
pub mod view;
pub mod widgets;

use std::collections::VecDeque;
use std::io::{IsTerminal, Stdout, stdout};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use crate::i18n::Lang;
use crate::lessons::registry::{Entry, scan};
use crate::lessons::{Lesson, Override};
use crate::run::{Command, RunConfig, RunId, TrainerHandle, spawn};
use crate::saves::{self, SaveWriter};
use app::{App, Effect, Msg, SeedChoice};
use replay::ReplayState;
use run_state::RunState;

/// How the TUI starts.
pub struct TuiOptions {
    pub lessons_dir: PathBuf,
    pub saves_dir: PathBuf,
    /// `--set` overrides applied to every run started from this session.
    pub overrides: Vec<Override>,
    /// Run this lesson file right away (`mllab run LESSON` without `--headless`).
    pub start: Option<PathBuf>,
    /// Replay this save right away (`mllab replay SAVE`).
    pub replay: Option<PathBuf>,
    pub lang: Lang,
}

/// The UI state plus what it cannot hold itself: the trainer thread and the file system. Every
/// read the app asks for (lessons, saves) is done here and sent back to it as a message.
pub struct Runtime {
    pub app: App,
    trainer: Option<TrainerHandle>,
    /// Trainers of runs the learner left, still finishing (scoring, saving) in the background.
    /// They are never joined on this thread; finished ones are dropped as they end.
    retired: Vec<TrainerHandle>,
    overrides: Vec<Override>,
    lessons_dir: PathBuf,
    saves_dir: PathBuf,
    next_run: RunId,
    /// The log of the save being replayed: its events are read here, as the app asks.
    replay_log: Option<saves::EventLog>,
}

impl Runtime {
    pub fn new(opts: &TuiOptions) -> Runtime {
        let mut rt = Runtime {
            app: App::new(opts.lang),
            trainer: None,
            retired: Vec::new(),
            overrides: opts.overrides.clone(),
            lessons_dir: opts.lessons_dir.clone(),
            saves_dir: opts.saves_dir.clone(),
            replay_log: None,
            next_run: 1,
        };
        rt.rescan();
        rt
    }

    /// Feeds a message to the app and carries out its effects, feeding back what they report
    /// (a run started, a save opened, the lessons read) until nothing more is asked; returns
    /// every effect asked for, in order. Those that need the terminal (editing, quitting) are
    /// left to the caller.
    pub fn dispatch(&mut self, msg: Msg) -> Vec<Effect> {
        let mut pending = VecDeque::from([msg]);
        let mut asked = Vec::new();
        while let Some(msg) = pending.pop_front() {
            for effect in self.app.update(msg) {
                pending.extend(self.perform(&effect));
                asked.push(effect);
            }
        }
        asked
    }

    /// Carries out one effect; returns the message that reports its outcome, if it has one.
    fn perform(&mut self, effect: &Effect) -> Option<Msg> {
        match effect {
            Effect::StartRun { path, seed } => Some(self.launch(path, *seed)),
            Effect::Command(c) => {
                if let Some(t) = &self.trainer {
                    t.send(*c);
                }
                None
            }
            Effect::StopRun => {
                self.retire(false);
                None
            }
            Effect::SkipScoring => {
                if let Some(t) = &self.trainer {
                    t.skip_scoring();
                }
                None
            }
            Effect::Replay(dir) => Some(self.opened_replay(dir)),
            Effect::ReadReplay(want) => {
                let events = match self.replay_log.as_mut() {
                    Some(log) => read_events(log, *want),
                    None => Vec::new(),
                };
                Some(Msg::ReplayRead {
                    want: *want,
                    events,
                })
            }
            Effect::ListSaves { lesson } => Some(Msg::SavesListed {
                lesson: lesson.clone(),
                saves: saves::list_saves(&self.saves_dir, lesson),
            }),
            Effect::ScanLessons => Some(Msg::LessonsScanned(scan_or_empty(&self.lessons_dir))),
            // Left to the terminal loop.
            Effect::Edit(_) | Effect::Quit => None,
        }
    }

    /// Moves up to `max` waiting trainer events into the app; returns how many, and the
    /// effects they asked for (quit once the run has ended).
    pub fn pump(&mut self, max: usize) -> (usize, Vec<Effect>) {
        let mut events = Vec::new();
        for t in self.retired.iter().chain(self.trainer.iter()) {
            events.extend(t.drain(max));
        }
        // Retired trainers that have ended and been drained are gone for good.
        self.retired.retain(|t| !t.is_done());
        let n = events.len();
        let mut effects = Vec::new();
        for ev in events {
            effects.extend(self.dispatch(Msg::Run(ev)));
        }
        (n, effects)
    }

    /// True while a trainer thread is alive (the live run's, or a stopped run's still
    /// finishing in the background).
    pub fn training(&self) -> bool {
        self.trainer
            .iter()
            .chain(&self.retired)
            .any(|t| !t.is_done())
    }

    /// Loads the lesson afresh (so edits apply), opens a save and starts the trainer.
    pub fn start_run(&mut self, path: &Path, seed: SeedChoice) {
        let started = self.launch(path, seed);
        self.dispatch(started);
    }

    /// Starts a run of the lesson at `path`; returns the message that tells the app.
    fn launch(&mut self, path: &Path, seed: SeedChoice) -> Msg {
        // The old run ends quickly, without its scoring: the new one needs the cores.
        self.retire(true);
        let mut overrides = self.overrides.clone();
        match seed {
            SeedChoice::Lesson => {}
            SeedChoice::Same(s) => overrides.push(Override::new("train.seed", s)),
            SeedChoice::Fresh => overrides.push(Override::new("train.seed", fresh_seed())),
        }
        let lesson = match Lesson::load_checked(path, &overrides) {
            Ok(l) => l,
            Err(errors) => return Msg::RunRefused(errors.first_line()),
        };
        let run = self.next_run;
        self.next_run += 1;
        let (save, note) = match SaveWriter::create(&self.saves_dir, &lesson, lesson.train.seed) {
            Ok(s) => (Some(s), None),
            Err(e) => (
                None,
                Some(format!(
                    "warning: this run is not saved: cannot write under {} ({e})",
                    self.saves_dir.display()
                )),
            ),
        };
        let mut state = RunState::new(run, &lesson);
        state.save_dir = save.as_ref().map(|s| s.dir().display().to_string());
        self.trainer = Some(spawn(RunConfig {
            run,
            lesson,
            paced: true,
            save: save.map(|s| Box::new(s) as Box<dyn crate::run::Recorder>),
            cache_dir: Some(crate::saves::cache_dir(&self.saves_dir)),
        }));
        Msg::RunStarted {
            state: Box::new(state),
            path: path.to_path_buf(),
            note,
        }
    }

    /// Asks the live run to stop and moves its trainer to the background, without waiting:
    /// its last events still arrive through [`pump`](Self::pump). `skip` also skips its
    /// final scoring.
    pub fn retire(&mut self, skip: bool) {
        if let Some(t) = self.trainer.take() {
            t.send(Command::Stop);
            if skip {
                t.skip_scoring();
            }
            self.retired.push(t);
        }
    }

    /// Stops the live run, if any, and waits for its thread; its last events are kept.
    /// Only for the end of the program, after the screen is restored: it can take as long
    /// as one step of the model.
    pub fn stop_run(&mut self) {
        self.retire(true);
        for mut t in std::mem::take(&mut self.retired) {
            t.stop_and_join();
            for ev in t.drain(usize::MAX) {
                self.dispatch(Msg::Run(ev));
            }
        }
    }

    pub fn open_replay(&mut self, dir: &Path) {
        let opened = self.opened_replay(dir);
        self.dispatch(opened);
    }

    /// Opens a save for replay, keeping its log here for the reads the app will ask for.
    fn opened_replay(&mut self, dir: &Path) -> Msg {
        Msg::ReplayOpened(load_replay(dir).map(|(replay, log)| {
            self.replay_log = Some(log);
            replay
        }))
    }

    /// Reads the lessons directory again.
    pub fn rescan(&mut self) {
        let scanned = scan_or_empty(&self.lessons_dir);
        self.dispatch(Msg::LessonsScanned(scanned));
    }

    pub fn shutdown(&mut self) {
        self.stop_run();
    }
}

/// A save opened for replay with its log, or why it cannot be.
fn load_replay(dir: &Path) -> Result<(Box<ReplayState>, saves::EventLog), String> {
    saves::load(dir)
        .map(|save| {
            let (replay, log) = ReplayState::new(save);
            (Box::new(replay), log)
        })
        .map_err(|e| e.to_string())
}

/// Events `want.from..want.to` of a replayed log; stops early where the log does.
pub fn read_events(log: &mut saves::EventLog, want: replay::Want) -> Vec<crate::run::RunEvent> {
    (want.from..want.to).map_while(|i| log.get(i)).collect()
}

fn scan_or_empty(dir: &Path) -> Vec<Entry> {
    scan(dir).unwrap_or_default()
}

/// A new seed for `R`, from the clock (the seed is recorded, so the run still replays).
fn fresh_seed() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_nanos() % 1_000_000) as u64
}

/// Runs the TUI until the learner quits.
pub fn run_tui(opts: TuiOptions) -> anyhow::Result<()> {
    if !stdout().is_terminal() {
        return Err(crate::input_error::BadInput(
            "the TUI needs a terminal; to run a lesson without one use `mllab run LESSON --headless`".into(),
        )
        .into());
    }
    let mut rt = Runtime::new(&opts);
    if let Some(path) = &opts.start {
        rt.start_run(path, SeedChoice::Lesson);
    }
    if let Some(dir) = &opts.replay {
        rt.open_replay(dir);
        if rt.app.replay.is_none() {
            anyhow::bail!("{}", rt.app.message.clone().unwrap_or_default());
        }
    }
    let mut tui = Tui::enter().context("cannot prepare the terminal")?;
    install_panic_hook();
    let result = event_loop(&mut rt, &mut tui);
    // The screen is restored first; a run still finishing is then stopped without its
    // scoring (at most one model step), so quitting never leaves a frozen screen.
    drop(tui);
    rt.shutdown();
    let _ = std::panic::take_hook();
    result
}

fn event_loop(rt: &mut Runtime, tui: &mut Tui) -> anyhow::Result<()> {
    let mut last_tick = Instant::now();
    let mut last_draw: Option<Instant> = None;
    loop {
        let now = Instant::now();
        rt.dispatch(Msg::Tick((now - last_tick).as_secs_f64()));
        last_tick = now;
        let (_, effects) = rt.pump(5000);
        if effects.contains(&Effect::Quit) {
            return Ok(());
        }
        let due = last_draw.is_none_or(|t| t.elapsed() >= Duration::from_millis(30));
        if rt.app.dirty && due {
            tui.terminal.draw(|f| f.render_widget(&rt.app, f.area()))?;
            rt.dispatch(Msg::Drawn);
            last_draw = Some(Instant::now());
        }
        if event::poll(Duration::from_millis(15))? {
            let effects = match event::read()? {
                Event::Key(k) => rt.dispatch(Msg::Key(k)),
                Event::Mouse(m) => rt.dispatch(Msg::Mouse(m)),
                Event::Resize(..) => rt.dispatch(Msg::Resized),
                _ => Vec::new(),
            };
            for e in effects {
                match e {
                    Effect::Quit => return Ok(()),
                    // The editor holds this thread. A run was paused before this effect (its
                    // pause command is sent by `dispatch`), so no events pile up meanwhile.
                    Effect::Edit(path) => {
                        tui.suspend();
                        let outcome = open_editor(&path);
                        tui.resume()?;
                        rt.dispatch(Msg::Edited(outcome));
                    }
                    _ => {}
                }
            }
        }
        if rt.app.quit {
            return Ok(());
        }
    }
}

/// Opens `path` in `$VISUAL` or `$EDITOR` (default `vi`) and waits for it to close.
fn open_editor(path: &Path) -> Result<(), String> {
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_string());
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    match std::process::Command::new(program)
        .args(parts)
        .arg(path)
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "the editor `{editor}` exited with {s}; the lesson was reloaded anyway"
        )),
        Err(e) => Err(format!(
            "cannot start the editor `{editor}` ({e}); set $EDITOR to your editor"
        )),
    }
}

/// The terminal in TUI mode; dropping it restores the terminal.
struct Tui {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Tui {
    fn enter() -> std::io::Result<Tui> {
        enable_raw_mode()?;
        let mut out = stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
            restore_terminal();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(Tui { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e)
            }
        }
    }

    fn suspend(&mut self) {
        restore_terminal();
    }

    fn resume(&mut self) -> std::io::Result<()> {
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        self.terminal.clear()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Restores the terminal only for a panic on the UI thread. A trainer thread's panic is caught
/// and reported by the trainer; printing it here would scribble over the live screen.
fn install_panic_hook() {
    let ui_thread = std::thread::current().id();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            restore_terminal();
            default(info);
        }
    }));
}
