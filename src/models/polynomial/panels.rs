//! What the model-selection lesson draws: the fitted curves over the points, the species
//! model's lines, the error table and bars per degree, and error against the penalty λ.

use super::Polynomials;
use super::fit::Fit;
use crate::data::cp::CpPoint;
use crate::visual::{Bars, Color, Figure, Layer, Table, shown_points};

const CURVE_COLORS: [Color; 8] = [
    Color::Yellow,
    Color::Green,
    Color::Blue,
    Color::Red,
    Color::White,
    Color::Cyan,
    Color::Magenta,
    Color::Gray,
];

/// A figure over the CP plane: x the CP before evolving, y after.
fn cp_figure(x_range: [f64; 2], y_range: [f64; 2], layers: Vec<Layer>) -> Figure {
    Figure {
        x_label: "x (CP before)".into(),
        y_label: "y".into(),
        x_range,
        y_range,
        layers,
    }
}

impl Polynomials {
    fn frame(&self) -> ([f64; 2], [f64; 2]) {
        let all = self.data.train.iter().chain(&self.data.test);
        let x_max = all.clone().map(|p| p.x).fold(0.0, f64::max) * 1.05;
        let y_max = all.map(|p| p.y).fold(0.0, f64::max) * 1.15;
        ([0.0, x_max.max(1.0)], [0.0, y_max.max(1.0)])
    }

    fn scatter(&self) -> Vec<Layer> {
        vec![
            Layer::Points {
                label: "train".into(),
                color: Color::Cyan,
                points: shown_points(self.data.train.iter().map(|p| [p.x, p.y])),
            },
            Layer::Points {
                label: "test".into(),
                color: Color::Magenta,
                points: shown_points(self.data.test.iter().map(|p| [p.x, p.y])),
            },
        ]
    }

    fn curve(&self, f: &Fit, species: usize, x_range: [f64; 2]) -> Vec<[f64; 2]> {
        (0..=120)
            .map(|i| {
                let x = x_range[0] + (x_range[1] - x_range[0]) * i as f64 / 120.0;
                [x, f.predict(&CpPoint { x, y: 0.0, species }, self.norm)]
            })
            .collect()
    }

    pub(super) fn fits_figure(&self) -> Figure {
        let (x_range, y_range) = self.frame();
        let mut layers = Vec::new();
        for (i, f) in self.degree_fits().iter().enumerate() {
            layers.push(Layer::Line {
                label: f.label.clone(),
                color: CURVE_COLORS[i % CURVE_COLORS.len()],
                points: self.curve(f, 0, x_range),
            });
        }
        layers.extend(self.scatter());
        cp_figure(x_range, y_range, layers)
    }

    pub(super) fn species_figure(&self, f: &Fit) -> Figure {
        let (x_range, y_range) = self.frame();
        let mut layers = Vec::new();
        for (s, name) in self.species.iter().enumerate() {
            let color = CURVE_COLORS[s % CURVE_COLORS.len()];
            let pts: Vec<[f64; 2]> = self
                .data
                .train
                .iter()
                .chain(&self.data.test)
                .filter(|p| p.species == s)
                .map(|p| [p.x, p.y])
                .collect();
            if pts.is_empty() {
                continue;
            }
            layers.push(Layer::Line {
                label: name.clone(),
                color,
                points: self.curve(f, s, x_range),
            });
            layers.push(Layer::Points {
                label: String::new(),
                color,
                points: shown_points(pts.into_iter()),
            });
        }
        cp_figure(x_range, y_range, layers)
    }

    pub(super) fn table(&self) -> Table {
        let cell = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1}"));
        let mut rows = Vec::new();
        for f in self.degree_fits().iter().chain(self.species_fit()) {
            let (tr, te) = self.errors(f);
            rows.push(vec![f.label.clone(), cell(tr), cell(te)]);
        }
        Table {
            header: vec!["model".into(), "train error".into(), "test error".into()],
            rows,
        }
    }

    pub(super) fn bars(&self) -> Bars {
        let use_test = !self.data.test.is_empty();
        Bars {
            bars: self
                .degree_fits()
                .iter()
                .chain(self.species_fit())
                .map(|f| {
                    let (tr, te) = self.errors(f);
                    let v = if use_test { te } else { tr };
                    (f.label.clone(), v.unwrap_or(0.0))
                })
                .collect(),
        }
    }

    pub(super) fn lambda_figure(&self) -> Figure {
        let pts = |test: bool| -> Vec<[f64; 2]> {
            self.sweep_fits()
                .iter()
                .zip(&self.lambdas)
                .filter_map(|(f, l)| {
                    let (tr, te) = self.errors(f);
                    Some([l.log10(), if test { te? } else { tr? }])
                })
                .collect()
        };
        let (train, test) = (pts(false), pts(true));
        let ys = train.iter().chain(&test).map(|p| p[1]);
        let y_max = ys.clone().fold(0.0, f64::max) * 1.15;
        let lx: Vec<f64> = self.lambdas.iter().map(|l| l.log10()).collect();
        let x_range = [
            lx.iter().cloned().fold(f64::INFINITY, f64::min) - 0.3,
            lx.iter().cloned().fold(f64::NEG_INFINITY, f64::max) + 0.3,
        ];
        Figure {
            x_label: format!("log₁₀ λ (degree {})", self.sweep_degree),
            y_label: "error".into(),
            x_range,
            y_range: [0.0, y_max.max(1.0)],
            layers: vec![
                Layer::Line {
                    label: "train".into(),
                    color: Color::Cyan,
                    points: train,
                },
                Layer::Line {
                    label: "test".into(),
                    color: Color::Magenta,
                    points: test,
                },
            ],
        }
    }
}
