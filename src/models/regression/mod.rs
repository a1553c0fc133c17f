//! Linear regression y = b + w·x, trained by gradient descent with hand-derived gradients.
//!
//! The lecture's first model. With residuals rᵢ = yᵢ − (b + w·xᵢ) and the loss
//! L(b, w) = (1/n) Σ rᵢ², the gradients are
//!
//! ```text
//! ∂L/∂b = −(2/n) Σ rᵢ          ∂L/∂w = −(2/n) Σ rᵢ·xᵢ
//! ```
//!
//! Plain gradient descent moves (b, w) against them by η·g. Because x is in the hundreds, the
//! loss surface is a long narrow valley (w is far more sensitive than b) and plain descent
//! either crawls along b or blows up along w; Adagrad divides each parameter's step by the
//! root of its own summed squared gradients, which evens the two out. The closed-form optimum
//! (the normal equations) is computed too, so the learner sees how close descent gets.

mod family;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::steps::{Batches, SmallOptimizer};
use super::{Finals, Finish, Metrics, Model, ModelError};
use crate::config::parse::Ctx;
use crate::config::spec::TrainSpec;
use crate::data::CpSet;
#[cfg(test)]
use crate::data::CpSpec;
use crate::data::cp::CpPoint;
use crate::visual::{Color, Figure, Layer, PanelUpdate, Visual, contour_segments, shown_points};

/// Grid resolution of the loss surface, per axis.
const GRID: usize = 48;
/// Memory the loss surface takes (grid values and contour segments, generously).
pub const SURFACE_BYTES: u64 = (GRID * GRID * 8 * 40) as u64;
/// Contour lines drawn on the loss surface.
const CONTOURS: usize = 7;
/// Most points kept in the descent path.
const MAX_PATH: usize = 4000;

/// `model: {kind: linear-regression, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearRegressionSpec {
    /// Where descent starts: the bias b. Default −120 (any finite number).
    #[serde(default = "default_b")]
    pub init_b: f64,
    /// Where descent starts: the weight w. Default −4.
    #[serde(default = "default_w")]
    pub init_w: f64,
}

fn default_b() -> f64 {
    -120.0
}
fn default_w() -> f64 {
    -4.0
}

impl LinearRegressionSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let a = ctx.check_range("model.init_b", self.init_b, -1e6, 1e6, "the starting bias");
        let b = ctx.check_range(
            "model.init_w",
            self.init_w,
            -1e4,
            1e4,
            "the starting weight",
        );
        (a && b).then_some(self)
    }
}

/// The least-squares line through the points, from the normal equations.
pub fn closed_form(points: &[CpPoint]) -> (f64, f64) {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.x).sum::<f64>() / n;
    let my = points.iter().map(|p| p.y).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.x - mx) * (p.y - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.x - mx) * (p.x - mx)).sum();
    let w = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - w * mx, w)
}

/// Mean squared error of the line (b, w) on the points.
pub fn mse(points: &[CpPoint], b: f64, w: f64) -> f64 {
    points
        .iter()
        .map(|p| (p.y - b - w * p.x).powi(2))
        .sum::<f64>()
        / points.len().max(1) as f64
}

/// The lecture's "average error": mean absolute difference between prediction and truth.
pub fn average_error(points: &[CpPoint], b: f64, w: f64) -> f64 {
    points
        .iter()
        .map(|p| (p.y - b - w * p.x).abs())
        .sum::<f64>()
        / points.len().max(1) as f64
}

/// The training (cyan) and testing (magenta) points of a CP set, for a figure.
pub(crate) fn cp_scatter(set: &CpSet) -> Vec<Layer> {
    vec![
        Layer::Points {
            label: "train".into(),
            color: Color::Cyan,
            points: shown_points(set.train.iter().map(|p| [p.x, p.y])),
        },
        Layer::Points {
            label: "test".into(),
            color: Color::Magenta,
            points: shown_points(set.test.iter().map(|p| [p.x, p.y])),
        },
    ]
}

/// The model being trained, its data, and what it has drawn so far.
pub struct LinearRegression {
    data: CpSet,
    b: f64,
    w: f64,
    optimizer: SmallOptimizer,
    batches: Batches,
    optimum: (f64, f64),
    surface: SurfaceFrame,
    path: Vec<[f64; 2]>,
    path_every: u64,
    steps_done: u64,
}

/// The (b, w) window of the loss-surface plot.
struct SurfaceFrame {
    b_range: [f64; 2],
    w_range: [f64; 2],
}

impl LinearRegression {
    pub fn new(spec: &LinearRegressionSpec, data: CpSet, train: &TrainSpec, seed: u64) -> Self {
        let optimum = closed_form(&data.train);
        let surface = frame_around([spec.init_b, optimum.0], [spec.init_w, optimum.1]);
        let n = data.train.len();
        LinearRegression {
            b: spec.init_b,
            w: spec.init_w,
            optimizer: SmallOptimizer::new(train.optimizer, 2),
            batches: Batches::new(n, train.batch_size, seed ^ 0xBA7C_4000_0000_0003),
            optimum,
            surface,
            path: vec![[spec.init_b, spec.init_w]],
            path_every: (train.steps / MAX_PATH as u64).max(1),
            steps_done: 0,
            data,
        }
    }

    /// The current line (b, w).
    pub fn params(&self) -> (f64, f64) {
        (self.b, self.w)
    }

    fn fit_figure(&self) -> Figure {
        let all = self.data.train.iter().chain(&self.data.test);
        let x_max = all.clone().map(|p| p.x).fold(0.0, f64::max) * 1.05;
        let y_max = all.map(|p| p.y).fold(0.0, f64::max) * 1.1;
        let line = |b: f64, w: f64| vec![[0.0, b], [x_max, b + w * x_max]];
        Figure {
            x_label: "x (CP before)".into(),
            y_label: "y (CP after)".into(),
            x_range: [0.0, x_max],
            y_range: [0.0, y_max],
            layers: vec![
                Layer::Line {
                    label: "optimum".into(),
                    color: Color::Gray,
                    points: line(self.optimum.0, self.optimum.1),
                },
                Layer::Line {
                    label: "y = b + w·x".into(),
                    color: Color::Yellow,
                    points: line(self.b, self.w),
                },
            ]
            .into_iter()
            .chain(cp_scatter(&self.data))
            .collect(),
        }
    }

    fn surface_background(&self) -> Figure {
        let f = &self.surface;
        let mut values = Vec::with_capacity(GRID * GRID);
        for j in 0..GRID {
            for i in 0..GRID {
                let b = f.b_range[0] + (f.b_range[1] - f.b_range[0]) * i as f64 / (GRID - 1) as f64;
                let w = f.w_range[0] + (f.w_range[1] - f.w_range[0]) * j as f64 / (GRID - 1) as f64;
                values.push(mse(&self.data.train, b, w).max(1e-12).log10());
            }
        }
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut segments = Vec::new();
        for k in 1..=CONTOURS {
            let level = lo + (hi - lo) * k as f64 / (CONTOURS + 1) as f64;
            segments.extend(contour_segments(
                &values, GRID, GRID, f.b_range, f.w_range, level,
            ));
        }
        Figure {
            x_label: "b".into(),
            y_label: "w".into(),
            x_range: f.b_range,
            y_range: f.w_range,
            layers: vec![
                Layer::Segments {
                    label: "log loss contours".into(),
                    color: Color::Blue,
                    segments,
                },
                Layer::Marker {
                    label: "optimum".into(),
                    color: Color::Red,
                    at: [self.optimum.0, self.optimum.1],
                    symbol: "×".into(),
                },
            ],
        }
    }

    fn surface_path(&self) -> Figure {
        let f = &self.surface;
        Figure {
            x_label: "b".into(),
            y_label: "w".into(),
            x_range: f.b_range,
            y_range: f.w_range,
            layers: vec![
                Layer::Line {
                    label: "descent path".into(),
                    color: Color::Yellow,
                    points: self.path.clone(),
                },
                Layer::Marker {
                    label: "now".into(),
                    color: Color::White,
                    at: [self.b, self.w],
                    symbol: "●".into(),
                },
            ],
        }
    }
}

/// A window that holds both points with a margin.
fn frame_around(bs: [f64; 2], ws: [f64; 2]) -> SurfaceFrame {
    let pad = |lo: f64, hi: f64, min_span: f64| {
        let span = (hi - lo).abs().max(min_span);
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        [lo - 0.35 * span, hi + 0.35 * span]
    };
    SurfaceFrame {
        b_range: pad(bs[0], bs[1], 50.0),
        w_range: pad(ws[0], ws[1], 1.0),
    }
}

impl Model for LinearRegression {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into(), "test_loss".into()]
    }

    fn intro(&mut self) -> Vec<PanelUpdate> {
        vec![PanelUpdate {
            panel: "surface".into(),
            part: "background".into(),
            visual: Visual::Figure(self.surface_background()),
        }]
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let batch = self.batches.next_batch();
        let n = batch.len() as f64;
        let (mut gb, mut gw, mut loss) = (0.0, 0.0, 0.0);
        for &i in &batch {
            let p = self.data.train[i];
            let r = p.y - (self.b + self.w * p.x);
            gb += -2.0 * r;
            gw += -2.0 * r * p.x;
            loss += r * r;
        }
        let (gb, gw, loss) = (gb / n, gw / n, loss / n);
        let mut theta = [self.b, self.w];
        self.optimizer.step(&mut theta, &[gb, gw], lr);
        [self.b, self.w] = theta;
        self.steps_done += 1;
        if self.steps_done.is_multiple_of(self.path_every) && self.path.len() < 2 * MAX_PATH {
            self.path.push([self.b, self.w]);
        }
        Ok(Metrics::from([("loss".to_string(), loss)]))
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        Ok({
            let (b, w) = (self.b, self.w);
            let mut m = Metrics::from([
                (
                    "train_error".to_string(),
                    average_error(&self.data.train, b, w),
                ),
                ("b".to_string(), b),
                ("w".to_string(), w),
            ]);
            // A CSV without test rows has no test numbers (not zeros).
            if !self.data.test.is_empty() {
                m.insert("test_loss".into(), mse(&self.data.test, b, w));
                m.insert("test_error".into(), average_error(&self.data.test, b, w));
            }
            m
        })
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        Ok({
            vec![
                PanelUpdate {
                    panel: "fit".into(),
                    part: "main".into(),
                    visual: Visual::Figure(self.fit_figure()),
                },
                PanelUpdate {
                    panel: "surface".into(),
                    part: "path".into(),
                    visual: Visual::Figure(self.surface_path()),
                },
            ]
        })
    }

    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        Ok({
            let (b, w) = (self.b, self.w);
            let num = |v: f64| serde_json::json!(v);
            BTreeMap::from([
                ("b".to_string(), num(b)),
                ("w".to_string(), num(w)),
                ("b_star".to_string(), num(self.optimum.0)),
                ("w_star".to_string(), num(self.optimum.1)),
                ("loss".to_string(), num(mse(&self.data.train, b, w))),
                (
                    "train_error".to_string(),
                    num(average_error(&self.data.train, b, w)),
                ),
                (
                    "test_error".to_string(),
                    if self.data.test.is_empty() {
                        serde_json::Value::Null
                    } else {
                        num(average_error(&self.data.test, b, w))
                    },
                ),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Optimizer;

    fn spec() -> LinearRegressionSpec {
        LinearRegressionSpec {
            init_b: default_b(),
            init_w: default_w(),
        }
    }

    #[test]
    fn the_closed_form_recovers_an_exact_line() {
        let pts: Vec<CpPoint> = (0..5)
            .map(|i| CpPoint {
                x: i as f64,
                y: 3.0 + 2.0 * i as f64,
                species: 0,
            })
            .collect();
        let (b, w) = closed_form(&pts);
        assert!(
            (b - 3.0).abs() < 1e-12 && (w - 2.0).abs() < 1e-12,
            "b={b} w={w}"
        );
    }

    #[test]
    fn the_hand_derived_gradient_matches_finite_differences() {
        let set = CpSet::generate(&CpSpec::default(), 3);
        let (b, w) = (-10.0, 1.5);
        let h = 1e-4;
        let db = (mse(&set.train, b + h, w) - mse(&set.train, b - h, w)) / (2.0 * h);
        let dw = (mse(&set.train, b, w + h) - mse(&set.train, b, w - h)) / (2.0 * h);
        let n = set.train.len() as f64;
        let gb: f64 = set
            .train
            .iter()
            .map(|p| -2.0 * (p.y - b - w * p.x))
            .sum::<f64>()
            / n;
        let gw: f64 = set
            .train
            .iter()
            .map(|p| -2.0 * (p.y - b - w * p.x) * p.x)
            .sum::<f64>()
            / n;
        assert!((db - gb).abs() / gb.abs() < 1e-6, "{db} vs {gb}");
        assert!((dw - gw).abs() / gw.abs() < 1e-6, "{dw} vs {gw}");
    }

    #[test]
    fn adagrad_at_the_default_settings_reaches_the_least_squares_optimum() {
        let train = TrainSpec::for_tests(Optimizer::Adagrad, 10.0, 3000);
        let mut m =
            LinearRegression::new(&spec(), CpSet::generate(&CpSpec::default(), 0), &train, 0);
        for s in 1..=train.steps {
            m.train_step(s, train.lr).unwrap();
        }
        let (b, w) = m.params();
        let (bs, ws) = m.optimum;
        assert!((b - bs).abs() / bs.abs() < 1e-3, "b = {b}, b* = {bs}");
        assert!((w - ws).abs() / ws.abs() < 1e-3, "w = {w}, w* = {ws}");
    }

    #[test]
    fn plain_descent_with_a_large_rate_blows_up() {
        let train = TrainSpec::for_tests(Optimizer::Sgd, 1e-3, 200);
        let mut m =
            LinearRegression::new(&spec(), CpSet::generate(&CpSpec::default(), 0), &train, 0);
        let mut last = 0.0;
        for s in 1..=train.steps {
            last = m.train_step(s, train.lr).unwrap()["loss"];
        }
        assert!(!last.is_finite() || last > 1e100, "loss = {last}");
    }

    #[test]
    fn plain_descent_with_a_small_rate_lowers_the_loss() {
        let train = TrainSpec::for_tests(Optimizer::Sgd, 1e-6, 100);
        let mut m =
            LinearRegression::new(&spec(), CpSet::generate(&CpSpec::default(), 0), &train, 0);
        let first = m.train_step(1, train.lr).unwrap()["loss"];
        let mut last = first;
        for s in 2..=train.steps {
            last = m.train_step(s, train.lr).unwrap()["loss"];
        }
        assert!(last < first / 10.0, "{first} → {last}");
    }
}
