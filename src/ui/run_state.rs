//! What the run view knows about one run, folded from its events.
//!
//! Live runs and replays feed the same `apply`, so a replay looks exactly like the live run.
//! Events of another run (a stale trainer) are ignored.

use std::collections::{BTreeMap, VecDeque};

use crate::lessons::{I18nText, Lesson};
use crate::run::visual::Visual;
use crate::run::{Command, EventKind, FinishReason, RunEvent, RunId};

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Building the model.
    Starting,
    Running,
    Paused,
    Finished(FinishReason),
    Failed(String),
}

impl Status {
    pub fn is_over(&self) -> bool {
        matches!(self, Status::Finished(_) | Status::Failed(_))
    }
}

/// Log lines kept for the view.
const LOG_LINES: usize = 50;

/// One run as the screen shows it.
#[derive(Clone, Debug)]
pub struct RunState {
    pub run: RunId,
    pub lesson_id: String,
    pub title: I18nText,
    /// Panels to show, in order (`loss` is the chart).
    pub panels: Vec<String>,
    pub seed: u64,
    pub total_steps: u64,
    pub step: u64,
    /// Seconds since the run started, as of the latest event.
    pub t: f64,
    pub status: Status,
    /// Metric names on the loss chart.
    pub charts: Vec<String>,
    /// Every metric over steps: name → (step, value).
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
    /// Latest value of every metric.
    pub latest: BTreeMap<String, f64>,
    /// Panel → its parts, in arrival order.
    pub visuals: BTreeMap<String, Vec<(String, Visual)>>,
    pub log: VecDeque<String>,
    /// Steps per second, smoothed.
    pub rate: f64,
    rate_mark: (f64, u64),
    /// Product of the learning-rate factors the learner applied.
    pub lr_scale: f64,
    /// Where the run is saved, if it is.
    pub save_dir: Option<String>,
}

impl RunState {
    pub fn new(run: RunId, lesson: &Lesson) -> RunState {
        RunState {
            run,
            lesson_id: lesson.id.clone(),
            title: lesson.title.clone(),
            panels: lesson.view.panels.clone(),
            seed: lesson.train.seed,
            total_steps: lesson.train.steps,
            step: 0,
            t: 0.0,
            status: Status::Starting,
            charts: Vec::new(),
            series: BTreeMap::new(),
            latest: BTreeMap::new(),
            visuals: BTreeMap::new(),
            log: VecDeque::new(),
            rate: 0.0,
            rate_mark: (0.0, 0),
            lr_scale: 1.0,
            save_dir: None,
        }
    }

    /// Folds one event in; returns false for an event of another run.
    pub fn apply(&mut self, ev: &RunEvent) -> bool {
        if ev.run != self.run {
            return false;
        }
        self.step = ev.step;
        self.t = ev.t;
        self.update_rate();
        match &ev.kind {
            EventKind::Started {
                seed,
                total_steps,
                charts,
                ..
            } => {
                self.seed = *seed;
                self.total_steps = *total_steps;
                self.charts = charts.clone();
                if self.status == Status::Starting {
                    self.status = Status::Running;
                }
            }
            EventKind::Metrics { values } => {
                for (k, v) in values {
                    self.series
                        .entry(k.clone())
                        .or_default()
                        .push((ev.step as f64, *v));
                    self.latest.insert(k.clone(), *v);
                }
            }
            EventKind::Visual(update) => {
                let parts = self.visuals.entry(update.panel.clone()).or_default();
                match parts.iter_mut().find(|(p, _)| *p == update.part) {
                    Some(slot) => slot.1 = update.visual.clone(),
                    None => parts.push((update.part.clone(), update.visual.clone())),
                }
            }
            EventKind::Log { text } => self.push_log(text.clone()),
            EventKind::Command { command } => match command {
                Command::Pause => self.status = Status::Paused,
                Command::Resume => self.status = Status::Running,
                Command::Stop => self.push_log("stop requested".into()),
                Command::Step => {}
                Command::ScaleLr { factor } => self.lr_scale *= factor,
            },
            EventKind::Finished { reason, .. } => {
                self.status = Status::Finished(*reason);
                self.push_log(format!(
                    "finished: {}",
                    crate::run::summary::reason_text(*reason)
                ));
            }
            EventKind::Failed { reason, .. } => {
                self.status = Status::Failed(reason.clone());
                self.push_log(format!("failed: {reason}"));
            }
        }
        true
    }

    fn push_log(&mut self, line: String) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    fn update_rate(&mut self) {
        let (t0, s0) = self.rate_mark;
        let dt = self.t - t0;
        if dt >= 0.25 {
            let inst = (self.step.saturating_sub(s0)) as f64 / dt;
            self.rate = if self.rate == 0.0 {
                inst
            } else {
                0.5 * self.rate + 0.5 * inst
            };
            self.rate_mark = (self.t, self.step);
        } else if self.step < s0 {
            self.rate_mark = (self.t, self.step);
        }
    }

    /// Seconds left at the current rate, when it can be told.
    pub fn eta(&self) -> Option<f64> {
        (self.rate > 0.0 && !self.status.is_over() && self.status != Status::Paused)
            .then(|| self.total_steps.saturating_sub(self.step) as f64 / self.rate)
    }

    /// The newest log line.
    pub fn last_log(&self) -> Option<&str> {
        self.log.back().map(String::as_str)
    }
}
