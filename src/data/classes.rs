//! Two classes of 2-D features, like the lecture's water-type and normal-type creatures
//! described by two of their stats (defence and special defence).
//!
//! Each class is a Gaussian with its own mean and a similar, correlated covariance, so a shared
//! covariance is a good (not perfect) assumption — the setting in which the generative model's
//! boundary becomes a straight line. Deterministic by seed.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// Names of the two classes of the generated set.
pub const CLASS_NAMES: [&str; 2] = ["water", "normal"];
/// Class means (defence, special defence).
const MEANS: [[f64; 2]; 2] = [[75.0, 78.0], [55.0, 52.0]];
/// Cholesky factors of the class covariances: Σ = L·Lᵀ (about 20 points of spread, ρ ≈ 0.5).
const CHOLESKY: [[[f64; 2]; 2]; 2] = [[[20.0, 0.0], [11.0, 18.0]], [[19.0, 0.0], [9.0, 17.0]]];

/// `data: {source: classes, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesSpec {
    /// Training examples of each class; default [79, 61], as in the lecture. Each 1 ..= 500,000.
    #[serde(default = "default_train")]
    pub train: [usize; 2],
    /// Testing examples of each class; default [40, 40]. Each 0 ..= 500,000.
    #[serde(default = "default_test")]
    pub test: [usize; 2],
    /// Seed of the data set; default: the run's `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn default_train() -> [usize; 2] {
    [79, 61]
}
fn default_test() -> [usize; 2] {
    [40, 40]
}

impl Default for ClassesSpec {
    fn default() -> Self {
        ClassesSpec {
            train: default_train(),
            test: default_test(),
            seed: None,
        }
    }
}

impl ClassesSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<ClassesSpec> {
        let mut ok = true;
        for k in 0..2 {
            ok &= ctx.check_range(
                &format!("data.train[{k}]"),
                self.train[k],
                2,
                500_000,
                "the training examples of a class",
            );
            ok &= ctx.check_range(
                &format!("data.test[{k}]"),
                self.test[k],
                0,
                500_000,
                "the testing examples of a class",
            );
        }
        ok.then_some(self)
    }
}

/// One labelled example: features and class (0 or 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Labelled {
    pub x: [f64; 2],
    pub class: usize,
}

/// Training and testing examples, and the names of the classes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassSet {
    pub names: [String; 2],
    pub train: Vec<Labelled>,
    pub test: Vec<Labelled>,
}

impl ClassSet {
    pub fn generate(spec: &ClassesSpec, run_seed: u64) -> ClassSet {
        let seed = spec.seed.unwrap_or(run_seed);
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xC1A5_5E50_0000_0002);
        let mut draw = |class: usize, n: usize| -> Vec<Labelled> {
            (0..n)
                .map(|_| {
                    let z: [f64; 2] = [
                        StandardNormal.sample(&mut rng),
                        StandardNormal.sample(&mut rng),
                    ];
                    let l = CHOLESKY[class];
                    let m = MEANS[class];
                    Labelled {
                        x: [
                            m[0] + l[0][0] * z[0],
                            m[1] + l[1][0] * z[0] + l[1][1] * z[1],
                        ],
                        class,
                    }
                })
                .collect()
        };
        let mut train = draw(0, spec.train[0]);
        train.extend(draw(1, spec.train[1]));
        let mut test = draw(0, spec.test[0]);
        test.extend(draw(1, spec.test[1]));
        ClassSet {
            names: CLASS_NAMES.map(str::to_string),
            train,
            test,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_set_has_the_lectures_class_sizes() {
        let set = ClassSet::generate(&ClassesSpec::default(), 0);
        assert_eq!(set.train.iter().filter(|p| p.class == 0).count(), 79);
        assert_eq!(set.train.iter().filter(|p| p.class == 1).count(), 61);
        assert_eq!(set.test.len(), 80);
    }

    #[test]
    fn the_same_seed_gives_the_same_set() {
        let s = ClassesSpec::default();
        assert_eq!(ClassSet::generate(&s, 3), ClassSet::generate(&s, 3));
        assert_ne!(ClassSet::generate(&s, 3), ClassSet::generate(&s, 4));
    }

    #[test]
    fn a_large_sample_has_the_intended_means() {
        let spec = ClassesSpec {
            train: [20_000, 20_000],
            test: [0, 0],
            seed: Some(1),
        };
        let set = ClassSet::generate(&spec, 0);
        for c in 0..2 {
            let pts: Vec<_> = set.train.iter().filter(|p| p.class == c).collect();
            let mean0 = pts.iter().map(|p| p.x[0]).sum::<f64>() / pts.len() as f64;
            assert!((mean0 - MEANS[c][0]).abs() < 0.5, "class {c}: {mean0}");
        }
    }
}
