//! DDPM on a 2-D toy (lesson diffusion-2d): a small noise-prediction network ε_θ(xₜ, t) learns
//! to undo the forward noising of points in the plane, and sampling runs the noise backwards
//! into the shape. The formulas (schedules, q_sample, the DDPM and DDIM steps) live in
//! `diffusion`; this folder owns the network, the training step, the pictures and the score.
//! This file owns the model's state (`Diffusion2d`, built from the spec, data and seed) and
//! the small point helpers its other files share.
//!
//! ```text
//! training (Algorithm 1)   x₀ ~ data, t ~ U{1..T}, ε ~ N(0, I)
//!                          xₜ = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε          loss = ‖ε − ε_θ(xₜ, t)‖² (mean over B×2)
//! network                  [xₜ, sin/cos(25·xₜ,₁), sin/cos(25·xₜ,₂), sin/cos(t·1000/T)]   (B, 2 + 3E)
//!                          → Linear → SiLU → L × (h + SiLU(Linear(h))) → Linear (zero at start) → ε̂ (B, 2)
//! sampling (Algorithm 2)   x_T ~ N(0, I); xₜ₋₁ from xₜ and ε̂ by `ddpm_step` (or `ddim_step` on a
//!                          shorter, evenly spaced set of times)
//! quality                  MMD between samples and fresh data, Gaussian kernel of width σ:
//!                          MMD² = mean k(x,x') + mean k(y,y') − 2·mean k(x,y)  (V-statistic, so MMD(X, X) = 0)
//! ```
//!
//! | file          | owns                                                                  |
//! |---------------|-----------------------------------------------------------------------|
//! | `spec.rs`     | `Diffusion2dSpec`: the `model:` section, its defaults and validation   |
//! | `denoiser.rs` | ε_θ, the noise-prediction network and its input features               |
//! | `sampling.rs` | the reverse process (DDPM / DDIM) and its frames (`Reverse`)           |
//! | `quality.rs`  | the MMD score and its data / noise references                          |
//! | `panels.rs`   | the filmstrips, the samples plane and the schedule chart               |
//! | `model.rs`    | `impl Model`: the training step and its loss, metrics, panels, summary |
//!
//! Sampling always starts from the same x_T (and, for DDPM, the same fresh noise), drawn from
//! the lesson seed, so the reverse frames change between snapshots only because the network
//! learnt something. Nothing here knows about threads, terminals or files.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::schedule::NoiseSchedule;
use crate::config::spec::{Optimizer as OptimizerKind, TrainSpec};
use crate::data::toys::Toy;
use crate::models::steps::Batches;
use crate::nn::{Adam, AdamConfig, Ema, Optimizer, Sgd};
use crate::tensor::ParamStore;

mod denoiser;
mod family;
mod model;
mod panels;
mod quality;
mod sampling;
mod spec;

use denoiser::Denoiser;
use panels::frame_times;
use quality::SUMMARY_POINTS;
pub use quality::{MMD_BANDWIDTH, mmd, noise_points};
pub use sampling::Reverse;
pub use spec::Diffusion2dSpec;

/// Held-out (x₀, t, ε) triples for the evaluation loss.
const EVAL_POINTS: usize = 2000;

/// The diffusion-2d model being trained.
pub struct Diffusion2d {
    spec: Diffusion2dSpec,
    toy: Toy,
    data: Vec<[f32; 2]>,
    /// Fresh points from the same toy, never trained on: the reference for the MMD.
    held_out: Vec<[f32; 2]>,
    schedule: NoiseSchedule,
    net: Denoiser,
    ps: ParamStore,
    opt: Box<dyn Optimizer>,
    ema: Option<Ema>,
    batches: Batches,
    rng: Pcg64Mcg,
    seed: u64,
    /// Fixed (x₀, t, ε) triples for the evaluation loss.
    eval_set: (Vec<f32>, Vec<usize>, Vec<f32>),
    /// Steps taken, and the reverse run made after the latest of them (if any).
    steps: u64,
    cached: Option<(u64, Reverse, f64)>,
    last_loss: f64,
    /// Half-width of one filmstrip frame.
    half: f64,
    frame_times: Vec<usize>,
}

fn gauss(rng: &mut Pcg64Mcg) -> f32 {
    StandardNormal.sample(rng)
}

fn flat(points: &[[f32; 2]]) -> Vec<f32> {
    points.iter().flat_map(|p| [p[0], p[1]]).collect()
}

fn pairs(x: &[f32]) -> Vec<[f32; 2]> {
    x.chunks_exact(2).map(|c| [c[0], c[1]]).collect()
}

impl Diffusion2d {
    pub fn new(
        spec: &Diffusion2dSpec,
        toy: Toy,
        data: Vec<[f32; 2]>,
        train: &TrainSpec,
        seed: u64,
    ) -> Diffusion2d {
        let mut init_rng = Pcg64Mcg::seed_from_u64(seed ^ 0xD1FF_2D00_0000_0001);
        let mut ps = ParamStore::new();
        let net = Denoiser::new(spec, &mut ps, &mut init_rng);
        let opt: Box<dyn Optimizer> = match train.optimizer {
            OptimizerKind::Sgd => Box::new(Sgd::new(train.lr as f32, 0.0)),
            OptimizerKind::Momentum => Box::new(Sgd::new(train.lr as f32, 0.9)),
            OptimizerKind::Adamw => Box::new(Adam::new(AdamConfig::adamw(train.lr as f32, 1e-4))),
            _ => Box::new(Adam::new(AdamConfig::adam(train.lr as f32))),
        };
        let ema = (spec.ema > 0.0).then(|| Ema::new(&ps, spec.ema as f32));
        let schedule = NoiseSchedule::new(spec.schedule, spec.timesteps);
        let held_out = toy.sample(SUMMARY_POINTS, seed ^ 0xD1FF_2D00_0000_0002).0;
        let mut eval_rng = Pcg64Mcg::seed_from_u64(seed ^ 0xD1FF_2D00_0000_0003);
        let eval_x0 = flat(&toy.sample(EVAL_POINTS, seed ^ 0xD1FF_2D00_0000_0004).0);
        let eval_t: Vec<usize> = (0..EVAL_POINTS)
            .map(|_| eval_rng.random_range(1..=spec.timesteps))
            .collect();
        let eval_eps: Vec<f32> = (0..2 * EVAL_POINTS).map(|_| gauss(&mut eval_rng)).collect();
        let extent = data
            .iter()
            .flat_map(|p| [p[0].abs(), p[1].abs()])
            .fold(0.0f32, f32::max) as f64;
        let half = (1.1 * extent).max(3.0);
        let frame_times = frame_times(&schedule);
        Diffusion2d {
            batches: Batches::new(data.len(), train.batch_size, seed ^ 0xD1FF_2D00_0000_0005),
            rng: Pcg64Mcg::seed_from_u64(seed ^ 0xD1FF_2D00_0000_0006),
            spec: spec.clone(),
            toy,
            data,
            held_out,
            schedule,
            net,
            ps,
            opt,
            ema,
            seed,
            eval_set: (eval_x0, eval_t, eval_eps),
            steps: 0,
            cached: None,
            last_loss: f64::NAN,
            half,
            frame_times,
        }
    }
}

/// A small, fast lesson shared by the tests of every file here.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::config::spec::Optimizer as Opt;
    use crate::models::Model;

    /// A small, fast configuration.
    pub(super) fn small() -> Diffusion2dSpec {
        Diffusion2dSpec {
            hidden: 64,
            layers: 2,
            timesteps: 50,
            samples: 400,
            ..Diffusion2dSpec::default()
        }
    }

    pub(super) fn model(spec: &Diffusion2dSpec, toy: Toy, seed: u64) -> Diffusion2d {
        let mut train = TrainSpec::for_tests(Opt::Adam, 0.003, 1000);
        train.batch_size = 128;
        let data = toy.sample(4000, seed).0;
        Diffusion2d::new(spec, toy, data, &train, seed)
    }

    pub(super) fn train(m: &mut Diffusion2d, steps: u64) {
        for s in 1..=steps {
            m.train_step(s, 0.003).unwrap();
        }
    }
}
