//! The `model:` section of a GAN lesson: `GanSpec`, its defaults (some depend on whether the
//! run trains on 2-D points or on digits), its validation with hints, and the sizes that
//! follow from it (layer widths, parameters, memory).

use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// Which loss the generator minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// −log D(G(z)): strong gradients while D rejects the fakes (Goodfellow et al.'s fix).
    #[default]
    NonSaturating,
    /// log(1 − D(G(z))), the game as first written: its gradient vanishes when D wins.
    Minimax,
}

impl GanLoss {
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::Minimax => "minimax",
        }
    }
}

/// `model: {kind: gan, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanSpec {
    /// Hidden widths of the generator, input to output; each 2 ..= 4096, at most 6 layers.
    /// Default: 2-D [128, 128]; digits [256, 512].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<Vec<usize>>,
    /// Hidden widths of the discriminator; default: 2-D [128, 128]; digits [512, 256].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discriminator: Option<Vec<usize>>,
    /// Width of the noise z ~ N(0, I) the generator starts from; 1 ..= 512. Default: 2-D 8,
    /// digits 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_dim: Option<usize>,
    /// non-saturating (default) or minimax.
    #[serde(default)]
    pub loss: GanLoss,
    /// Discriminator steps per generator step; 1 ..= 20. Default 1.
    #[serde(default = "default_d_steps")]
    pub d_steps: usize,
    /// Adam's β₁ and β₂ for both players; each in [0, 1). Default [0.5, 0.999].
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    /// Slope of LeakyReLU below zero, in both networks; 0 ..= 1. Default 0.2.
    #[serde(default = "default_leak")]
    pub leak: f64,
    /// 2-D: generated points drawn in each snapshot and scored live; 100 ..= 5000. Default 1000.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Digits: images in the live grid; 1 ..= 64. Default 16.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Digits: samples the judge scores at the end (0 skips scoring); 0 ..= 5000. Default 500.
    #[serde(default = "default_judge_samples")]
    pub judge_samples: usize,
}

fn default_d_steps() -> usize {
    1
}
fn default_betas() -> [f64; 2] {
    [0.5, 0.999]
}
fn default_leak() -> f64 {
    0.2
}
fn default_samples() -> usize {
    1000
}
fn default_grid() -> usize {
    16
}
fn default_judge_samples() -> usize {
    500
}

impl Default for GanSpec {
    fn default() -> Self {
        GanSpec {
            generator: None,
            discriminator: None,
            z_dim: None,
            loss: GanLoss::default(),
            d_steps: default_d_steps(),
            betas: default_betas(),
            leak: default_leak(),
            samples: default_samples(),
            grid: default_grid(),
            judge_samples: default_judge_samples(),
        }
    }
}

/// What the networks map between: points in the plane, or 28×28 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Plane,
    Digits,
}

impl Space {
    /// Width of one data point.
    pub fn width(self) -> usize {
        match self {
            Space::Plane => 2,
            Space::Digits => 784,
        }
    }
}

/// The layer widths of both networks, input to output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Widths {
    pub generator: Vec<usize>,
    pub discriminator: Vec<usize>,
    pub z_dim: usize,
}

impl Widths {
    /// Trainable numbers of an MLP of these widths (weights and biases).
    pub fn count(widths: &[usize]) -> u64 {
        widths
            .windows(2)
            .map(|w| (w[0] as u64 + 1) * w[1] as u64)
            .sum()
    }

    pub fn parameters(&self) -> u64 {
        Widths::count(&self.generator) + Widths::count(&self.discriminator)
    }
}

impl GanSpec {
    /// The widths of G (z → … → data) and D (data → … → 1) for `space`.
    pub fn widths(&self, space: Space) -> Widths {
        let (g_hidden, d_hidden, z) = match space {
            Space::Plane => (vec![128, 128], vec![128, 128], 8),
            Space::Digits => (vec![256, 512], vec![512, 256], 64),
        };
        let z_dim = self.z_dim.unwrap_or(z);
        let mut generator = vec![z_dim];
        generator.extend(self.generator.clone().unwrap_or(g_hidden));
        generator.push(space.width());
        let mut discriminator = vec![space.width()];
        discriminator.extend(self.discriminator.clone().unwrap_or(d_hidden));
        discriminator.push(1);
        Widths {
            generator,
            discriminator,
            z_dim,
        }
    }

    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = true;
        for (key, widths) in [
            ("model.generator", &self.generator),
            ("model.discriminator", &self.discriminator),
        ] {
            let Some(w) = widths else { continue };
            if w.is_empty() || w.len() > 6 {
                ctx.error(
                    key,
                    Some(format!("{w:?}")),
                    "a network needs 1 to 6 hidden layers",
                    format!("list their widths, e.g. {key}: [256, 512]"),
                );
                ok = false;
            } else if let Some(bad) = w.iter().find(|&&n| !(2..=4096).contains(&n)) {
                ctx.error(
                    key,
                    Some(format!("{w:?}")),
                    format!("a hidden width of {bad} is out of range: each must be from 2 to 4096"),
                    format!("e.g. {key}: [256, 512]"),
                );
                ok = false;
            }
        }
        if let Some(z) = self.z_dim {
            ok &= ctx.check_range("model.z_dim", z, 1, 512, "the noise width z_dim");
        }
        ok &= ctx.check_range(
            "model.d_steps",
            self.d_steps,
            1,
            20,
            "the discriminator steps per generator step",
        );
        if let Some(b) = self
            .betas
            .iter()
            .find(|b| !(b.is_finite() && (0.0..1.0).contains(*b)))
        {
            ctx.error(
                "model.betas",
                Some(format!("{:?}", self.betas)),
                format!("Adam's betas must each be at least 0 and below 1; {b} is not"),
                "e.g. betas: [0.5, 0.999] (the DCGAN setting)",
            );
            ok = false;
        }
        if !(self.leak.is_finite() && (0.0..=1.0).contains(&self.leak)) {
            ctx.error(
                "model.leak",
                Some(self.leak.to_string()),
                "the LeakyReLU slope must be from 0 to 1",
                "e.g. leak: 0.2",
            );
            ok = false;
        }
        ok &= ctx.check_range(
            "model.samples",
            self.samples,
            100,
            5000,
            "the number of generated points shown",
        );
        ok &= ctx.check_range("model.grid", self.grid, 1, 64, "the number of digits shown");
        ok &= ctx.check_range(
            "model.judge_samples",
            self.judge_samples,
            0,
            5000,
            "the number of samples scored",
        );
        ok.then_some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_digit_networks_are_the_reference_gans() {
        let w = GanSpec::default().widths(Space::Digits);
        assert_eq!(w.generator, vec![64, 256, 512, 784]);
        assert_eq!(w.discriminator, vec![784, 512, 256, 1]);
        let p = GanSpec::default().widths(Space::Plane);
        assert_eq!((p.generator[0], *p.generator.last().unwrap()), (8, 2));
        assert_eq!(*p.discriminator.first().unwrap(), 2);
    }

    #[test]
    fn zero_discriminator_steps_and_a_beta_of_one_are_both_reported() {
        let mut ctx = Ctx::new(std::path::Path::new("x.yaml"), "");
        let spec = GanSpec {
            d_steps: 0,
            betas: [0.5, 1.0],
            ..GanSpec::default()
        };
        assert!(spec.check(&mut ctx).is_none());
        let keys: Vec<&str> = ctx.errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["model.d_steps", "model.betas"]);
    }
}
