//! The variational autoencoder on digits: an encoder that gives each image a Gaussian over a
//! small code z, a decoder that turns any z back into an image, and one loss, −ELBO, whose two
//! terms the lesson draws apart.
//!
//! Each step takes a batch of digits (binarised afresh, pixel ~ Bernoulli(grey), by default),
//! encodes it to μ and log σ², draws z = μ + σ·ε with ε ~ N(0, I) so that the draw stays
//! differentiable (the reparameterisation trick), decodes z, and minimises the reconstruction
//! −log p(x|z) plus KL(q(z|x) ‖ N(0, I)) with Adam. New digits are decoded from z ~ N(0, I).
//! Held-out digits (binarised once, with a fixed seed) give −ELBO in nats per image, and at
//! the end optionally the tighter importance-weighted bound; the digit judge scores samples.
//!
//! Here: the run (`Vae`), its step and its `Model` and `Generator` impls. The `model:` section
//! is in `spec`, the networks and the loss in `net` (shared with the bench), the held-out
//! bounds in `bound`, the panels in `panels`, and `mllab sample` in `sample`.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::json;

mod bound;
mod family;
mod net;
mod panels;
mod sample;
mod spec;

pub use bound::{Bound, elbo, iwae};
pub use net::{Terms, VaeNet};
pub use sample::{decode_means, sample_weights};
pub use spec::{Likelihood, VaeSpec};

use crate::config::spec::TrainSpec;
use crate::metrics::judge::{Judge, JudgeScores};
use crate::models::steps::Batches;
use crate::models::{Finals, Finish, Generator, Metrics, Model, ModelError, check_finite, finite};
use crate::nn::{Adam, AdamConfig, Optimizer};
use crate::tensor::{Graph, ParamStore, randn};
use crate::visual::PanelUpdate;

const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;

/// The seed held-out digits are binarised with: the same for every run, so that test −ELBO of
/// two runs on the same digits is measured on the same pixels.
const TEST_BINARISE_SEED: u64 = 0xB1AA_2150;
/// The seed of the one z per held-out digit that −ELBO's reconstruction term is measured at.
const TEST_NOISE_SEED: u64 = 0x7E57_E1B0;
/// Held-out digits the live test −ELBO uses (all of them at the end).
const LIVE_TEST: usize = 1000;

/// Everything a VAE run holds.
pub struct Vae {
    spec: VaeSpec,
    ps: ParamStore,
    net: VaeNet,
    opt: Adam,
    /// Training images in [0, 1], n × 784 (binarised per batch when `binarize`).
    train_x: Vec<f32>,
    batches: Batches,
    rng: Pcg64Mcg,
    /// Held-out images as the model is measured on them: binarised once when `binarize`.
    test_x: Vec<f32>,
    test_labels: Vec<u8>,
    /// Held-out images in [0, 1] as they are, for the judge's comparison.
    real: Vec<f32>,
    judge: Option<Judge>,
    /// The grid's z, drawn once from N(0, I) (scaled by the temperature when decoded), so the
    /// same samples sharpen from one snapshot to the next.
    grid_z: Vec<f32>,
    last_grid: Vec<f32>,
    last_loss: Option<f64>,
    /// Seconds one held-out image took through the live bound (for the final scoring's ETA).
    seconds_per_image: Option<f64>,
    seed: u64,
}

/// What a VAE build needs besides the spec.
pub struct VaeData {
    /// Training images in [0, 1].
    pub images: Vec<f32>,
    /// Held-out images in [0, 1] and their labels.
    pub test: Vec<f32>,
    pub test_labels: Vec<u8>,
    /// The judge, trained or loaded from cache (None skips scoring).
    pub judge: Option<Judge>,
}

/// Each pixel on with probability its grey level.
fn binarise(x: &[f32], rng: &mut Pcg64Mcg) -> Vec<f32> {
    x.iter()
        .map(|&p| if rng.random::<f32>() < p { 1.0 } else { 0.0 })
        .collect()
}

impl Vae {
    pub fn new(spec: &VaeSpec, data: VaeData, train: &TrainSpec, seed: u64) -> Vae {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x0FAE_0000_0000_0006);
        let mut ps = ParamStore::new();
        let net = VaeNet::for_spec(spec, &mut ps, &mut rng);
        let grid_z = randn(&[spec.grid, spec.latent], &mut rng)
            .iter()
            .copied()
            .collect();
        let test_x = if spec.binarize {
            binarise(&data.test, &mut Pcg64Mcg::seed_from_u64(TEST_BINARISE_SEED))
        } else {
            data.test.clone()
        };
        let n = data.images.len() / PIXELS;
        Vae {
            opt: Adam::new(AdamConfig::adam(train.lr as f32)),
            batches: Batches::new(n, train.batch_size, seed ^ 0xBA7C),
            train_x: data.images,
            test_x,
            test_labels: data.test_labels,
            real: data.test,
            judge: data.judge,
            grid_z,
            last_grid: Vec::new(),
            last_loss: None,
            seconds_per_image: None,
            spec: spec.clone(),
            ps,
            net,
            rng,
            seed,
        }
    }

    fn test_count(&self) -> usize {
        self.test_x.len() / PIXELS
    }

    /// −ELBO of the first `n` held-out digits at their fixed z; `None` if `progress` stopped it.
    fn test_bound(&self, n: usize, progress: &mut dyn FnMut(usize) -> bool) -> Option<Bound> {
        let mut rng = Pcg64Mcg::seed_from_u64(TEST_NOISE_SEED);
        elbo(
            &self.net,
            &self.ps,
            &self.test_x[..n * PIXELS],
            &mut rng,
            progress,
        )
    }

    /// `n` digits decoded from z ~ N(0, temperature²·I) drawn from `rng`.
    fn draw_with(&self, n: usize, rng: &mut Pcg64Mcg) -> Vec<f32> {
        let z: Vec<f32> = randn(&[n, self.spec.latent], rng).iter().copied().collect();
        decode_means(&self.net, &self.ps, &z, self.spec.temperature as f32)
    }

    /// Judge scores of `n` fresh samples with progress reported to `finish`; `None` without a
    /// judge, or when the learner skipped the scoring.
    fn score(&mut self, n: usize, finish: &mut Finish) -> Result<Option<JudgeScores>, ModelError> {
        if self.judge.is_none() || n == 0 {
            return Ok(None);
        }
        let what = format!("scoring {n} samples");
        finish.progress(&what, 0, n as u64);
        if finish.cancelled() {
            return Ok(None);
        }
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ 0x005C_0000_0000_00E5);
        let all = self.draw_with(n, &mut rng);
        check_finite("the final samples", &all)?;
        finish.progress(&what, n as u64, n as u64);
        let real_n = (self.real.len() / PIXELS).min(n);
        Ok(self
            .judge
            .as_ref()
            .map(|judge| judge.score(&all, &self.real[..real_n * PIXELS])))
    }

    /// The held-out bounds of the summary: −ELBO over every held-out digit and, with
    /// `iw_samples`, the IWAE bound; progress goes to `finish`. Stops with what it has once the
    /// learner skips.
    fn final_bounds(&mut self, s: &mut Finals, finish: &mut Finish) -> Result<(), ModelError> {
        let n = self.test_count();
        if n == 0 {
            return Ok(());
        }
        let what = format!("bounding {n} held-out digits");
        finish.progress(&what, 0, n as u64);
        let bound = self.test_bound(n, &mut |done| {
            finish.progress(&what, done as u64, n as u64);
            !finish.cancelled()
        });
        let Some(b) = bound else { return Ok(()) };
        s.insert(
            "test_neg_elbo".into(),
            finite("test_neg_elbo", b.neg_elbo())?,
        );
        s.insert(
            "test_reconstruction".into(),
            finite("test_reconstruction", b.reconstruction)?,
        );
        s.insert("test_kl".into(), finite("test_kl", b.kl)?);
        s.insert("test_n".into(), json!(b.n));
        let k = self.spec.iw_samples;
        if k > 0 {
            let what = format!("importance-weighting {n} digits ({k} samples each)");
            finish.progress(&what, 0, n as u64);
            let mut rng = Pcg64Mcg::seed_from_u64(TEST_NOISE_SEED ^ 0x1A4E);
            let bound = iwae(
                &self.net,
                &self.ps,
                &self.test_x,
                k,
                &mut rng,
                &mut |done| {
                    finish.progress(&what, done as u64, n as u64);
                    !finish.cancelled()
                },
            );
            if let Some(v) = bound {
                s.insert("test_iwae".into(), finite("test_iwae", v)?);
                s.insert("iw_samples".into(), json!(k));
            }
        }
        Ok(())
    }
}

impl Model for Vae {
    fn generator(&mut self) -> Option<&mut dyn Generator> {
        Some(self)
    }

    fn charts(&self) -> Vec<String> {
        ["loss", "reconstruction", "kl", "test_loss"]
            .map(String::from)
            .to_vec()
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let batch = self.batches.next_batch();
        let b = batch.len();
        let mut x = Vec::with_capacity(b * PIXELS);
        for &i in &batch {
            let row = &self.train_x[i * PIXELS..(i + 1) * PIXELS];
            if self.spec.binarize {
                x.extend(binarise(row, &mut self.rng));
            } else {
                x.extend_from_slice(row);
            }
        }
        let noise = randn(&[b, self.spec.latent], &mut self.rng);
        let (loss, rec, kl, grads) = {
            let g = Graph::new(&self.ps);
            let t = self
                .net
                .terms(&g, &g.input(bound::rows(&x, b, PIXELS)), &g.input(noise));
            let loss = g.mean_all(&g.add(&t.reconstruction, &t.kl));
            let mean = |v: &crate::tensor::Var| {
                v.value().iter().map(|&q| q as f64).sum::<f64>() / b.max(1) as f64
            };
            (
                loss.item() as f64,
                mean(&t.reconstruction),
                mean(&t.kl),
                g.backward(&loss),
            )
        };
        self.opt.set_lr(lr as f32);
        self.opt.step(&mut self.ps, &grads);
        self.last_loss = Some(loss);
        Ok(Metrics::from([
            ("loss".to_string(), loss),
            ("reconstruction".to_string(), rec),
            ("kl".to_string(), kl),
        ]))
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        self.ps.first_nonfinite().map(str::to_string)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let mut m = Metrics::new();
        let n = self.test_count().min(LIVE_TEST);
        if n > 0 {
            let started = std::time::Instant::now();
            let b = self.test_bound(n, &mut |_| true).expect("never stopped");
            self.seconds_per_image = Some(started.elapsed().as_secs_f64() / n as f64);
            m.insert("test_loss".into(), b.neg_elbo());
            m.insert("test_reconstruction".into(), b.reconstruction);
            m.insert("test_kl".into(), b.kl);
        }
        if let (Some(judge), false) = (&self.judge, self.last_grid.is_empty()) {
            let n = self.last_grid.len() / PIXELS;
            let s = judge.score(
                &self.last_grid,
                &self.real[..n.min(self.real.len() / PIXELS) * PIXELS],
            );
            m.insert("confident".into(), s.confident);
            m.insert("class_entropy".into(), s.class_entropy);
            m.insert("junk".into(), s.junk);
        }
        Ok(m)
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        let grid = decode_means(
            &self.net,
            &self.ps,
            &self.grid_z,
            self.spec.temperature as f32,
        );
        check_finite("the samples", &grid)?;
        let panels = self.panels(&grid)?;
        self.last_grid = grid;
        Ok(panels)
    }

    fn finish_estimate(&self) -> Option<f64> {
        // The bound passes cost about one live pass per digit and one decoder pass per
        // importance sample; the judge's samples are a single decoder pass.
        self.seconds_per_image.map(|s| {
            let n = self.test_count() as f64;
            s * n * (1.0 + 0.5 * self.spec.iw_samples as f64)
        })
    }

    fn summary(&mut self, finish: &mut Finish) -> Result<Finals, ModelError> {
        let mut s = BTreeMap::new();
        s.insert("parameters".into(), json!(self.ps.num_scalars()));
        s.insert("latent".into(), json!(self.spec.latent));
        s.insert("likelihood".into(), json!(self.spec.likelihood));
        if let Some(loss) = self.last_loss {
            s.insert("loss".into(), finite("loss", loss)?);
        }
        self.final_bounds(&mut s, finish)?;
        if let Some(scores) = self.score(self.spec.judge_samples, finish)? {
            // The floor: real training digits against the held-out ones, at the same n.
            let floor = self.judge.as_ref().map(|judge| {
                let n = scores
                    .n
                    .min(self.real.len() / PIXELS)
                    .min(self.train_x.len() / PIXELS);
                judge.score(&self.train_x[..n * PIXELS], &self.real[..n * PIXELS])
            });
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

impl Generator for Vae {
    fn draw(&mut self, n: usize, seed: u64) -> Result<Vec<f32>, ModelError> {
        let x = self.draw_with(n, &mut Pcg64Mcg::seed_from_u64(seed));
        check_finite("the samples", &x)?;
        Ok(x)
    }

    fn likelihood(&mut self) -> Option<Result<(String, f64, String), ModelError>> {
        let n = self.test_count();
        if n == 0 {
            return None;
        }
        let b = self.test_bound(n, &mut |_| true).expect("never stopped");
        Some(finite("test −ELBO", b.neg_elbo()).map(|_| {
            (
                "test −ELBO (bound)".into(),
                b.neg_elbo(),
                "nats/image".into(),
            )
        }))
    }

    fn parameter_count(&self) -> usize {
        self.ps.num_scalars()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Optimizer as Opt;
    use crate::models::family::{Family, SampleRequest};
    use crate::tensor::Tensor;

    /// A small VAE on 300 generated digits (60 held out), judged by nobody.
    fn tiny_with(change: impl FnOnce(&mut VaeSpec)) -> Vae {
        let mut spec = VaeSpec {
            hidden: vec![64],
            latent: 2,
            grid: 4,
            judge_samples: 0,
            ..VaeSpec::default()
        };
        change(&mut spec);
        let (images, _) = crate::data::digits::generate(300, 1);
        let (test, test_labels) = crate::data::digits::generate(60, 2);
        let mut train = TrainSpec::for_tests(Opt::Adam, 3e-3, 200);
        train.batch_size = 32;
        let data = VaeData {
            images,
            test,
            test_labels,
            judge: None,
        };
        Vae::new(&spec, data, &train, 0)
    }

    fn tiny() -> Vae {
        tiny_with(|_| {})
    }

    fn values(v: &crate::tensor::Var) -> Vec<f64> {
        v.value().iter().map(|&q| q as f64).collect()
    }

    /// The encoder's outputs and both loss terms of the first `n` held-out digits, with the
    /// noise the terms used.
    fn terms_of(m: &Vae, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Tensor) {
        let g = Graph::no_grad(&m.ps);
        let x = g.input(bound::rows(&m.test_x[..n * PIXELS], n, PIXELS));
        let noise = randn(&[n, m.spec.latent], &mut Pcg64Mcg::seed_from_u64(3));
        let t = m.net.terms(&g, &x, &g.input(noise.clone()));
        (
            values(&t.mu),
            values(&t.logvar),
            values(&t.kl),
            values(&t.reconstruction),
            noise,
        )
    }

    #[test]
    fn the_kl_term_is_the_closed_form_for_diagonal_gaussians_and_agrees_with_monte_carlo() {
        let mut m = tiny_with(|s| s.latent = 3);
        // Trained a little, so that μ and σ are not those of the initial weights.
        for s in 1..=20 {
            m.train_step(s, 3e-3).unwrap();
        }
        let n = 5;
        let (mu, logvar, kl, _, _) = terms_of(&m, n);
        let d = 3;
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        for i in 0..n {
            let (m_i, lv_i) = (&mu[i * d..(i + 1) * d], &logvar[i * d..(i + 1) * d]);
            // KL of two Gaussians, N(μ, σ²) against N(0, 1), coordinate by coordinate, in f64.
            let closed: f64 = (0..d)
                .map(|q| {
                    let var = lv_i[q].exp();
                    0.5 * (m_i[q] * m_i[q] + var - 1.0 - lv_i[q])
                })
                .sum();
            assert!(
                (kl[i] - closed).abs() <= 1e-4 * closed.abs().max(1.0),
                "image {i}: graph {} vs closed form {closed}",
                kl[i]
            );
            // E_q[log q(z) − log p(z)] by sampling: the same number within its error.
            let draws = 200_000;
            let (mut sum, mut sq) = (0.0f64, 0.0f64);
            for _ in 0..draws {
                let mut log_ratio = 0.0;
                for q in 0..d {
                    let e: f64 =
                        rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng);
                    let z = m_i[q] + (0.5 * lv_i[q]).exp() * e;
                    // log N(z; μ, σ²) − log N(z; 0, 1), the 2π terms cancelling.
                    log_ratio += -0.5 * e * e - 0.5 * lv_i[q] + 0.5 * z * z;
                }
                sum += log_ratio;
                sq += log_ratio * log_ratio;
            }
            let mean = sum / draws as f64;
            let se = ((sq / draws as f64 - mean * mean) / draws as f64).sqrt();
            assert!(
                (mean - closed).abs() < 4.0 * se + 1e-6,
                "image {i}: Monte Carlo {mean} ± {se} vs closed form {closed}"
            );
        }
    }

    #[test]
    fn the_bernoulli_reconstruction_is_the_binary_cross_entropy_summed_over_pixels() {
        let m = tiny();
        let n = 3;
        let (mu, logvar, _, rec, noise) = terms_of(&m, n);
        let d = m.spec.latent;
        // The decoder at the same z, then −Σ x·log p + (1 − x)·log(1 − p) in f64.
        let z: Vec<f32> = (0..n * d)
            .map(|k| (mu[k] + (0.5 * logvar[k]).exp() * noise.as_slice().unwrap()[k] as f64) as f32)
            .collect();
        let p = decode_means(&m.net, &m.ps, &z, 1.0);
        for i in 0..n {
            let want: f64 = (0..PIXELS)
                .map(|j| {
                    let (x, p) = (m.test_x[i * PIXELS + j] as f64, p[i * PIXELS + j] as f64);
                    -(x * p.ln() + (1.0 - x) * (1.0 - p).ln())
                })
                .sum();
            assert!(
                (rec[i] - want).abs() < 1e-3 * want,
                "image {i}: {} vs {want}",
                rec[i]
            );
        }
    }

    #[test]
    fn the_gaussian_reconstruction_is_the_negative_log_density_with_the_fixed_sigma() {
        let m = tiny_with(|s| {
            s.likelihood = Likelihood::Gaussian;
            s.sigma = 0.2;
            s.binarize = false;
        });
        let n = 2;
        let (mu, logvar, _, rec, noise) = terms_of(&m, n);
        let d = m.spec.latent;
        let z: Vec<f32> = (0..n * d)
            .map(|k| (mu[k] + (0.5 * logvar[k]).exp() * noise.as_slice().unwrap()[k] as f64) as f32)
            .collect();
        let mean = decode_means(&m.net, &m.ps, &z, 1.0);
        let s = 0.2f64;
        for i in 0..n {
            let want: f64 = (0..PIXELS)
                .map(|j| {
                    let r = m.test_x[i * PIXELS + j] as f64 - mean[i * PIXELS + j] as f64;
                    r * r / (2.0 * s * s) + s.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln()
                })
                .sum();
            assert!(
                (rec[i] - want).abs() < 1e-3 * want.abs().max(1.0),
                "image {i}: {} vs {want}",
                rec[i]
            );
        }
    }

    #[test]
    fn with_a_decoder_blind_to_z_the_importance_weighted_bound_closes_the_kl_gap() {
        // When p(x|z) does not depend on z, log p(x) is exactly −rec; −ELBO is that plus the
        // KL, and −IWAE_k falls from −ELBO towards it as k grows.
        // A gap of K nats needs about e^K samples to close, so the model is trained only until
        // its codes carry a nat or so (untrained, q(z|x) is the prior and there is no gap).
        let mut m = tiny_with(|s| s.latent = 4);
        let last = m.net.decoder.last().unwrap().weight;
        let n = 20;
        let mut step = 0;
        let (b, blind) = loop {
            let mut blind = m.ps.clone();
            let zero = blind.get(last).mapv(|_| 0.0);
            blind.set(last, zero);
            let x = &m.test_x[..n * PIXELS];
            let b = elbo(
                &m.net,
                &blind,
                x,
                &mut Pcg64Mcg::seed_from_u64(1),
                &mut |_| true,
            )
            .unwrap();
            if b.kl > 0.5 || step == 100 {
                break (b, blind);
            }
            step += 1;
            m.train_step(step, 1e-3).unwrap();
        };
        assert!((0.5..4.0).contains(&b.kl), "a gap of a few nats: {b:?}");
        let x = &m.test_x[..n * PIXELS];
        let ps = &blind;
        let iw = |k: usize| {
            iwae(
                &m.net,
                ps,
                x,
                k,
                &mut Pcg64Mcg::seed_from_u64(2),
                &mut |_| true,
            )
            .unwrap()
        };
        let (one, many) = (iw(1), iw(500));
        assert!(
            (one - b.neg_elbo()).abs() < 0.5 * b.kl,
            "k = 1 is the ELBO again, up to its sampling error: {one} vs {} (KL {})",
            b.neg_elbo(),
            b.kl
        );
        assert!(
            (many - b.reconstruction).abs() < 0.1 * b.kl,
            "k = 500 is nearly log p(x): {many} vs {} (KL {})",
            b.reconstruction,
            b.kl
        );
    }

    #[test]
    fn the_importance_weighted_bound_is_tighter_than_the_elbo_on_a_trained_model() {
        let mut m = tiny();
        for s in 1..=100 {
            m.train_step(s, 3e-3).unwrap();
        }
        let x = &m.test_x;
        let b = elbo(
            &m.net,
            &m.ps,
            x,
            &mut Pcg64Mcg::seed_from_u64(1),
            &mut |_| true,
        )
        .unwrap();
        let k20 = iwae(
            &m.net,
            &m.ps,
            x,
            20,
            &mut Pcg64Mcg::seed_from_u64(2),
            &mut |_| true,
        );
        let k20 = k20.unwrap();
        assert!(
            k20 < b.neg_elbo() - 0.5 && k20 > b.reconstruction - b.kl.max(1.0) * 5.0,
            "−IWAE_20 {k20} vs −ELBO {}",
            b.neg_elbo()
        );
    }

    #[test]
    fn training_lowers_the_held_out_negative_elbo_and_both_terms_are_reported() {
        let mut m = tiny();
        let before = m.evaluate().unwrap()["test_loss"];
        let first = m.train_step(1, 3e-3).unwrap();
        assert!(
            (first["loss"] - first["reconstruction"] - first["kl"]).abs() < 1e-3 * first["loss"],
            "{first:?}"
        );
        for s in 2..=200 {
            m.train_step(s, 3e-3).unwrap();
        }
        let after = m.evaluate().unwrap();
        assert!(after["test_loss"] < 0.6 * before, "{before} → {after:?}");
        assert!(
            after["test_kl"] > 0.5,
            "the codes carry information: {after:?}"
        );
    }

    #[test]
    fn training_batches_are_binarised_afresh_and_the_held_out_digits_once() {
        let m = tiny();
        assert!(m.test_x.iter().all(|&v| v == 0.0 || v == 1.0));
        let again = tiny();
        assert_eq!(m.test_x, again.test_x, "the held-out pixels do not move");
        let grey: f64 = m.real.iter().map(|&v| v as f64).sum::<f64>();
        let ink: f64 = m.test_x.iter().map(|&v| v as f64).sum::<f64>();
        assert!((ink / grey - 1.0).abs() < 0.05, "ink {ink} vs grey {grey}");
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        let row = &m.train_x[..PIXELS];
        let (a, b) = (binarise(row, &mut rng), binarise(row, &mut rng));
        assert_ne!(a, b, "two draws of one digit differ");
        let plain = tiny_with(|s| s.binarize = false);
        assert_eq!(
            plain.test_x, plain.real,
            "binarize: false keeps the grey levels"
        );
    }

    #[test]
    fn a_two_dimensional_code_draws_the_latent_map_and_scatter_and_others_do_not() {
        let panels = |latent| {
            let mut m = tiny_with(|s| s.latent = latent);
            m.snapshot()
                .unwrap()
                .into_iter()
                .map(|p| p.panel)
                .collect::<Vec<_>>()
        };
        let two = panels(2);
        assert_eq!(
            two,
            ["samples", "reconstructions", "latent-map", "latent-scatter"]
        );
        assert_eq!(panels(3), ["samples", "reconstructions"]);
        for p in &two {
            assert!(VaeSpec::PANELS.contains(&p.as_str()), "{p} is declared");
        }
        let mut m = tiny();
        let shown = m.snapshot().unwrap();
        let Visual::Images { images, .. } = &shown[2].visual else {
            panic!("the map is an image")
        };
        let side = panels::MAP_SIDE * SIDE / 2;
        assert_eq!((images[0].width, images[0].height), (side, side));
        let Visual::Figure(f) = &shown[3].visual else {
            panic!("the scatter is a figure")
        };
        let points: usize = f
            .layers
            .iter()
            .map(|l| match l {
                crate::visual::Layer::Points { points, .. } => points.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(points, 60, "every held-out digit, by class");
        let Visual::Images { images, .. } = &shown[1].visual else {
            panic!("the pairs are images")
        };
        assert_eq!(images.len(), 4);
        assert_eq!(
            images[0].height,
            2 * SIDE + 1,
            "a digit above its reconstruction"
        );
    }

    use crate::visual::Visual;

    #[test]
    fn saved_weights_sample_like_the_model_that_saved_them_at_any_temperature() {
        let mut m = tiny();
        for s in 1..=5 {
            m.train_step(s, 3e-3).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let (name, bytes) = m.artifacts().pop().expect("the weights");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let request = SampleRequest {
            n: 7,
            seed: 9,
            ..SampleRequest::default()
        };
        let from_file = sample_weights(&m.spec, &path, &request).unwrap();
        assert_eq!(from_file.shape(), vec![7, SIDE, SIDE]);
        assert_eq!(from_file.values(), m.draw(7, 9).unwrap());
        let cool = SampleRequest {
            temperature: Some(0.5),
            ..request.clone()
        };
        let cooled = sample_weights(&m.spec, &path, &cool)
            .unwrap()
            .values()
            .to_vec();
        let z: Vec<f32> = randn(&[7, 2], &mut Pcg64Mcg::seed_from_u64(9))
            .iter()
            .copied()
            .collect();
        assert_eq!(cooled, decode_means(&m.net, &m.ps, &z, 0.5));
        assert_ne!(cooled, from_file.values());
        for bad in [
            SampleRequest {
                sampler: Some("ddim".into()),
                ..request.clone()
            },
            SampleRequest {
                steps: Some(10),
                ..request.clone()
            },
            SampleRequest {
                eta: Some(0.5),
                ..request.clone()
            },
        ] {
            let e = sample_weights(&m.spec, &path, &bad).unwrap_err();
            assert!(e.contains("one pass") && e.contains("--temperature"), "{e}");
        }
        let hot = SampleRequest {
            temperature: Some(0.0),
            ..request
        };
        assert!(
            sample_weights(&m.spec, &path, &hot)
                .unwrap_err()
                .contains("greater than 0")
        );
    }

    #[test]
    fn as_a_generator_it_draws_digits_and_reports_its_bound_and_size() {
        let mut m = tiny();
        assert_eq!(m.ps.num_scalars() as u64, m.spec.parameter_count());
        let size = m.ps.num_scalars();
        let g = m.generator().expect("a VAE is a generator");
        assert_eq!(g.parameter_count(), size);
        let x = g.draw(5, 1).unwrap();
        assert_eq!(x.len(), 5 * PIXELS);
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        let (what, value, unit) = g.likelihood().unwrap().unwrap();
        assert_eq!(
            (what.as_str(), unit.as_str()),
            ("test −ELBO (bound)", "nats/image")
        );
        let s = crate::models::summarize(&mut m).unwrap();
        assert_eq!(s["test_neg_elbo"], json!(value));
        assert!(!s.contains_key("test_iwae"), "off by default");
    }

    #[test]
    fn the_summary_gives_the_iwae_bound_when_asked_and_never_above_the_elbo_by_much() {
        let mut m = tiny_with(|s| s.iw_samples = 10);
        for s in 1..=50 {
            m.train_step(s, 3e-3).unwrap();
        }
        let s = crate::models::summarize(&mut m).unwrap();
        let (iw, el) = (
            s["test_iwae"].as_f64().unwrap(),
            s["test_neg_elbo"].as_f64().unwrap(),
        );
        assert!(iw < el, "{iw} vs {el}");
        assert_eq!(s["iw_samples"], json!(10));
        let sum = s["test_reconstruction"].as_f64().unwrap() + s["test_kl"].as_f64().unwrap();
        assert!((sum - el).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn non_finite_weights_are_a_divergence_not_a_picture() {
        let mut m = tiny();
        // The last layer: a NaN before a ReLU would be hidden by it (max(NaN, 0) is 0).
        let id = m.net.decoder.last().unwrap().weight;
        let bad = m.ps.get(id).mapv(|_| f32::NAN);
        m.ps.set(id, bad);
        assert!(m.nonfinite_parameter().is_some());
        assert!(matches!(m.snapshot(), Err(ModelError::Diverged(_))));
        assert!(matches!(
            crate::models::summarize(&mut m),
            Err(ModelError::Diverged(_))
        ));
    }

    #[test]
    fn the_same_seed_gives_the_same_training() {
        let (mut a, mut b) = (tiny(), tiny());
        for s in 1..=5 {
            assert_eq!(
                a.train_step(s, 2e-3).unwrap(),
                b.train_step(s, 2e-3).unwrap()
            );
        }
        assert_eq!(a.draw(3, 1).unwrap(), b.draw(3, 1).unwrap());
    }
}
