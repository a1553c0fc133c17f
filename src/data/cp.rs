//! The combat-power (CP) data set: a creature's CP before evolving (x) and after (y).
//!
//! Four made-up species grow by different factors; growth bends slightly upward for strong
//! creatures, and the noise is a few percent of y, so it grows with x. That is enough for a straight line to fit well but
//! not perfectly, for a quadratic to help, and for a degree-5 polynomial on ten points to
//! overfit — the story of the regression lectures. Deterministic by seed.

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// Species names, and their growth factor and curvature: y ≈ a·x·(1 + c·x/1000).
pub const SPECIES: [(&str, f64, f64); 4] = [
    ("sparrow", 1.75, 0.05),
    ("beetle", 1.55, 0.10),
    ("sprout", 2.05, 0.12),
    ("spark", 2.60, 0.08),
];

/// `data: {source: cp, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpSpec {
    /// Training examples; 2 ..= 1,000,000. Default 10, as in the lecture.
    #[serde(default = "ten")]
    pub train: usize,
    /// Testing examples; 1 ..= 1,000,000. Default 10.
    #[serde(default = "ten")]
    pub test: usize,
    /// Seed of the data set; default: the run's `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn ten() -> usize {
    10
}

impl Default for CpSpec {
    fn default() -> Self {
        CpSpec {
            train: 10,
            test: 10,
            seed: None,
        }
    }
}

impl CpSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<CpSpec> {
        let a = ctx.check_range(
            "data.train",
            self.train,
            2,
            1_000_000,
            "the number of training examples",
        );
        let b = ctx.check_range(
            "data.test",
            self.test,
            1,
            1_000_000,
            "the number of testing examples",
        );
        (a && b).then_some(self)
    }
}

/// One example.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpPoint {
    pub x: f64,
    pub y: f64,
    pub species: usize,
}

/// Training and testing examples.
#[derive(Clone, Debug, PartialEq)]
pub struct CpSet {
    pub train: Vec<CpPoint>,
    pub test: Vec<CpPoint>,
}

impl CpSet {
    /// Generates the set; the same spec and seed always give the same numbers.
    pub fn generate(spec: &CpSpec, run_seed: u64) -> CpSet {
        let seed = spec.seed.unwrap_or(run_seed);
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xC0DE_0000_0000_0001);
        let train = (0..spec.train).map(|_| sample(&mut rng)).collect();
        let test = (0..spec.test).map(|_| sample(&mut rng)).collect();
        CpSet { train, test }
    }
}

fn sample(rng: &mut impl Rng) -> CpPoint {
    let species = rng.random_range(0..SPECIES.len());
    let (_, a, c) = SPECIES[species];
    // CP before evolving: most creatures are weak, a few strong (log-uniform on 10..600).
    let x = (10f64.ln() + rng.random::<f64>() * (600f64.ln() - 10f64.ln())).exp();
    let mean = a * x * (1.0 + c * x / 1000.0);
    // Multiplicative noise: strong creatures vary more in absolute terms, never below x.
    let noise: f64 = Normal::new(0.0, 0.09).map(|n| n.sample(rng)).unwrap_or(0.0);
    CpPoint {
        x,
        y: mean * noise.exp(),
        species,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let spec = CpSpec::default();
        assert_eq!(CpSet::generate(&spec, 7), CpSet::generate(&spec, 7));
        assert_ne!(CpSet::generate(&spec, 7), CpSet::generate(&spec, 8));
    }

    #[test]
    fn sizes_and_ranges_follow_the_spec() {
        let spec = CpSpec {
            train: 200,
            test: 50,
            seed: Some(1),
        };
        let set = CpSet::generate(&spec, 0);
        assert_eq!((set.train.len(), set.test.len()), (200, 50));
        for p in set.train.iter().chain(&set.test) {
            assert!((10.0..=600.0).contains(&p.x), "x = {}", p.x);
            assert!(p.y > p.x, "evolving raises CP: {p:?}");
        }
    }
}
