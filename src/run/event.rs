//! Messages between the trainer thread and everything that watches a run.
//!
//! `RunEvent`s flow out of the trainer (to the UI, the save writer, the headless printer);
//! `Command`s flow in. Every event carries the id of the run it belongs to, so a view drops
//! events from a run it no longer shows, and the seconds since the run started, so a replay
//! can keep the original rhythm.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::models::{Knob, StepPart};
use crate::visual::PanelUpdate;

/// Identifies one run within this process.
pub type RunId = u64;

/// Something that happened in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub run: RunId,
    /// Seconds since the run started.
    pub t: f64,
    /// The last completed optimisation step (0 before the first).
    pub step: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The model is built and training begins.
    Started {
        lesson: String,
        seed: u64,
        total_steps: u64,
        /// Metric names drawn on the loss chart.
        charts: Vec<String>,
        /// Parts of the model that can be stepped alone while paused (`StepD`, `StepG`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<StepPart>,
        /// Knobs the learner may turn during the run (`Turn`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        knobs: Vec<Knob>,
    },
    /// Numbers measured at `step`.
    Metrics {
        #[serde(with = "crate::visual::num")]
        values: BTreeMap<String, f64>,
    },
    /// New content for a panel.
    Visual(PanelUpdate),
    /// A line for the log.
    Log { text: String },
    /// A command the trainer obeyed (recorded so a replay shows it).
    Command { command: Command },
    /// Progress of the work after the last step (the final scoring): `done` of `total`.
    Progress {
        phase: String,
        done: u64,
        total: u64,
    },
    /// How long the final scoring is expected to take, from the model's own timings.
    Estimate {
        #[serde(with = "crate::visual::num")]
        finish_seconds: f64,
    },
    /// The run ended normally (all steps, the time budget, or a stop).
    Finished {
        reason: FinishReason,
        metrics: BTreeMap<String, serde_json::Value>,
        /// What the summary lacks, if anything ("final scoring skipped").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The run could not go on: the loss diverged, or the model failed.
    Failed {
        reason: String,
        metrics: BTreeMap<String, serde_json::Value>,
    },
}

/// Why a run finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    AllSteps,
    TimeBudget,
    Stopped,
    /// Ctrl-C on a headless run: the results so far are kept.
    Interrupted,
}

impl Command {
    /// The part a command steps alone, if it is one of the partial steps.
    pub fn part(self) -> Option<StepPart> {
        match self {
            Command::StepD => Some(StepPart::Discriminator),
            Command::StepG => Some(StepPart::Generator),
            _ => None,
        }
    }
}

/// What the watcher asks of the trainer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Pause,
    Resume,
    /// One step while paused (for a GAN: both players, as in training).
    Step,
    /// One step of the discriminator alone while paused, the generator unchanged.
    StepD,
    /// One step of the generator alone while paused, the discriminator unchanged.
    StepG,
    Stop,
    /// Ctrl-C: stop like `Stop`, recorded as an interruption.
    Interrupt,
    /// Multiply the learning rate by this factor from now on.
    ScaleLr {
        #[serde(with = "crate::visual::num")]
        factor: f64,
    },
    /// Turn one of the model's knobs (the sampler's temperature or top-k) a notch up or down.
    Turn {
        knob: Knob,
        up: bool,
    },
}
