//! The trainer thread: one generic loop that drives any `Model`.
//!
//! Commands come in on one channel (pause, resume, one step, one step of a part alone, stop,
//! interrupt, scale the learning rate); events go out on another and, when the run is saved, into the save as well.
//! The channel out is unbounded and the loop never waits on it, so training never waits for
//! drawing. Between steps the loop checks for commands and for cancellation.
//!
//! How a run ends:
//! - A non-finite loss, metric, parameter or sample ends it as "diverged at step N": the
//!   summary keeps the last finite numbers, no final score is computed over NaN, and the
//!   diverged weights are not saved (the last checkpoint, if any, stays).
//! - A model that panics or fails ends it as failed, naming the step.
//! - Otherwise (all steps, the time budget, a stop, an interrupt) the model's final scoring
//!   runs here, on the trainer thread, reporting `Progress` events; the watcher can skip it
//!   with [`TrainerHandle::skip_scoring`], and the summary then says it was skipped.
//!
//! Weights are checkpointed every `train.checkpoint_seconds` (atomically), so a killed run
//! loses at most that much training.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::event::{Command, EventKind, FinishReason, RunEvent, RunId};
use super::record::Recorder;
use super::summary::{RunStatus, Summary, reason_text, status_of};
use super::thinning::{Cadence, EVALS_PER_OCTAVE, SAVED_VISUAL_BYTES, SNAPSHOTS_PER_OCTAVE};
use crate::lessons::Lesson;
use crate::models::{BuildEnv, Finals, Finish, Metrics, Model, ModelError};

/// Builds the model on the trainer thread (data generation can take a while).
pub type Builder = Box<dyn FnOnce() -> Result<Box<dyn Model>, String> + Send>;

/// What to run.
pub struct RunConfig {
    pub run: RunId,
    pub lesson: Lesson,
    /// Honour the lesson's `train.pace` (the TUI does; headless runs do not).
    pub paced: bool,
    /// Where to record the run (a save), or `None` for an unsaved run.
    pub save: Option<Box<dyn Recorder>>,
    /// Where models may keep caches between runs (the digit judge); `None`: a folder in the
    /// system's temporary directory.
    pub cache_dir: Option<std::path::PathBuf>,
}

/// The watcher's side of a running trainer.
pub struct TrainerHandle {
    pub run: RunId,
    commands: Sender<Command>,
    events: Receiver<RunEvent>,
    cancel: Arc<AtomicBool>,
    skip: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

/// What another thread (a signal handler) may do to a running trainer.
#[derive(Clone)]
pub struct Remote {
    commands: Sender<Command>,
    skip: Arc<AtomicBool>,
}

impl Remote {
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    pub fn skip_scoring(&self) {
        self.skip.store(true, Ordering::SeqCst);
    }
}

impl TrainerHandle {
    /// A handle for other threads: commands and skipping the scoring, nothing that waits.
    pub fn remote(&self) -> Remote {
        Remote {
            commands: self.commands.clone(),
            skip: self.skip.clone(),
        }
    }

    /// Sends a command; a finished trainer ignores it.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Up to `max` events that have arrived, without waiting.
    pub fn drain(&self, max: usize) -> Vec<RunEvent> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.events.try_recv() {
                Ok(ev) => out.push(ev),
                Err(_) => break,
            }
        }
        out
    }

    /// Waits up to `timeout` for the next event; `None` on time-out or when the run is over.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<RunEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// True once the trainer thread has ended and every event was taken.
    pub fn is_done(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Skips the final scoring (now, or when it starts): the run ends without its scores and
    /// its summary says so.
    pub fn skip_scoring(&self) {
        self.skip.store(true, Ordering::SeqCst);
    }

    /// Asks the trainer to stop at once, without the final scoring, and waits for the thread
    /// to end. Never call it on a thread that must stay responsive while a run may be scoring.
    pub fn stop_and_join(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        self.skip.store(true, Ordering::SeqCst);
        let _ = self.commands.send(Command::Stop);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for TrainerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Starts the lesson's model on its own thread.
pub fn spawn(config: RunConfig) -> TrainerHandle {
    let lesson = config.lesson.clone();
    let env = match &config.cache_dir {
        Some(dir) => BuildEnv {
            cache_dir: dir.clone(),
        },
        None => BuildEnv::default(),
    };
    let build: Builder = Box::new(move || {
        lesson
            .model
            .build(&lesson.data, &lesson.train, lesson.train.seed, &env)
    });
    spawn_with(config, build)
}

/// Starts a run whose model comes from `build` (tests pass models of their own).
pub fn spawn_with(config: RunConfig, build: Builder) -> TrainerHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let skip = Arc::new(AtomicBool::new(false));
    let run = config.run;
    let (flag, skip_flag) = (cancel.clone(), skip.clone());
    let join = std::thread::Builder::new()
        .name(format!("mllab-trainer-{run}"))
        .spawn(move || {
            let mut t = Trainer::new(config, ev_tx, cmd_rx, flag, skip_flag);
            t.run(build);
        })
        .ok();
    TrainerHandle {
        run,
        commands: cmd_tx,
        events: ev_rx,
        cancel,
        skip,
        join,
    }
}

/// Text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

struct Trainer {
    run: RunId,
    lesson: Lesson,
    paced: bool,
    save: Option<Box<dyn Recorder>>,
    save_failed: bool,
    /// Panel snapshots are no longer written to the save (it reached `SAVED_VISUAL_BYTES`).
    visuals_capped: bool,
    events: Sender<RunEvent>,
    commands: Receiver<Command>,
    cancel: Arc<AtomicBool>,
    skip: Arc<AtomicBool>,
    start: Instant,
    /// Time spent paused, which the time budget does not count.
    paused_for: Duration,
    step: u64,
    /// Time of the latest event, in seconds since the start.
    last_t: f64,
    /// The latest finite value of every metric, for the summary of a run that diverged.
    latest: Metrics,
    last_checkpoint: Instant,
    /// The learner skipped the final scoring.
    scoring_skipped: bool,
}

enum Outcome {
    Finished(FinishReason),
    /// A number went non-finite: the text says which, and at which step.
    Diverged(String),
    Failed(String),
}

impl Trainer {
    fn new(
        config: RunConfig,
        events: Sender<RunEvent>,
        commands: Receiver<Command>,
        cancel: Arc<AtomicBool>,
        skip: Arc<AtomicBool>,
    ) -> Trainer {
        Trainer {
            run: config.run,
            lesson: config.lesson,
            paced: config.paced,
            save: config.save,
            save_failed: false,
            visuals_capped: false,
            events,
            commands,
            cancel,
            skip,
            start: Instant::now(),
            paused_for: Duration::ZERO,
            step: 0,
            last_t: 0.0,
            latest: Metrics::new(),
            last_checkpoint: Instant::now(),
            scoring_skipped: false,
        }
    }

    fn emit(&mut self, kind: EventKind) {
        let ev = self.record(kind);
        let _ = self.events.send(ev);
    }

    /// Stamps an event and appends it to the save.
    fn record(&mut self, kind: EventKind) -> RunEvent {
        self.last_t = self.start.elapsed().as_secs_f64();
        let ev = RunEvent {
            run: self.run,
            t: self.last_t,
            step: self.step,
            kind,
        };
        if let EventKind::Metrics { values } = &ev.kind {
            for (k, v) in values {
                if v.is_finite() {
                    self.latest.insert(k.clone(), *v);
                }
            }
        }
        let skip_visual = self.visuals_capped && matches!(ev.kind, EventKind::Visual(_));
        if let Some(save) = self.save.as_mut()
            && !skip_visual
            && let Err(e) = save.append(&ev)
        {
            self.fail_save(e);
        }
        ev
    }

    /// Emits a snapshot's panels; past the save's visual budget they still reach the watcher
    /// but only the final snapshot (`last`) is written to the save.
    fn emit_visuals(&mut self, updates: Vec<crate::visual::PanelUpdate>, last: bool) {
        let over = self
            .save
            .as_ref()
            .is_some_and(|s| s.event_bytes() >= SAVED_VISUAL_BYTES);
        if over && !self.visuals_capped && !last {
            self.visuals_capped = true;
            self.emit(EventKind::Log {
                text: format!(
                    "the save holds {} MB of panel snapshots; later ones are shown but not saved (the final one is)",
                    SAVED_VISUAL_BYTES >> 20
                ),
            });
        }
        if last {
            self.visuals_capped = false;
        }
        for u in updates {
            self.emit(EventKind::Visual(u));
        }
    }

    fn flush(&mut self) {
        if let Some(save) = self.save.as_mut()
            && let Err(e) = save.flush()
        {
            self.fail_save(e);
        }
    }

    /// A save that cannot be written is dropped with a warning; the run itself goes on.
    fn fail_save(&mut self, e: std::io::Error) {
        if !self.save_failed {
            self.save_failed = true;
            let dir = self
                .save
                .as_ref()
                .map(|s| s.location().display().to_string())
                .unwrap_or_default();
            self.save = None;
            let text =
                format!("warning: cannot write the save in {dir} ({e}); the run goes on unsaved");
            self.emit(EventKind::Log { text });
        }
    }

    fn run(&mut self, build: Builder) {
        let model = match catch_unwind(AssertUnwindSafe(build)) {
            Ok(Ok(m)) => m,
            Ok(Err(msg)) => {
                return self.finish_without_model(format!("the model could not be built: {msg}"));
            }
            Err(p) => {
                return self.finish_without_model(format!(
                    "the model crashed while being built: {}",
                    panic_message(p.as_ref())
                ));
            }
        };
        let mut model = model;
        let outcome = self.train(model.as_mut());
        let (outcome, finals) = match outcome {
            Outcome::Finished(reason) => self.final_scoring(model.as_mut(), reason),
            Outcome::Diverged(msg) => (Outcome::Diverged(msg), self.latest_as_finals()),
            Outcome::Failed(msg) => {
                // What the model can still say; a model that fails again says nothing.
                let finals = self.score_quietly(model.as_mut());
                (Outcome::Failed(msg), finals)
            }
        };
        // Weights and other files go in before the summary, which marks the save complete.
        // Diverged weights are not worth keeping: the last checkpoint stays instead.
        if !matches!(outcome, Outcome::Diverged(_)) {
            self.write_artifacts(model.as_mut(), "");
        }
        let (status, reason_str) = match &outcome {
            Outcome::Finished(r) => (status_of(*r), self.reason_with_skip(reason_text(*r))),
            Outcome::Diverged(msg) | Outcome::Failed(msg) => (RunStatus::Failed, msg.clone()),
        };
        let last = match outcome {
            Outcome::Finished(reason) => EventKind::Finished {
                reason,
                metrics: finals.clone(),
                note: self
                    .scoring_skipped
                    .then(|| "final scoring skipped".to_string()),
            },
            Outcome::Diverged(reason) | Outcome::Failed(reason) => EventKind::Failed {
                reason,
                metrics: finals.clone(),
            },
        };
        self.finish(last, status, reason_str, finals);
    }

    fn reason_with_skip(&self, reason: &str) -> String {
        if self.scoring_skipped {
            format!("{reason}; final scoring skipped")
        } else {
            reason.to_string()
        }
    }

    /// The model's final scoring, with progress events and a way to skip it. A divergence
    /// found here (the final samples are NaN) still ends the run as diverged.
    fn final_scoring(&mut self, model: &mut dyn Model, reason: FinishReason) -> (Outcome, Finals) {
        let skip = self.skip.clone();
        let mut progress: Vec<(String, u64, u64)> = Vec::new();
        let events = self.events.clone();
        let run = self.run;
        let start = self.start;
        let step = self.step;
        // Progress goes straight to the watcher (and is recorded after), so the scoring never
        // waits on the save.
        let mut report = |phase: &str, done: u64, total: u64| {
            let _ = events.send(RunEvent {
                run,
                t: start.elapsed().as_secs_f64(),
                step,
                kind: EventKind::Progress {
                    phase: phase.to_string(),
                    done,
                    total,
                },
            });
            progress.push((phase.to_string(), done, total));
        };
        let (result, skipped) = {
            let mut finish = Finish::new(&mut report, &skip);
            let r = catch_unwind(AssertUnwindSafe(|| model.summary(&mut finish)));
            (r, finish.skipped())
        };
        if let Some((phase, done, total)) = progress.last().cloned() {
            // The save keeps where the scoring got to, once.
            if let Some(save) = self.save.as_mut() {
                let _ = save.append(&RunEvent {
                    run,
                    t: start.elapsed().as_secs_f64(),
                    step,
                    kind: EventKind::Progress { phase, done, total },
                });
            }
        }
        self.scoring_skipped = skipped;
        if skipped {
            self.emit(EventKind::Log {
                text: "final scoring skipped: the summary has no final scores".into(),
            });
        }
        match result {
            Ok(Ok(finals)) => (Outcome::Finished(reason), finals),
            Ok(Err(ModelError::Diverged(what))) => (
                Outcome::Diverged(self.diverged_text(&what)),
                self.latest_as_finals(),
            ),
            Ok(Err(ModelError::Failed(msg))) => (
                Outcome::Failed(format!("the final scoring failed: {msg}")),
                self.latest_as_finals(),
            ),
            Err(p) => (
                Outcome::Failed(format!(
                    "the model crashed in its final scoring: {}",
                    panic_message(p.as_ref())
                )),
                self.latest_as_finals(),
            ),
        }
    }

    /// The summary of a run that failed for another reason than divergence, if the model can
    /// still give one quickly (no scoring: it is skipped).
    fn score_quietly(&mut self, model: &mut dyn Model) -> Finals {
        if model.nonfinite_parameter().is_some() {
            return self.latest_as_finals();
        }
        let skip = AtomicBool::new(true);
        let mut report = |_: &str, _: u64, _: u64| {};
        let mut finish = Finish::new(&mut report, &skip);
        match catch_unwind(AssertUnwindSafe(|| model.summary(&mut finish))) {
            Ok(Ok(f)) => f,
            _ => self.latest_as_finals(),
        }
    }

    fn latest_as_finals(&self) -> Finals {
        self.latest
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect()
    }

    fn diverged_text(&self, what: &str) -> String {
        diverged_at(self.step, what)
    }

    /// Writes the model's files (weights) into the save; `note` tells the log why.
    fn write_artifacts(&mut self, model: &mut dyn Model, note: &str) {
        if self.save.is_none() {
            return;
        }
        let artifacts = catch_unwind(AssertUnwindSafe(|| model.artifacts())).unwrap_or_default();
        let mut written = Vec::new();
        for (name, bytes) in artifacts {
            if let Some(save) = self.save.as_mut() {
                match save.write_file(&name, &bytes) {
                    Ok(()) => written.push(name),
                    Err(e) => self.emit(EventKind::Log {
                        text: format!("warning: cannot write {name} in the save: {e}"),
                    }),
                }
            }
        }
        if !note.is_empty() && !written.is_empty() {
            self.emit(EventKind::Log {
                text: format!(
                    "{note}: {} written at step {}",
                    written.join(", "),
                    self.step
                ),
            });
        }
    }

    /// Writes a checkpoint of the weights when `train.checkpoint_seconds` have passed.
    fn maybe_checkpoint(&mut self, model: &mut dyn Model) {
        if self.save.is_some()
            && self.last_checkpoint.elapsed().as_secs_f64() >= self.lesson.train.checkpoint_seconds
        {
            self.write_artifacts(model, "checkpoint");
            self.last_checkpoint = Instant::now();
        }
    }

    fn finish_without_model(&mut self, reason: String) {
        let last = EventKind::Failed {
            reason: reason.clone(),
            metrics: BTreeMap::new(),
        };
        self.finish(last, RunStatus::Failed, reason, BTreeMap::new());
    }

    /// Records the last event and the summary in the save, and only then tells the watcher:
    /// whoever sees the run end finds its save complete.
    fn finish(
        &mut self,
        last: EventKind,
        status: RunStatus,
        reason: String,
        metrics: BTreeMap<String, serde_json::Value>,
    ) {
        let ev = self.record(last);
        self.write_summary(status, Some(reason), metrics);
        let _ = self.events.send(ev);
    }

    fn write_summary(
        &mut self,
        status: RunStatus,
        reason: Option<String>,
        metrics: BTreeMap<String, serde_json::Value>,
    ) {
        let summary = Summary {
            lesson: self.lesson.id.clone(),
            seed: self.lesson.train.seed,
            steps: self.step,
            // The time of the final event, so the save and the live summary agree.
            seconds: self.last_t,
            status,
            reason,
            metrics,
            save: None,
        };
        if let Some(save) = self.save.as_mut()
            && let Err(e) = save.finish(&summary)
        {
            self.fail_save(e);
        }
    }

    /// Turns what a model step returned into the run's outcome, if it ends the run.
    fn check_step(
        &self,
        step: u64,
        r: Result<Result<Metrics, ModelError>, String>,
        what: &str,
    ) -> Result<Metrics, Outcome> {
        match r {
            Err(panic) => Err(Outcome::Failed(format!(
                "the model crashed{what} at step {step}: {panic}"
            ))),
            Ok(Err(ModelError::Diverged(m))) => Err(Outcome::Diverged(diverged_at(step, &m))),
            Ok(Err(ModelError::Failed(m))) => {
                Err(Outcome::Failed(format!("failed{what} at step {step}: {m}")))
            }
            Ok(Ok(m)) => match m.iter().find(|(_, v)| !v.is_finite()) {
                Some((name, value)) => Err(Outcome::Diverged(diverged_at(
                    step,
                    &format!("`{name}` is {value}"),
                ))),
                None => Ok(m),
            },
        }
    }

    fn train(&mut self, model: &mut dyn Model) -> Outcome {
        let train = self.lesson.train.clone();
        let total = train.steps;
        self.emit(EventKind::Started {
            lesson: self.lesson.id.clone(),
            seed: train.seed,
            total_steps: total,
            charts: model.charts(),
            parts: model.step_parts().to_vec(),
            knobs: model.knobs().to_vec(),
        });
        let first = self.guarded(|| {
            let mut updates = model.intro();
            updates.extend(model.snapshot()?);
            Ok::<_, ModelError>((updates, model.evaluate()?))
        });
        match first {
            Err(panic) => {
                return Outcome::Failed(format!(
                    "the model crashed before the first step: {panic}"
                ));
            }
            Ok(Err(ModelError::Diverged(m))) => return Outcome::Diverged(self.diverged_text(&m)),
            Ok(Err(ModelError::Failed(m))) => {
                return Outcome::Failed(format!("the model failed before the first step: {m}"));
            }
            Ok(Ok((updates, metrics))) => {
                self.emit_visuals(updates, false);
                self.emit(EventKind::Metrics { values: metrics });
            }
        }
        self.emit_estimate(model);
        self.flush();

        let log_every = (total / 1000).max(1);
        let evals = Cadence::new(train.eval_every, EVALS_PER_OCTAVE);
        let snapshots = Cadence::new(train.snapshot_every, SNAPSHOTS_PER_OCTAVE);
        let mut paused = false;
        let mut lr_scale = 1.0;
        let mut pace_origin = (Instant::now(), 0u64);
        loop {
            // Commands first. While paused, wait for one; while pacing, wait until the next step is due.
            let mut one_step = false;
            // The part a StepD or StepG asks to step alone (None: the whole model).
            let mut part = None;
            loop {
                let wait = if paused {
                    Some(Duration::from_millis(50))
                } else {
                    self.pace_wait(&train, pace_origin)
                };
                let received = match wait {
                    None => match self.commands.try_recv() {
                        Ok(c) => Some(c),
                        Err(TryRecvError::Empty) => None,
                        Err(TryRecvError::Disconnected) => Some(Command::Stop),
                    },
                    Some(w) => {
                        let before = Instant::now();
                        let r = self.commands.recv_timeout(w);
                        if paused {
                            self.paused_for += before.elapsed();
                        }
                        match r {
                            Ok(c) => Some(c),
                            Err(RecvTimeoutError::Timeout) => None,
                            Err(RecvTimeoutError::Disconnected) => Some(Command::Stop),
                        }
                    }
                };
                if self.cancel.load(Ordering::SeqCst) {
                    self.flush();
                    return Outcome::Finished(FinishReason::Stopped);
                }
                match received {
                    Some(c @ (Command::Stop | Command::Interrupt)) => {
                        self.emit(EventKind::Command { command: c });
                        self.flush();
                        return Outcome::Finished(if c == Command::Stop {
                            FinishReason::Stopped
                        } else {
                            FinishReason::Interrupted
                        });
                    }
                    Some(c @ Command::Pause) => {
                        paused = true;
                        self.emit(EventKind::Command { command: c });
                    }
                    Some(c @ Command::Resume) => {
                        paused = false;
                        pace_origin = (Instant::now(), self.step);
                        self.emit(EventKind::Command { command: c });
                    }
                    Some(c @ Command::Step) => {
                        if paused {
                            self.emit(EventKind::Command { command: c });
                            one_step = true;
                            break;
                        }
                    }
                    Some(c @ (Command::StepD | Command::StepG)) => {
                        let wanted = c.part().expect("a partial step names its part");
                        if !paused {
                            // Like Step: only while paused.
                        } else if model.step_parts().contains(&wanted) {
                            self.emit(EventKind::Command { command: c });
                            one_step = true;
                            part = Some(wanted);
                            break;
                        } else {
                            self.emit(EventKind::Log {
                                text: format!(
                                    "this model has no {} to step alone; n steps it whole",
                                    wanted.name()
                                ),
                            });
                        }
                    }
                    Some(c @ Command::ScaleLr { factor }) => {
                        if factor.is_finite() && factor > 0.0 {
                            lr_scale *= factor;
                            self.emit(EventKind::Command { command: c });
                            let lr = train.schedule.lr(
                                train.lr,
                                self.step.max(1),
                                total,
                                train.warmup_steps,
                            ) * lr_scale;
                            self.emit(EventKind::Log {
                                text: format!("learning rate ×{factor}: now {lr:.3e}"),
                            });
                        }
                    }
                    Some(c @ Command::Turn { knob, up }) => {
                        if model.knobs().contains(&knob) {
                            self.emit(EventKind::Command { command: c });
                            if let Ok(Some(text)) = self.guarded(|| model.turn(knob, up)) {
                                self.emit(EventKind::Log { text });
                            }
                            // Redraw now, paused or not, so the learner sees the change; a
                            // failure here shows at the next scheduled snapshot.
                            if let Ok(Ok(updates)) = self.guarded(|| model.snapshot()) {
                                self.emit_visuals(updates, false);
                            }
                        } else {
                            self.emit(EventKind::Log {
                                text: format!("this model has no {} to turn", knob.name()),
                            });
                        }
                    }
                    None => {
                        if !paused && self.pace_wait(&train, pace_origin).is_none() {
                            break;
                        }
                    }
                }
                self.flush();
            }

            if self.step >= total || model.finished() {
                return Outcome::Finished(FinishReason::AllSteps);
            }
            let active = self
                .start
                .elapsed()
                .saturating_sub(self.paused_for)
                .as_secs_f64();
            if active >= train.max_seconds {
                self.emit(EventKind::Log {
                    text: format!(
                        "time budget of {} s spent at step {}",
                        train.max_seconds, self.step
                    ),
                });
                return Outcome::Finished(FinishReason::TimeBudget);
            }

            let step = self.step + 1;
            let lr = train.schedule.lr(train.lr, step, total, train.warmup_steps) * lr_scale;
            let r = self.guarded(|| match part {
                Some(p) => model.train_part(p, step, lr),
                None => model.train_step(step, lr),
            });
            let metrics = match self.check_step(step, r, "") {
                Ok(m) => m,
                Err(Outcome::Diverged(msg)) => {
                    self.step = step;
                    return Outcome::Diverged(format!("{msg}; the learning rate was {lr:.3e}"));
                }
                Err(o) => return o,
            };
            self.step = step;
            if let Some(name) = model.nonfinite_parameter() {
                return Outcome::Diverged(format!(
                    "{}; the learning rate was {lr:.3e}",
                    self.diverged_text(&format!("the parameter `{name}` is not finite"))
                ));
            }
            let last = step == total || model.finished();
            if step.is_multiple_of(log_every) || last || one_step {
                let mut values = metrics;
                values.insert("lr".into(), lr);
                self.emit(EventKind::Metrics { values });
            }
            if evals.due(step) || last || one_step {
                let r = self.guarded(|| model.evaluate());
                match self.check_step(step, r, " while evaluating") {
                    Ok(values) => self.emit(EventKind::Metrics { values }),
                    Err(o) => return o,
                }
            }
            if snapshots.due(step) || last || one_step {
                let r = self.guarded(|| model.snapshot());
                match r {
                    Err(panic) => {
                        return Outcome::Failed(format!(
                            "the model crashed while drawing at step {step}: {panic}"
                        ));
                    }
                    Ok(Err(ModelError::Diverged(m))) => {
                        return Outcome::Diverged(self.diverged_text(&m));
                    }
                    Ok(Err(ModelError::Failed(m))) => {
                        return Outcome::Failed(format!(
                            "failed while drawing at step {step}: {m}"
                        ));
                    }
                    Ok(Ok(updates)) => self.emit_visuals(updates, last),
                }
                self.emit_estimate(model);
            }
            self.maybe_checkpoint(model);
            self.flush();
        }
    }

    /// Tells the watcher how long the final scoring will take, as the model now reckons.
    fn emit_estimate(&mut self, model: &dyn Model) {
        if let Some(s) = model
            .finish_estimate()
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            let _ = self.events.send(RunEvent {
                run: self.run,
                t: self.start.elapsed().as_secs_f64(),
                step: self.step,
                kind: EventKind::Estimate { finish_seconds: s },
            });
        }
    }

    /// How long to wait before the next step to keep the lesson's pace; `None` = go now.
    fn pace_wait(
        &self,
        train: &crate::lessons::TrainSpec,
        origin: (Instant, u64),
    ) -> Option<Duration> {
        if !self.paced || train.pace <= 0.0 {
            return None;
        }
        let due = origin.0 + Duration::from_secs_f64((self.step - origin.1) as f64 / train.pace);
        let now = Instant::now();
        (due > now).then(|| (due - now).min(Duration::from_millis(50)))
    }

    /// Runs model code, turning a panic into its message.
    fn guarded<T>(&self, f: impl FnOnce() -> T) -> Result<T, String> {
        catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
    }
}

/// "diverged at step N: what (how to fix it)".
fn diverged_at(step: u64, what: &str) -> String {
    format!(
        "diverged at step {step}: {what} (lower train.lr, or check the data for extreme values)"
    )
}
