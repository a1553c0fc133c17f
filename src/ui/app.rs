//! The one owner of UI state, and `update`, the only place it changes.
//!
//! Input, trainer events, clock ticks and whatever the runtime did for it (a run started, a
//! save opened, the editor closed, the lessons read again) arrive as `Msg`s; `update` folds
//! them into `App` and returns `Effect`s (start a run, send a command, open the editor, …) for
//! the runtime to carry out. Nothing outside `update` writes a field of `App`: the runtime
//! only sends messages, and drawing reads `App` and changes nothing.
//!
//! `update` never touches the file system: it asks for what it needs read (the saves of a
//! lesson, the lessons directory) with an `Effect`, and the answer arrives as a `Msg`.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};

use super::keymap::{Action, Screen, action_for};
use super::replay::{ReplayState, Want};
use super::run_state::{RunState, Status};
use super::widgets::image::ImageMode;
use crate::i18n::Lang;
use crate::lessons::registry::Entry;
use crate::models::Knob;
use crate::run::{Command, RunEvent};
use crate::saves::SaveInfo;

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Run(RunEvent),
    /// Wall-clock seconds since the last tick (drives replays).
    Tick(f64),
    /// The terminal changed size: the screen must be drawn again.
    Resized,
    /// The screen now shows the app as it stands.
    Drawn,
    /// The saves of lesson `lesson`, newest first, as the runtime listed them (none when its
    /// directory is missing or unreadable). A list for a lesson no longer selected is dropped.
    SavesListed {
        lesson: String,
        saves: Vec<SaveInfo>,
    },
    /// The lessons directory, as the runtime read it (at start, after an edit, after a lesson
    /// failed to load).
    LessonsScanned(Vec<Entry>),
    /// The runtime started a run: its fresh state, the lesson file it came from, and a note
    /// for the learner (the run is not saved, say).
    RunStarted {
        state: Box<RunState>,
        path: PathBuf,
        note: Option<String>,
    },
    /// The runtime could not start a run; the lesson's first error.
    RunRefused(String),
    /// A save opened for replay, or why it could not be opened.
    ReplayOpened(Result<Box<ReplayState>, String>),
    /// The editor closed: fine, or what went wrong (the lesson is read again either way).
    Edited(Result<(), String>),
    /// Events of the replayed save's log, as [`Effect::ReadReplay`] asked (fewer when the log
    /// ended early).
    ReplayRead {
        want: Want,
        events: Vec<RunEvent>,
    },
}

/// Which seed a new run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedChoice {
    /// The lesson's `train.seed`.
    Lesson,
    Same(u64),
    /// A new seed, picked by the runtime.
    Fresh,
}

/// Work for the runtime.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    StartRun {
        path: PathBuf,
        seed: SeedChoice,
    },
    Command(Command),
    /// Stop the live run without waiting for it: its final scoring goes on in the background
    /// (reporting progress) and its save completes when it ends.
    StopRun,
    /// Skip the final scoring of the live run: it ends without its scores, and says so.
    SkipScoring,
    Edit(PathBuf),
    Replay(PathBuf),
    /// Read these events of the replayed save's log and send [`Msg::ReplayRead`].
    ReadReplay(Want),
    /// List the saves of this lesson and send [`Msg::SavesListed`].
    ListSaves {
        lesson: String,
    },
    /// Read the lessons directory again and send [`Msg::LessonsScanned`].
    ScanLessons,
    Quit,
}

/// Which list has the keys in the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserFocus {
    Lessons,
    Saves,
}

/// The lesson browser.
pub struct BrowserState {
    pub entries: Vec<Entry>,
    pub selected: usize,
    pub focus: BrowserFocus,
    /// Saves of the selected lesson, newest first, as last listed.
    pub saves: Vec<SaveInfo>,
    /// The lesson `saves` belongs to (none until a list has arrived).
    pub saves_of: Option<String>,
    pub save_selected: usize,
    pub preview_scroll: u16,
}

/// The live run.
pub struct LiveRun {
    pub state: RunState,
    pub path: PathBuf,
    /// The learner asked this run to stop (it may still be training its last step, or
    /// scoring): a second ask skips the scoring.
    pub stop_asked: bool,
    /// `e` paused this run to open the editor; it stays paused until the learner resumes it.
    pub paused_for_edit: bool,
}

/// The whole UI state.
pub struct App {
    pub lang: Lang,
    pub screen: Screen,
    pub help: bool,
    pub quit: bool,
    /// The learner asked to quit while a run was live: quit once it has ended. Counts the
    /// asks (the second skips the scoring, the third quits at once).
    pub quit_asked: u8,
    pub browser: BrowserState,
    pub run: Option<LiveRun>,
    pub replay: Option<ReplayState>,
    /// 0: all panels; k: panel k−1 enlarged (Tab cycles).
    pub zoom: usize,
    /// Braille or half-block images (`b`).
    pub image_mode: ImageMode,
    /// A note for the learner (an error, a warning), shown until the next key.
    pub message: Option<String>,
    /// Set when something changed that should be drawn.
    pub dirty: bool,
}

impl App {
    /// An app with no lessons yet: they arrive as [`Msg::LessonsScanned`].
    pub fn new(lang: Lang) -> App {
        App {
            lang,
            screen: Screen::Browser,
            help: false,
            quit: false,
            quit_asked: 0,
            browser: BrowserState {
                entries: Vec::new(),
                selected: 0,
                focus: BrowserFocus::Lessons,
                saves: Vec::new(),
                saves_of: None,
                save_selected: 0,
                preview_scroll: 0,
            },
            run: None,
            replay: None,
            zoom: 0,
            image_mode: ImageMode::default(),
            message: None,
            dirty: true,
        }
    }

    /// The selected browser entry.
    pub fn selected_entry(&self) -> Option<&Entry> {
        self.browser.entries.get(self.browser.selected)
    }

    /// Asks for the saves of the selected lesson to be listed again. The list shown until the
    /// answer arrives is the old one if it is of the same lesson, else none; a broken lesson
    /// or no lesson has no saves, and nothing needs reading.
    fn refresh_saves(&mut self) -> Vec<Effect> {
        let lesson = match self.selected_entry() {
            Some(Entry::Ok(l)) => l.id.clone(),
            _ => {
                self.show_saves(None, Vec::new());
                return Vec::new();
            }
        };
        if self.browser.saves_of.as_ref() != Some(&lesson) {
            self.browser.saves.clear();
            self.browser.saves_of = None;
        }
        vec![Effect::ListSaves { lesson }]
    }

    /// Shows a list of saves that arrived, unless it is of a lesson no longer selected.
    fn saves_listed(&mut self, lesson: String, saves: Vec<SaveInfo>) {
        let selected = match self.selected_entry() {
            Some(Entry::Ok(l)) => Some(&l.id),
            _ => None,
        };
        if selected == Some(&lesson) {
            self.show_saves(Some(lesson), saves);
            self.dirty = true;
        }
    }

    fn show_saves(&mut self, lesson: Option<String>, saves: Vec<SaveInfo>) {
        self.browser.saves = saves;
        self.browser.saves_of = lesson;
        self.browser.save_selected = self
            .browser
            .save_selected
            .min(self.browser.saves.len().saturating_sub(1));
        if self.browser.saves.is_empty() {
            self.browser.focus = BrowserFocus::Lessons;
        }
    }

    /// Replaces the lesson list (after a rescan), keeping the selection on the same file.
    fn set_entries(&mut self, entries: Vec<Entry>) -> Vec<Effect> {
        let keep = self.selected_entry().map(|e| e.path().to_path_buf());
        self.browser.entries = entries;
        self.browser.selected = keep
            .and_then(|p| self.browser.entries.iter().position(|e| e.path() == p))
            .unwrap_or(0)
            .min(self.browser.entries.len().saturating_sub(1));
        self.dirty = true;
        self.refresh_saves()
    }

    /// Switches to the run view for a run that is starting.
    fn begin_run(&mut self, state: RunState, path: PathBuf) {
        self.run = Some(LiveRun {
            state,
            path,
            stop_asked: false,
            paused_for_edit: false,
        });
        self.screen = Screen::Run;
        self.zoom = 0;
        self.help = false;
        self.dirty = true;
    }

    /// Switches to the replay view.
    fn begin_replay(&mut self, replay: ReplayState) {
        self.replay = Some(replay);
        self.screen = Screen::Replay;
        self.zoom = 0;
        self.help = false;
        self.dirty = true;
    }

    /// The run shown now (live or replayed).
    pub fn shown_run(&self) -> Option<&RunState> {
        match self.screen {
            Screen::Run => self.run.as_ref().map(|r| &r.state),
            Screen::Replay => self.replay.as_ref().map(|r| &r.state),
            Screen::Browser => None,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => {
                if key.kind == KeyEventKind::Release {
                    return Vec::new();
                }
                self.dirty = true;
                let parts = self.shown_run().map_or(&[][..], |r| r.abilities.as_slice());
                let action = action_for(self.screen, parts, &key);
                // Any key closes the help, and does nothing else (Ctrl-C still quits).
                let ctrl_c = key.code == ratatui::crossterm::event::KeyCode::Char('c')
                    && key
                        .modifiers
                        .contains(ratatui::crossterm::event::KeyModifiers::CONTROL);
                if self.help && !ctrl_c {
                    self.help = false;
                    return Vec::new();
                }
                match action {
                    Some(action) => {
                        self.message = None;
                        self.act(action)
                    }
                    None => Vec::new(),
                }
            }
            Msg::Mouse(m) => {
                let action = match m.kind {
                    MouseEventKind::ScrollUp => Action::Up,
                    MouseEventKind::ScrollDown => Action::Down,
                    _ => return Vec::new(),
                };
                if self.screen == Screen::Browser {
                    self.dirty = true;
                    return self.act(action);
                }
                Vec::new()
            }
            Msg::Run(ev) => {
                let ended = matches!(
                    ev.kind,
                    crate::run::EventKind::Finished { .. } | crate::run::EventKind::Failed { .. }
                );
                if let Some(run) = self.run.as_mut()
                    && run.state.apply(&ev)
                {
                    self.dirty |= self.screen == Screen::Run;
                    if ended {
                        if self.quit_asked > 0 {
                            self.quit = true;
                            return vec![Effect::Quit];
                        }
                        // Its save is complete now.
                        if self.screen == Screen::Browser {
                            self.dirty = true;
                            return self.refresh_saves();
                        }
                    }
                }
                Vec::new()
            }
            Msg::Tick(dt) => {
                if self.screen == Screen::Replay
                    && let Some(r) = self.replay.as_mut()
                    && let Some(want) = r.tick(dt)
                {
                    return vec![Effect::ReadReplay(want)];
                }
                Vec::new()
            }
            Msg::Resized => {
                self.dirty = true;
                Vec::new()
            }
            Msg::Drawn => {
                self.dirty = false;
                Vec::new()
            }
            Msg::LessonsScanned(entries) => self.set_entries(entries),
            Msg::SavesListed { lesson, saves } => {
                self.saves_listed(lesson, saves);
                Vec::new()
            }
            Msg::RunStarted { state, path, note } => {
                self.begin_run(*state, path);
                self.message = note;
                Vec::new()
            }
            Msg::RunRefused(why) => {
                self.screen = Screen::Browser;
                self.message = Some(why);
                self.dirty = true;
                // The lesson changed since the last scan: the browser shows it as it is now.
                vec![Effect::ScanLessons]
            }
            Msg::ReplayOpened(Ok(replay)) => {
                self.begin_replay(*replay);
                Vec::new()
            }
            Msg::ReplayRead { want, events } => {
                if let Some(r) = self.replay.as_mut() {
                    self.dirty |= r.receive(want, &events);
                }
                Vec::new()
            }
            Msg::ReplayOpened(Err(why)) => {
                self.message = Some(why);
                self.dirty = true;
                Vec::new()
            }
            Msg::Edited(outcome) => {
                // A run paused for (or before) the edit waits for the learner.
                let paused_run = self.screen == Screen::Run
                    && self.run.as_ref().is_some_and(|r| {
                        !r.state.status.is_over()
                            && (r.paused_for_edit || r.state.status == Status::Paused)
                    });
                self.message = Some(match outcome {
                    Ok(()) if paused_run => self.lang.pick(
                        "Lesson reloaded; the run stays paused. Space resumes it, r runs the lesson again with your changes.",
                        "课程已重新载入；训练保持暂停。空格继续，r 以新设置重新运行。",
                    ).to_string(),
                    Ok(()) => self.lang.pick(
                        "Lesson reloaded. Press Enter (or r in a run) to run it with your changes.",
                        "课程已重新载入。按 Enter（运行中按 r）以新设置运行。",
                    ).to_string(),
                    Err(why) => why,
                });
                self.dirty = true;
                vec![Effect::ScanLessons]
            }
        }
    }

    fn act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Help => {
                self.help = !self.help;
                return Vec::new();
            }
            Action::Lang => {
                self.lang = self.lang.toggled();
                return Vec::new();
            }
            Action::Quit => return self.ask_to_quit(),
            _ => {}
        }
        match self.screen {
            Screen::Browser => self.act_browser(action),
            Screen::Run => self.act_run(action),
            Screen::Replay => self.act_replay(action),
        }
    }

    /// The live run, if one is training or finishing.
    fn live_status(&self) -> Option<&Status> {
        self.run
            .as_ref()
            .map(|r| &r.state.status)
            .filter(|s| !s.is_over())
    }

    /// Quitting never waits silently: with a live run the first ask stops it and quits when
    /// its save is complete (the status line shows the scoring), the second skips the
    /// scoring, the third quits at once (the run's thread is then stopped after the screen
    /// is restored).
    fn ask_to_quit(&mut self) -> Vec<Effect> {
        if self.live_status().is_none() {
            self.quit = true;
            return vec![Effect::Quit];
        }
        self.quit_asked = self.quit_asked.saturating_add(1);
        self.screen = Screen::Run;
        match self.quit_asked {
            1 => {
                self.message = Some(
                    self.lang
                        .pick(
                            "Quitting once the run is saved. Ctrl-C again skips the final scoring.",
                            "运行保存后退出。再按 Ctrl-C 跳过最终评分。",
                        )
                        .to_string(),
                );
                vec![Effect::Command(Command::Stop)]
            }
            2 => {
                self.message = Some(
                    self.lang
                        .pick(
                            "Skipping the final scoring. Ctrl-C again quits at once.",
                            "跳过最终评分。再按 Ctrl-C 立即退出。",
                        )
                        .to_string(),
                );
                vec![Effect::Command(Command::Stop), Effect::SkipScoring]
            }
            _ => {
                self.quit = true;
                vec![Effect::SkipScoring, Effect::Quit]
            }
        }
    }

    fn act_browser(&mut self, action: Action) -> Vec<Effect> {
        let b = &mut self.browser;
        match (action, b.focus) {
            (Action::Up, BrowserFocus::Lessons) if b.selected > 0 => {
                b.selected -= 1;
                b.preview_scroll = 0;
                return self.refresh_saves();
            }
            (Action::Down, BrowserFocus::Lessons) if b.selected + 1 < b.entries.len() => {
                b.selected += 1;
                b.preview_scroll = 0;
                return self.refresh_saves();
            }
            (Action::Up, BrowserFocus::Saves) => {
                b.save_selected = b.save_selected.saturating_sub(1)
            }
            (Action::Down, BrowserFocus::Saves) if b.save_selected + 1 < b.saves.len() => {
                b.save_selected += 1;
            }
            (Action::PageUp, _) => b.preview_scroll = b.preview_scroll.saturating_sub(8),
            (Action::PageDown, _) => b.preview_scroll = b.preview_scroll.saturating_add(8),
            (Action::Focus, _) => {
                b.focus = match b.focus {
                    BrowserFocus::Lessons if !b.saves.is_empty() => BrowserFocus::Saves,
                    _ => BrowserFocus::Lessons,
                };
            }
            (Action::Open, BrowserFocus::Lessons) => match self.selected_entry() {
                Some(Entry::Ok(l)) => {
                    return vec![Effect::StartRun {
                        path: l.path().to_path_buf(),
                        seed: SeedChoice::Lesson,
                    }];
                }
                Some(Entry::Broken { .. }) => {
                    self.message = Some(
                        self.lang
                            .pick(
                                "This lesson has errors (see the right). Press e to fix it.",
                                "这个课程文件有错误（见右侧）。按 e 修改。",
                            )
                            .to_string(),
                    );
                }
                None => {}
            },
            (Action::Open, BrowserFocus::Saves) => {
                if let Some(s) = b.saves.get(b.save_selected) {
                    return vec![Effect::Replay(s.dir.clone())];
                }
            }
            (Action::Edit, _) => {
                if let Some(e) = self.selected_entry() {
                    return vec![Effect::Edit(e.path().to_path_buf())];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn mark_stop_asked(&mut self) {
        if let Some(r) = self.run.as_mut() {
            r.stop_asked = true;
        }
    }

    fn act_run(&mut self, action: Action) -> Vec<Effect> {
        let Some(run) = self.run.as_ref() else {
            self.screen = Screen::Browser;
            return Vec::new();
        };
        let status = run.state.status.clone();
        let live = !status.is_over();
        let finishing = matches!(status, Status::Finishing { .. });
        // Asked to stop already (its last step or its scoring may still be running).
        let stopping = live && (finishing || run.stop_asked);
        match action {
            Action::PauseResume if status == Status::Running => {
                vec![Effect::Command(Command::Pause)]
            }
            Action::PauseResume if status == Status::Paused => {
                if let Some(r) = self.run.as_mut() {
                    r.paused_for_edit = false;
                }
                vec![Effect::Command(Command::Resume)]
            }
            Action::StepOnce if status == Status::Paused => vec![Effect::Command(Command::Step)],
            Action::StepDiscriminator if status == Status::Paused => {
                vec![Effect::Command(Command::StepD)]
            }
            Action::StepGenerator if status == Status::Paused => {
                vec![Effect::Command(Command::StepG)]
            }
            // Stopping a run that is already in its final scoring skips the scoring.
            Action::Stop if stopping => vec![Effect::SkipScoring],
            Action::Stop if live => {
                self.mark_stop_asked();
                vec![Effect::Command(Command::Stop)]
            }
            Action::Cooler | Action::Warmer | Action::FewerTopK | Action::MoreTopK if live => {
                let (knob, up) = match action {
                    Action::Cooler => (Knob::Temperature, false),
                    Action::Warmer => (Knob::Temperature, true),
                    Action::FewerTopK => (Knob::TopK, false),
                    _ => (Knob::TopK, true),
                };
                vec![Effect::Command(Command::Turn { knob, up })]
            }
            Action::LrUp if live => vec![Effect::Command(Command::ScaleLr { factor: 2.0 })],
            Action::LrDown if live => vec![Effect::Command(Command::ScaleLr { factor: 0.5 })],
            Action::Rerun => vec![Effect::StartRun {
                path: run.path.clone(),
                seed: SeedChoice::Same(run.state.seed),
            }],
            Action::RerunNewSeed => vec![Effect::StartRun {
                path: run.path.clone(),
                seed: SeedChoice::Fresh,
            }],
            // The editor holds this thread until it closes: a training run is paused first,
            // with the same command as Space (so the save records it), and stays paused.
            Action::Edit if matches!(status, Status::Running | Status::Starting) && !stopping => {
                let path = run.path.clone();
                if let Some(r) = self.run.as_mut() {
                    r.paused_for_edit = true;
                }
                self.message = Some(
                    self.lang
                        .pick("Paused for editing.", "已暂停，以便编辑。")
                        .to_string(),
                );
                vec![Effect::Command(Command::Pause), Effect::Edit(path)]
            }
            Action::Edit => vec![Effect::Edit(run.path.clone())],
            Action::Focus => {
                self.cycle_zoom();
                Vec::new()
            }
            Action::ToggleImage => {
                self.image_mode = self.image_mode.toggled();
                Vec::new()
            }
            // q on a training run stops it and stays to show the final scoring; q again
            // skips the scoring and goes back (the run ends in the background).
            Action::Back if live && !stopping => {
                self.mark_stop_asked();
                self.message = Some(
                    self.lang
                        .pick(
                            "Stopping: the run is scored and saved. q again skips the scoring.",
                            "正在停止：评分并保存。再按 q 跳过评分。",
                        )
                        .to_string(),
                );
                vec![Effect::Command(Command::Stop)]
            }
            Action::Back => {
                self.screen = Screen::Browser;
                let mut effects = if stopping {
                    vec![Effect::SkipScoring, Effect::StopRun]
                } else {
                    Vec::new()
                };
                effects.extend(self.refresh_saves());
                effects
            }
            _ => Vec::new(),
        }
    }

    fn act_replay(&mut self, action: Action) -> Vec<Effect> {
        let Some(r) = self.replay.as_mut() else {
            self.screen = Screen::Browser;
            return Vec::new();
        };
        let want = match action {
            Action::PauseResume => r.toggle(),
            Action::Prev => r.step_back(),
            Action::Next => r.step_forward(),
            Action::Slower => {
                r.slower();
                None
            }
            Action::Faster => {
                r.faster();
                None
            }
            Action::First => {
                let want = r.seek(0);
                r.playing = false;
                want
            }
            Action::Last => {
                let n = r.len();
                let want = r.seek(n);
                r.playing = false;
                want
            }
            Action::Focus => {
                self.cycle_zoom();
                None
            }
            Action::ToggleImage => {
                self.image_mode = self.image_mode.toggled();
                None
            }
            Action::Back => {
                self.screen = Screen::Browser;
                self.replay = None;
                return self.refresh_saves();
            }
            _ => None,
        };
        want.map(Effect::ReadReplay).into_iter().collect()
    }

    fn cycle_zoom(&mut self) {
        let n = self.shown_run().map_or(0, |r| r.panels.len());
        self.zoom = if n == 0 { 0 } else { (self.zoom + 1) % (n + 1) };
    }
}
