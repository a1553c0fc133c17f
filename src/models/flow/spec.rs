//! The `model:` section of the flow lesson: `FlowSpec`, its defaults, its validation (with
//! hints) and the sizes that follow from it (parameters, for the memory plan).

use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// `model: {kind: flow, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// Affine couplings; even (each coordinate is transformed as often as it conditions),
    /// 2 ..= 32. Default 8.
    #[serde(default = "default_couplings")]
    pub couplings: usize,
    /// Hidden widths of each coupling's S and T networks; 1 ..= 4 layers, each 4 ..= 2048.
    /// Default [64, 64].
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Sampling temperature: z is drawn from N(0, T²·I); 0 < T ≤ 4. Default 1.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Points drawn through the layers and in the samples panel (2-D data); 100 ..= 5000.
    /// Default 1000.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Digits in the live sample grid (digit data); 1 ..= 64. Default 16.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Samples the judge scores at the end (digit data); 0 ..= 5000, 0 skips. Default 500.
    #[serde(default = "default_judge_samples")]
    pub judge_samples: usize,
}

fn default_couplings() -> usize {
    8
}
fn default_hidden() -> Vec<usize> {
    vec![64, 64]
}
fn default_temperature() -> f64 {
    1.0
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

impl Default for FlowSpec {
    fn default() -> Self {
        FlowSpec {
            couplings: default_couplings(),
            hidden: default_hidden(),
            temperature: default_temperature(),
            samples: default_samples(),
            grid: default_grid(),
            judge_samples: default_judge_samples(),
        }
    }
}

impl FlowSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = ctx.check_range(
            "model.couplings",
            self.couplings,
            2,
            32,
            "the number of couplings",
        );
        if ok && self.couplings % 2 == 1 {
            ctx.error(
                "model.couplings",
                Some(self.couplings.to_string()),
                "the number of couplings must be even: the masks alternate, and with an odd count one half of the coordinates is transformed once more than the other",
                format!(
                    "use couplings: {} or {}",
                    self.couplings - 1,
                    self.couplings + 1
                ),
            );
            ok = false;
        }
        if self.hidden.is_empty() || self.hidden.len() > 4 {
            ctx.error(
                "model.hidden",
                Some(format!("{:?}", self.hidden)),
                "S and T need 1 to 4 hidden layers",
                "e.g. hidden: [64, 64]",
            );
            ok = false;
        } else {
            for &h in &self.hidden {
                ok &= ctx.check_range("model.hidden", h, 4, 2048, "a hidden width");
            }
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0 && self.temperature <= 4.0) {
            ctx.error(
                "model.temperature",
                Some(self.temperature.to_string()),
                "the sampling temperature must be above 0 and at most 4 (z is drawn from N(0, T²·I))",
                "e.g. temperature: 1 (the model's own distribution) or 0.7 (nearer its modes)",
            );
            ok = false;
        }
        ok &= ctx.check_range(
            "model.samples",
            self.samples,
            100,
            5000,
            "the number of sampled points",
        );
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

    /// The widths of each S and T network on `d` coordinates: d, hidden…, d.
    pub fn widths(&self, d: usize) -> Vec<usize> {
        let mut w = vec![d];
        w.extend(&self.hidden);
        w.push(d);
        w
    }

    /// Trainable parameters of the flow on `d` coordinates.
    pub fn parameter_count(&self, d: usize) -> u64 {
        let w = self.widths(d);
        let net: u64 = w.windows(2).map(|p| (p[0] * p[1] + p[1]) as u64).sum();
        self.couplings as u64 * (2 * net + d as u64)
    }

    /// The floats one example keeps on the tape through a training step, per coupling: the
    /// masked input, each hidden layer's product and activation in both networks, their
    /// outputs, tanh, the scale, s, t, exp(s) and the sums of the update.
    pub fn floats_per_example(&self, d: usize) -> u64 {
        let hidden: u64 = self.hidden.iter().map(|&h| h as u64).sum();
        self.couplings as u64 * (2 * 2 * hidden + 14 * d as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: FlowSpec) -> String {
        let mut ctx = Ctx::new(std::path::Path::new("x.yaml"), "");
        let checked = spec.check(&mut ctx);
        assert!(checked.is_none() != ctx.errors.is_empty());
        format!("{:?}", ctx.errors)
    }

    #[test]
    fn the_defaults_pass_and_bad_values_are_named_with_a_fix() {
        assert_eq!(errors(FlowSpec::default()), "[]");
        let odd = errors(FlowSpec {
            couplings: 5,
            ..FlowSpec::default()
        });
        assert!(
            odd.contains("even") && odd.contains("couplings: 4 or 6"),
            "{odd}"
        );
        let one = errors(FlowSpec {
            couplings: 1,
            ..FlowSpec::default()
        });
        assert!(one.contains("model.couplings"), "{one}");
        for t in [0.0, -1.0, f64::NAN, 5.0] {
            let e = errors(FlowSpec {
                temperature: t,
                ..FlowSpec::default()
            });
            assert!(e.contains("model.temperature"), "{t}: {e}");
        }
        let e = errors(FlowSpec {
            hidden: vec![],
            ..FlowSpec::default()
        });
        assert!(e.contains("model.hidden"), "{e}");
    }

    #[test]
    fn the_parameter_count_is_that_of_the_networks_built() {
        use crate::tensor::ParamStore;
        use rand::SeedableRng;
        let spec = FlowSpec {
            couplings: 4,
            hidden: vec![12, 7],
            ..FlowSpec::default()
        };
        let mut ps = ParamStore::new();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0);
        let _ = super::super::build_layers(&spec, 2, &mut ps, &mut rng);
        assert_eq!(ps.num_scalars() as u64, spec.parameter_count(2));
    }
}
