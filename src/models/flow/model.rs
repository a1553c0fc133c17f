//! The `Model` the trainer drives: one maximum-likelihood step (nats per point in the plane,
//! bits per dimension on digits, with fresh dequantisation noise each step), the held-out NLL,
//! the panels, the summary and the saved weights; and, for digit runs, the `Generator`.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::json;

use super::{EXPLODED_LOGDET_PER_DIM, Flow, FlowData, PIXELS, coupling, pixels, rows};
use crate::data::toys::Toy;
use crate::metrics::judge::JudgeScores;
use crate::models::diffusion::two_d::{MMD_BANDWIDTH, mmd};
use crate::models::{Finals, Finish, Generator, Metrics, Model, ModelError, check_finite, finite};
use crate::tensor::Graph;
use crate::visual::PanelUpdate;

/// Gradient norm above which a step is scaled down (a guard against rare spikes).
const CLIP_NORM: f32 = 100.0;
/// Samples and fresh points compared by the 2-D summary's MMD.
const MMD_POINTS: usize = 2000;

impl Flow {
    /// The training batch as the flow's input, and the constant that turns its mean −log p(y)
    /// into the reported loss: (input rows, scale, offset) with loss = scale·NLL + offset.
    fn batch(&mut self) -> (Vec<f32>, usize, f64, f64) {
        let idx = self.batches.next_batch();
        let b = idx.len();
        match &self.data {
            FlowData::Plane(p) => {
                let x = idx
                    .iter()
                    .flat_map(|&i| [p.train[2 * i], p.train[2 * i + 1]])
                    .collect();
                (x, b, 1.0, 0.0)
            }
            FlowData::Digits(dg) => {
                let levels: Vec<u8> = idx
                    .iter()
                    .flat_map(|&i| dg.train[i * PIXELS..(i + 1) * PIXELS].iter().copied())
                    .collect();
                let u: Vec<f32> = (0..levels.len())
                    .map(|_| self.rng.random::<f32>())
                    .collect();
                let (y, jac) = pixels::to_logits(&levels, &u, PIXELS);
                let per_dim = 1.0 / (PIXELS as f64 * std::f64::consts::LN_2);
                let offset = pixels::bits_per_dim(0.0, super::mean(&jac), PIXELS);
                (y, b, per_dim, offset)
            }
        }
    }

    /// Judge scores of `n` fresh samples at the lesson's temperature (digits with a judge only).
    fn score(&mut self, n: usize, finish: &mut Finish) -> Result<Option<JudgeScores>, ModelError> {
        let FlowData::Digits(dg) = &self.data else {
            return Ok(None);
        };
        if dg.judge.is_none() || n == 0 {
            return Ok(None);
        }
        let what = format!("scoring {n} samples");
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ 0xF10E_5C0E_0000_0000);
        let mut all = Vec::with_capacity(n * PIXELS);
        finish.progress(&what, 0, n as u64);
        while all.len() < n * PIXELS {
            if finish.cancelled() {
                return Ok(None);
            }
            let k = (n - all.len() / PIXELS).min(100);
            let (y, _) = self.draw_flow(k, self.spec.temperature, &mut rng, false);
            check_finite("the final samples", &y)?;
            all.extend(pixels::to_pixels(&y));
            finish.progress(&what, (all.len() / PIXELS) as u64, n as u64);
        }
        let FlowData::Digits(dg) = &self.data else {
            unreachable!()
        };
        let real_n = (dg.real.len() / PIXELS).min(n);
        Ok(dg
            .judge
            .as_ref()
            .map(|j| j.score(&all, &dg.real[..real_n * PIXELS])))
    }

    /// MMD of 2000 samples to fresh data, and of fresh data to fresh data (the floor).
    fn plane_mmds(&self, toy: Toy) -> Result<(f64, f64), ModelError> {
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ 0xF10E_3D00_0000_0001);
        let (x, _) = self.draw_flow(MMD_POINTS, self.spec.temperature, &mut rng, false);
        check_finite("the final samples", &x)?;
        let samples: Vec<[f32; 2]> = x.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        let reference = toy.sample(MMD_POINTS, self.seed ^ 0xF10E_3D00_0000_0002).0;
        let other = toy.sample(MMD_POINTS, self.seed ^ 0xF10E_3D00_0000_0003).0;
        Ok((
            mmd(&samples, &reference, MMD_BANDWIDTH),
            mmd(&other, &reference, MMD_BANDWIDTH),
        ))
    }
}

impl Model for Flow {
    fn generator(&mut self) -> Option<&mut dyn Generator> {
        if self.is_digits() { Some(self) } else { None }
    }

    fn charts(&self) -> Vec<String> {
        let test = if self.is_digits() {
            "test_bits_per_dim"
        } else {
            "test_nll"
        };
        vec!["loss".into(), test.into()]
    }

    fn intro(&mut self) -> Vec<PanelUpdate> {
        self.intro_panels()
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let (x, b, scale, offset) = self.batch();
        let d = self.d;
        let (nll, logdet_per_dim, mut grads) = {
            let g = Graph::new(&self.ps);
            let (z, logdet) = coupling::forward(&g, &self.layers, &g.input(rows(&x, b, d)));
            let nll = g.mean_all(&g.sub(&coupling::prior_nll(&g, &z), &logdet));
            let per_dim =
                logdet.value().iter().map(|v| v.abs() as f64).sum::<f64>() / (b * d) as f64;
            let loss = g.mul_scalar(&nll, scale as f32);
            (nll.item() as f64, per_dim, g.backward(&loss))
        };
        if !logdet_per_dim.is_finite() || logdet_per_dim > EXPLODED_LOGDET_PER_DIM {
            return Err(ModelError::diverged(format!(
                "the log-determinant exploded (mean |log det| per dimension {logdet_per_dim:.3e})"
            )));
        }
        grads.clip_norm(CLIP_NORM);
        self.opt.set_lr(lr as f32);
        self.opt.step(&mut self.ps, &grads);
        self.steps += 1;
        let loss = scale * nll + offset;
        self.last_loss = loss;
        Ok(Metrics::from([("loss".to_string(), loss)]))
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        self.ps.first_nonfinite().map(str::to_string)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let mut m = Metrics::new();
        let test = self.test_nll();
        match &self.data {
            FlowData::Plane(_) => {
                m.insert("test_nll".into(), test);
            }
            FlowData::Digits(dg) => {
                m.insert("test_bits_per_dim".into(), test);
                if let (Some(judge), false) = (&dg.judge, self.last_grid.is_empty()) {
                    let n = (self.last_grid.len() / PIXELS).min(dg.real.len() / PIXELS);
                    let s = judge.score(&self.last_grid, &dg.real[..n * PIXELS]);
                    m.insert("confident".into(), s.confident);
                    m.insert("class_entropy".into(), s.class_entropy);
                }
            }
        }
        Ok(m)
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        self.snapshot_panels()
    }

    fn summary(&mut self, finish: &mut Finish) -> Result<Finals, ModelError> {
        let mut s = BTreeMap::new();
        s.insert("parameters".into(), json!(self.ps.num_scalars()));
        s.insert("couplings".into(), json!(self.spec.couplings));
        s.insert("temperature".into(), json!(self.spec.temperature));
        s.insert(
            "invertibility_error".into(),
            finite("invertibility_error", self.invertibility_error())?,
        );
        s.insert("train_loss".into(), json!(self.last_loss));
        let toy = match &self.data {
            FlowData::Plane(p) => Some(p.toy),
            FlowData::Digits(_) => None,
        };
        if let Some(toy) = toy {
            s.insert("test_nll".into(), finite("test_nll", self.test_nll())?);
            let (score, floor) = self.plane_mmds(toy)?;
            s.insert("mmd".into(), json!(score));
            s.insert("mmd_data_floor".into(), json!(floor));
            s.insert("mmd_bandwidth".into(), json!(MMD_BANDWIDTH));
            s.insert("mmd_points".into(), json!(MMD_POINTS));
            s.insert("toy".into(), json!(toy.name()));
            return Ok(s);
        }
        s.insert(
            "test_bits_per_dim".into(),
            finite("test_bits_per_dim", self.test_nll())?,
        );
        if let Some(scores) = self.score(self.spec.judge_samples, finish)? {
            let floor = match &self.data {
                FlowData::Digits(dg) => dg.judge.as_ref().map(|judge| {
                    // The floor: real training digits against the held-out ones, at the same n.
                    let n = scores
                        .n
                        .min(dg.real.len() / PIXELS)
                        .min(dg.train.len() / PIXELS);
                    let train: Vec<f32> = dg.train[..n * PIXELS]
                        .iter()
                        .map(|&k| k as f32 / 255.0)
                        .collect();
                    judge.score(&train, &dg.real[..n * PIXELS])
                }),
                _ => None,
            };
            scores.insert_into(floor.as_ref(), &mut s);
        }
        s.insert("seed".into(), json!(self.seed));
        Ok(s)
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        crate::nn::to_bytes(&self.ps, None)
            .map(|b| vec![("weights.safetensors".to_string(), b)])
            .unwrap_or_default()
    }
}

impl Generator for Flow {
    fn draw(&mut self, n: usize, seed: u64) -> Result<Vec<f32>, ModelError> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let (y, _) = self.draw_flow(n, self.spec.temperature, &mut rng, false);
        check_finite("the samples", &y)?;
        Ok(pixels::to_pixels(&y))
    }

    fn likelihood(&mut self) -> Option<Result<(String, f64, String), ModelError>> {
        let bits = self.test_nll();
        Some(
            finite("test_bits_per_dim", bits)
                .map(|_| ("test NLL (exact)".to_string(), bits, "bits/dim".to_string())),
        )
    }

    fn parameter_count(&self) -> usize {
        self.ps.num_scalars()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{digits, plane, small};
    use super::*;
    use crate::models::summarize;

    #[test]
    fn training_raises_the_likelihood_of_held_out_points() {
        let mut m = plane(&small(), Toy::Moons, 1);
        // The identity flow: the test NLL of moons under N(0, I).
        let before = m.test_nll();
        for s in 1..=600 {
            m.train_step(s, 3e-3).unwrap();
        }
        let after = m.test_nll();
        assert!(after < before - 0.5, "{before} → {after} nats");
        let inv = m.invertibility_error();
        assert!(inv < 1e-4, "max |x − f⁻¹(f(x))| = {inv}");
    }

    #[test]
    fn on_digits_the_loss_is_bits_per_dim_and_falls() {
        let mut m = digits(&small(), 3);
        let first = m.train_step(1, 1e-3).unwrap()["loss"];
        // An identity flow on logits: a few bits per pixel, well under 8 (uniform) plus the
        // logit's stretch.
        assert!((2.0..12.0).contains(&first), "starts at {first} bits/dim");
        for s in 2..=80 {
            m.train_step(s, 1e-3).unwrap();
        }
        let last = m.train_step(81, 1e-3).unwrap()["loss"];
        assert!(last < first - 0.3, "{first} → {last}");
        // The held-out score is the same quantity on other digits.
        let test = m.test_nll();
        assert!((last - test).abs() < 1.5, "train {last} vs test {test}");
        let g = m.generator().expect("a digit flow is a generator");
        let x = g.draw(3, 9).unwrap();
        assert_eq!(x.len(), 3 * PIXELS);
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        let (what, value, unit) = g.likelihood().unwrap().unwrap();
        assert_eq!(
            (what.as_str(), unit.as_str()),
            ("test NLL (exact)", "bits/dim")
        );
        assert!((value - test).abs() < 1e-9);
        assert!(g.parameter_count() > 0);
    }

    #[test]
    fn a_plane_flow_is_no_digit_generator() {
        assert!(plane(&small(), Toy::Rings, 0).generator().is_none());
    }

    #[test]
    fn an_exploding_rate_is_a_divergence_not_a_crash() {
        let mut m = plane(&small(), Toy::Moons, 2);
        m.opt = Box::new(crate::nn::Sgd::new(1e4, 0.0));
        let mut ended = None;
        for s in 1..=50 {
            match m.train_step(s, 1e4) {
                Ok(metrics) if metrics["loss"].is_finite() && m.nonfinite_parameter().is_none() => {
                }
                Ok(_) => {
                    ended = Some("non-finite".to_string());
                    break;
                }
                Err(e) => {
                    assert!(matches!(e, ModelError::Diverged(_)), "{e:?}");
                    ended = Some(e.message().to_string());
                    break;
                }
            }
        }
        assert!(ended.is_some(), "a rate of 10⁴ trained for 50 steps");
    }

    #[test]
    fn the_summary_of_a_plane_run_is_finite_and_names_its_measures() {
        let mut m = plane(&small(), Toy::EightGaussians, 4);
        for s in 1..=20 {
            m.train_step(s, 3e-3).unwrap();
        }
        let s = summarize(&mut m).unwrap();
        for key in [
            "test_nll",
            "invertibility_error",
            "mmd",
            "mmd_data_floor",
            "parameters",
        ] {
            assert!(
                s[key].as_f64().is_some_and(f64::is_finite),
                "{key}: {:?}",
                s.get(key)
            );
        }
        assert!(s["invertibility_error"].as_f64().unwrap() < 1e-4);
    }
}
