//! Learning-rate schedules as pure functions of the step: the same step always gives the same
//! rate, so a resumed or replayed run follows the same curve.

use serde::{Deserialize, Serialize};

/// A multiplier on the base learning rate, by step (0-based).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Always 1.
    Constant,
    /// Rises linearly from 1/warmup to 1 over `warmup` steps, then stays at 1.
    Warmup { warmup: u64 },
    /// Linear warm-up, then a cosine from 1 down to `min_ratio` at step `total`.
    WarmupCosine {
        warmup: u64,
        total: u64,
        min_ratio: f32,
    },
}

impl Schedule {
    /// The multiplier at `step`.
    pub fn factor(&self, step: u64) -> f32 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::Warmup { warmup } => linear_warmup(step, warmup),
            Schedule::WarmupCosine {
                warmup,
                total,
                min_ratio,
            } => {
                if step < warmup {
                    linear_warmup(step, warmup)
                } else {
                    cosine(step - warmup, total.saturating_sub(warmup), min_ratio)
                }
            }
        }
    }

    /// The learning rate at `step` for a base rate `lr`.
    pub fn lr(&self, lr: f32, step: u64) -> f32 {
        lr * self.factor(step)
    }
}

/// (step + 1)/warmup, capped at 1.
pub fn linear_warmup(step: u64, warmup: u64) -> f32 {
    if warmup == 0 {
        1.0
    } else {
        ((step + 1) as f32 / warmup as f32).min(1.0)
    }
}

/// Half a cosine from 1 at step 0 to `min_ratio` at `total` (and after).
pub fn cosine(step: u64, total: u64, min_ratio: f32) -> f32 {
    if total == 0 {
        return min_ratio;
    }
    let p = (step as f32 / total as f32).min(1.0);
    min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + (std::f32::consts::PI * p).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_cosine_rises_then_falls_to_the_floor() {
        let s = Schedule::WarmupCosine {
            warmup: 10,
            total: 110,
            min_ratio: 0.1,
        };
        assert!((s.factor(0) - 0.1).abs() < 1e-6);
        assert!((s.factor(9) - 1.0).abs() < 1e-6);
        assert!((s.factor(10) - 1.0).abs() < 1e-6);
        assert!((s.factor(60) - 0.55).abs() < 1e-6);
        assert!((s.factor(500) - 0.1).abs() < 1e-6);
        assert_eq!(Schedule::Constant.lr(0.5, 1234), 0.5);
    }
}
