//! The `model:` section of the VAE lesson: `VaeSpec` (with the `Likelihood` choice), its serde
//! defaults, its validation (each error says how to fix it), and the sizes the memory plan
//! counts.

use serde::{Deserialize, Serialize};

use super::PIXELS;
use crate::config::parse::Ctx;

/// What the decoder's output means for a pixel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    /// Each pixel is on with probability σ(logit): −log p(x|z) is the binary cross-entropy.
    #[default]
    Bernoulli,
    /// Each pixel is N(σ(logit), sigma²) with a fixed `sigma`: −log p(x|z) is a scaled squared
    /// error plus a constant (a density, so it can go below zero).
    Gaussian,
}

/// `model: {kind: vae, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeSpec {
    /// Hidden widths of the encoder, 784 → hidden… → 2·latent; the decoder mirrors them,
    /// latent → …hidden → 784. Default [400]; 1 to 4 layers, each 1 ..= 4096.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Size of z; default 20; 1 ..= 256. Only 2 draws the latent map and the scatter.
    #[serde(default = "default_latent")]
    pub latent: usize,
    /// `bernoulli` (default) or `gaussian`.
    #[serde(default)]
    pub likelihood: Likelihood,
    /// The Gaussian decoder's fixed standard deviation per pixel; default 0.1; 0.01 ..= 1.
    /// Bernoulli ignores it.
    #[serde(default = "default_sigma")]
    pub sigma: f64,
    /// Draw every training batch's pixels afresh as Bernoulli(grey level); held-out digits are
    /// binarised once, with a fixed seed. Default true.
    #[serde(default = "default_true")]
    pub binarize: bool,
    /// Digits in the live sample grid and pairs in the reconstructions; default 16; 1 ..= 64.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Samples the judge scores at the end; default 500; 0 ..= 5000 (0 skips scoring).
    #[serde(default = "default_judge_samples")]
    pub judge_samples: usize,
    /// Importance samples per held-out digit for the IWAE bound at the end; default 0 (off);
    /// 0 ..= 1000.
    #[serde(default)]
    pub iw_samples: usize,
    /// z ~ N(0, temperature²·I) for the samples shown, scored and drawn by `mllab sample`;
    /// default 1 (the prior itself); 0 < t ≤ 3.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
}

fn default_hidden() -> Vec<usize> {
    vec![400]
}
fn default_latent() -> usize {
    20
}
fn default_sigma() -> f64 {
    0.1
}
fn default_true() -> bool {
    true
}
fn default_grid() -> usize {
    16
}
fn default_judge_samples() -> usize {
    500
}
fn default_temperature() -> f64 {
    1.0
}

impl Default for VaeSpec {
    fn default() -> Self {
        VaeSpec {
            hidden: default_hidden(),
            latent: default_latent(),
            likelihood: Likelihood::default(),
            sigma: default_sigma(),
            binarize: true,
            grid: default_grid(),
            judge_samples: default_judge_samples(),
            iw_samples: 0,
            temperature: default_temperature(),
        }
    }
}

/// Most hidden layers a side.
pub const MAX_HIDDEN_LAYERS: usize = 4;
/// Widest hidden layer.
pub const MAX_WIDTH: usize = 4096;
/// Largest z.
pub const MAX_LATENT: usize = 256;
/// Most importance samples per digit.
pub const MAX_IW_SAMPLES: usize = 1000;

impl VaeSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = true;
        if self.hidden.is_empty() || self.hidden.len() > MAX_HIDDEN_LAYERS {
            ctx.error(
                "model.hidden",
                Some(format!("{:?}", self.hidden)),
                format!(
                    "the encoder needs 1 to {MAX_HIDDEN_LAYERS} hidden layers (found {})",
                    self.hidden.len()
                ),
                "list their widths, e.g. hidden: [400] or hidden: [512, 256]",
            );
            ok = false;
        }
        if let Some((i, &w)) = self
            .hidden
            .iter()
            .enumerate()
            .find(|(_, w)| !(1..=MAX_WIDTH).contains(*w))
        {
            ctx.error(
                "model.hidden",
                Some(format!("{:?}", self.hidden)),
                format!(
                    "hidden layer {}'s width must be between 1 and {MAX_WIDTH} (found {w})",
                    i + 1
                ),
                format!("give every hidden layer 1 to {MAX_WIDTH} units, e.g. hidden: [400]"),
            );
            ok = false;
        }
        ok &= ctx.check_range("model.latent", self.latent, 1, MAX_LATENT, "the size of z");
        ok &= ctx.check_range(
            "model.sigma",
            self.sigma,
            0.01,
            1.0,
            "the Gaussian decoder's σ",
        );
        ok &= ctx.check_range("model.grid", self.grid, 1, 64, "the number of live samples");
        ok &= ctx.check_range(
            "model.judge_samples",
            self.judge_samples,
            0,
            5000,
            "the number of scored samples",
        );
        ok &= ctx.check_range(
            "model.iw_samples",
            self.iw_samples,
            0,
            MAX_IW_SAMPLES,
            "the number of importance samples",
        );
        ok &= ctx.check_positive(
            "model.temperature",
            self.temperature,
            3.0,
            "the sampling temperature",
            "0.8",
        );
        ok.then_some(self)
    }

    /// The encoder's widths: 784, the hidden ones, 2·latent (μ and log σ²).
    pub fn encoder_widths(&self) -> Vec<usize> {
        let mut w = vec![PIXELS];
        w.extend(&self.hidden);
        w.push(2 * self.latent);
        w
    }

    /// The decoder's widths: latent, the hidden ones in reverse, 784.
    pub fn decoder_widths(&self) -> Vec<usize> {
        let mut w = vec![self.latent];
        w.extend(self.hidden.iter().rev());
        w.push(PIXELS);
        w
    }

    /// Weights and biases of both networks.
    pub fn parameter_count(&self) -> u64 {
        let layers =
            |w: &[usize]| -> u64 { w.windows(2).map(|p| (p[0] as u64 + 1) * p[1] as u64).sum() };
        layers(&self.encoder_widths()) + layers(&self.decoder_widths())
    }

    /// Floats one training image keeps on the tape through a step, counted from `net`: each
    /// linear output and its activation, on both sides; μ, log σ², σ, the noise, σ·ε and z;
    /// the KL terms; the decoder's logits, the per-pixel loss (and for the Gaussian its mean
    /// and difference); the binarised input.
    pub fn floats_per_image(&self) -> u64 {
        let hidden: u64 = self.hidden.iter().map(|&h| 2 * h as u64).sum();
        let z = self.latent as u64;
        let px = PIXELS as u64;
        let out = match self.likelihood {
            Likelihood::Bernoulli => 2 * px,
            Likelihood::Gaussian => 5 * px,
        };
        2 * hidden + 2 * z + 12 * z + out + px
    }
}
