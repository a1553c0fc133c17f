//! DDPM on digits: a noise predictor ε_θ(xₜ, t) trained with Algorithm 1 and sampled with
//! Algorithm 2 (or DDIM), live.
//!
//! Pixels are scaled to [−1, 1]. Each step draws a batch of real digits x₀, a step t ~ U{1..T}
//! per image and noise ε ~ N(0, I), forms xₜ = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε, and minimises
//! ‖ε − ε_θ(xₜ, t)‖². Samples use an exponential moving average of the weights. The network
//! is the tiny U-Net of `nn::unet` (convolutions see that neighbouring pixels belong together)
//! or a residual MLP with the time embedding added in every block (it does not, and it shows).
//! The arithmetic of noising and sampling lives in `diffusion`.
//!
//! Here: the run (`Ddpm`), its training step and its `Model` impl. The `model:` section and its
//! checks are in `spec`, the noise networks in `net`, the sampling loop in `sample`, and what
//! the lesson draws in `panels`.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::json;

mod family;
mod net;
mod panels;
mod sample;
mod spec;

use net::Eps;
pub use sample::{sample_weights, sample_with};
use sample::{to_tensor, to_unit};
pub use spec::{DdpmSpec, Net};

use super::schedule::{NoiseSchedule, Prediction, Sampler};
use crate::config::spec::TrainSpec;
use crate::metrics::judge::{Judge, JudgeScores};
use crate::models::steps::Batches;
use crate::models::{Finals, Finish, Generator, Metrics, Model, ModelError, check_finite};
use crate::nn::{Adam, AdamConfig, Ema, Optimizer};
use crate::tensor::{Graph, ParamStore, Tensor, randn};
use crate::visual::PanelUpdate;

const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;

/// A noise predictor detached from its run: (weights, xₜ rows, t) → ε̂ rows.
pub type NoiseNet = Box<dyn Fn(&ParamStore, &[f32], &[f32]) -> Vec<f32>>;

/// Everything a DDPM run holds.
pub struct Ddpm {
    spec: DdpmSpec,
    schedule: NoiseSchedule,
    ps: ParamStore,
    eps: Eps,
    opt: Adam,
    ema: Ema,
    /// Training images in [−1, 1], n × 784.
    train_x: Vec<f32>,
    batches: Batches,
    rng: Pcg64Mcg,
    judge: Option<Judge>,
    /// Held-out real digits in [0, 1] for the judge's comparison.
    real: Vec<f32>,
    last_grid: Vec<f32>,
    /// Seconds one sample of the latest snapshot took (for the final scoring's ETA).
    seconds_per_sample: Option<f64>,
    last_scores: Option<JudgeScores>,
    seed: u64,
    steps_done: u64,
}

/// What a DDPM build needs besides the spec.
pub struct DdpmData {
    /// Training images in [0, 1].
    pub images: Vec<f32>,
    /// Held-out real images in [0, 1] (for scoring).
    pub real: Vec<f32>,
    /// The judge, trained or loaded from cache (None skips scoring).
    pub judge: Option<Judge>,
}

impl Ddpm {
    pub fn new(spec: &DdpmSpec, data: DdpmData, train: &TrainSpec, seed: u64) -> Ddpm {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xDD93_0000_0000_0007);
        let mut ps = ParamStore::new();
        let eps = Eps::new(spec, &mut ps, &mut rng);
        let ema = Ema::new(&ps, spec.ema as f32);
        let n = data.images.len() / PIXELS;
        Ddpm {
            schedule: NoiseSchedule::new(spec.schedule, spec.timesteps),
            opt: Adam::new(AdamConfig::adam(train.lr as f32)),
            train_x: data.images.iter().map(|v| v * 2.0 - 1.0).collect(),
            batches: Batches::new(n, train.batch_size, seed ^ 0xBA7C),
            judge: data.judge,
            real: data.real,
            last_grid: Vec::new(),
            seconds_per_sample: None,
            last_scores: None,
            spec: spec.clone(),
            steps_done: 0,
            ps,
            eps,
            ema,
            rng,
            seed,
        }
    }

    /// Builds the network of `spec` with the weights of a save.
    pub fn from_weights(
        spec: &DdpmSpec,
        weights: &std::path::Path,
    ) -> Result<(ParamStore, NoiseSchedule, NoiseNet), String> {
        let mut rng = Pcg64Mcg::seed_from_u64(0);
        let mut ps = ParamStore::new();
        let eps = Eps::new(spec, &mut ps, &mut rng);
        crate::nn::load_into(&mut ps, weights).map_err(|e| e.to_string())?;
        if let Some(name) = ps.first_nonfinite() {
            return Err(format!(
                "{}: the weights of `{name}` hold NaN or infinite values (the run diverged, or the file is damaged); nothing can be sampled from them. Run the lesson again, with a smaller train.lr",
                weights.display()
            ));
        }
        let f = move |ps: &ParamStore, x: &[f32], t: &[f32]| eps.predict(ps, x, t);
        Ok((
            ps,
            NoiseSchedule::new(spec.schedule, spec.timesteps),
            Box::new(f),
        ))
    }

    /// Draws `n` samples in [0, 1] with the EMA weights; also returns `frames` snapshots of the
    /// first sample along the way (with their t).
    /// Once `stop()` turns true the network is no longer run, so a cancelled batch ends within
    /// one sampling step (its images are then worthless and must be dropped).
    fn sample(
        &mut self,
        n: usize,
        frames: usize,
        stop: &dyn Fn() -> bool,
    ) -> (Vec<f32>, Vec<(usize, Vec<f32>)>) {
        let weights = self.ema.averaged(&self.ps);
        let eps = &self.eps;
        let net = |x: &[f32], t: &[f32]| {
            if stop() {
                vec![0.0; x.len()]
            } else {
                eps.predict(&weights, x, t)
            }
        };
        sample_with(
            &self.schedule,
            self.spec.sampler,
            self.spec.sample_steps,
            self.spec.eta,
            n,
            frames,
            &mut self.rng,
            net,
        )
    }

    /// Judge scores of `n` fresh samples, drawn in batches of 100 with progress reported to
    /// `finish`; `None` without a judge, or when the learner skipped the scoring.
    fn score(&mut self, n: usize, finish: &mut Finish) -> Result<Option<JudgeScores>, ModelError> {
        if self.judge.is_none() || n == 0 {
            return Ok(None);
        }
        let what = format!("scoring {n} samples");
        let mut all = Vec::with_capacity(n * PIXELS);
        finish.progress(&what, 0, n as u64);
        while all.len() < n * PIXELS {
            if finish.cancelled() {
                return Ok(None);
            }
            let k = (n - all.len() / PIXELS).min(100);
            let batch = self.sample(k, 0, &|| finish.cancel_requested()).0;
            if finish.cancelled() {
                return Ok(None);
            }
            check_finite("the final samples", &batch)?;
            all.extend(batch);
            finish.progress(&what, (all.len() / PIXELS) as u64, n as u64);
        }
        let real_n = (self.real.len() / PIXELS).min(n);
        Ok(self
            .judge
            .as_ref()
            .map(|judge| judge.score(&all, &self.real[..real_n * PIXELS])))
    }
}

impl Generator for Ddpm {
    /// Digits from the averaged weights, with the lesson's sampler, drawn from their own seed so
    /// that drawing does not move the training's random stream.
    fn draw(&mut self, n: usize, seed: u64) -> Result<Vec<f32>, ModelError> {
        let training = std::mem::replace(&mut self.rng, Pcg64Mcg::seed_from_u64(seed));
        let mut all = Vec::with_capacity(n * PIXELS);
        while all.len() < n * PIXELS {
            let k = (n - all.len() / PIXELS).min(100);
            all.extend(self.sample(k, 0, &|| false).0);
        }
        self.rng = training;
        check_finite("the samples", &all)?;
        Ok(all)
    }

    fn parameter_count(&self) -> usize {
        self.ps.num_scalars()
    }
}

impl Model for Ddpm {
    fn generator(&mut self) -> Option<&mut dyn Generator> {
        Some(self)
    }

    fn charts(&self) -> Vec<String> {
        vec!["loss".into()]
    }

    fn intro(&mut self) -> Vec<PanelUpdate> {
        self.intro_panels()
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let batch = self.batches.next_batch();
        let b = batch.len();
        let t_max = self.schedule.steps();
        let ts: Vec<usize> = (0..b).map(|_| self.rng.random_range(1..=t_max)).collect();
        let eps: Vec<f32> = randn(&[b * PIXELS], &mut self.rng)
            .iter()
            .copied()
            .collect();
        // xₜ, and what the network should say of it: the noise, or the velocity of x₀ and
        // that noise (then ε is not needed any more and becomes the target in place).
        let prediction = self.spec.prediction;
        let mut xt = vec![0.0f32; b * PIXELS];
        let mut target = eps;
        for (k, &i) in batch.iter().enumerate() {
            let r = k * PIXELS..(k + 1) * PIXELS;
            let x0 = &self.train_x[i * PIXELS..(i + 1) * PIXELS];
            self.schedule
                .q_sample(x0, &target[r.clone()], ts[k], &mut xt[r.clone()]);
            if prediction == Prediction::V {
                self.schedule.v_from_eps(x0, &mut target[r], ts[k]);
            }
        }
        let t_in: Vec<f32> = ts.iter().map(|&t| t as f32).collect();
        let (loss, grads) = {
            let g = Graph::new(&self.ps);
            let mut pred = self.eps.forward(&g, &g.input(to_tensor(xt, b)), &t_in);
            // Min-SNR-γ: mean of w·(ε̂ − ε)² as the squared error of √w·ε̂ against √w·ε (or v).
            if let Some(gamma) = self.spec.min_snr {
                let rw: Vec<f32> = ts
                    .iter()
                    .map(|&t| self.schedule.min_snr_weight(t, gamma, prediction).sqrt() as f32)
                    .collect();
                for (row, &r) in target.chunks_mut(PIXELS).zip(&rw) {
                    row.iter_mut().for_each(|v| *v *= r);
                }
                let rw = Tensor::from_shape_vec(ndarray::IxDyn(&[b, 1]), rw)
                    .expect("one weight per image");
                pred = g.mul(&pred, &g.input(rw));
            }
            let loss = g.mse(&pred, &g.input(to_tensor(target, b)));
            (loss.item(), g.backward(&loss))
        };
        self.opt.set_lr(lr as f32);
        self.opt.step(&mut self.ps, &grads);
        // The average warms up: early on it follows the weights closely, so that it does not
        // drag the random initial weights along for thousands of steps.
        self.steps_done += 1;
        let n = self.steps_done as f32;
        self.ema.decay = (self.spec.ema as f32).min((1.0 + n) / (10.0 + n));
        self.ema.update(&self.ps);
        Ok(Metrics::from([("loss".to_string(), loss as f64)]))
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        self.ps.first_nonfinite().map(str::to_string)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let mut m = Metrics::new();
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
        let started = std::time::Instant::now();
        let (grid, film) = self.sample(self.spec.grid, 8, &|| false);
        self.seconds_per_sample =
            Some(started.elapsed().as_secs_f64() / (self.spec.grid.max(1)) as f64);
        check_finite("the samples", &grid)?;
        let panels = self.sample_panels(&grid, film);
        self.last_grid = grid;
        Ok(panels)
    }

    fn finish_estimate(&self) -> Option<f64> {
        let n = if self.judge.is_some() {
            self.spec.judge_samples
        } else {
            0
        };
        // Batches of 100 share the network's fixed costs, so a sample in a batch is cheaper
        // than one of the grid; this errs long.
        self.seconds_per_sample.map(|s| s * n as f64)
    }

    fn summary(&mut self, finish: &mut Finish) -> Result<Finals, ModelError> {
        let mut s = BTreeMap::new();
        s.insert("parameters".into(), json!(self.ps.num_scalars()));
        s.insert("sampler".into(), json!(self.spec.sampler));
        s.insert(
            "sample_steps".into(),
            json!(match self.spec.sampler {
                Sampler::Ddim => self.spec.sample_steps,
                Sampler::Ddpm => self.spec.timesteps,
            }),
        );
        if self.spec.sampler == Sampler::Ddim {
            s.insert("eta".into(), json!(self.spec.eta));
        }
        if let Some(scores) = self.score(self.spec.judge_samples, finish)? {
            // The floor: real training digits against the held-out ones, at the same n.
            let floor = self.judge.as_ref().map(|judge| {
                let n = scores
                    .n
                    .min(self.real.len() / PIXELS)
                    .min(self.train_x.len() / PIXELS);
                let train: Vec<f32> = to_unit(&self.train_x[..n * PIXELS]);
                judge.score(&train, &self.real[..n * PIXELS])
            });
            scores.insert_into(floor.as_ref(), &mut s);
            self.last_scores = Some(scores);
        }
        s.insert("seed".into(), json!(self.seed));
        Ok(s)
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        let weights = self.ema.averaged(&self.ps);
        crate::nn::to_bytes(&weights, None)
            .map(|b| vec![("weights.safetensors".to_string(), b)])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::Optimizer;
    use crate::models::diffusion::BetaSchedule;

    /// A tiny U-Net on 200 generated digits, judged by nobody: fast enough for a unit test.
    fn tiny(net: Net) -> Ddpm {
        tiny_with(net, |_| {})
    }

    fn tiny_with(net: Net, change: impl FnOnce(&mut DdpmSpec)) -> Ddpm {
        let mut spec = DdpmSpec {
            net,
            channels: [4, 8, 8],
            attention: 0,
            prediction: Prediction::Eps,
            width: 256,
            blocks: 1,
            timesteps: 100,
            schedule: BetaSchedule::Linear,
            sampler: Sampler::Ddim,
            sample_steps: 10,
            eta: 0.0,
            min_snr: None,
            ema: 0.9,
            grid: 4,
            judge_samples: 0,
        };
        change(&mut spec);
        let (images, _) = crate::data::digits::generate(200, 1);
        let mut train = TrainSpec::for_tests(Optimizer::Adam, 2e-3, 60);
        train.batch_size = 16;
        Ddpm::new(
            &spec,
            DdpmData {
                images,
                real: Vec::new(),
                judge: None,
            },
            &train,
            3,
        )
    }

    #[test]
    fn training_lowers_the_noise_prediction_error() {
        for net in [Net::Unet, Net::Mlp] {
            let mut m = tiny(net);
            let first: f64 = (1..=10)
                .map(|s| m.train_step(s, 3e-3).unwrap()["loss"])
                .sum::<f64>()
                / 10.0;
            for s in 11..=190 {
                m.train_step(s, 3e-3).unwrap();
            }
            let last: f64 = (191..=200)
                .map(|s| m.train_step(s, 3e-3).unwrap()["loss"])
                .sum::<f64>()
                / 10.0;
            // The U-Net learns fast; an MLP (no notion of neighbouring pixels) much more slowly.
            let bound = if net == Net::Unet { 0.8 } else { 0.96 };
            assert!(last < first * bound, "{net:?}: {first} → {last}");
        }
    }

    #[test]
    fn min_snr_weighting_trains_too_and_reports_the_weighted_error() {
        let mut plain = tiny(Net::Unet);
        let mut weighted = tiny(Net::Unet);
        weighted.spec.min_snr = Some(5.0);
        // The steps t the first batch draws (the run's generator draws them first), and
        // their weights: each ≤ 1, and below 1 where SNRₜ > 5 (t ≤ 20 or so of 100).
        let mut rng = weighted.rng.clone();
        let ws: Vec<f64> = (0..16)
            .map(|_| rng.random_range(1..=weighted.schedule.steps()))
            .map(|t| weighted.schedule.min_snr_weight(t, 5.0, Prediction::Eps))
            .collect();
        let w_min = ws.iter().copied().fold(1.0, f64::min);
        assert!(w_min < 0.9, "the batch has a nearly clean step: {ws:?}");
        let l_plain = plain.train_step(1, 3e-3).unwrap()["loss"];
        let l_weighted = weighted.train_step(1, 3e-3).unwrap()["loss"];
        // Same weights, batch, steps and noise: the weighted error is the plain one with
        // each image's share scaled by its weight, so it lies strictly below the plain error
        // (a weighting left out would give the same number) and above w_min times it.
        assert!(
            l_plain * w_min <= l_weighted && l_weighted < l_plain * 0.999,
            "{l_weighted} vs {l_plain} (smallest weight {w_min})"
        );
        let (first, last) = first_and_last_loss(&mut weighted, 2);
        assert!(last < first * 0.8, "{first} → {last}");
    }

    /// Trains up to step 200 from step `from`: the loss of step `from`, and the mean loss of
    /// steps 191–200.
    fn first_and_last_loss(m: &mut Ddpm, from: u64) -> (f64, f64) {
        let first = m.train_step(from, 3e-3).unwrap()["loss"];
        for s in from + 1..=190 {
            m.train_step(s, 3e-3).unwrap();
        }
        let last = (191..=200)
            .map(|s| m.train_step(s, 3e-3).unwrap()["loss"])
            .sum::<f64>()
            / 10.0;
        (first, last)
    }

    /// What a batch of images in [0, 1] looks like from afar: its mean ink, and the shares of
    /// its pixels that are background (< 0.1) and full strokes (> 0.9).
    fn ink(x: &[f32]) -> [f64; 3] {
        let n = x.len() as f64;
        let share = |f: &dyn Fn(f32) -> bool| x.iter().filter(|&&v| f(v)).count() as f64 / n;
        [
            x.iter().map(|&v| v as f64).sum::<f64>() / n,
            share(&|v| v < 0.1),
            share(&|v| v > 0.9),
        ]
    }

    /// How far the ink of `x` is from that of `y` (the largest of the three differences).
    fn ink_distance(x: &[f32], y: &[f32]) -> f64 {
        let (a, b) = (ink(x), ink(y));
        (0..3).map(|i| (a[i] - b[i]).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn a_unet_with_attention_predicting_v_trains_and_samples_images_inked_like_its_digits() {
        let spec = |s: &mut DdpmSpec| {
            s.attention = 2;
            s.prediction = Prediction::V;
            s.min_snr = Some(5.0);
        };
        let (mut m, mut untrained) = (tiny_with(Net::Unet, spec), tiny_with(Net::Unet, spec));
        assert!(
            m.ps.ids_with_prefix("eps.attn.").len() >= 4,
            "attention is built"
        );
        let (first, last) = first_and_last_loss(&mut m, 1);
        assert!(last < first * 0.8, "{first} → {last}");
        let n = 16;
        let (x, _) = m.sample(n, 0, &|| false);
        assert_eq!(x.len(), n * PIXELS);
        // Dark paper with a few bright strokes, like the digits it learned from; neither the
        // same network untrained nor pure noise looks like that.
        let (digits, _) = crate::data::digits::generate(200, 1);
        let before = untrained.sample(n, 0, &|| false).0;
        let noise = to_unit(
            randn(&[n * PIXELS], &mut Pcg64Mcg::seed_from_u64(5))
                .as_slice()
                .unwrap(),
        );
        let (near, far, static_) = (
            ink_distance(&x, &digits),
            ink_distance(&before, &digits),
            ink_distance(&noise, &digits),
        );
        assert!(
            near < 0.5 * far && near < 0.5 * static_,
            "ink of the samples {:?} vs the digits' {:?}: {near:.3} away; untrained {far:.3}, noise {static_:.3}",
            ink(&x),
            ink(&digits)
        );
    }

    #[test]
    fn samples_are_finite_images_and_the_film_ends_at_t_zero() {
        let mut m = tiny(Net::Unet);
        let (x, film) = m.sample(3, 4, &|| false);
        assert_eq!(x.len(), 3 * PIXELS);
        // Clipping puts every value in [0, 1] except NaN, which it lets through.
        assert!(x.iter().all(|v| v.is_finite()));
        assert_eq!(
            film.first().map(|f| f.0),
            Some(100),
            "the film starts at x_T"
        );
        assert_eq!(film.last().map(|f| f.0), Some(0), "and ends at x_0");
    }

    #[test]
    fn the_same_seed_gives_the_same_training_and_samples() {
        let (mut a, mut b) = (tiny(Net::Unet), tiny(Net::Unet));
        for s in 1..=5 {
            assert_eq!(
                a.train_step(s, 2e-3).unwrap(),
                b.train_step(s, 2e-3).unwrap()
            );
        }
        assert_eq!(a.sample(2, 0, &|| false).0, b.sample(2, 0, &|| false).0);
    }

    #[test]
    fn saved_weights_sample_like_the_model_that_saved_them() {
        let mut m = tiny(Net::Unet);
        for s in 1..=5 {
            m.train_step(s, 2e-3).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let (name, bytes) = m.artifacts().pop().expect("the weights");
        assert_eq!(name, "weights.safetensors");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (ps, schedule, net) = Ddpm::from_weights(&m.spec, &path).unwrap();
        let mut r1 = Pcg64Mcg::seed_from_u64(9);
        let mut r2 = Pcg64Mcg::seed_from_u64(9);
        let from_file = sample_with(&schedule, Sampler::Ddim, 10, 0.0, 2, 0, &mut r1, |x, t| {
            net(&ps, x, t)
        })
        .0;
        let weights = m.ema.averaged(&m.ps);
        let eps = &m.eps;
        let live = sample_with(
            &m.schedule,
            Sampler::Ddim,
            10,
            0.0,
            2,
            0,
            &mut r2,
            |x, t| eps.predict(&weights, x, t),
        )
        .0;
        assert_eq!(from_file, live);
    }
}
