//! The `model:` section of the model-selection lesson: `PolynomialSpec`, its serde defaults
//! and its checks (with hints).

use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// `model: {kind: polynomial-regression, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolynomialSpec {
    /// Degrees fitted side by side; default [1, 2, 3, 4, 5]; each 1 ..= 8, at most 8 of them.
    #[serde(default = "default_degrees")]
    pub degrees: Vec<u32>,
    /// Also fit the species-aware model: a bias and a slope per species. Default true.
    #[serde(default = "yes")]
    pub species_model: bool,
    /// Penalties λ for the regularisation sweep; default 1e-4 … 10; each > 0 and ≤ 10,000.
    #[serde(default = "default_lambdas")]
    pub lambdas: Vec<f64>,
    /// The degree swept over λ; default the largest degree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_degree: Option<u32>,
}

pub(super) fn default_degrees() -> Vec<u32> {
    vec![1, 2, 3, 4, 5]
}
fn yes() -> bool {
    true
}
pub(super) fn default_lambdas() -> Vec<f64> {
    vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
}

impl PolynomialSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = true;
        if self.degrees.is_empty() || self.degrees.len() > 8 {
            ctx.error(
                "model.degrees",
                Some(format!("{:?}", self.degrees)),
                "give between 1 and 8 degrees",
                "e.g. degrees: [1, 2, 3, 4, 5]",
            );
            ok = false;
        }
        for d in &self.degrees {
            ok &= ctx.check_range("model.degrees", *d, 1, 8, "a degree");
        }
        if self.lambdas.len() > 12 {
            ctx.error(
                "model.lambdas",
                Some(format!("{} values", self.lambdas.len())),
                "give at most 12 penalties",
                "e.g. lambdas: [0.001, 0.01, 0.1, 1, 10]",
            );
            ok = false;
        }
        for l in &self.lambdas {
            ok &= ctx.check_positive("model.lambdas", *l, 1e4, "a penalty λ", "0.1");
        }
        if let Some(d) = self.sweep_degree {
            ok &= ctx.check_range("model.sweep_degree", d, 1, 8, "the swept degree");
        }
        ok.then_some(self)
    }

    pub(super) fn sweep(&self) -> u32 {
        self.sweep_degree
            .unwrap_or_else(|| self.degrees.iter().copied().max().unwrap_or(1))
    }
}
