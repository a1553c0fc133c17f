//! The `model:` section of the diffusion-2d lesson: `Diffusion2dSpec`, its defaults, its
//! validation (with hints), and what follows from it (reverse steps taken, memory needed).

use serde::{Deserialize, Serialize};

use super::denoiser::EMB;
use super::quality::SUMMARY_POINTS;
use crate::config::parse::Ctx;
use crate::models::diffusion::{BetaSchedule, Sampler};

/// `model: {kind: diffusion-2d, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diffusion2dSpec {
    /// Width of the hidden layers; 8 ..= 1024. Default 128.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Residual layers after the input layer; 0 ..= 8. Default 3.
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// T, the number of noising steps; 2 ..= 4000. Default 100.
    #[serde(default = "default_timesteps")]
    pub timesteps: usize,
    /// How βₜ grows: linear (default) or cosine.
    #[serde(default)]
    pub schedule: BetaSchedule,
    /// ddpm (default) or ddim.
    #[serde(default)]
    pub sampler: Sampler,
    /// Reverse steps; DDPM takes all T, DDIM 1 ..= T. Default T.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_steps: Option<usize>,
    /// Decay of the moving average of the weights that samples are drawn with; 0 = sample with
    /// the raw weights; below 1. Default 0.995.
    #[serde(default = "default_ema")]
    pub ema: f64,
    /// Points drawn for each reverse filmstrip and the samples panel; 100 ..= 5000. Default 1000.
    #[serde(default = "default_samples")]
    pub samples: usize,
}

fn default_hidden() -> usize {
    128
}
fn default_layers() -> usize {
    3
}
fn default_timesteps() -> usize {
    100
}
fn default_ema() -> f64 {
    0.995
}
fn default_samples() -> usize {
    1000
}

impl Default for Diffusion2dSpec {
    fn default() -> Self {
        Diffusion2dSpec {
            hidden: default_hidden(),
            layers: default_layers(),
            timesteps: default_timesteps(),
            schedule: BetaSchedule::default(),
            sampler: Sampler::default(),
            sample_steps: None,
            ema: default_ema(),
            samples: default_samples(),
        }
    }
}

impl Diffusion2dSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = ctx.check_range("model.hidden", self.hidden, 8, 1024, "the hidden width");
        ok &= ctx.check_range(
            "model.layers",
            self.layers,
            0,
            8,
            "the number of residual layers",
        );
        ok &= ctx.check_range(
            "model.timesteps",
            self.timesteps,
            2,
            4000,
            "the number of noising steps T",
        );
        ok &= ctx.check_range(
            "model.samples",
            self.samples,
            100,
            5000,
            "the number of sampled points",
        );
        if !(self.ema.is_finite() && (0.0..1.0).contains(&self.ema)) {
            ctx.error(
                "model.ema",
                Some(self.ema.to_string()),
                "the averaging decay must be at least 0 and below 1",
                "e.g. ema: 0.995 (or 0 to sample with the raw weights)",
            );
            ok = false;
        }
        if let Some(k) = self.sample_steps {
            match self.sampler {
                Sampler::Ddpm if k != self.timesteps => {
                    ctx.error(
                        "model.sample_steps",
                        Some(k.to_string()),
                        format!(
                            "DDPM sampling takes every one of the T = {} steps",
                            self.timesteps
                        ),
                        "leave sample_steps out, or set sampler: ddim to sample in fewer steps",
                    );
                    ok = false;
                }
                _ => {
                    ok &= ctx.check_range(
                        "model.sample_steps",
                        k,
                        1,
                        self.timesteps,
                        "the number of sampling steps (at most T)",
                    );
                }
            }
        }
        ok.then_some(self)
    }

    /// Reverse steps actually taken.
    pub fn steps_to_sample(&self) -> usize {
        match self.sampler {
            Sampler::Ddpm => self.timesteps,
            Sampler::Ddim => self
                .sample_steps
                .unwrap_or(self.timesteps)
                .min(self.timesteps),
        }
    }

    /// Adds the network's parts to a run's memory plan.
    pub fn plan_memory(&self, batch: usize, plan: &mut crate::models::MemoryPlan) {
        let h = self.hidden as u64;
        let params = (2 + 3 * EMB as u64) * h + self.layers as u64 * h * h + 2 * h;
        // Weights, gradients, two Adam moments and the EMA copy.
        plan.add(
            "the weights, gradients and optimizer state",
            "model.hidden",
            self.hidden,
            params * 4 * 6,
        );
        // The activations kept for backward, or a batch of samples drawn, whichever is larger.
        let per_point = h * (2 * self.layers as u64 + 4) + 3 * EMB as u64;
        let (key, value, points) = if batch >= self.samples.max(SUMMARY_POINTS) {
            ("train.batch_size", batch, batch)
        } else if self.samples >= SUMMARY_POINTS {
            ("model.samples", self.samples, self.samples)
        } else {
            ("model.samples", self.samples, SUMMARY_POINTS)
        };
        plan.add(
            "the activations of a batch",
            key,
            value,
            points as u64 * per_point * 4 * 2,
        );
        // The reverse filmstrips, the density grid and the points of the live panels, on
        // their way to the screen and the save (measured: 16–20 MB whatever the sizes).
        plan.add("the live panels", "", "", 18 << 20);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddpm_with_fewer_sample_steps_is_rejected_with_a_hint() {
        let mut ctx = Ctx::new(std::path::Path::new("x.yaml"), "");
        let spec = Diffusion2dSpec {
            sample_steps: Some(10),
            ..Diffusion2dSpec::default()
        };
        assert!(spec.check(&mut ctx).is_none());
        assert!(format!("{:?}", ctx.errors).contains("ddim"));
    }
}
