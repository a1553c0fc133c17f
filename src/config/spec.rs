//! The validated parts of a lesson shared by every model: texts, training and view settings.
//!
//! A `*File` struct mirrors what may be written (every key optional where a default exists,
//! unknown keys rejected); `check` turns it into the matching `*Spec` with every default filled
//! and every range verified. The defaults and ranges here are the ones README.md documents.

use serde::{Deserialize, Serialize};

use super::parse::Ctx;

/// A text in English and Chinese.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct I18nText {
    pub en: String,
    pub zh: String,
}

impl I18nText {
    pub fn get(&self, lang: crate::i18n::Lang) -> &str {
        lang.pick(&self.en, &self.zh)
    }
}

/// How parameters are updated from gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Plain (stochastic) gradient descent: θ ← θ − η·g. With the whole data set in one batch
    /// this is the lecture's gradient descent.
    Sgd,
    /// Gradient descent with momentum 0.9.
    Momentum,
    /// Adagrad: each parameter's step is divided by the root of its summed squared gradients.
    Adagrad,
    /// Adam (β₁ = 0.9, β₂ = 0.999).
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
}

impl Optimizer {
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Momentum => "momentum",
            Optimizer::Adagrad => "adagrad",
            Optimizer::Adam => "adam",
            Optimizer::Adamw => "adamw",
        }
    }
}

/// How the learning rate changes over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate at every step (after the warm-up).
    #[default]
    Constant,
    /// Half a cosine from the rate down to zero at the last step.
    Cosine,
    /// A straight line from the rate down to zero at the last step.
    Linear,
}

impl Schedule {
    /// The learning rate at `step` (1-based) of `total`, as a pure function of the step.
    pub fn lr(self, base: f64, step: u64, total: u64, warmup: u64) -> f64 {
        if warmup > 0 && step <= warmup {
            return base * step as f64 / warmup as f64;
        }
        let span = total.saturating_sub(warmup).max(1) as f64;
        let progress = (step.saturating_sub(warmup) as f64 / span).clamp(0.0, 1.0);
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
            Schedule::Linear => base * (1.0 - progress),
        }
    }
}

/// What a model kind proposes when the lesson leaves a training key out.
#[derive(Clone, Copy, Debug)]
pub struct TrainDefaults {
    pub steps: u64,
    pub batch_size: usize,
    pub optimizer: Optimizer,
    pub lr: f64,
    /// Optimizers this model kind implements.
    pub optimizers: &'static [Optimizer],
}

/// `train:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainFile {
    pub steps: Option<u64>,
    pub batch_size: Option<usize>,
    pub optimizer: Option<Optimizer>,
    pub lr: Option<f64>,
    pub schedule: Option<Schedule>,
    pub warmup_steps: Option<u64>,
    pub seed: Option<u64>,
    pub eval_every: Option<u64>,
    pub snapshot_every: Option<u64>,
    pub max_seconds: Option<f64>,
    pub pace: Option<f64>,
    pub checkpoint_seconds: Option<f64>,
}

/// `train:` validated, every default filled in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// Optimisation steps; 1 ..= 10,000,000.
    pub steps: u64,
    /// Examples per step; 1 ..= 65,536 (a model may cap it at its data size).
    pub batch_size: usize,
    pub optimizer: Optimizer,
    /// Learning rate η; greater than 0, at most 100.
    pub lr: f64,
    pub schedule: Schedule,
    /// Steps of linear warm-up from 0 to `lr`; less than `steps`.
    pub warmup_steps: u64,
    /// Seed of every random draw in the run (data, initialisation, batches, sampling).
    pub seed: u64,
    /// Held-out metrics every this many steps; default: steps / 50.
    pub eval_every: u64,
    /// Visual panels refreshed every this many steps; default: steps / 100.
    pub snapshot_every: u64,
    /// Wall-clock budget in seconds; the run finishes early when it is spent. 0 < s ≤ 86,400.
    pub max_seconds: f64,
    /// Steps per second at most, in the TUI only, so that fast lessons can be watched; 0 = as
    /// fast as possible. Headless runs ignore it.
    pub pace: f64,
    /// Seconds between checkpoints of the weights in the save (a killed run loses at most
    /// this much training); 1 ≤ s ≤ 86,400, default 120.
    #[serde(default = "default_checkpoint_seconds")]
    pub checkpoint_seconds: f64,
}

fn default_checkpoint_seconds() -> f64 {
    120.0
}

impl TrainSpec {
    /// Full-batch training settings for unit tests of the models.
    #[cfg(test)]
    pub(crate) fn for_tests(optimizer: Optimizer, lr: f64, steps: u64) -> TrainSpec {
        TrainSpec {
            steps,
            batch_size: MAX_BATCH,
            optimizer,
            lr,
            schedule: Schedule::Constant,
            warmup_steps: 0,
            seed: 0,
            eval_every: 10,
            snapshot_every: 10,
            max_seconds: 60.0,
            pace: 0.0,
            checkpoint_seconds: default_checkpoint_seconds(),
        }
    }
}

pub const MAX_STEPS: u64 = 10_000_000;
pub const MAX_BATCH: usize = 65_536;
pub const MAX_LR: f64 = 100.0;
pub const MAX_SECONDS: f64 = 86_400.0;

impl TrainFile {
    pub fn check(self, ctx: &mut Ctx, d: &TrainDefaults) -> Option<TrainSpec> {
        let steps = self.steps.unwrap_or(d.steps);
        let mut ok = ctx.check_range("train.steps", steps, 1, MAX_STEPS, "the number of steps");
        let batch_size = self.batch_size.unwrap_or(d.batch_size);
        ok &= ctx.check_range(
            "train.batch_size",
            batch_size,
            1,
            MAX_BATCH,
            "the batch size",
        );
        let lr = self.lr.unwrap_or(d.lr);
        ok &= ctx.check_positive("train.lr", lr, MAX_LR, "the learning rate", "0.01");
        let optimizer = self.optimizer.unwrap_or(d.optimizer);
        if !d.optimizers.contains(&optimizer) {
            let names: Vec<&str> = d.optimizers.iter().map(|o| o.name()).collect();
            ctx.error(
                "train.optimizer",
                Some(optimizer.name().to_string()),
                "this model does not implement that optimizer",
                format!("choose one of: {}", names.join(", ")),
            );
            ok = false;
        }
        let warmup_steps = self.warmup_steps.unwrap_or(0);
        if warmup_steps >= steps && warmup_steps > 0 {
            ctx.error(
                "train.warmup_steps",
                Some(warmup_steps.to_string()),
                format!("the warm-up must be shorter than the run ({steps} steps)"),
                "lower `train.warmup_steps` or raise `train.steps`",
            );
            ok = false;
        }
        let eval_every = self.eval_every.unwrap_or((steps / 50).max(1));
        ok &= ctx.check_range(
            "train.eval_every",
            eval_every,
            1,
            MAX_STEPS,
            "the evaluation interval",
        );
        let snapshot_every = self.snapshot_every.unwrap_or((steps / 100).max(1));
        ok &= ctx.check_range(
            "train.snapshot_every",
            snapshot_every,
            1,
            MAX_STEPS,
            "the snapshot interval",
        );
        let max_seconds = self.max_seconds.unwrap_or(600.0);
        ok &= ctx.check_positive(
            "train.max_seconds",
            max_seconds,
            MAX_SECONDS,
            "the time budget",
            "300",
        );
        let pace = self.pace.unwrap_or(0.0);
        if !(pace.is_finite() && pace >= 0.0) {
            ctx.error(
                "train.pace",
                Some(pace.to_string()),
                "the pace must be 0 (as fast as possible) or a positive number of steps per second",
                "set `train.pace` to 0 or to a number such as 200",
            );
            ok = false;
        }
        let checkpoint_seconds = self
            .checkpoint_seconds
            .unwrap_or_else(default_checkpoint_seconds);
        ok &= ctx.check_positive(
            "train.checkpoint_seconds",
            checkpoint_seconds,
            MAX_SECONDS,
            "the checkpoint interval",
            "120",
        );
        ok.then_some(TrainSpec {
            steps,
            batch_size,
            optimizer,
            lr,
            schedule: self.schedule.unwrap_or_default(),
            warmup_steps,
            seed: self.seed.unwrap_or(0),
            eval_every,
            snapshot_every,
            max_seconds,
            pace,
            checkpoint_seconds,
        })
    }
}

/// `view:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFile {
    pub panels: Option<Vec<String>>,
}

/// `view:` validated: which panels the run view shows, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewSpec {
    pub panels: Vec<String>,
}

impl ViewFile {
    pub fn check(self, ctx: &mut Ctx, available: &[&str]) -> Option<ViewSpec> {
        let panels = match self.panels {
            None => {
                return Some(ViewSpec {
                    panels: available.iter().map(|s| s.to_string()).collect(),
                });
            }
            Some(p) => p,
        };
        let mut ok = true;
        for p in &panels {
            if !available.contains(&p.as_str()) {
                let allowed: Vec<String> = available.iter().map(|s| s.to_string()).collect();
                let hint = match super::parse::did_you_mean(p, &allowed) {
                    Some(best) => format!(
                        "did you mean `{best}`? This lesson's panels: {}",
                        allowed.join(", ")
                    ),
                    None => format!("this lesson's panels: {}", allowed.join(", ")),
                };
                ctx.error(
                    "view.panels",
                    Some(p.clone()),
                    format!("there is no panel `{p}`"),
                    hint,
                );
                ok = false;
            }
        }
        if panels.is_empty() {
            ctx.error(
                "view.panels",
                Some("[]".into()),
                "at least one panel is needed",
                "list one or more panels, e.g. [loss]",
            );
            ok = false;
        }
        ok.then_some(ViewSpec { panels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_schedule_keeps_the_rate() {
        assert_eq!(Schedule::Constant.lr(0.1, 50, 100, 0), 0.1);
    }

    #[test]
    fn warm_up_rises_linearly_to_the_rate() {
        assert!((Schedule::Constant.lr(0.1, 5, 100, 10) - 0.05).abs() < 1e-12);
        assert!((Schedule::Constant.lr(0.1, 10, 100, 10) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn cosine_ends_at_zero_and_passes_half_way_at_the_middle() {
        assert!(Schedule::Cosine.lr(1.0, 100, 100, 0).abs() < 1e-12);
        assert!((Schedule::Cosine.lr(1.0, 50, 100, 0) - 0.5).abs() < 1e-12);
    }
}
