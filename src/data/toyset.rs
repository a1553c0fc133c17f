//! `data: {source: toy, …}`: one of the 2-D toy distributions of `toys`, as a lesson names it.
//!
//! Owns the settings and their validation (a misspelt name gets a did-you-mean); the points
//! themselves come from `toys::Toy::sample`. Knows nothing of the models that use them.

use serde::{Deserialize, Serialize};

use super::toys::{TOYS, Toy};
use crate::config::parse::{Ctx, did_you_mean};

/// Points the set may hold at most.
pub const MAX_POINTS: usize = 1_000_000;

/// `data: {source: toy, name: moons, n: 20000, seed: 3}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToySpec {
    /// Which toy: swiss-roll, moons, eight-gaussians, rings, checkerboard, spiral.
    #[serde(default = "default_name")]
    pub name: String,
    /// Points drawn; 100 ..= 1,000,000. Default 20,000.
    #[serde(default = "default_n")]
    pub n: usize,
    /// Seed of the points; default: the run's `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn default_name() -> String {
    "moons".into()
}

fn default_n() -> usize {
    20_000
}

impl Default for ToySpec {
    fn default() -> Self {
        ToySpec {
            name: default_name(),
            n: default_n(),
            seed: None,
        }
    }
}

impl ToySpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<ToySpec> {
        let mut ok = ctx.check_range("data.n", self.n, 100, MAX_POINTS, "the number of points");
        if Toy::from_name(&self.name).is_none() {
            let names: Vec<String> = TOYS.iter().map(|(n, _)| n.to_string()).collect();
            let hint = match did_you_mean(&self.name, &names) {
                Some(best) => format!("did you mean `{best}`? Toys: {}", names.join(", ")),
                None => format!("toys: {}", names.join(", ")),
            };
            ctx.error(
                "data.name",
                Some(self.name.clone()),
                format!("there is no toy `{}`", self.name),
                hint,
            );
            ok = false;
        }
        ok.then_some(self)
    }

    /// The toy (a checked spec always names one; an unchecked bad name falls back to moons).
    pub fn toy(&self) -> Toy {
        Toy::from_name(&self.name).unwrap_or(Toy::Moons)
    }

    /// The `n` points, from the spec's seed or else `run_seed`.
    pub fn load(&self, run_seed: u64) -> Vec<[f32; 2]> {
        self.toy().sample(self.n, self.seed.unwrap_or(run_seed)).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_misspelt_toy_name_is_rejected_with_a_suggestion() {
        let mut ctx = Ctx::new(Path::new("x.yaml"), "");
        let spec = ToySpec {
            name: "swiss_rol".into(),
            ..ToySpec::default()
        };
        assert!(spec.check(&mut ctx).is_none());
        let text = format!("{:?}", ctx.errors);
        assert!(text.contains("swiss-roll"), "{text}");
    }

    #[test]
    fn the_seed_in_the_spec_wins_over_the_run_seed() {
        let spec = ToySpec {
            seed: Some(5),
            n: 100,
            ..ToySpec::default()
        };
        assert_eq!(spec.load(1), spec.load(2));
        let free = ToySpec {
            n: 100,
            ..ToySpec::default()
        };
        assert_ne!(free.load(1), free.load(2));
    }
}
