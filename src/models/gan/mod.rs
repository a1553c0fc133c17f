//! A generative adversarial network (lesson gan): a generator G turns noise into data and a
//! discriminator D learns to tell its output from real data, each player stepping against the
//! other. On a 2-D toy (the default) the lesson shows the real and generated points, D's
//! output over the whole plane, and how many of the toy's modes the generator covers; on digits
//! (`data.source: digits` or `idx`) a grid of samples and the judge's reading of them.
//!
//! ```text
//! the game      min_G max_D  E_x[log D(x)] + E_z[log(1 − D(G(z)))]
//! D*            for a fixed G, the best D is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and the
//!               game's value is then 2·JSD(p_data ‖ p_G) − log 4 (Goodfellow et al. 2014)
//! one step      d_steps × { x ~ data, z ~ N(0, I): D descends BCE(D(x), 1) + BCE(D(G(z)), 0) }
//!               then { z ~ N(0, I): G descends −log D(G(z))  (non-saturating)
//!                                        or log(1 − D(G(z)))  (minimax) }
//! optimiser     Adam for each player, lr from `train`, betas from `model.betas` (0.5, 0.999)
//! ```
//!
//! Paused, the learner can step D alone or G alone (`Model::train_part`), to see one player
//! move while the other stands still.
//!
//! | file        | owns                                                                   |
//! |-------------|------------------------------------------------------------------------|
//! | `spec.rs`   | `GanSpec`: the `model:` section, its defaults and validation            |
//! | `net.rs`    | the two MLPs and their losses (shared with `mllab bench`'s GAN)         |
//! | `modes.rs`  | which modes of a 2-D toy the samples cover                              |
//! | `panels.rs` | the plane, D's heat map, the modes' and classes' bars, the digit grid   |
//! | `model.rs`  | `impl Model` and `impl Generator`: steps, metrics, panels, summary      |
//! | `family.rs` | `gan` in the registry, its memory plan and `mllab sample`               |
//!
//! Every random draw comes from the lesson seed; the pictures use fixed noise, so they change
//! between snapshots only because G learnt something. Nothing here knows about threads,
//! terminals or files.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::config::spec::TrainSpec;
use crate::data::toys::Toy;
use crate::metrics::judge::Judge;
use crate::models::steps::Batches;
use crate::models::{ModelError, StepPart, check_finite};
use crate::nn::{Adam, AdamConfig, Optimizer};
use crate::tensor::{Graph, ParamStore, Tensor, randn};

mod family;
mod model;
mod modes;
mod net;
mod panels;
mod spec;

pub use modes::{Coverage, Modes};
pub use net::{Nets, bce_const, d_loss, g_loss};
pub use spec::{GanLoss, GanSpec, Space, Widths};

const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;
/// Fresh data points the 2-D scores compare with (and the summary's sample count).
const SUMMARY_POINTS: usize = 2000;
/// Digits drawn at each snapshot for the judge's class histogram.
const HISTOGRAM_SAMPLES: usize = 200;

/// What a run trains on.
enum Data {
    Plane {
        toy: Toy,
        /// Training points, n × 2.
        train: Vec<f32>,
        /// Fresh points never trained on, for the scores and the picture.
        held_out: Vec<[f32; 2]>,
        modes: Modes,
        /// Half-width of the plane shown.
        half: f64,
    },
    Digits {
        /// Training images in [−1, 1], n × 784.
        train: Vec<f32>,
        /// Held-out real images in [0, 1].
        real: Vec<f32>,
        judge: Option<Judge>,
    },
}

/// Everything a GAN run holds.
pub struct Gan {
    spec: GanSpec,
    widths: Widths,
    nets: Nets,
    ps: ParamStore,
    opt_g: Adam,
    opt_d: Adam,
    data: Data,
    batches: Batches,
    batch: usize,
    rng: Pcg64Mcg,
    seed: u64,
    /// Noise the pictures are drawn from, the same at every snapshot.
    fixed_z: Tensor,
    /// Steps taken (whole or partial), and the samples of `fixed_z` after the latest.
    steps: u64,
    cached: Option<(u64, Vec<f32>)>,
    /// The latest numbers of each player's own step.
    last: Last,
}

#[derive(Clone, Copy, Debug, Default)]
struct Last {
    d_loss: f64,
    g_loss: f64,
    g_grad_norm: f64,
}

/// A 2-D run's data: the toy, its training points and its seed.
pub struct PlaneData {
    pub toy: Toy,
    pub points: Vec<[f32; 2]>,
}

/// A digit run's data (pixels in [0, 1]) and its judge.
pub struct DigitData {
    pub images: Vec<f32>,
    pub real: Vec<f32>,
    pub judge: Option<Judge>,
}

/// The data a GAN is built on.
// One value per run: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum GanData {
    Plane(PlaneData),
    Digits(DigitData),
}

impl Gan {
    pub fn new(spec: &GanSpec, data: GanData, train: &TrainSpec, seed: u64) -> Gan {
        let space = match data {
            GanData::Plane(_) => Space::Plane,
            GanData::Digits(_) => Space::Digits,
        };
        let widths = spec.widths(space);
        let mut init = Pcg64Mcg::seed_from_u64(seed ^ 0x6A11_0000_0000_0001);
        let mut ps = ParamStore::new();
        let nets = Nets::new(
            &mut ps,
            &widths,
            spec.leak as f32,
            space == Space::Digits,
            &mut init,
        );
        let config =
            AdamConfig::adam(train.lr as f32).betas(spec.betas[0] as f32, spec.betas[1] as f32);
        let opt_g = Adam::new(config.clone()).with_params(nets.g_params());
        let opt_d = Adam::new(config).with_params(nets.d_params());
        let (data, n) = match data {
            GanData::Plane(p) => {
                let held_out = p.toy.sample(SUMMARY_POINTS, seed ^ 0x6A11_0000_0000_0002).0;
                let extent = p
                    .points
                    .iter()
                    .flat_map(|q| [q[0].abs(), q[1].abs()])
                    .filter(|v| v.is_finite())
                    .fold(0.0f32, f32::max) as f64;
                let n = p.points.len();
                (
                    Data::Plane {
                        toy: p.toy,
                        train: p.points.iter().flat_map(|q| [q[0], q[1]]).collect(),
                        held_out,
                        modes: Modes::new(p.toy, seed ^ 0x6A11_0000_0000_0003),
                        half: (1.15 * extent).max(2.5),
                    },
                    n,
                )
            }
            GanData::Digits(d) => {
                let n = d.images.len() / PIXELS;
                (
                    Data::Digits {
                        train: d.images.iter().map(|v| v * 2.0 - 1.0).collect(),
                        real: d.real,
                        judge: d.judge,
                    },
                    n,
                )
            }
        };
        let shown = match space {
            Space::Plane => spec.samples,
            Space::Digits => spec.grid,
        };
        let mut z_rng = Pcg64Mcg::seed_from_u64(seed ^ 0x6A11_0000_0000_0004);
        let fixed_z = randn(&[shown, widths.z_dim], &mut z_rng);
        Gan {
            batches: Batches::new(n.max(1), train.batch_size, seed ^ 0x6A11_0000_0000_0005),
            batch: train.batch_size.min(n.max(1)),
            rng: Pcg64Mcg::seed_from_u64(seed ^ 0x6A11_0000_0000_0006),
            spec: spec.clone(),
            widths,
            nets,
            ps,
            opt_g,
            opt_d,
            data,
            seed,
            fixed_z,
            steps: 0,
            cached: None,
            last: Last::default(),
        }
    }

    pub fn space(&self) -> Space {
        match self.data {
            Data::Plane { .. } => Space::Plane,
            Data::Digits { .. } => Space::Digits,
        }
    }

    /// A batch of real data, (B, d).
    fn real_batch(&mut self) -> Tensor {
        let idx = self.batches.next_batch();
        let (rows, d) = match &self.data {
            Data::Plane { train, .. } => (train, 2),
            Data::Digits { train, .. } => (train, PIXELS),
        };
        let mut x = Vec::with_capacity(idx.len() * d);
        for i in &idx {
            x.extend_from_slice(&rows[i * d..(i + 1) * d]);
        }
        Tensor::from_shape_vec(ndarray::IxDyn(&[idx.len(), d]), x).expect("B × d values")
    }

    fn noise(&mut self, n: usize) -> Tensor {
        randn(&[n, self.widths.z_dim], &mut self.rng)
    }

    /// One step of D alone: (its loss, mean D(x) on the real batch, mean D(G(z)) on the fakes).
    fn step_d(&mut self, lr: f64) -> (f64, f64, f64) {
        let real = self.real_batch();
        let z = self.noise(real.shape()[0]);
        let fake = self.nets.generate(&self.ps, &z);
        let (loss, means, grads) = {
            let g = Graph::new(&self.ps);
            let (r, f) = (g.input(real), g.input(fake));
            let l_real = self.nets.disc.forward(&g, &r);
            let l_fake = self.nets.disc.forward(&g, &f);
            let loss = g.add(&bce_const(&g, &l_real, 1.0), &bce_const(&g, &l_fake, 0.0));
            let mean_sigmoid = |v: &crate::tensor::Var| {
                let s = v.value();
                s.iter()
                    .map(|&l| 1.0 / (1.0 + (-l as f64).exp()))
                    .sum::<f64>()
                    / s.len().max(1) as f64
            };
            let means = (mean_sigmoid(&l_real), mean_sigmoid(&l_fake));
            (loss.item() as f64, means, g.backward(&loss))
        };
        self.opt_d.set_lr(lr as f32);
        self.opt_d.step(&mut self.ps, &grads);
        self.steps += 1;
        self.last.d_loss = loss;
        (loss, means.0, means.1)
    }

    /// One step of G alone: (its loss, the norm of its gradient).
    fn step_g(&mut self, lr: f64) -> (f64, f64) {
        let z = self.noise(self.batch);
        let (loss, grads) = {
            let g = Graph::new(&self.ps);
            g.freeze(&self.nets.d_params());
            let fake = self.nets.generator.forward(&g, &g.input(z));
            let loss = g_loss(&g, &self.nets.disc, &fake, self.spec.loss);
            (loss.item() as f64, g.backward(&loss))
        };
        let norm = grads.norm() as f64;
        self.opt_g.set_lr(lr as f32);
        self.opt_g.step(&mut self.ps, &grads);
        self.steps += 1;
        self.last.g_loss = loss;
        self.last.g_grad_norm = norm;
        (loss, norm)
    }

    /// G(fixed z) for the current weights (computed once per step count), flat; digits in
    /// [0, 1]. `Err(Diverged)` when a sample is not finite.
    fn current(&mut self) -> Result<&[f32], ModelError> {
        if self.cached.as_ref().map(|c| c.0) != Some(self.steps) {
            let x = self.draw_from(&self.fixed_z.clone());
            check_finite("the generated samples", &x)?;
            self.cached = Some((self.steps, x));
        }
        Ok(&self.cached.as_ref().expect("just filled").1)
    }

    /// G(z), flat, digits mapped to [0, 1].
    fn draw_from(&self, z: &Tensor) -> Vec<f32> {
        let out = self.nets.generate(&self.ps, z);
        match self.space() {
            Space::Plane => out.iter().copied().collect(),
            Space::Digits => out
                .iter()
                .map(|v| ((v + 1.0) * 0.5).clamp(0.0, 1.0))
                .collect(),
        }
    }

    /// `n` fresh samples from noise drawn with `seed`.
    fn draw_seeded(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let z = randn(&[n, self.widths.z_dim], &mut rng);
        self.draw_from(&z)
    }

    /// D's and G's losses on fixed held-out data and noise, without training: the summary's.
    fn held_out_losses(&self) -> (f64, f64) {
        let n = 500;
        let real: Vec<f32> = match &self.data {
            Data::Plane { held_out, .. } => {
                held_out.iter().take(n).flat_map(|p| [p[0], p[1]]).collect()
            }
            Data::Digits { real, .. } => real[..(real.len() / PIXELS).min(n) * PIXELS]
                .iter()
                .map(|v| v * 2.0 - 1.0)
                .collect(),
        };
        let d = self.space().width();
        let rows = real.len() / d;
        if rows == 0 {
            return (f64::NAN, f64::NAN);
        }
        let real = Tensor::from_shape_vec(ndarray::IxDyn(&[rows, d]), real).expect("rows × d");
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ 0x6A11_0000_0000_0007);
        let z = randn(&[rows, self.widths.z_dim], &mut rng);
        let fake = self.nets.generate(&self.ps, &z);
        let g = Graph::no_grad(&self.ps);
        let f = g.input(fake);
        let dl = d_loss(&g, &self.nets.disc, &g.input(real), &f).item() as f64;
        let gl = g_loss(&g, &self.nets.disc, &f, self.spec.loss).item() as f64;
        (dl, gl)
    }

    /// The part a command steps, as its own step.
    fn part_step(&mut self, part: StepPart, lr: f64) -> crate::models::Metrics {
        match part {
            StepPart::Discriminator => {
                let (l, real, fake) = self.step_d(lr);
                crate::models::Metrics::from([
                    ("d_loss".to_string(), l),
                    ("d_real".to_string(), real),
                    ("d_fake".to_string(), fake),
                ])
            }
            StepPart::Generator => {
                let (l, norm) = self.step_g(lr);
                crate::models::Metrics::from([
                    ("g_loss".to_string(), l),
                    ("g_grad_norm".to_string(), norm),
                ])
            }
        }
    }
}

/// A small, fast GAN shared by the tests of every file here.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::config::spec::Optimizer as Opt;

    pub(super) fn plane(toy: Toy, spec: &GanSpec, seed: u64) -> Gan {
        let mut train = TrainSpec::for_tests(Opt::Adam, 1e-3, 1000);
        train.batch_size = 128;
        let points = toy.sample(4000, seed).0;
        Gan::new(
            spec,
            GanData::Plane(PlaneData { toy, points }),
            &train,
            seed,
        )
    }

    pub(super) fn digits(spec: &GanSpec) -> Gan {
        let mut train = TrainSpec::for_tests(Opt::Adam, 2e-4, 100);
        train.batch_size = 16;
        let (images, _) = crate::data::digits::generate(64, 1);
        let (real, _) = crate::data::digits::generate(20, 2);
        Gan::new(
            spec,
            GanData::Digits(DigitData {
                images,
                real,
                judge: None,
            }),
            &train,
            3,
        )
    }
}
