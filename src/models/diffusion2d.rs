//! DDPM on a 2-D toy (lesson diffusion-2d): a small noise-prediction network ε_θ(xₜ, t) learns
//! to undo the forward noising of points in the plane, and sampling runs the noise backwards
//! into the shape. The formulas (schedules, q_sample, the DDPM and DDIM steps) live in
//! `diffusion`; this file owns the network, the training step, the pictures and the score.
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
//! Sampling always starts from the same x_T (and, for DDPM, the same fresh noise), drawn from
//! the lesson seed, so the reverse frames change between snapshots only because the network
//! learnt something. Nothing here knows about threads, terminals or files.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::diffusion::{BetaSchedule, NoiseSchedule, Sampler};
use super::steps::Batches;
use super::{Metrics, Model};
use crate::data::toys::Toy;
use crate::lessons::parse::Ctx;
use crate::lessons::spec::{Optimizer as OptimizerKind, TrainSpec};
use crate::nn::{Adam, AdamConfig, Ema, Linear, Optimizer, Sgd, sinusoidal_embedding};
use crate::run::visual::{Color, Figure, Layer, PanelUpdate, Visual};
use crate::tensor::{Graph, ParamStore, Tensor, Var, tensor};

/// Width of each sinusoidal embedding (of t, and of each coordinate of xₜ).
const EMB: usize = 32;
/// Coordinates are multiplied by this before their sinusoidal embedding, so its fastest
/// frequency resolves details of about 0.25 in the plane (as in the common toy denoisers).
const X_SCALE: f32 = 25.0;
/// Width σ of the Gaussian kernel of the MMD; the toys' structure is a few tenths wide.
pub const MMD_BANDWIDTH: f64 = 0.2;
/// Points compared by the summary's MMD (samples and each fresh data set).
const SUMMARY_POINTS: usize = 2000;
/// Held-out (x₀, t, ε) triples for the evaluation loss.
const EVAL_POINTS: usize = 2000;
/// Gradient norm above which a step is scaled down.
const CLIP_NORM: f32 = 1.0;
/// Frames in each filmstrip (x_T … x₀), laid out in a grid of this many columns.
const FRAMES: usize = 6;
const FRAME_COLUMNS: usize = 3;

/// `model: {kind: diffusion-2d, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diffusion2dSpec {
    /// Width of the hidden layers; 8 ..= 1024. Default 128.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Residual layers after the input layer; 0 ..= 8. Default 3.
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// T, the number of noising steps; 2 ..= 4000. Default 100.
    #[serde(default = "default_timesteps")]
    pub timesteps: usize,
    /// How βₜ grows: linear (default) or cosine.
    #[serde(default)]
    pub schedule: BetaSchedule,
    /// ddpm (default) or ddim.
    #[serde(default)]
    pub sampler: Sampler,
    /// Reverse steps; DDPM takes all T, DDIM 1 ..= T. Default T.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_steps: Option<usize>,
    /// Decay of the moving average of the weights that samples are drawn with; 0 = sample with
    /// the raw weights; below 1. Default 0.995.
    #[serde(default = "default_ema")]
    pub ema: f64,
    /// Points drawn for each reverse filmstrip and the samples panel; 100 ..= 5000. Default 1000.
    #[serde(default = "default_samples")]
    pub samples: usize,
}

fn default_hidden() -> usize {
    128
}
fn default_layers() -> usize {
    3
}
fn default_timesteps() -> usize {
    100
}
fn default_ema() -> f64 {
    0.995
}
fn default_samples() -> usize {
    1000
}

impl Default for Diffusion2dSpec {
    fn default() -> Self {
        Diffusion2dSpec {
            hidden: default_hidden(),
            layers: default_layers(),
            timesteps: default_timesteps(),
            schedule: BetaSchedule::default(),
            sampler: Sampler::default(),
            sample_steps: None,
            ema: default_ema(),
            samples: default_samples(),
        }
    }
}

impl Diffusion2dSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<Self> {
        let mut ok = ctx.check_range("model.hidden", self.hidden, 8, 1024, "the hidden width");
        ok &= ctx.check_range(
            "model.layers",
            self.layers,
            0,
            8,
            "the number of residual layers",
        );
        ok &= ctx.check_range(
            "model.timesteps",
            self.timesteps,
            2,
            4000,
            "the number of noising steps T",
        );
        ok &= ctx.check_range(
            "model.samples",
            self.samples,
            100,
            5000,
            "the number of sampled points",
        );
        if !(self.ema.is_finite() && (0.0..1.0).contains(&self.ema)) {
            ctx.error(
                "model.ema",
                Some(self.ema.to_string()),
                "the averaging decay must be at least 0 and below 1",
                "e.g. ema: 0.995 (or 0 to sample with the raw weights)",
            );
            ok = false;
        }
        if let Some(k) = self.sample_steps {
            match self.sampler {
                Sampler::Ddpm if k != self.timesteps => {
                    ctx.error(
                        "model.sample_steps",
                        Some(k.to_string()),
                        format!(
                            "DDPM sampling takes every one of the T = {} steps",
                            self.timesteps
                        ),
                        "leave sample_steps out, or set sampler: ddim to sample in fewer steps",
                    );
                    ok = false;
                }
                _ => {
                    ok &= ctx.check_range(
                        "model.sample_steps",
                        k,
                        1,
                        self.timesteps,
                        "the number of sampling steps (at most T)",
                    );
                }
            }
        }
        ok.then_some(self)
    }

    /// Reverse steps actually taken.
    pub fn steps_to_sample(&self) -> usize {
        match self.sampler {
            Sampler::Ddpm => self.timesteps,
            Sampler::Ddim => self
                .sample_steps
                .unwrap_or(self.timesteps)
                .min(self.timesteps),
        }
    }

    /// Bytes the network, its optimizer state and one sampling batch take (roughly).
    pub fn estimated_bytes(&self, batch: usize) -> u64 {
        let h = self.hidden as u64;
        let params = (2 + 3 * EMB as u64) * h + self.layers as u64 * h * h + 2 * h;
        let acts = (batch.max(self.samples).max(SUMMARY_POINTS) as u64)
            * (h * (2 * self.layers as u64 + 4) + 3 * EMB as u64);
        // Weights, gradients, two Adam moments and the EMA copy; activations kept for backward.
        params * 4 * 6 + acts * 4 * 2
    }
}

/// ε_θ(xₜ, t): the noise predictor.
struct Denoiser {
    input: Linear,
    blocks: Vec<Linear>,
    output: Linear,
    timesteps: usize,
}

impl Denoiser {
    fn new(spec: &Diffusion2dSpec, ps: &mut ParamStore, rng: &mut Pcg64Mcg) -> Denoiser {
        let h = spec.hidden;
        Denoiser {
            input: Linear::new(ps, "eps.input", 2 + 3 * EMB, h, rng),
            blocks: (0..spec.layers)
                .map(|i| Linear::new(ps, &format!("eps.block{i}"), h, h, rng))
                .collect(),
            // Zero at the start: the first guess is "no noise", and the loss starts at 1.
            output: Linear::zeroed(ps, "eps.output", h, 2),
            timesteps: spec.timesteps,
        }
    }

    /// The network's input for points `x` (flat, 2 per row) at times `t` (1-based): (B, 2 + 3E).
    fn features(&self, x: &[f32], t: &[usize]) -> Tensor {
        let b = t.len();
        let scale = 1000.0 / self.timesteps as f32;
        let times: Vec<f32> = t.iter().map(|&t| t as f32 * scale).collect();
        let x1: Vec<f32> = x.iter().step_by(2).map(|v| v * X_SCALE).collect();
        let x2: Vec<f32> = x.iter().skip(1).step_by(2).map(|v| v * X_SCALE).collect();
        let (e1, e2, et) = (
            sinusoidal_embedding(&x1, EMB),
            sinusoidal_embedding(&x2, EMB),
            sinusoidal_embedding(&times, EMB),
        );
        let width = 2 + 3 * EMB;
        let mut out = vec![0.0f32; b * width];
        for i in 0..b {
            let row = &mut out[i * width..(i + 1) * width];
            row[0] = x[2 * i];
            row[1] = x[2 * i + 1];
            for j in 0..EMB {
                row[2 + j] = e1[[i, j]];
                row[2 + EMB + j] = e2[[i, j]];
                row[2 + 2 * EMB + j] = et[[i, j]];
            }
        }
        tensor(&[b, width], &out)
    }

    fn forward(&self, g: &Graph, x: &[f32], t: &[usize]) -> Var {
        let input = g.input(self.features(x, t));
        let mut h = g.silu(&self.input.forward(g, &input));
        for block in &self.blocks {
            h = g.add(&h, &g.silu(&block.forward(g, &h)));
        }
        self.output.forward(g, &h)
    }

    /// ε̂ for every row, without a graph to keep.
    fn predict(&self, ps: &ParamStore, x: &[f32], t: usize) -> Vec<f32> {
        let g = Graph::no_grad(ps);
        let ts = vec![t; x.len() / 2];
        let out = self.forward(&g, x, &ts);
        out.value().iter().copied().collect()
    }
}

/// The frames of one run of the reverse process, and where they were taken.
pub struct Reverse {
    /// (t, points) from x_T down to x₀.
    pub frames: Vec<(usize, Vec<[f32; 2]>)>,
}

impl Reverse {
    pub fn last(&self) -> &[[f32; 2]] {
        self.frames.last().map_or(&[], |(_, p)| p.as_slice())
    }
}

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

/// Gaussian noise points, as x_T is drawn.
pub fn noise_points(n: usize, seed: u64) -> Vec<[f32; 2]> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n).map(|_| [gauss(&mut rng), gauss(&mut rng)]).collect()
}

/// The maximum mean discrepancy between two point sets under a Gaussian kernel of width
/// `sigma`: √(mean k(x,x') + mean k(y,y') − 2·mean k(x,y)), every pair counted (V-statistic),
/// so a set is at distance 0 from itself and a finite sample of the same distribution a
/// little above 0.
pub fn mmd(a: &[[f32; 2]], b: &[[f32; 2]], sigma: f64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let mean_k = |p: &[[f32; 2]], q: &[[f32; 2]]| {
        let mut s = 0.0f64;
        for x in p {
            let mut row = 0.0f32;
            for y in q {
                let (dx, dy) = (x[0] - y[0], x[1] - y[1]);
                row += (-(gamma as f32) * (dx * dx + dy * dy)).exp();
            }
            s += row as f64;
        }
        s / (p.len() * q.len()) as f64
    };
    let m2 = mean_k(a, a) + mean_k(b, b) - 2.0 * mean_k(a, b);
    m2.max(0.0).sqrt()
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

    /// Mean ε-MSE of the current weights on points `x0` noised to times `t` with noise `eps`.
    fn eps_loss(&self, x0: &[f32], t: &[usize], eps: &[f32]) -> f64 {
        let xt = self.noised(x0, t, eps);
        let g = Graph::no_grad(&self.ps);
        let out = self.net.forward(&g, &xt, t);
        let pred = out.value();
        pred.iter()
            .zip(eps)
            .map(|(p, e)| ((p - e) as f64).powi(2))
            .sum::<f64>()
            / eps.len().max(1) as f64
    }

    /// xₜ for each row.
    fn noised(&self, x0: &[f32], t: &[usize], eps: &[f32]) -> Vec<f32> {
        let mut xt = vec![0.0f32; x0.len()];
        for (i, &ti) in t.iter().enumerate() {
            let r = 2 * i..2 * i + 2;
            self.schedule
                .q_sample(&x0[r.clone()], &eps[r.clone()], ti, &mut xt[r]);
        }
        xt
    }

    /// The weights samples are drawn with.
    fn sampling_weights(&self) -> ParamStore {
        match &self.ema {
            Some(e) => e.averaged(&self.ps),
            None => self.ps.clone(),
        }
    }

    /// Runs the reverse process on `n` points from the fixed x_T of stream `stream`, keeping
    /// the frames at `self.frame_times` (and x_T and x₀).
    pub fn reverse(&self, n: usize, stream: u64) -> Reverse {
        let ps = self.sampling_weights();
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ 0xD1FF_2D00_5A00_0000 ^ stream);
        let big_t = self.schedule.steps();
        let mut x: Vec<f32> = (0..2 * n).map(|_| gauss(&mut rng)).collect();
        let mut frames = vec![(big_t, pairs(&x))];
        let mut next_frame = 1;
        let mut keep = |t_now: usize, x: &[f32], frames: &mut Vec<(usize, Vec<[f32; 2]>)>| {
            // Keep the first state at or below each requested time.
            while next_frame < self.frame_times.len() && t_now <= self.frame_times[next_frame] {
                if frames.last().map(|f| f.0) != Some(t_now) {
                    frames.push((t_now, pairs(x)));
                }
                next_frame += 1;
            }
        };
        match self.spec.sampler {
            Sampler::Ddpm => {
                let mut z = vec![0.0f32; 2 * n];
                for t in (1..=big_t).rev() {
                    let eps = self.net.predict(&ps, &x, t);
                    for v in z.iter_mut() {
                        *v = gauss(&mut rng);
                    }
                    self.schedule.ddpm_step(&mut x, &eps, t, &z);
                    keep(t - 1, &x, &mut frames);
                }
            }
            Sampler::Ddim => {
                let ts = self.schedule.ddim_timesteps(self.spec.steps_to_sample());
                for (i, &t) in ts.iter().enumerate() {
                    let s = ts.get(i + 1).copied().unwrap_or(0);
                    let eps = self.net.predict(&ps, &x, t);
                    self.schedule.ddim_step(&mut x, &eps, t, s);
                    keep(s, &x, &mut frames);
                }
            }
        }
        if frames.last().map(|f| f.0) != Some(0) {
            frames.push((0, pairs(&x)));
        }
        Reverse { frames }
    }

    /// The reverse run for the current weights and its MMD to the held-out data (cached until
    /// the next training step).
    fn current(&mut self) -> &(u64, Reverse, f64) {
        if self.cached.as_ref().map(|c| c.0) != Some(self.steps) {
            let rev = self.reverse(self.spec.samples, 0);
            let n = self.spec.samples.min(self.held_out.len());
            let score = mmd(&rev.last()[..n], &self.held_out[..n], MMD_BANDWIDTH);
            self.cached = Some((self.steps, rev, score));
        }
        self.cached.as_ref().expect("just filled")
    }

    /// Where frame k of a filmstrip sits: the centre of its cell.
    fn cell_centre(&self, k: usize) -> [f64; 2] {
        let w = 2.0 * self.half * 1.08;
        let rows = FRAMES.div_ceil(FRAME_COLUMNS);
        let (c, r) = (k % FRAME_COLUMNS, k / FRAME_COLUMNS);
        [c as f64 * w, (rows - 1 - r) as f64 * w]
    }

    fn strip_range(&self) -> ([f64; 2], [f64; 2]) {
        let w = 2.0 * self.half * 1.08;
        let rows = FRAMES.div_ceil(FRAME_COLUMNS);
        let pad = self.half * 1.04;
        (
            [-pad, (FRAME_COLUMNS - 1) as f64 * w + pad],
            [-pad, (rows - 1) as f64 * w + pad],
        )
    }

    /// Frame k of a filmstrip: its points moved into cell k (those outside the cell dropped),
    /// a frame around the cell and its time written in the corner.
    fn cell_layers(&self, k: usize, t: usize, points: &[[f32; 2]], color: Color) -> Vec<Layer> {
        let [cx, cy] = self.cell_centre(k);
        let h = self.half;
        let corners = [
            [cx - h, cy - h],
            [cx + h, cy - h],
            [cx + h, cy + h],
            [cx - h, cy + h],
        ];
        vec![
            Layer::Segments {
                label: String::new(),
                color: Color::Gray,
                segments: (0..4).map(|i| [corners[i], corners[(i + 1) % 4]]).collect(),
            },
            Layer::Points {
                label: String::new(),
                color,
                points: points
                    .iter()
                    .filter(|p| (p[0] as f64).abs() < h && (p[1] as f64).abs() < h)
                    .map(|p| [round3(cx + p[0] as f64), round3(cy + p[1] as f64)])
                    .collect(),
            },
            Layer::Marker {
                label: String::new(),
                color: Color::White,
                at: [cx - 0.92 * h, cy + 0.85 * h],
                symbol: format!("t={t}"),
            },
        ]
    }

    fn strip(&self, frames: &[(usize, Vec<[f32; 2]>)], color: Color, label: &str) -> Figure {
        let (x_range, y_range) = self.strip_range();
        Figure {
            x_label: label.into(),
            y_label: "".into(),
            x_range,
            y_range,
            layers: frames
                .iter()
                .enumerate()
                .take(FRAMES)
                .flat_map(|(k, (t, p))| self.cell_layers(k, *t, p, color))
                .collect(),
        }
    }

    /// x₀ noised to each frame time: the forward process, left to right.
    fn forward_frames(&self) -> Vec<(usize, Vec<[f32; 2]>)> {
        let n = self.spec.samples.min(self.held_out.len());
        let x0 = flat(&self.held_out[..n]);
        let eps = flat(&noise_points(n, self.seed ^ 0xD1FF_2D00_F0F0_0000));
        self.frame_times
            .iter()
            .rev()
            .map(|&t| {
                let mut xt = vec![0.0f32; x0.len()];
                self.schedule.q_sample(&x0, &eps, t, &mut xt);
                (t, pairs(&xt))
            })
            .collect()
    }

    fn plane(&self) -> ([f64; 2], [f64; 2]) {
        let h = self.half;
        ([-h, h], [-h, h])
    }

    fn schedule_figure(&self) -> Figure {
        let s = &self.schedule;
        let big_t = s.steps();
        let beta_max = s.beta.iter().copied().fold(0.0, f64::max).max(1e-12);
        let curve = |f: &dyn Fn(usize) -> f64| -> Vec<[f64; 2]> {
            (0..=big_t).map(|t| [t as f64, f(t)]).collect()
        };
        let mut layers = vec![
            Layer::Line {
                label: "√ᾱ signal".into(),
                color: Color::Cyan,
                points: curve(&|t| s.alpha_bar_at(t).sqrt()),
            },
            Layer::Line {
                label: "√(1−ᾱ) noise".into(),
                color: Color::Magenta,
                points: curve(&|t| (1.0 - s.alpha_bar_at(t)).sqrt()),
            },
            Layer::Line {
                label: format!("β/{}", short(beta_max)),
                color: Color::Yellow,
                points: (1..=big_t)
                    .map(|t| [t as f64, s.beta[t - 1] / beta_max])
                    .collect(),
            },
        ];
        for &t in &self.frame_times {
            layers.push(Layer::Marker {
                label: String::new(),
                color: Color::White,
                at: [t as f64, s.alpha_bar_at(t).sqrt()],
                symbol: "◆".into(),
            });
        }
        Figure {
            x_label: "t".into(),
            y_label: "".into(),
            x_range: [0.0, big_t as f64],
            y_range: [0.0, 1.05],
            layers,
        }
    }

    /// MMD of fresh data to fresh data (the floor a perfect model reaches on average) and of
    /// Gaussian noise to fresh data (where sampling starts), with `n` points each.
    pub fn reference_mmds(&self, n: usize) -> (f64, f64) {
        let other = self.toy.sample(n, self.seed ^ 0xD1FF_2D00_0000_0007).0;
        let reference = &self.held_out[..n.min(self.held_out.len())];
        let noise = noise_points(n, self.seed ^ 0xD1FF_2D00_0000_0008);
        (
            mmd(&other, reference, MMD_BANDWIDTH),
            mmd(&noise, reference, MMD_BANDWIDTH),
        )
    }

    /// Samples for the summary's score (their own x_T, more points than the pictures).
    pub fn final_mmd(&self) -> f64 {
        let rev = self.reverse(SUMMARY_POINTS, 1);
        mmd(rev.last(), &self.held_out, MMD_BANDWIDTH)
    }

    pub fn eval_loss(&self) -> f64 {
        let (x0, t, eps) = &self.eval_set;
        self.eps_loss(x0, t, eps)
    }
}

/// Frame times from T down to 0 where √ᾱₜ passes 0, 0.2, …, 1 (even steps of remaining signal),
/// so that the shape fades (or forms) evenly across the filmstrip.
fn frame_times(s: &NoiseSchedule) -> Vec<usize> {
    let big_t = s.steps();
    let mut out: Vec<usize> = (0..FRAMES)
        .map(|k| {
            let target = k as f64 / (FRAMES - 1) as f64; // √ᾱ wanted
            if k == 0 {
                return big_t;
            }
            // The largest t whose √ᾱₜ is at least the target.
            (0..=big_t)
                .rev()
                .find(|&t| s.alpha_bar_at(t).sqrt() >= target)
                .unwrap_or(0)
        })
        .collect();
    out.dedup();
    out
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn short(v: f64) -> String {
    format!("{v:.3}")
}

impl Model for Diffusion2d {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into(), "eval_loss".into(), "mmd".into()]
    }

    fn intro(&mut self) -> Vec<PanelUpdate> {
        let (x_range, y_range) = self.plane();
        let n = self.spec.samples.min(self.held_out.len());
        let data = Figure {
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            x_range,
            y_range,
            layers: vec![Layer::Points {
                label: format!("data ({})", self.toy.name()),
                color: Color::Gray,
                points: self.held_out[..n]
                    .iter()
                    .map(|p| [round3(p[0] as f64), round3(p[1] as f64)])
                    .collect(),
            }],
        };
        vec![
            PanelUpdate {
                panel: "forward".into(),
                part: "frames".into(),
                visual: Visual::Figure(self.strip(
                    &self.forward_frames(),
                    Color::Yellow,
                    "x₀ → x_T",
                )),
            },
            PanelUpdate {
                panel: "samples".into(),
                part: "data".into(),
                visual: Visual::Figure(data),
            },
            PanelUpdate {
                panel: "schedule".into(),
                part: "main".into(),
                visual: Visual::Figure(self.schedule_figure()),
            },
        ]
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, String> {
        let batch = self.batches.next_batch();
        let b = batch.len();
        let big_t = self.schedule.steps();
        let x0: Vec<f32> = batch.iter().flat_map(|&i| self.data[i]).collect();
        let t: Vec<usize> = (0..b).map(|_| self.rng.random_range(1..=big_t)).collect();
        let eps: Vec<f32> = (0..2 * b).map(|_| gauss(&mut self.rng)).collect();
        let xt = self.noised(&x0, &t, &eps);
        let (loss, mut grads) = {
            let g = Graph::new(&self.ps);
            let pred = self.net.forward(&g, &xt, &t);
            let target = g.input(tensor(&[b, 2], &eps));
            let l = g.mse(&pred, &target);
            (l.item() as f64, g.backward(&l))
        };
        if !loss.is_finite() {
            return Err(format!("the loss became {loss}; lower train.lr"));
        }
        grads.clip_norm(CLIP_NORM);
        self.opt.set_lr(lr as f32);
        self.opt.step(&mut self.ps, &grads);
        if let Some(e) = self.ema.as_mut() {
            e.update(&self.ps);
        }
        self.steps += 1;
        self.last_loss = loss;
        Ok(Metrics::from([("loss".to_string(), loss)]))
    }

    fn evaluate(&mut self) -> Metrics {
        let eval = self.eval_loss();
        let score = self.current().2;
        Metrics::from([("eval_loss".to_string(), eval), ("mmd".to_string(), score)])
    }

    fn snapshot(&mut self) -> Vec<PanelUpdate> {
        let (x_range, y_range) = self.plane();
        let (steps_now, score) = {
            let c = self.current();
            (c.0, c.2)
        };
        let rev = &self.cached.as_ref().expect("filled by current()").1;
        let mut updates = Vec::new();
        // x_T never changes (same seed), so it is sent once, before the first step; the other
        // frames are drawn over it in their own cells.
        if steps_now == 0 {
            updates.push(PanelUpdate {
                panel: "reverse".into(),
                part: "x_T".into(),
                visual: Visual::Figure(self.strip(&rev.frames[..1], Color::Cyan, "x_T → x₀")),
            });
        }
        let mut rest = self.strip(&rev.frames, Color::Cyan, "x_T → x₀");
        // Drop frame 0's three layers (x_T), already drawn.
        rest.layers.drain(..3);
        updates.push(PanelUpdate {
            panel: "reverse".into(),
            part: "frames".into(),
            visual: Visual::Figure(rest),
        });
        updates.push(PanelUpdate {
            panel: "samples".into(),
            part: "samples".into(),
            visual: Visual::Figure(Figure {
                x_label: "x₁".into(),
                y_label: "x₂".into(),
                x_range,
                y_range,
                layers: vec![Layer::Points {
                    label: format!("samples (MMD {score:.3})"),
                    color: Color::Cyan,
                    points: rev
                        .last()
                        .iter()
                        .map(|p| [round3(p[0] as f64), round3(p[1] as f64)])
                        .collect(),
                }],
            }),
        });
        updates
    }

    fn summary(&mut self) -> BTreeMap<String, serde_json::Value> {
        let (floor, noise) = self.reference_mmds(SUMMARY_POINTS);
        let score = self.final_mmd();
        let mut out = BTreeMap::new();
        out.insert("mmd".to_string(), json!(score));
        out.insert("mmd_data_floor".to_string(), json!(floor));
        out.insert("mmd_noise".to_string(), json!(noise));
        out.insert("mmd_bandwidth".to_string(), json!(MMD_BANDWIDTH));
        out.insert("mmd_points".to_string(), json!(SUMMARY_POINTS));
        out.insert("loss".to_string(), json!(self.eval_loss()));
        out.insert("train_loss".to_string(), json!(self.last_loss));
        out.insert("toy".to_string(), json!(self.toy.name()));
        out.insert("sampler".to_string(), json!(self.spec.sampler.name()));
        out.insert(
            "sample_steps".to_string(),
            json!(self.spec.steps_to_sample()),
        );
        out.insert("timesteps".to_string(), json!(self.spec.timesteps));
        out.insert("schedule".to_string(), json!(self.spec.schedule));
        out.insert("params".to_string(), json!(self.ps.num_scalars()));
        out
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        let ps = self.sampling_weights();
        crate::nn::to_bytes(&ps, None)
            .map(|b| vec![("weights.safetensors".to_string(), b)])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::spec::Optimizer as Opt;

    /// A small, fast configuration.
    fn small() -> Diffusion2dSpec {
        Diffusion2dSpec {
            hidden: 64,
            layers: 2,
            timesteps: 50,
            samples: 400,
            ..Diffusion2dSpec::default()
        }
    }

    fn model(spec: &Diffusion2dSpec, toy: Toy, seed: u64) -> Diffusion2d {
        let mut train = TrainSpec::for_tests(Opt::Adam, 0.003, 1000);
        train.batch_size = 128;
        let data = toy.sample(4000, seed).0;
        Diffusion2d::new(spec, toy, data, &train, seed)
    }

    fn train(m: &mut Diffusion2d, steps: u64) {
        for s in 1..=steps {
            m.train_step(s, 0.003).unwrap();
        }
    }

    #[test]
    fn the_noise_prediction_loss_falls() {
        let mut m = model(&small(), Toy::Moons, 1);
        let before = m.eval_loss();
        train(&mut m, 400);
        let after = m.eval_loss();
        // The zeroed output layer predicts no noise at first: the loss is E‖ε‖²/2 ≈ 1.
        assert!((before - 1.0).abs() < 0.1, "starts at {before}");
        assert!(after < 0.75 * before, "{before} → {after}");
    }

    #[test]
    fn sampling_is_deterministic_by_seed() {
        for sampler in [Sampler::Ddpm, Sampler::Ddim] {
            let spec = Diffusion2dSpec {
                sampler,
                sample_steps: (sampler == Sampler::Ddim).then_some(10),
                ..small()
            };
            let run = |seed| {
                let mut m = model(&spec, Toy::EightGaussians, seed);
                train(&mut m, 30);
                m.reverse(200, 0).frames
            };
            let (a, b, c) = (run(3), run(3), run(4));
            assert_eq!(a, b, "{sampler:?}");
            assert_ne!(a.last(), c.last(), "{sampler:?}");
            assert_eq!(a.first().map(|f| f.0), Some(50));
            assert_eq!(a.last().map(|f| f.0), Some(0));
        }
    }

    #[test]
    fn trained_samples_score_between_fresh_data_and_pure_noise() {
        let mut m = model(&small(), Toy::Moons, 2);
        train(&mut m, 1500);
        let n = 600;
        let samples = m.reverse(n, 1);
        let reference = &m.held_out[..n];
        let score = mmd(samples.last(), reference, MMD_BANDWIDTH);
        let floor = mmd(&Toy::Moons.sample(n, 99).0, reference, MMD_BANDWIDTH);
        let noise = mmd(&noise_points(n, 98), reference, MMD_BANDWIDTH);
        assert!(
            floor < score && score - floor < 0.5 * (noise - floor),
            "want data {floor:.4} < samples {score:.4} < noise {noise:.4}, nearer the data"
        );
    }

    #[test]
    fn the_mmd_of_a_set_with_itself_is_zero_and_grows_with_a_shift() {
        let a = Toy::Rings.sample(500, 5).0;
        assert!(mmd(&a, &a, MMD_BANDWIDTH) < 1e-3);
        let near: Vec<[f32; 2]> = a.iter().map(|p| [p[0] + 0.1, p[1]]).collect();
        let far: Vec<[f32; 2]> = a.iter().map(|p| [p[0] + 0.5, p[1]]).collect();
        let (d1, d2) = (mmd(&a, &near, 0.2), mmd(&a, &far, 0.2));
        assert!(0.0 < d1 && d1 < d2, "{d1} {d2}");
    }

    #[test]
    fn ddim_in_fewer_steps_ends_at_x0_with_every_point() {
        let spec = Diffusion2dSpec {
            sampler: Sampler::Ddim,
            sample_steps: Some(7),
            ..small()
        };
        let m = model(&spec, Toy::Spiral, 0);
        let r = m.reverse(150, 0);
        let times: Vec<usize> = r.frames.iter().map(|f| f.0).collect();
        assert!(times.windows(2).all(|w| w[1] < w[0]), "{times:?}");
        assert_eq!(r.last().len(), 150);
        assert!(
            r.last()
                .iter()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        );
    }

    #[test]
    fn filmstrip_times_run_from_t_down_to_zero_for_both_schedules() {
        for kind in [BetaSchedule::Linear, BetaSchedule::Cosine] {
            let s = NoiseSchedule::new(kind, 200);
            let t = frame_times(&s);
            assert_eq!((t[0], *t.last().unwrap()), (200, 0), "{kind:?}");
            assert!(t.windows(2).all(|w| w[1] < w[0]), "{kind:?}: {t:?}");
            assert_eq!(t.len(), FRAMES, "{kind:?}: {t:?}");
        }
    }

    #[test]
    fn snapshots_draw_every_panel_and_more_than_two_hundred_points_per_cloud() {
        let mut m = model(&small(), Toy::Checkerboard, 0);
        let mut updates = m.intro();
        updates.extend(m.snapshot());
        let panels: Vec<&str> = updates.iter().map(|u| u.panel.as_str()).collect();
        for p in ["forward", "reverse", "samples", "schedule"] {
            assert!(panels.contains(&p), "{p} missing from {panels:?}");
        }
        let Some(Visual::Figure(f)) = updates
            .iter()
            .find(|u| u.panel == "samples" && u.part == "samples")
            .map(|u| &u.visual)
        else {
            panic!("no samples figure");
        };
        assert!(matches!(&f.layers[0], Layer::Points { points, .. } if points.len() > 200));
        // Once trained a step, x_T is not sent again.
        m.train_step(1, 0.003).unwrap();
        assert!(m.snapshot().iter().all(|u| u.part != "x_T"));
    }

    #[test]
    fn ddpm_with_fewer_sample_steps_is_rejected_with_a_hint() {
        let mut ctx = Ctx::new(std::path::Path::new("x.yaml"), "");
        let spec = Diffusion2dSpec {
            sample_steps: Some(10),
            ..Diffusion2dSpec::default()
        };
        assert!(spec.check(&mut ctx).is_none());
        assert!(format!("{:?}", ctx.errors).contains("ddim"));
    }

    #[test]
    fn the_lesson_file_validates() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/diffusion-2d.yaml");
        let lesson = crate::lessons::Lesson::load(&path, &[]).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(
            lesson.model,
            super::super::ModelSpec::Diffusion2d(_)
        ));
    }
}
