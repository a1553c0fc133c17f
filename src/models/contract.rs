//! What a model promises the trainer loop: the `Model` trait, the two ways a model can fail
//! (it diverged, or something else went wrong), and the context of the final scoring, which
//! reports its progress and can be cancelled.
//!
//! A model never decides how a run ends; it says what happened and the trainer ends the run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::visual::PanelUpdate;

/// Named numbers measured at one moment.
pub type Metrics = BTreeMap<String, f64>;

/// The final numbers of a run, as its summary records them.
pub type Finals = BTreeMap<String, serde_json::Value>;

/// Why a model could not go on.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelError {
    /// A number that should be finite is not (a loss, a parameter, a sample): the run
    /// diverged. The text says which number.
    Diverged(String),
    /// Anything else; the text says what.
    Failed(String),
}

impl ModelError {
    pub fn diverged(what: impl Into<String>) -> ModelError {
        ModelError::Diverged(what.into())
    }

    pub fn message(&self) -> &str {
        match self {
            ModelError::Diverged(m) | ModelError::Failed(m) => m,
        }
    }
}

impl From<String> for ModelError {
    fn from(m: String) -> Self {
        ModelError::Failed(m)
    }
}

impl From<&str> for ModelError {
    fn from(m: &str) -> Self {
        ModelError::Failed(m.to_string())
    }
}

/// `Err(Diverged)` naming `what` and the first non-finite value, unless every value is finite.
pub fn check_finite(what: &str, values: &[f32]) -> Result<(), ModelError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(ModelError::diverged(format!(
            "{what} are not finite (value {i} of {} is {})",
            values.len(),
            values[i]
        ))),
    }
}

/// `value` as a summary number, or `Err(Diverged)` naming it when it is not finite (JSON would
/// silently turn it into `null`).
pub fn finite(name: &str, value: f64) -> Result<serde_json::Value, ModelError> {
    if value.is_finite() {
        Ok(serde_json::json!(value))
    } else {
        Err(ModelError::diverged(format!(
            "the final `{name}` is {value}"
        )))
    }
}

/// The final scoring's side of the trainer: where progress goes, and whether the learner asked
/// to skip the rest.
pub struct Finish<'a> {
    report: &'a mut dyn FnMut(&str, u64, u64),
    cancel: &'a AtomicBool,
    skipped: bool,
}

impl<'a> Finish<'a> {
    pub fn new(report: &'a mut dyn FnMut(&str, u64, u64), cancel: &'a AtomicBool) -> Finish<'a> {
        Finish {
            report,
            cancel,
            skipped: false,
        }
    }

    /// `done` of `total` units of the phase `what` ("scoring 500 samples") are done.
    pub fn progress(&mut self, what: &str, done: u64, total: u64) {
        (self.report)(what, done, total);
    }

    /// True once the learner asked to skip the rest of the scoring; the model should return
    /// what it has, without the scores it did not finish. Asking marks the summary as cut short.
    pub fn cancelled(&mut self) -> bool {
        let c = self.cancel.load(Ordering::SeqCst);
        self.skipped |= c;
        c
    }

    /// Whether a cancellation was asked for, without marking anything (for inner loops that
    /// only need to stop early; the model must still call [`cancelled`](Self::cancelled)).
    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Whether the model saw a cancellation and left something out.
    pub fn skipped(&self) -> bool {
        self.skipped
    }
}

/// The model's summary with nobody watching: no progress shown, no way to cancel.
pub fn summarize<M: Model + ?Sized>(model: &mut M) -> Result<Finals, ModelError> {
    let cancel = AtomicBool::new(false);
    let mut report = |_: &str, _: u64, _: u64| {};
    model.summary(&mut Finish::new(&mut report, &cancel))
}

/// A model that draws digits, as `generators-compared` sees each family it trains: fresh
/// samples, the likelihood the family defines (if any), and its size.
pub trait Generator {
    /// `n` fresh digits, n × 784 values in [0, 1], from the weights as they are now.
    fn draw(&mut self, n: usize, seed: u64) -> Result<Vec<f32>, ModelError>;

    /// The held-out likelihood this family defines, as (what it is, value, unit), e.g.
    /// ("test −ELBO (bound)", 101.3, "nats/image") or ("test NLL (exact)", 1.9, "bits/dim");
    /// `None` for families without one (GAN, and DDPM unless it computes its bound).
    fn likelihood(&mut self) -> Option<Result<(String, f64, String), ModelError>> {
        None
    }

    /// Trainable parameters.
    fn parameter_count(&self) -> usize;
}

/// A part of a model that can take an optimisation step on its own while the run is paused
/// (a GAN's two players), so that the learner sees one move while the other stands still.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPart {
    Discriminator,
    Generator,
}

impl StepPart {
    pub fn name(self) -> &'static str {
        match self {
            StepPart::Discriminator => "discriminator",
            StepPart::Generator => "generator",
        }
    }
}

/// A setting of how a model generates that the learner may turn while it trains (the
/// next-token lesson's sampler); turning one changes what is drawn, never the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    /// The sampling temperature.
    Temperature,
    /// How many of the likeliest tokens the sampler keeps.
    TopK,
}

impl Knob {
    pub fn name(self) -> &'static str {
        match self {
            Knob::Temperature => "temperature",
            Knob::TopK => "top-k",
        }
    }
}

/// A trainable model, as the trainer loop sees it.
pub trait Model: Send {
    /// The model as a digit generator, for families that are one (`generators-compared`
    /// trains them side by side through this).
    fn generator(&mut self) -> Option<&mut dyn Generator> {
        None
    }

    /// Metric names the loss chart draws (the first is the training loss).
    fn charts(&self) -> Vec<String>;

    /// Panels to draw before the first step, such as a loss surface that never changes.
    fn intro(&mut self) -> Vec<PanelUpdate> {
        Vec::new()
    }

    /// True once the model has done all its work before the step count is reached (a model
    /// that ends on its own schedule, like `generators-compared` after its last family); the
    /// trainer then ends the run as if all steps were done.
    fn finished(&self) -> bool {
        false
    }

    /// One optimisation step at learning rate `lr`; returns at least `loss`. The trainer ends
    /// the run as diverged if a returned number is not finite.
    fn train_step(&mut self, step: u64, lr: f64) -> Result<Metrics, ModelError>;

    /// The parts that can take a step alone ([`train_part`](Self::train_part)); none unless
    /// the model says so. The trainer refuses a command to step any other part.
    fn step_parts(&self) -> &'static [StepPart] {
        &[]
    }

    /// One optimisation step of `part` alone, the rest of the model unchanged; it counts as a
    /// step like [`train_step`](Self::train_step). Only called for a part that
    /// [`step_parts`](Self::step_parts) names.
    fn train_part(&mut self, part: StepPart, step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let _ = (step, lr);
        Err(ModelError::Failed(format!(
            "this model cannot step its {} alone",
            part.name()
        )))
    }

    /// The knobs the learner may turn during the run ([`turn`](Self::turn)); none unless the
    /// model says so.
    fn knobs(&self) -> &'static [Knob] {
        &[]
    }

    /// Turns `knob` up or down one notch; returns the new setting as the log should say it.
    /// Only called for a knob that [`knobs`](Self::knobs) names.
    fn turn(&mut self, knob: Knob, up: bool) -> Option<String> {
        let _ = (knob, up);
        None
    }

    /// The first parameter whose value is not finite, by name, if any. Checked after every step.
    fn nonfinite_parameter(&self) -> Option<String> {
        None
    }

    /// Metrics on held-out data (and anything too costly to measure every step).
    fn evaluate(&mut self) -> Result<Metrics, ModelError>;

    /// Panels as they are now.
    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError>;

    /// Seconds the final scoring in [`summary`](Self::summary) will take, as far as the model
    /// can tell from its own timings so far (for the ETA).
    fn finish_estimate(&self) -> Option<f64> {
        None
    }

    /// The final numbers for the run's summary. Long work reports through `finish` and stops
    /// early when it is cancelled.
    fn summary(&mut self, finish: &mut Finish) -> Result<Finals, ModelError>;

    /// Files the save keeps besides the events, such as trained weights
    /// (`("weights.safetensors", bytes)`); written at checkpoints and when the run ends.
    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_among_samples_is_a_divergence_that_names_it() {
        assert_eq!(check_finite("the samples", &[0.0, 1.0]), Ok(()));
        let e = check_finite("the samples", &[0.0, f32::NAN]).unwrap_err();
        assert!(
            matches!(&e, ModelError::Diverged(m) if m.contains("value 1 of 2 is NaN")),
            "{e:?}"
        );
        assert!(finite("mmd", f64::INFINITY).is_err());
    }

    #[test]
    fn asking_whether_to_stop_after_a_cancel_marks_the_summary_short() {
        let cancel = AtomicBool::new(false);
        let mut seen = Vec::new();
        let mut report = |w: &str, d: u64, t: u64| seen.push((w.to_string(), d, t));
        {
            let mut f = Finish::new(&mut report, &cancel);
            f.progress("scoring", 1, 2);
            assert!(!f.cancelled() && !f.skipped());
            cancel.store(true, Ordering::SeqCst);
            assert!(f.cancel_requested() && !f.skipped(), "asking does not mark");
            assert!(f.cancelled() && f.skipped());
        }
        assert_eq!(seen, vec![("scoring".to_string(), 1, 2)]);
    }
}
