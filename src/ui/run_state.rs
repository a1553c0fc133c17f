//! What the run view knows about one run, folded from its events.
//!
//! Live runs and replays feed the same `apply`, so a replay looks exactly like the live run.
//! Events of another run (a stale trainer) are ignored.

use std::collections::{BTreeMap, VecDeque};

use crate::lessons::{I18nText, Lesson};
use crate::run::{Command, EventKind, FinishReason, RunEvent, RunId};
use crate::ui::keymap::Ability;
use crate::visual::Visual;

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Building the model.
    Starting,
    Running,
    Paused,
    /// Past the last step: the final scoring (`done` of `total`, once it reports).
    Finishing {
        phase: String,
        done: u64,
        total: u64,
    },
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
    /// Parts of the model that can be stepped alone while paused (their keys apply).
    /// What this run can do beyond every run (step a part alone, turn a knob).
    pub abilities: Vec<Ability>,
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
    /// The lesson's time budget, in seconds of training (pauses do not count).
    pub max_seconds: f64,
    /// Seconds spent paused so far, and when the current pause began.
    paused_for: f64,
    paused_at: Option<f64>,
    /// Seconds the final scoring will take, as the model last reckoned.
    pub finish_estimate: Option<f64>,
    /// When the final scoring reported first, and how far it was then.
    finishing_mark: Option<(f64, u64)>,
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
            abilities: Vec::new(),
            series: BTreeMap::new(),
            latest: BTreeMap::new(),
            visuals: BTreeMap::new(),
            log: VecDeque::new(),
            rate: 0.0,
            rate_mark: (0.0, 0),
            lr_scale: 1.0,
            save_dir: None,
            max_seconds: lesson.train.max_seconds,
            paused_for: 0.0,
            paused_at: None,
            finish_estimate: None,
            finishing_mark: None,
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
                parts,
                knobs,
                ..
            } => {
                self.seed = *seed;
                self.total_steps = *total_steps;
                self.charts = charts.clone();
                self.abilities = Ability::of(parts, knobs);
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
                Command::Pause => {
                    self.status = Status::Paused;
                    self.paused_at = Some(ev.t);
                }
                Command::Resume => {
                    self.status = Status::Running;
                    if let Some(at) = self.paused_at.take() {
                        self.paused_for += (ev.t - at).max(0.0);
                    }
                }
                Command::Stop | Command::Interrupt => {
                    self.push_log(
                        if *command == Command::Stop {
                            "stop requested"
                        } else {
                            "interrupted"
                        }
                        .into(),
                    );
                    self.status = Status::Finishing {
                        phase: "finishing".into(),
                        done: 0,
                        total: 0,
                    };
                }
                Command::Step => {}
                Command::StepD | Command::StepG => {
                    if let Some(part) = command.part() {
                        self.push_log(format!("step {}: the {} alone", ev.step + 1, part.name()));
                    }
                }
                Command::ScaleLr { factor } => self.lr_scale *= factor,
                // The trainer logs the new setting itself.
                Command::Turn { .. } => {}
            },
            EventKind::Progress { phase, done, total } => {
                if *done == 0 || self.finishing_mark.is_none() {
                    self.finishing_mark = Some((ev.t, *done));
                }
                self.status = Status::Finishing {
                    phase: phase.clone(),
                    done: *done,
                    total: *total,
                };
            }
            EventKind::Estimate { finish_seconds } => self.finish_estimate = Some(*finish_seconds),
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

    /// Seconds left, when they can be told: the steps left at the current rate or the time
    /// budget left, whichever ends training first, plus the final scoring.
    pub fn eta(&self) -> Option<f64> {
        let finish = self.finish_estimate.unwrap_or(0.0);
        match &self.status {
            Status::Running if self.rate > 0.0 => {
                let steps_left = self.total_steps.saturating_sub(self.step) as f64 / self.rate;
                let budget_left = (self.max_seconds - (self.t - self.paused_for)).max(0.0);
                Some(steps_left.min(budget_left) + finish)
            }
            Status::Finishing { done, total, .. } if *total > 0 && *done > 0 => {
                // The scoring's own pace so far.
                let per = self.finishing_rate()?;
                Some((total - done) as f64 * per)
            }
            Status::Finishing { .. } => self.finish_estimate,
            _ => None,
        }
    }

    /// Seconds per unit of the final scoring, from when it began to the latest progress.
    fn finishing_rate(&self) -> Option<f64> {
        let (t0, d0) = self.finishing_mark?;
        let Status::Finishing { done, .. } = &self.status else {
            return None;
        };
        (*done > d0).then(|| (self.t - t0) / (*done - d0) as f64)
    }

    /// The newest log line.
    pub fn last_log(&self) -> Option<&str> {
        self.log.back().map(String::as_str)
    }
}
