//! The fits of the model-selection lesson: which features each uses, the feature scaling that
//! lets one learning rate serve them all, and one fit's gradient step.

use super::super::steps::SmallOptimizer;
use crate::config::spec::Optimizer;
use crate::data::cp::CpPoint;
use crate::linalg::least_squares;

/// Which features a fit uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Basis {
    /// z, z², …, z^degree.
    Poly(u32),
    /// A bias per species (beyond the first) and a slope per species.
    Species(usize),
}

impl Basis {
    pub(super) fn raw(&self, z: f64, species: usize) -> Vec<f64> {
        match *self {
            Basis::Poly(d) => (1..=d as i32).map(|k| z.powi(k)).collect(),
            Basis::Species(n) => {
                let mut f = vec![0.0; 2 * n - 1];
                if species > 0 && species < n {
                    f[species - 1] = 1.0;
                }
                if species < n {
                    f[n - 1 + species] = z;
                }
                f
            }
        }
    }
}

/// One fitted model: its features, weights, penalty and optimiser state.
pub(super) struct Fit {
    pub(super) label: String,
    pub(super) basis: Basis,
    pub(super) lambda: f64,
    /// Training mean of each raw feature.
    pub(super) mean: Vec<f64>,
    /// Feature scaling: scaled feature j = Σₖ transform[j][k]·(raw feature k − mean k).
    pub(super) transform: Vec<Vec<f64>>,
    /// Bias first, then one weight per feature.
    pub(super) w: Vec<f64>,
    pub(super) optimizer: SmallOptimizer,
    pub(super) closed: Option<Vec<f64>>,
}

/// Standardisation of x and y.
#[derive(Clone, Copy)]
pub(super) struct Norm {
    pub(super) x: (f64, f64),
    pub(super) y: (f64, f64),
}

pub(super) fn mean_std(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count().max(1) as f64;
    let mean = v.clone().sum::<f64>() / n;
    let var = v.map(|a| (a - mean) * (a - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 1e-12 { std } else { 1.0 })
}

/// Feature scaling that also removes correlation: each feature, centred, minus its projection on
/// the features before it, divided by its spread (Gram–Schmidt on the training points). Powers
/// z, z², z³ … are strongly correlated, and scaling alone leaves gradient descent crawling for
/// ever along the correlated directions; after this every direction has the same curvature.
/// The fitted function is still a polynomial in x of the same degree. A feature that adds
/// nothing new (say, a species with no training point) becomes 0.
pub(super) fn decorrelate(raw: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = raw.len().max(1) as f64;
    let d = raw.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..d)
        .map(|j| raw.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let cols: Vec<Vec<f64>> = (0..d)
        .map(|j| raw.iter().map(|r| r[j] - mean[j]).collect())
        .collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / n;
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(d);
    let mut transform: Vec<Vec<f64>> = Vec::with_capacity(d);
    for j in 0..d {
        let mut v = cols[j].clone();
        let mut coef = vec![0.0; d];
        coef[j] = 1.0;
        for i in 0..j {
            let proj = dot(&v, &q[i]);
            for (a, b) in v.iter_mut().zip(&q[i]) {
                *a -= proj * b;
            }
            for (c, t) in coef.iter_mut().zip(&transform[i]) {
                *c -= proj * t;
            }
        }
        let spread = dot(&v, &v).sqrt();
        if spread <= 1e-9 * dot(&cols[j], &cols[j]).sqrt().max(1e-300) {
            q.push(vec![0.0; raw.len()]);
            transform.push(vec![0.0; d]);
        } else {
            q.push(v.iter().map(|a| a / spread).collect());
            transform.push(coef.iter().map(|c| c / spread).collect());
        }
    }
    (mean, transform)
}

impl Fit {
    pub(super) fn new(
        label: String,
        basis: Basis,
        lambda: f64,
        train: &[CpPoint],
        norm: Norm,
        optimizer: Optimizer,
    ) -> Fit {
        let raw: Vec<Vec<f64>> = train
            .iter()
            .map(|p| basis.raw((p.x - norm.x.0) / norm.x.1, p.species))
            .collect();
        let (mean, transform) = decorrelate(&raw);
        let d = mean.len();
        let mut fit = Fit {
            label,
            basis,
            lambda,
            mean,
            transform,
            w: vec![0.0; d + 1],
            optimizer: SmallOptimizer::new(optimizer, d + 1),
            closed: None,
        };
        let rows: Vec<Vec<f64>> = train.iter().map(|p| fit.design(p, norm)).collect();
        let t: Vec<f64> = train.iter().map(|p| (p.y - norm.y.0) / norm.y.1).collect();
        let n = train.len() as f64;
        // A vanishing ridge keeps the closed form defined when a feature is 0 (its weight stays
        // 0 under descent too, so nothing else changes).
        let ridge: Vec<f64> = (0..=d)
            .map(|j| if j == 0 { 0.0 } else { n * lambda.max(1e-12) })
            .collect();
        fit.closed = least_squares(&rows, &t, &ridge);
        fit
    }

    /// [1, scaled features].
    pub(super) fn design(&self, p: &CpPoint, norm: Norm) -> Vec<f64> {
        let raw = self.basis.raw((p.x - norm.x.0) / norm.x.1, p.species);
        let centred: Vec<f64> = raw.iter().zip(&self.mean).map(|(f, m)| f - m).collect();
        std::iter::once(1.0)
            .chain(
                self.transform
                    .iter()
                    .map(|row| row.iter().zip(&centred).map(|(a, b)| a * b).sum()),
            )
            .collect()
    }

    pub(super) fn predict_with(&self, w: &[f64], p: &CpPoint, norm: Norm) -> f64 {
        let phi = self.design(p, norm);
        norm.y.0 + norm.y.1 * phi.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()
    }

    pub(super) fn predict(&self, p: &CpPoint, norm: Norm) -> f64 {
        self.predict_with(&self.w, p, norm)
    }

    pub(super) fn error(&self, pts: &[CpPoint], norm: Norm, w: &[f64]) -> Option<f64> {
        (!pts.is_empty()).then(|| {
            pts.iter()
                .map(|p| (p.y - self.predict_with(w, p, norm)).abs())
                .sum::<f64>()
                / pts.len() as f64
        })
    }

    /// One full-batch step; returns the loss before it.
    pub(super) fn step(&mut self, rows: &[(Vec<f64>, f64)], lr: f64) -> f64 {
        let n = rows.len() as f64;
        let mut g = vec![0.0; self.w.len()];
        let mut loss = 0.0;
        for (phi, target) in rows {
            let r = target - phi.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>();
            loss += r * r;
            for (gj, fj) in g.iter_mut().zip(phi) {
                *gj += -2.0 * r * fj / n;
            }
        }
        loss /= n;
        for j in 1..self.w.len() {
            g[j] += 2.0 * self.lambda * self.w[j];
            loss += self.lambda * self.w[j] * self.w[j];
        }
        let mut w = std::mem::take(&mut self.w);
        self.optimizer.step(&mut w, &g, lr);
        self.w = w;
        loss
    }
}
