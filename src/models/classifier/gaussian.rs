//! The probabilistic generative classifier for two classes in 2-D.
//!
//! Each class Cₖ gets a Gaussian N(μₖ, Σₖ) fitted by maximum likelihood (the sample mean, and
//! the covariance with 1/n) and a prior P(Cₖ) = nₖ/n. Bayes' rule gives the posterior
//!
//! ```text
//! P(C₁|x) = p(x|C₁)P(C₁) / (p(x|C₁)P(C₁) + p(x|C₂)P(C₂)) = σ(z),   z = ln p(x|C₁)P(C₁) − ln p(x|C₂)P(C₂)
//! ```
//!
//! When both classes share one covariance Σ = (n₁Σ₁ + n₂Σ₂)/n, the quadratic terms of z cancel
//! and z = w·x + b with
//!
//! ```text
//! w = Σ⁻¹(μ₁ − μ₂),   b = −½ μ₁ᵀΣ⁻¹μ₁ + ½ μ₂ᵀΣ⁻¹μ₂ + ln(n₁/n₂)
//! ```
//!
//! — a linear boundary, the same form logistic regression learns directly.

use crate::data::Labelled;
use crate::linalg::{Mat2, det2, dot2, inv2, mul2v, sym_eigen2};

/// A 2-D Gaussian.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gaussian {
    pub mean: [f64; 2],
    pub cov: Mat2,
}

impl Gaussian {
    /// Maximum-likelihood fit: sample mean and covariance (divided by n, not n − 1).
    pub fn fit(points: &[[f64; 2]]) -> Gaussian {
        let n = points.len().max(1) as f64;
        let mean = [
            points.iter().map(|p| p[0]).sum::<f64>() / n,
            points.iter().map(|p| p[1]).sum::<f64>() / n,
        ];
        let mut cov = [[0.0; 2]; 2];
        for p in points {
            let d = [p[0] - mean[0], p[1] - mean[1]];
            for i in 0..2 {
                for j in 0..2 {
                    cov[i][j] += d[i] * d[j] / n;
                }
            }
        }
        Gaussian { mean, cov }
    }

    /// ln N(x; μ, Σ), or −∞ when Σ is singular.
    pub fn log_density(&self, x: [f64; 2]) -> f64 {
        let Some(inv) = inv2(&self.cov) else {
            return f64::NEG_INFINITY;
        };
        let d = [x[0] - self.mean[0], x[1] - self.mean[1]];
        -0.5 * dot2(d, mul2v(&inv, d))
            - 0.5 * det2(&self.cov).ln()
            - (2.0 * std::f64::consts::PI).ln()
    }

    /// The ellipse at `k` standard deviations, as a closed polyline.
    pub fn ellipse(&self, k: f64) -> Vec<[f64; 2]> {
        let (vals, vecs) = sym_eigen2(&self.cov);
        let (a, b) = (k * vals[0].max(0.0).sqrt(), k * vals[1].max(0.0).sqrt());
        (0..=64)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / 64.0;
                let (u, v) = (a * t.cos(), b * t.sin());
                [
                    self.mean[0] + u * vecs[0][0] + v * vecs[1][0],
                    self.mean[1] + u * vecs[0][1] + v * vecs[1][1],
                ]
            })
            .collect()
    }
}

/// Class-conditional Gaussians and priors; class 0 is C₁.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerativeModel {
    pub classes: [Gaussian; 2],
    pub priors: [f64; 2],
    pub counts: [usize; 2],
    pub shared: bool,
}

impl GenerativeModel {
    /// Fits both classes; with `shared`, both use the count-weighted average covariance.
    pub fn fit(train: &[Labelled], shared: bool) -> GenerativeModel {
        let pts = |c: usize| -> Vec<[f64; 2]> {
            train.iter().filter(|p| p.class == c).map(|p| p.x).collect()
        };
        let (p0, p1) = (pts(0), pts(1));
        let mut classes = [Gaussian::fit(&p0), Gaussian::fit(&p1)];
        let counts = [p0.len(), p1.len()];
        let n = (counts[0] + counts[1]).max(1) as f64;
        if shared {
            let mut cov = [[0.0; 2]; 2];
            for i in 0..2 {
                for j in 0..2 {
                    cov[i][j] = (counts[0] as f64 * classes[0].cov[i][j]
                        + counts[1] as f64 * classes[1].cov[i][j])
                        / n;
                }
            }
            classes[0].cov = cov;
            classes[1].cov = cov;
        }
        GenerativeModel {
            classes,
            priors: [counts[0] as f64 / n, counts[1] as f64 / n],
            counts,
            shared,
        }
    }

    /// z = ln p(x|C₁)P(C₁) − ln p(x|C₂)P(C₂); the posterior is σ(z).
    pub fn log_odds(&self, x: [f64; 2]) -> f64 {
        (self.classes[0].log_density(x) + self.priors[0].ln())
            - (self.classes[1].log_density(x) + self.priors[1].ln())
    }

    /// P(C₁ | x) by Bayes' rule.
    pub fn posterior(&self, x: [f64; 2]) -> f64 {
        sigmoid(self.log_odds(x))
    }

    /// Class 0 when P(C₁|x) ≥ ½.
    pub fn predict(&self, x: [f64; 2]) -> usize {
        usize::from(self.log_odds(x) < 0.0)
    }

    /// For a shared covariance: (w, b) with P(C₁|x) = σ(w·x + b). `None` for separate
    /// covariances (the boundary is then quadratic) or a singular covariance.
    pub fn linear_boundary(&self) -> Option<([f64; 2], f64)> {
        if !self.shared {
            return None;
        }
        let inv = inv2(&self.classes[0].cov)?;
        let (m1, m2) = (self.classes[0].mean, self.classes[1].mean);
        let w = mul2v(&inv, [m1[0] - m2[0], m1[1] - m2[1]]);
        let b = -0.5 * dot2(m1, mul2v(&inv, m1))
            + 0.5 * dot2(m2, mul2v(&inv, m2))
            + (self.counts[0] as f64 / self.counts[1] as f64).ln();
        Some((w, b))
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Fraction of points whose class `predict` gets right.
pub fn accuracy(points: &[Labelled], predict: impl Fn([f64; 2]) -> usize) -> Option<f64> {
    (!points.is_empty()).then(|| {
        points.iter().filter(|p| predict(p.x) == p.class).count() as f64 / points.len() as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mle_of_a_symmetric_sample_is_its_centre_and_spread() {
        let g = Gaussian::fit(&[[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]]);
        assert_eq!(g.mean, [0.0, 0.0]);
        assert_eq!(g.cov, [[0.5, 0.0], [0.0, 2.0]]);
    }

    #[test]
    fn the_density_integrates_to_one() {
        let g = Gaussian {
            mean: [1.0, -1.0],
            cov: [[2.0, 0.6], [0.6, 1.0]],
        };
        let h = 0.05;
        let mut total = 0.0;
        for i in -200..200 {
            for j in -200..200 {
                total += g
                    .log_density([1.0 + i as f64 * h, -1.0 + j as f64 * h])
                    .exp()
                    * h
                    * h;
            }
        }
        assert!((total - 1.0).abs() < 1e-3, "{total}");
    }

    #[test]
    fn every_ellipse_point_is_k_standard_deviations_away() {
        let g = Gaussian {
            mean: [3.0, 4.0],
            cov: [[4.0, 1.5], [1.5, 2.0]],
        };
        let inv = inv2(&g.cov).unwrap();
        for p in g.ellipse(2.0) {
            let d = [p[0] - 3.0, p[1] - 4.0];
            let m = dot2(d, mul2v(&inv, d)).sqrt();
            assert!((m - 2.0).abs() < 1e-9, "{m}");
        }
    }
}
