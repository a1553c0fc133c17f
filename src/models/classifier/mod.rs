//! Classification two ways on the same points: the generative route (fit a Gaussian per class,
//! then Bayes' rule; with separate or shared covariance) and the discriminative route (logistic
//! regression, σ(w·x + b) fitted directly by gradient descent on the cross-entropy).
//!
//! The Gaussians have closed forms and are fitted once, before the first step; logistic
//! regression trains live. Its gradient, with t = 1 for class C₁ and f = σ(w·x + b):
//!
//! ```text
//! L = −(1/n) Σ [t ln f + (1 − t) ln(1 − f)]      ∂L/∂w = (1/n) Σ (f − t)·x      ∂L/∂b = (1/n) Σ (f − t)
//! ```
//!
//! The features are standardised for descent (so one learning rate suits both); the reported
//! boundary (w, b) is mapped back to the original units, where w·x + b = 0.

mod family;
mod gaussian;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::steps::{Batches, SmallOptimizer};
use super::{Finals, Finish, Metrics, Model, ModelError};
use crate::config::parse::Ctx;
use crate::config::spec::TrainSpec;
use crate::data::{ClassSet, Labelled};
use crate::visual::{
    Color, Figure, Layer, PanelUpdate, Table, Visual, contour_segments, shown_points,
};
use gaussian::{GenerativeModel, accuracy, sigmoid};

/// Grid for the separate-covariance (quadratic) boundary.
const GRID: usize = 60;
pub const GRID_BYTES: u64 = (GRID * GRID * 8 * 4) as u64;
const CLASS_COLORS: [Color; 2] = [Color::Cyan, Color::Magenta];

/// `model: {kind: generative-classifier, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSpec {
    /// Ellipses drawn around each class, in standard deviations; default [1, 2]; each in (0, 4].
    #[serde(default = "default_ellipses")]
    pub ellipses: Vec<f64>,
}

fn default_ellipses() -> Vec<f64> {
    vec![1.0, 2.0]
}

impl ClassifierSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = self.ellipses.len() <= 4;
        if !ok {
            ctx.error(
                "model.ellipses",
                Some(format!("{:?}", self.ellipses)),
                "at most 4 ellipses",
                "e.g. ellipses: [1, 2]",
            );
        }
        for e in &self.ellipses {
            ok &= ctx.check_positive("model.ellipses", *e, 4.0, "an ellipse size", "1");
        }
        ok.then_some(self)
    }
}

/// Both generative variants and the logistic regression being trained.
pub struct Generative {
    data: ClassSet,
    ellipses: Vec<f64>,
    shared: GenerativeModel,
    separate: GenerativeModel,
    /// Feature standardisation: (mean, std) per feature.
    scale: [(f64, f64); 2],
    /// Logistic weights in standardised units: w₀, w₁, b.
    theta: [f64; 3],
    optimizer: SmallOptimizer,
    batches: Batches,
    separate_segments: Vec<[[f64; 2]; 2]>,
    frame: ([f64; 2], [f64; 2]),
}

impl Generative {
    pub fn new(spec: &ClassifierSpec, data: ClassSet, train: &TrainSpec) -> Generative {
        let shared = GenerativeModel::fit(&data.train, true);
        let separate = GenerativeModel::fit(&data.train, false);
        let stat = |k: usize| {
            let n = data.train.len().max(1) as f64;
            let mean = data.train.iter().map(|p| p.x[k]).sum::<f64>() / n;
            let var = data
                .train
                .iter()
                .map(|p| (p.x[k] - mean).powi(2))
                .sum::<f64>()
                / n;
            (mean, if var > 1e-24 { var.sqrt() } else { 1.0 })
        };
        let all = data.train.iter().chain(&data.test);
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in all {
            for k in 0..2 {
                lo[k] = lo[k].min(p.x[k]);
                hi[k] = hi[k].max(p.x[k]);
            }
        }
        let pad = |k: usize| 0.08 * (hi[k] - lo[k]).max(1e-9);
        let frame = (
            [lo[0] - pad(0), hi[0] + pad(0)],
            [lo[1] - pad(1), hi[1] + pad(1)],
        );
        let n = data.train.len();
        let mut g = Generative {
            scale: [stat(0), stat(1)],
            ellipses: spec.ellipses.clone(),
            theta: [0.0; 3],
            optimizer: SmallOptimizer::new(train.optimizer, 3),
            batches: Batches::new(n, train.batch_size, train.seed ^ 0x10C1_5000_0000_0004),
            separate_segments: Vec::new(),
            frame,
            shared,
            separate,
            data,
        };
        g.separate_segments = g.quadratic_boundary();
        g
    }

    fn z(&self, x: [f64; 2]) -> f64 {
        let s = self.scale;
        self.theta[0] * (x[0] - s[0].0) / s[0].1
            + self.theta[1] * (x[1] - s[1].0) / s[1].1
            + self.theta[2]
    }

    /// The logistic boundary in original units: P(C₁|x) = σ(w·x + b).
    pub fn logistic_boundary(&self) -> ([f64; 2], f64) {
        let s = self.scale;
        let w = [self.theta[0] / s[0].1, self.theta[1] / s[1].1];
        (w, self.theta[2] - w[0] * s[0].0 - w[1] * s[1].0)
    }

    pub fn shared_model(&self) -> &GenerativeModel {
        &self.shared
    }

    pub fn separate_model(&self) -> &GenerativeModel {
        &self.separate
    }

    fn logistic_predict(&self, x: [f64; 2]) -> usize {
        usize::from(self.z(x) < 0.0)
    }

    pub fn accuracies(&self) -> [(Option<f64>, Option<f64>); 3] {
        let (tr, te) = (&self.data.train, &self.data.test);
        [
            (
                accuracy(tr, |x| self.shared.predict(x)),
                accuracy(te, |x| self.shared.predict(x)),
            ),
            (
                accuracy(tr, |x| self.separate.predict(x)),
                accuracy(te, |x| self.separate.predict(x)),
            ),
            (
                accuracy(tr, |x| self.logistic_predict(x)),
                accuracy(te, |x| self.logistic_predict(x)),
            ),
        ]
    }

    fn cross_entropy(&self, pts: &[Labelled]) -> f64 {
        let n = pts.len().max(1) as f64;
        pts.iter()
            .map(|p| {
                let z = self.z(p.x);
                // −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z), computed stably.
                let softplus = |a: f64| a.max(0.0) + (-a.abs()).exp().ln_1p();
                if p.class == 0 {
                    softplus(-z)
                } else {
                    softplus(z)
                }
            })
            .sum::<f64>()
            / n
    }

    fn quadratic_boundary(&self) -> Vec<[[f64; 2]; 2]> {
        let (xr, yr) = self.frame;
        let mut values = Vec::with_capacity(GRID * GRID);
        for j in 0..GRID {
            for i in 0..GRID {
                let x = xr[0] + (xr[1] - xr[0]) * i as f64 / (GRID - 1) as f64;
                let y = yr[0] + (yr[1] - yr[0]) * j as f64 / (GRID - 1) as f64;
                values.push(self.separate.log_odds([x, y]));
            }
        }
        contour_segments(&values, GRID, GRID, xr, yr, 0.0)
    }

    /// The part of the line w·x + b = 0 inside the frame.
    fn line(&self, w: [f64; 2], b: f64) -> Vec<[f64; 2]> {
        let (xr, yr) = self.frame;
        if w[1].abs() >= w[0].abs() && w[1] != 0.0 {
            xr.iter().map(|&x| [x, -(b + w[0] * x) / w[1]]).collect()
        } else if w[0] != 0.0 {
            yr.iter().map(|&y| [-(b + w[1] * y) / w[0], y]).collect()
        } else {
            Vec::new()
        }
    }

    fn figure(&self) -> Figure {
        let mut layers = Vec::new();
        for c in 0..2 {
            for &k in &self.ellipses {
                layers.push(Layer::Line {
                    label: String::new(),
                    color: CLASS_COLORS[c],
                    points: self.separate.classes[c].ellipse(k),
                });
            }
        }
        if let Some((w, b)) = self.shared.linear_boundary() {
            layers.push(Layer::Line {
                label: "shared Σ".into(),
                color: Color::Yellow,
                points: self.line(w, b),
            });
        }
        layers.push(Layer::Segments {
            label: "separate Σ".into(),
            color: Color::Green,
            segments: self.separate_segments.clone(),
        });
        let (w, b) = self.logistic_boundary();
        layers.push(Layer::Line {
            label: "logistic".into(),
            color: Color::White,
            points: self.line(w, b),
        });
        for c in 0..2 {
            layers.push(Layer::Points {
                label: self.data.names[c].clone(),
                color: CLASS_COLORS[c],
                points: shown_points(
                    self.data
                        .train
                        .iter()
                        .filter(|p| p.class == c)
                        .map(|p| p.x)
                        .collect::<Vec<_>>()
                        .into_iter(),
                ),
            });
        }
        Figure {
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            x_range: self.frame.0,
            y_range: self.frame.1,
            layers,
        }
    }

    fn table(&self) -> Table {
        let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1}%", 100.0 * v));
        let names = [
            "shared Σ (linear)",
            "separate Σ (quadratic)",
            "logistic regression",
        ];
        let rows = self
            .accuracies()
            .iter()
            .zip(names)
            .map(|((tr, te), n)| vec![n.to_string(), pct(*tr), pct(*te)])
            .collect();
        Table {
            header: vec!["model".into(), "train acc".into(), "test acc".into()],
            rows,
        }
    }
}

impl Model for Generative {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into(), "test_loss".into()]
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let batch = self.batches.next_batch();
        let n = batch.len() as f64;
        let s = self.scale;
        let mut g = [0.0; 3];
        let mut loss = 0.0;
        for &i in &batch {
            let p = self.data.train[i];
            let x = [(p.x[0] - s[0].0) / s[0].1, (p.x[1] - s[1].0) / s[1].1];
            let z = self.theta[0] * x[0] + self.theta[1] * x[1] + self.theta[2];
            let t = if p.class == 0 { 1.0 } else { 0.0 };
            let f = sigmoid(z);
            let softplus = |a: f64| a.max(0.0) + (-a.abs()).exp().ln_1p();
            loss += if t == 1.0 { softplus(-z) } else { softplus(z) };
            g[0] += (f - t) * x[0] / n;
            g[1] += (f - t) * x[1] / n;
            g[2] += (f - t) / n;
        }
        let mut theta = self.theta;
        self.optimizer.step(&mut theta, &g, lr);
        self.theta = theta;
        Ok(Metrics::from([("loss".to_string(), loss / n)]))
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        Ok({
            let mut m = Metrics::new();
            if !self.data.test.is_empty() {
                m.insert("test_loss".into(), self.cross_entropy(&self.data.test));
            }
            let [_, _, (tr, te)] = self.accuracies();
            if let Some(v) = tr {
                m.insert("logistic_train_acc".into(), v);
            }
            if let Some(v) = te {
                m.insert("logistic_test_acc".into(), v);
            }
            m
        })
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        Ok({
            vec![
                PanelUpdate {
                    panel: "classes".into(),
                    part: "main".into(),
                    visual: Visual::Figure(self.figure()),
                },
                PanelUpdate {
                    panel: "accuracy".into(),
                    part: "main".into(),
                    visual: Visual::Table(self.table()),
                },
            ]
        })
    }

    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        Ok({
            let [(s_tr, s_te), (q_tr, q_te), (l_tr, l_te)] = self.accuracies();
            let mut out = BTreeMap::new();
            let mut shared = json!({"train_acc": s_tr, "test_acc": s_te});
            if let Some((w, b)) = self.shared.linear_boundary() {
                shared["w"] = json!(w);
                shared["b"] = json!(b);
            }
            out.insert("shared_cov".to_string(), shared);
            out.insert(
                "separate_cov".to_string(),
                json!({"train_acc": q_tr, "test_acc": q_te}),
            );
            let (w, b) = self.logistic_boundary();
            out.insert(
                "logistic".to_string(),
                json!({"train_acc": l_tr, "test_acc": l_te, "w": w, "b": b}),
            );
            out.insert(
                "loss".to_string(),
                json!(self.cross_entropy(&self.data.train)),
            );
            out.insert("classes".to_string(), json!(self.data.names));
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Optimizer;
    use crate::data::ClassesSpec;
    use crate::linalg::solve;

    fn model(steps: u64) -> Generative {
        let set = ClassSet::generate(&ClassesSpec::default(), 0);
        let mut g = Generative::new(
            &ClassifierSpec {
                ellipses: default_ellipses(),
            },
            set,
            &TrainSpec::for_tests(Optimizer::Sgd, 0.5, steps),
        );
        for s in 1..=steps {
            g.train_step(s, 0.5).unwrap();
        }
        g
    }

    #[test]
    fn the_shared_covariance_boundary_is_the_textbook_lda_boundary() {
        let g = model(0);
        let pts = &g.data.train;
        // Computed here from scratch: class means, the pooled covariance, then w and b.
        let n = pts.len() as f64;
        let mean = |c: usize| {
            let k: Vec<_> = pts.iter().filter(|p| p.class == c).collect();
            [
                k.iter().map(|p| p.x[0]).sum::<f64>() / k.len() as f64,
                k.iter().map(|p| p.x[1]).sum::<f64>() / k.len() as f64,
            ]
        };
        let (m0, m1) = (mean(0), mean(1));
        let mut pooled = vec![vec![0.0; 2]; 2];
        for p in pts {
            let m = if p.class == 0 { m0 } else { m1 };
            for i in 0..2 {
                for j in 0..2 {
                    pooled[i][j] += (p.x[i] - m[i]) * (p.x[j] - m[j]) / n;
                }
            }
        }
        let w = solve(&pooled, &[m0[0] - m1[0], m0[1] - m1[1]]).unwrap();
        let a0 = solve(&pooled, &m0).unwrap();
        let a1 = solve(&pooled, &m1).unwrap();
        let n0 = pts.iter().filter(|p| p.class == 0).count() as f64;
        let b = -0.5 * (m0[0] * a0[0] + m0[1] * a0[1])
            + 0.5 * (m1[0] * a1[0] + m1[1] * a1[1])
            + (n0 / (n - n0)).ln();
        let (gw, gb) = g.shared_model().linear_boundary().unwrap();
        assert!(
            (gw[0] - w[0]).abs() < 1e-9 * w[0].abs().max(1.0)
                && (gw[1] - w[1]).abs() < 1e-9 * w[1].abs().max(1.0),
            "{gw:?} vs {w:?}"
        );
        assert!((gb - b).abs() < 1e-9 * b.abs().max(1.0), "{gb} vs {b}");
    }

    #[test]
    fn the_gaussian_posterior_is_the_sigmoid_of_the_linear_score_everywhere() {
        let g = model(0);
        let shared = g.shared_model();
        let (w, b) = shared.linear_boundary().unwrap();
        for i in 0..30 {
            for j in 0..30 {
                let x = [10.0 + 4.0 * i as f64, 10.0 + 4.0 * j as f64];
                let bayes = shared.posterior(x);
                let linear = sigmoid(w[0] * x[0] + w[1] * x[1] + b);
                assert!(
                    (bayes - linear).abs() < 1e-9,
                    "at {x:?}: {bayes} vs {linear}"
                );
            }
        }
    }

    #[test]
    fn separate_covariances_give_a_posterior_that_is_not_linear() {
        let g = model(0);
        assert!(g.separate_model().linear_boundary().is_none());
        assert!(
            !g.separate_segments.is_empty(),
            "the quadratic boundary crosses the frame"
        );
    }

    #[test]
    fn logistic_regression_reaches_the_generative_training_accuracy_within_two_points() {
        let g = model(2000);
        let [(shared, _), _, (logistic, _)] = g.accuracies();
        let (shared, logistic) = (shared.unwrap(), logistic.unwrap());
        assert!(
            logistic >= shared - 0.02,
            "logistic {logistic} vs generative {shared}"
        );
    }

    #[test]
    fn descent_lowers_the_cross_entropy() {
        let before = model(0).cross_entropy(&model(0).data.train);
        let after = model(300);
        let after = after.cross_entropy(&after.data.train);
        assert!(after < before * 0.8, "{before} → {after}");
    }

    #[test]
    fn the_reported_boundary_in_original_units_classifies_like_the_model() {
        let g = model(500);
        let (w, b) = g.logistic_boundary();
        for p in g.data.train.iter().chain(&g.data.test) {
            let by_line = usize::from(w[0] * p.x[0] + w[1] * p.x[1] + b < 0.0);
            assert_eq!(by_line, g.logistic_predict(p.x));
        }
    }
}
