//! The trainer thread: one generic loop that drives any `Model`.
//!
//! Commands come in on one channel (pause, resume, one step, stop, scale the learning rate);
//! events go out on another and, when the run is saved, into the save as well. The channel out
//! is unbounded and the loop never waits on it, so training never waits for drawing. Between
//! steps the loop checks for commands and for cancellation. A model that panics, returns an
//! error, or produces a loss that is not finite ends the run with a `Failed` event naming the
//! step; the save keeps everything up to that point.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::event::{Command, EventKind, FinishReason, RunEvent, RunId};
use super::summary::{RunStatus, Summary, reason_text};
use crate::lessons::Lesson;
use crate::models::{BuildEnv, Metrics, Model};
use crate::saves::SaveWriter;

/// Builds the model on the trainer thread (data generation can take a while).
pub type Builder = Box<dyn FnOnce() -> Result<Box<dyn Model>, String> + Send>;

/// What to run.
pub struct RunConfig {
    pub run: RunId,
    pub lesson: Lesson,
    /// Honour the lesson's `train.pace` (the TUI does; headless runs do not).
    pub paced: bool,
    /// Where to save, or `None` for an unsaved run.
    pub save: Option<SaveWriter>,
}

/// The watcher's side of a running trainer.
pub struct TrainerHandle {
    pub run: RunId,
    commands: Sender<Command>,
    events: Receiver<RunEvent>,
    cancel: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

impl TrainerHandle {
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

    /// Asks the trainer to stop and waits for the thread to end.
    pub fn stop_and_join(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
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
    // Caches (the digit judge) live beside the saves: saves/.cache/.
    let env = match config
        .save
        .as_ref()
        .and_then(|s| s.dir().parent()?.parent().map(|p| p.to_path_buf()))
    {
        Some(saves_root) => BuildEnv { saves_root },
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
    let run = config.run;
    let flag = cancel.clone();
    let join = std::thread::Builder::new()
        .name(format!("mllab-trainer-{run}"))
        .spawn(move || {
            let mut t = Trainer::new(config, ev_tx, cmd_rx, flag);
            t.run(build);
        })
        .ok();
    TrainerHandle {
        run,
        commands: cmd_tx,
        events: ev_rx,
        cancel,
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
    save: Option<SaveWriter>,
    save_failed: bool,
    events: Sender<RunEvent>,
    commands: Receiver<Command>,
    cancel: Arc<AtomicBool>,
    start: Instant,
    /// Time spent paused, which the time budget does not count.
    paused_for: Duration,
    step: u64,
    /// Time of the latest event, in seconds since the start.
    last_t: f64,
}

enum Outcome {
    Finished(FinishReason),
    Failed(String),
}

impl Trainer {
    fn new(
        config: RunConfig,
        events: Sender<RunEvent>,
        commands: Receiver<Command>,
        cancel: Arc<AtomicBool>,
    ) -> Trainer {
        Trainer {
            run: config.run,
            lesson: config.lesson,
            paced: config.paced,
            save: config.save,
            save_failed: false,
            events,
            commands,
            cancel,
            start: Instant::now(),
            paused_for: Duration::ZERO,
            step: 0,
            last_t: 0.0,
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
        if let Some(save) = self.save.as_mut()
            && let Err(e) = save.append(&ev)
        {
            self.fail_save(e);
        }
        ev
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
                .map(|s| s.dir().display().to_string())
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
        let summary_metrics =
            catch_unwind(AssertUnwindSafe(|| model.summary())).unwrap_or_default();
        // Weights and other files go in before the summary, which marks the save complete.
        let artifacts = catch_unwind(AssertUnwindSafe(|| model.artifacts())).unwrap_or_default();
        for (name, bytes) in artifacts {
            if let Some(save) = self.save.as_mut()
                && let Err(e) = save.write_file(&name, &bytes)
            {
                self.emit(EventKind::Log {
                    text: format!("warning: cannot write {name} in the save: {e}"),
                });
            }
        }
        let (status, reason_str) = match &outcome {
            Outcome::Finished(r) => (
                if *r == FinishReason::Stopped {
                    RunStatus::Stopped
                } else {
                    RunStatus::Finished
                },
                reason_text(*r).to_string(),
            ),
            Outcome::Failed(msg) => (RunStatus::Failed, msg.clone()),
        };
        let last = match outcome {
            Outcome::Finished(reason) => EventKind::Finished {
                reason,
                metrics: summary_metrics.clone(),
            },
            Outcome::Failed(reason) => EventKind::Failed {
                reason,
                metrics: summary_metrics.clone(),
            },
        };
        self.finish(last, status, reason_str, summary_metrics);
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

    fn train(&mut self, model: &mut dyn Model) -> Outcome {
        let train = self.lesson.train.clone();
        let total = train.steps;
        self.emit(EventKind::Started {
            lesson: self.lesson.id.clone(),
            seed: train.seed,
            total_steps: total,
            charts: model.charts(),
        });
        if let Err(msg) = self
            .guarded(|| {
                let mut updates = model.intro();
                updates.extend(model.snapshot());
                (updates, model.evaluate())
            })
            .map(|(updates, metrics)| {
                for u in updates {
                    self.emit(EventKind::Visual(u));
                }
                self.emit(EventKind::Metrics { values: metrics });
            })
        {
            return Outcome::Failed(format!("the model crashed before the first step: {msg}"));
        }
        self.flush();

        let log_every = (total / 1000).max(1);
        let mut paused = false;
        let mut lr_scale = 1.0;
        let mut pace_origin = (Instant::now(), 0u64);
        loop {
            // Commands first. While paused, wait for one; while pacing, wait until the next step is due.
            let mut one_step = false;
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
                    Some(Command::Stop) => {
                        self.emit(EventKind::Command {
                            command: Command::Stop,
                        });
                        self.flush();
                        return Outcome::Finished(FinishReason::Stopped);
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
                    None => {
                        if !paused && self.pace_wait(&train, pace_origin).is_none() {
                            break;
                        }
                    }
                }
                self.flush();
            }

            if self.step >= total {
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
            let metrics = match self.guarded(|| model.train_step(step, lr)) {
                Err(panic) => {
                    return Outcome::Failed(format!("the model crashed at step {step}: {panic}"));
                }
                Ok(Err(msg)) => return Outcome::Failed(format!("failed at step {step}: {msg}")),
                Ok(Ok(m)) => m,
            };
            self.step = step;
            if let Some((name, value)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
                self.emit(EventKind::Metrics {
                    values: finite_only(&metrics),
                });
                return Outcome::Failed(format!(
                    "diverged at step {step}: {name} = {value} (the learning rate {lr:.3e} is too large for this model; lower train.lr)"
                ));
            }
            let last = step == total;
            if step.is_multiple_of(log_every) || last || one_step {
                let mut values = metrics;
                values.insert("lr".into(), lr);
                self.emit(EventKind::Metrics { values });
            }
            if step.is_multiple_of(train.eval_every) || last || one_step {
                match self.guarded(|| model.evaluate()) {
                    Ok(values) => self.emit(EventKind::Metrics {
                        values: finite_only(&values),
                    }),
                    Err(panic) => {
                        return Outcome::Failed(format!(
                            "the model crashed while evaluating at step {step}: {panic}"
                        ));
                    }
                }
            }
            if step.is_multiple_of(train.snapshot_every) || last || one_step {
                match self.guarded(|| model.snapshot()) {
                    Ok(updates) => {
                        for u in updates {
                            self.emit(EventKind::Visual(u));
                        }
                    }
                    Err(panic) => {
                        return Outcome::Failed(format!(
                            "the model crashed while drawing at step {step}: {panic}"
                        ));
                    }
                }
            }
            self.flush();
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

fn finite_only(m: &Metrics) -> Metrics {
    m.iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}
