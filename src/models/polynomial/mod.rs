//! Model selection: polynomials of several degrees, a species-aware model, and ridge
//! regularisation, all fitted side by side by gradient descent on the same points.
//!
//! Degree k means y = b + Σⱼ₌₁..ₖ wⱼ·zʲ with z = (x − mean)/std. Each power is then
//! standardised too (feature scaling), and so is y: without that, x⁵ is ~10¹³ times larger than
//! x and no single learning rate suits every weight. The loss of a fit with penalty λ is
//!
//! ```text
//! L = (1/n) Σᵢ (tᵢ − b − w·φᵢ)² + λ Σⱼ wⱼ²        (the bias b is not penalised)
//! ∂L/∂b = −(2/n) Σᵢ rᵢ      ∂L/∂wⱼ = −(2/n) Σᵢ rᵢ·φᵢⱼ + 2λ·wⱼ
//! ```
//!
//! Every fit is also solved in closed form (ridge normal equations), so the learner sees that
//! descent lands where the algebra says, and errors are reported in CP units (mean |error|).
//!
//! Here: the run (`Polynomials`) and its `Model` impl. The `model:` section is in `spec`, the
//! features, scaling and gradient step of one fit in `fit`, and what the lesson draws in
//! `panels`.

use std::collections::BTreeMap;

mod family;

mod fit;
mod panels;
mod spec;

#[cfg(test)]
use fit::decorrelate;
use fit::{Basis, Fit, Norm, mean_std};

pub use spec::PolynomialSpec;

use super::{Finals, Finish, Metrics, Model, ModelError};
use crate::config::spec::TrainSpec;
use crate::data::CpSet;
use crate::visual::{PanelUpdate, Visual};

/// The lesson's model: every fit, trained together.
pub struct Polynomials {
    data: CpSet,
    species: Vec<String>,
    norm: Norm,
    /// Fits by degree, then the species model, then the λ sweep.
    fits: Vec<Fit>,
    /// Each fit's training rows (design, standardised target), computed once.
    rows: Vec<Vec<(Vec<f64>, f64)>>,
    n_degrees: usize,
    has_species: bool,
    lambdas: Vec<f64>,
    sweep_degree: u32,
}

impl Polynomials {
    pub fn new(
        spec: &PolynomialSpec,
        data: CpSet,
        species: Vec<String>,
        train: &TrainSpec,
    ) -> Polynomials {
        let norm = Norm {
            x: mean_std(data.train.iter().map(|p| p.x)),
            y: mean_std(data.train.iter().map(|p| p.y)),
        };
        let mut fits: Vec<Fit> = spec
            .degrees
            .iter()
            .map(|&d| {
                Fit::new(
                    format!("d{d}"),
                    Basis::Poly(d),
                    0.0,
                    &data.train,
                    norm,
                    train.optimizer,
                )
            })
            .collect();
        let n_species = data
            .train
            .iter()
            .chain(&data.test)
            .map(|p| p.species + 1)
            .max()
            .unwrap_or(1)
            .max(1);
        let has_species = spec.species_model;
        if has_species {
            fits.push(Fit::new(
                "species".into(),
                Basis::Species(n_species),
                0.0,
                &data.train,
                norm,
                train.optimizer,
            ));
        }
        let sweep_degree = spec.sweep();
        for &l in &spec.lambdas {
            fits.push(Fit::new(
                format!("d{sweep_degree} λ={l}"),
                Basis::Poly(sweep_degree),
                l,
                &data.train,
                norm,
                train.optimizer,
            ));
        }
        let rows = fits
            .iter()
            .map(|f| {
                data.train
                    .iter()
                    .map(|p| (f.design(p, norm), (p.y - norm.y.0) / norm.y.1))
                    .collect()
            })
            .collect();
        Polynomials {
            n_degrees: spec.degrees.len(),
            has_species,
            lambdas: spec.lambdas.clone(),
            sweep_degree,
            species,
            norm,
            fits,
            rows,
            data,
        }
    }

    fn degree_fits(&self) -> &[Fit] {
        &self.fits[..self.n_degrees]
    }

    fn species_fit(&self) -> Option<&Fit> {
        self.has_species.then(|| &self.fits[self.n_degrees])
    }

    fn sweep_fits(&self) -> &[Fit] {
        &self.fits[self.n_degrees + usize::from(self.has_species)..]
    }

    fn errors(&self, f: &Fit) -> (Option<f64>, Option<f64>) {
        (
            f.error(&self.data.train, self.norm, &f.w),
            f.error(&self.data.test, self.norm, &f.w),
        )
    }

    /// The largest gap, over every fit, between descent's and the closed form's training error.
    pub fn closed_form_gap(&self) -> f64 {
        self.fits
            .iter()
            .filter_map(|f| {
                let closed = f.closed.as_ref()?;
                let a = f.error(&self.data.train, self.norm, &f.w)?;
                let b = f.error(&self.data.train, self.norm, closed)?;
                Some((a - b).abs() / b.max(1e-9))
            })
            .fold(0.0, f64::max)
    }

    /// Predictions of every fit and of its closed form on the training points.
    pub fn predictions(&self) -> Vec<(String, Vec<f64>, Option<Vec<f64>>)> {
        self.fits
            .iter()
            .map(|f| {
                let gd = self
                    .data
                    .train
                    .iter()
                    .map(|p| f.predict(p, self.norm))
                    .collect();
                let cf = f.closed.as_ref().map(|w| {
                    self.data
                        .train
                        .iter()
                        .map(|p| f.predict_with(w, p, self.norm))
                        .collect()
                });
                (f.label.clone(), gd, cf)
            })
            .collect()
    }
}

impl Model for Polynomials {
    fn charts(&self) -> Vec<String> {
        self.degree_fits()
            .iter()
            .map(|f| format!("loss_{}", f.label))
            .collect()
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let mut metrics = Metrics::new();
        let mut total = 0.0;
        for (i, (f, rows)) in self.fits.iter_mut().zip(&self.rows).enumerate() {
            let loss = f.step(rows, lr);
            if i < self.n_degrees {
                total += loss;
            }
            // Every fit reports its loss, so a penalty too large for the learning rate is
            // caught as divergence, naming the fit.
            metrics.insert(format!("loss_{}", f.label.replace(' ', "_")), loss);
        }
        metrics.insert("loss".into(), total / self.n_degrees.max(1) as f64);
        Ok(metrics)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        Ok({
            let mut m = Metrics::new();
            for f in self.degree_fits().iter().chain(self.species_fit()) {
                let (tr, te) = self.errors(f);
                if let Some(v) = tr {
                    m.insert(format!("train_error_{}", f.label), v);
                }
                if let Some(v) = te {
                    m.insert(format!("test_error_{}", f.label), v);
                }
            }
            m
        })
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        Ok({
            let mut out = vec![
                PanelUpdate {
                    panel: "fits".into(),
                    part: "main".into(),
                    visual: Visual::Figure(self.fits_figure()),
                },
                PanelUpdate {
                    panel: "errors".into(),
                    part: "main".into(),
                    visual: Visual::Table(self.table()),
                },
                PanelUpdate {
                    panel: "bars".into(),
                    part: "main".into(),
                    visual: Visual::Bars(self.bars()),
                },
            ];
            if let Some(f) = self.species_fit() {
                out.push(PanelUpdate {
                    panel: "species".into(),
                    part: "main".into(),
                    visual: Visual::Figure(self.species_figure(f)),
                });
            }
            if !self.lambdas.is_empty() {
                out.push(PanelUpdate {
                    panel: "lambda".into(),
                    part: "main".into(),
                    visual: Visual::Figure(self.lambda_figure()),
                });
            }
            out
        })
    }

    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        Ok({
            let list = |fits: &[Fit], test: bool| -> serde_json::Value {
                fits.iter()
                    .map(|f| {
                        let (tr, te) = self.errors(f);
                        if test { te } else { tr }
                    })
                    .collect::<Vec<_>>()
                    .into()
            };
            let mut s = BTreeMap::new();
            s.insert(
                "degrees".into(),
                self.degree_fits()
                    .iter()
                    .map(|f| f.label.trim_start_matches('d').parse::<u32>().unwrap_or(0))
                    .collect::<Vec<_>>()
                    .into(),
            );
            s.insert(
                "train_error_by_degree".into(),
                list(self.degree_fits(), false),
            );
            s.insert(
                "test_error_by_degree".into(),
                list(self.degree_fits(), true),
            );
            if let Some(f) = self.species_fit() {
                let (tr, te) = self.errors(f);
                s.insert("species_train_error".into(), serde_json::json!(tr));
                s.insert("species_test_error".into(), serde_json::json!(te));
            }
            if !self.lambdas.is_empty() {
                s.insert("sweep_degree".into(), self.sweep_degree.into());
                s.insert("lambdas".into(), self.lambdas.clone().into());
                s.insert(
                    "train_error_by_lambda".into(),
                    list(self.sweep_fits(), false),
                );
                s.insert("test_error_by_lambda".into(), list(self.sweep_fits(), true));
            }
            s.insert(
                "closed_form_gap".into(),
                serde_json::json!(self.closed_form_gap()),
            );
            s
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Optimizer;
    use crate::data::CpSpec;
    use crate::linalg::least_squares;
    use spec::{default_degrees, default_lambdas};

    fn spec() -> PolynomialSpec {
        PolynomialSpec {
            degrees: default_degrees(),
            species_model: true,
            lambdas: default_lambdas(),
            sweep_degree: None,
        }
    }

    fn trained(opt: Optimizer, lr: f64, steps: u64, seed: u64) -> Polynomials {
        let train = TrainSpec::for_tests(opt, lr, steps);
        let data = CpSet::generate(&CpSpec::default(), seed);
        let species = crate::data::cp::SPECIES
            .iter()
            .map(|s| s.0.to_string())
            .collect();
        let mut m = Polynomials::new(&spec(), data, species, &train);
        for s in 1..=steps {
            let lr = train.schedule.lr(train.lr, s, steps, 0);
            m.train_step(s, lr).unwrap();
        }
        m
    }

    fn default_run() -> Polynomials {
        trained(Optimizer::Momentum, 0.02, 2000, 0)
    }

    #[test]
    fn at_the_default_settings_every_fit_lands_on_its_closed_form() {
        let m = default_run();
        assert!(m.closed_form_gap() < 1e-6, "gap {}", m.closed_form_gap());
        for (label, gd, cf) in m.predictions() {
            let cf = cf.unwrap_or_else(|| panic!("{label} has a closed form"));
            for (a, b) in gd.iter().zip(&cf) {
                assert!(
                    (a - b).abs() < 1e-4 * b.abs().max(1.0),
                    "{label}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn scaling_the_features_does_not_change_the_least_squares_polynomial() {
        // The unpenalised fit of degree d, solved directly on the powers 1, x, …, x^d (in f64
        // with x/600 to keep the powers representable), predicts what the scaled fit predicts.
        let m = default_run();
        for f in m.degree_fits() {
            let Basis::Poly(d) = f.basis else {
                unreachable!()
            };
            let rows: Vec<Vec<f64>> = m
                .data
                .train
                .iter()
                .map(|p| (0..=d as i32).map(|k| (p.x / 600.0).powi(k)).collect())
                .collect();
            let y: Vec<f64> = m.data.train.iter().map(|p| p.y).collect();
            let w = least_squares(&rows, &y, &vec![0.0; d as usize + 1]).expect("solvable");
            for (p, row) in m.data.train.iter().zip(&rows) {
                let direct: f64 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
                let ours = f.predict_with(f.closed.as_ref().unwrap(), p, m.norm);
                assert!(
                    (direct - ours).abs() < 1e-5 * direct.abs().max(1.0),
                    "degree {d}: {direct} vs {ours}"
                );
            }
        }
    }

    #[test]
    fn training_error_never_rises_with_the_degree_but_test_error_does() {
        let mut m = default_run();
        let s = crate::models::summarize(&mut m).unwrap();
        let train: Vec<f64> = serde_json::from_value(s["train_error_by_degree"].clone()).unwrap();
        let test: Vec<f64> = serde_json::from_value(s["test_error_by_degree"].clone()).unwrap();
        // Least squares on nested models: the squared error cannot rise; the mean absolute
        // error we report follows it closely here.
        assert!(train[4] < train[0] && train[3] < train[1], "{train:?}");
        assert!(
            test[4] > test[0] && test[3] > test[1],
            "overfitting must show at the default seed: {test:?}"
        );
    }

    #[test]
    fn a_larger_penalty_shrinks_the_fit_towards_the_mean() {
        let mut m = default_run();
        let s = crate::models::summarize(&mut m).unwrap();
        let train: Vec<f64> = serde_json::from_value(s["train_error_by_lambda"].clone()).unwrap();
        assert!(
            train.windows(2).all(|w| w[1] >= w[0] - 1e-6),
            "training error grows with λ: {train:?}"
        );
    }

    #[test]
    fn the_species_model_fits_the_training_points_better_than_one_line() {
        let mut m = default_run();
        let s = crate::models::summarize(&mut m).unwrap();
        let species = s["species_train_error"].as_f64().unwrap();
        let line = s["train_error_by_degree"][0].as_f64().unwrap();
        assert!(species < line / 2.0, "{species} vs {line}");
    }

    #[test]
    fn decorrelated_features_have_unit_spread_and_no_correlation() {
        let raw: Vec<Vec<f64>> = (0..12)
            .map(|i| {
                let z = i as f64 / 3.0 - 2.0;
                vec![z, z * z, z * z * z]
            })
            .collect();
        let (mean, t) = decorrelate(&raw);
        let scaled: Vec<Vec<f64>> = raw
            .iter()
            .map(|r| {
                t.iter()
                    .map(|row| {
                        row.iter()
                            .zip(r.iter().zip(&mean))
                            .map(|(a, (f, m))| a * (f - m))
                            .sum()
                    })
                    .collect()
            })
            .collect();
        for a in 0..3 {
            for b in 0..3 {
                let c: f64 = scaled.iter().map(|r| r[a] * r[b]).sum::<f64>() / 12.0;
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((c - want).abs() < 1e-9, "({a},{b}) = {c}");
            }
        }
    }
}
