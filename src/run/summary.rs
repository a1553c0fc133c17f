//! The one-line result of a run: what `--headless` prints and what `summary.json` holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::{EventKind, FinishReason, RunEvent};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// All steps done, or the time budget spent.
    Finished,
    /// Stopped by the learner.
    Stopped,
    /// Diverged or crashed.
    Failed,
    /// Interrupted by Ctrl-C (results so far kept), or the save ends without a finish (the
    /// process was killed): a replay shows what there is.
    Interrupted,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub lesson: String,
    pub seed: u64,
    pub steps: u64,
    pub seconds: f64,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub metrics: BTreeMap<String, serde_json::Value>,
    pub save: Option<String>,
}

impl Summary {
    /// The single JSON line printed by headless runs.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// Folds a run's events, one at a time, into its summary, so that a run of any length is
/// summarised in constant memory.
#[derive(Default)]
pub struct SummaryBuilder {
    summary: Option<Summary>,
    /// The last number of every metric the run reported.
    last_metrics: BTreeMap<String, serde_json::Value>,
    /// The model's final numbers, when the run ended.
    final_metrics: Option<BTreeMap<String, serde_json::Value>>,
}

impl SummaryBuilder {
    pub fn see(&mut self, ev: &RunEvent) {
        match &ev.kind {
            EventKind::Started { lesson, seed, .. } => {
                self.summary = Some(Summary {
                    lesson: lesson.clone(),
                    seed: *seed,
                    steps: 0,
                    seconds: 0.0,
                    status: RunStatus::Interrupted,
                    reason: None,
                    metrics: BTreeMap::new(),
                    save: None,
                });
            }
            EventKind::Metrics { values } => {
                for (k, v) in values {
                    self.last_metrics.insert(k.clone(), serde_json::json!(v));
                }
            }
            EventKind::Finished {
                reason,
                metrics,
                note,
            } => {
                if let Some(s) = self.summary.as_mut() {
                    s.status = status_of(*reason);
                    s.reason = Some(match note {
                        Some(n) => format!("{}; {n}", reason_text(*reason)),
                        None => reason_text(*reason).to_string(),
                    });
                    self.final_metrics = Some(metrics.clone());
                }
            }
            EventKind::Failed { reason, metrics } => {
                if let Some(s) = self.summary.as_mut() {
                    s.status = RunStatus::Failed;
                    s.reason = Some(reason.clone());
                    self.final_metrics = Some(metrics.clone());
                }
            }
            _ => {}
        }
        if let Some(s) = self.summary.as_mut() {
            s.steps = ev.step;
            s.seconds = ev.t;
        }
    }

    /// The summary so far (`None` before the run started).
    pub fn build(self) -> Option<Summary> {
        let mut s = self.summary?;
        s.metrics = match self.final_metrics {
            Some(m) if !m.is_empty() => m,
            _ => self.last_metrics,
        };
        Some(s)
    }
}

/// Words for a finish reason.
pub fn reason_text(r: FinishReason) -> &'static str {
    match r {
        FinishReason::AllSteps => "all steps done",
        FinishReason::TimeBudget => "time budget spent",
        FinishReason::Stopped => "stopped",
        FinishReason::Interrupted => "interrupted (Ctrl-C)",
    }
}

/// The status of a run that ended without failing.
pub fn status_of(reason: FinishReason) -> RunStatus {
    match reason {
        FinishReason::AllSteps | FinishReason::TimeBudget => RunStatus::Finished,
        FinishReason::Stopped => RunStatus::Stopped,
        FinishReason::Interrupted => RunStatus::Interrupted,
    }
}
