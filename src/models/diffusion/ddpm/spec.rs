//! The `model:` section of the DDPM lesson: `DdpmSpec` (with the `Net` choice), its serde
//! defaults, its validation (with hints), and the parameter count the memory estimate uses.

use serde::{Deserialize, Serialize};

use super::PIXELS;
use crate::config::parse::Ctx;
use crate::models::diffusion::{BetaSchedule, Prediction, Sampler};

/// Which network predicts the noise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Net {
    #[default]
    Unet,
    Mlp,
}

/// `model: {kind: ddpm, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DdpmSpec {
    /// `unet` (default) or `mlp`.
    #[serde(default)]
    pub net: Net,
    /// U-Net channels at 28, 14 and 7 pixels; default [16, 32, 32]; each 4 ..= 128, multiples of 4.
    #[serde(default = "default_channels")]
    pub channels: [usize; 3],
    /// Heads of the U-Net's self-attention over the 7×7 middle; default 0 (none); 0 ..= 8,
    /// dividing the middle's channel count.
    #[serde(default)]
    pub attention: usize,
    /// Residual MLP width; default 512; 32 ..= 4096.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Residual MLP blocks; default 3; 1 ..= 12.
    #[serde(default = "default_blocks")]
    pub blocks: usize,
    /// Noising steps T; default 1000; 10 ..= 4000.
    #[serde(default = "default_timesteps")]
    pub timesteps: usize,
    /// `linear` (default) or `cosine`.
    #[serde(default)]
    pub schedule: BetaSchedule,
    /// What the network learns to output: `eps` (default, DDPM's noise) or `v` (the velocity
    /// √ᾱₜ·ε − √(1 − ᾱₜ)·x₀).
    #[serde(default)]
    pub prediction: Prediction,
    /// Sampler for the live view and the final score: `ddim` (default) or `ddpm`.
    #[serde(default = "default_sampler")]
    pub sampler: Sampler,
    /// DDIM steps; default 50; 1 ..= T.
    #[serde(default = "default_sample_steps")]
    pub sample_steps: usize,
    /// DDIM's fresh noise per step, η; default 0 (deterministic); 0 ..= 1 (1: ancestral
    /// sampling on the DDIM steps).
    #[serde(default)]
    pub eta: f64,
    /// Min-SNR-γ loss weighting: the squared error at step t is weighted by
    /// min(SNR_t, γ) / SNR_t, SNR_t = ᾱ_t / (1 − ᾱ_t), so that nearly clean steps, whose noise
    /// is easy to tell and whose gradients fight the others', count less. Absent: the plain
    /// ε-MSE of Algorithm 1. 0.1 ..= 100; 5 is the paper's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_snr: Option<f64>,
    /// EMA decay of the sampling weights; default 0.999; 0 ..< 1.
    #[serde(default = "default_ema")]
    pub ema: f64,
    /// Digits in the live sample grid; default 16; 1 ..= 64.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Samples the judge scores at the end; default 500; 0 ..= 5000 (0 skips scoring).
    #[serde(default = "default_judge_samples")]
    pub judge_samples: usize,
}

fn default_channels() -> [usize; 3] {
    [16, 32, 32]
}
fn default_width() -> usize {
    512
}
fn default_blocks() -> usize {
    3
}
fn default_timesteps() -> usize {
    1000
}
fn default_sampler() -> Sampler {
    Sampler::Ddim
}
fn default_sample_steps() -> usize {
    50
}
fn default_ema() -> f64 {
    0.999
}
fn default_grid() -> usize {
    16
}
fn default_judge_samples() -> usize {
    500
}

impl DdpmSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = true;
        for c in self.channels {
            ok &= ctx.check_range("model.channels", c, 4, 128, "a channel count");
            if c % 4 != 0 {
                ctx.error(
                    "model.channels",
                    Some(c.to_string()),
                    "channel counts must be multiples of 4 (for group normalisation)",
                    "e.g. channels: [16, 32, 32]",
                );
                ok = false;
            }
        }
        ok &= ctx.check_range("model.attention", self.attention, 0, 8, "attention heads");
        if self.attention > 0 && !self.channels[2].is_multiple_of(self.attention) {
            ctx.error(
                "model.attention",
                Some(self.attention.to_string()),
                format!(
                    "the middle's {} channels do not split evenly into {} heads",
                    self.channels[2], self.attention
                ),
                "use a head count that divides the last channel count, e.g. attention: 1",
            );
            ok = false;
        }
        ok &= ctx.check_range("model.width", self.width, 32, 4096, "the MLP width");
        ok &= ctx.check_range(
            "model.blocks",
            self.blocks,
            1,
            12,
            "the number of MLP blocks",
        );
        ok &= ctx.check_range(
            "model.timesteps",
            self.timesteps,
            10,
            4000,
            "the number of noising steps",
        );
        ok &= ctx.check_range(
            "model.sample_steps",
            self.sample_steps,
            1,
            self.timesteps.max(1),
            "the number of sampling steps",
        );
        ok &= ctx.check_range("model.eta", self.eta, 0.0, 1.0, "DDIM's noise level η");
        if let Some(gamma) = self.min_snr {
            ok &= ctx.check_range("model.min_snr", gamma, 0.1, 100.0, "the min-SNR γ");
        }
        ok &= ctx.check_range("model.ema", self.ema, 0.0, 0.99999, "the EMA decay");
        ok &= ctx.check_range("model.grid", self.grid, 1, 64, "the number of live samples");
        ok &= ctx.check_range(
            "model.judge_samples",
            self.judge_samples,
            0,
            5000,
            "the number of scored samples",
        );
        ok.then_some(self)
    }

    /// Parameters, roughly, for the memory estimate.
    /// Floats one training image keeps on the tape through a step, counted from the
    /// network's code: every op's output that backward reads (the GroupNorm+SiLU and
    /// conv+bias+residual ops are fused, one output each), level by level.
    pub fn floats_per_image(&self) -> u64 {
        let px = PIXELS as u64;
        match self.net {
            Net::Unet => {
                let [c0, c1, c2] = self.channels.map(|c| c as u64);
                let skip = |a: u64, b: u64| if a != b { b } else { 0 };
                // 28×28: input conv, the down block, the up block's upsampled input, concat
                // and its norm, its four outputs, the output norm.
                let l28 = 12 * c0 + 3 * c1;
                // 14×14: the stride-2 conv, the down block, the up block on (c2 + c1).
                let l14 = 2 * c0 + 9 * c1 + skip(c0, c1) + 3 * c2;
                // 7×7: the stride-2 conv, the down block, the middle block, the up block on
                // 2·c2; with attention, its norm, q·k·v, output, projection and residual.
                let attention = if self.attention > 0 { 10 * c2 } else { 0 };
                let l7 = 2 * c1 + 15 * c2 + skip(c1, c2) + attention;
                l28 * px + l14 * (px / 4) + l7 * (px / 16) + 3 * px
            }
            // Input layer, then per block its two layers, the time projection, the SiLUs and
            // the residual sum; the output; the loss's target and difference.
            Net::Mlp => self.width as u64 * (2 + 6 * self.blocks as u64) + 3 * px,
        }
    }

    /// Attention's maps per training image: scores and softmax for every head, over the 49
    /// pixels of the middle.
    pub fn attention_floats_per_image(&self) -> u64 {
        if self.net == Net::Unet && self.attention > 0 {
            self.attention as u64 * 49 * 49 * 3
        } else {
            0
        }
    }

    /// The widest activation of one image at inference (what sampling holds per image).
    pub fn inference_floats_per_image(&self) -> u64 {
        match self.net {
            Net::Unet => self.channels[0] as u64 * PIXELS as u64 * 6,
            Net::Mlp => self.width as u64 * 6 + PIXELS as u64 * 4,
        }
    }

    pub fn parameter_count(&self) -> u64 {
        match self.net {
            Net::Unet => {
                let c = self.channels.iter().map(|&c| c as u64).max().unwrap_or(32);
                200 * c * c + 40_000
            }
            Net::Mlp => {
                (2 * PIXELS as u64 * self.width as u64)
                    + self.blocks as u64 * 3 * (self.width as u64).pow(2)
            }
        }
    }
}
