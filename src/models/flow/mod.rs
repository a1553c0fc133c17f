//! RealNVP, a normalizing flow (lesson flow): an invertible map f from data x to a latent z
//! whose prior is N(0, I), trained by the exact likelihood that the change of variables gives,
//! log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x|. f is a stack of affine couplings
//! (`coupling`), each of which changes half the coordinates by a scale and a shift computed
//! from the other half, so that its Jacobian is triangular and its log-determinant a sum.
//!
//! ```text
//! 2-D toys (default)   x (B, 2), masks alternate which coordinate moves; loss = −log p(x), nats
//! digits               pixel levels k → v = (k + u)/256 → logit(α + (1 − 2α)·v) = y (B, 784),
//!                      checkerboard masks; loss = bits/dim, counting the logit's and the
//!                      256-scaling's Jacobians (`pixels`)
//! sampling             z ~ N(0, T²·I) → f⁻¹ (the couplings in reverse) → x
//! ```
//!
//! | file          | owns                                                                  |
//! |---------------|-----------------------------------------------------------------------|
//! | `spec.rs`     | `FlowSpec`: the `model:` section, its defaults and validation          |
//! | `coupling.rs` | the coupling, the stack's forward / inverse / NLL, the masks (shared with `mllab bench`) |
//! | `pixels.rs`   | dequantisation, the logit transform and bits per dimension             |
//! | `model.rs`    | `impl Model` and `impl Generator`: steps, metrics, summary, weights     |
//! | `panels.rs`   | the layer-by-layer filmstrip, the density heat map, the samples        |
//! | `family.rs`   | `impl Family`: registry entry, memory plan, build, `mllab sample`      |
//!
//! Couplings start as the identity (their networks' last layers are zero), so a fresh flow is
//! the prior itself. Nothing here knows about threads, terminals or files.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use crate::config::spec::{Optimizer as OptimizerKind, TrainSpec};
use crate::data::toys::Toy;
use crate::metrics::judge::Judge;
use crate::models::steps::Batches;
use crate::nn::{Activation, Adam, AdamConfig, Optimizer, Sgd};
use crate::tensor::{Graph, ParamStore, Tensor};

pub mod coupling;
mod family;
mod model;
mod panels;
pub mod pixels;
mod spec;

pub use coupling::{Coupling, alternating, checkerboard};
pub use family::sample_weights;
pub use spec::FlowSpec;

/// Side of a digit image, and its pixels.
const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;
/// Held-out points (2-D) or at most this many held-out digits score the test NLL.
const TEST_POINTS: usize = 2000;
const TEST_DIGITS: usize = 1000;
/// Rows per no-grad pass when scoring many at once.
const CHUNK: usize = 500;
/// Mean |log det| per dimension past which the flow is said to have exploded: a stretch of
/// e¹⁰⁰ per coordinate is no density of any data set.
const EXPLODED_LOGDET_PER_DIM: f64 = 100.0;

/// The couplings of `spec` on `d` coordinates, masks alternating (checkerboard on digits),
/// named `layers.{k}` as the bench's RealNVP names them.
pub(crate) fn build_layers(
    spec: &FlowSpec,
    d: usize,
    ps: &mut ParamStore,
    rng: &mut Pcg64Mcg,
) -> Vec<Coupling> {
    let widths = spec.widths(d);
    (0..spec.couplings)
        .map(|k| {
            let mask = if d == PIXELS {
                checkerboard(k % 2)
            } else {
                alternating(d, k % 2)
            };
            let c = Coupling::new(
                ps,
                &format!("layers.{k}"),
                mask,
                &widths,
                Activation::Relu,
                rng,
            );
            c.start_as_identity(ps);
            c
        })
        .collect()
}

/// Points in the plane: the toy, its training points and held-out ones (flat, 2 per row).
pub(crate) struct Plane {
    toy: Toy,
    train: Vec<f32>,
    test: Vec<f32>,
    /// Half-width of the plane the panels show.
    half: f64,
}

/// Digits: training pixel levels, held-out images dequantised once (fixed noise) for a
/// reproducible test NLL, the same in [0, 1] for the judge, and the judge.
pub(crate) struct Digits {
    train: Vec<u8>,
    test_y: Vec<f32>,
    test_jac: Vec<f64>,
    real: Vec<f32>,
    judge: Option<Judge>,
}

// One value per run: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum FlowData {
    Plane(Plane),
    Digits(Digits),
}

/// A flow being trained.
pub struct Flow {
    spec: FlowSpec,
    /// Coordinates: 2 or 784.
    d: usize,
    layers: Vec<Coupling>,
    ps: ParamStore,
    opt: Box<dyn Optimizer>,
    batches: Batches,
    rng: Pcg64Mcg,
    seed: u64,
    data: FlowData,
    steps: u64,
    last_loss: f64,
    /// The live grid's digits in [0, 1] (digits only), scored by `evaluate`.
    last_grid: Vec<f32>,
}

fn gauss(rng: &mut Pcg64Mcg) -> f32 {
    StandardNormal.sample(rng)
}

fn optimizer(train: &TrainSpec) -> Box<dyn Optimizer> {
    let lr = train.lr as f32;
    match train.optimizer {
        OptimizerKind::Sgd => Box::new(Sgd::new(lr, 0.0)),
        OptimizerKind::Momentum => Box::new(Sgd::new(lr, 0.9)),
        OptimizerKind::Adamw => Box::new(Adam::new(AdamConfig::adamw(lr, 1e-4))),
        _ => Box::new(Adam::new(AdamConfig::adam(lr))),
    }
}

impl Flow {
    fn with_data(
        spec: &FlowSpec,
        d: usize,
        data: FlowData,
        n: usize,
        train: &TrainSpec,
        seed: u64,
    ) -> Flow {
        let mut init = Pcg64Mcg::seed_from_u64(seed ^ 0xF10E_0000_0000_0001);
        let mut ps = ParamStore::new();
        let layers = build_layers(spec, d, &mut ps, &mut init);
        Flow {
            spec: spec.clone(),
            d,
            layers,
            ps,
            opt: optimizer(train),
            batches: Batches::new(n, train.batch_size, seed ^ 0xF10E_0000_0000_0002),
            rng: Pcg64Mcg::seed_from_u64(seed ^ 0xF10E_0000_0000_0003),
            seed,
            data,
            steps: 0,
            last_loss: f64::NAN,
            last_grid: Vec::new(),
        }
    }

    /// A flow on points of `toy` in the plane (`points` to train on).
    pub fn on_plane(
        spec: &FlowSpec,
        toy: Toy,
        points: Vec<[f32; 2]>,
        train: &TrainSpec,
        seed: u64,
    ) -> Flow {
        let test = toy.sample(TEST_POINTS, seed ^ 0xF10E_0000_0000_0004).0;
        let extent = points
            .iter()
            .flat_map(|p| [p[0].abs(), p[1].abs()])
            .fold(0.0f32, f32::max) as f64;
        let n = points.len();
        let plane = Plane {
            toy,
            train: points.iter().flat_map(|p| [p[0], p[1]]).collect(),
            test: test.iter().flat_map(|p| [p[0], p[1]]).collect(),
            half: (1.1 * extent).max(3.0),
        };
        Flow::with_data(spec, 2, FlowData::Plane(plane), n, train, seed)
    }

    /// A flow on digits: `images` to train on and `test` held out, both in [0, 1].
    pub fn on_digits(
        spec: &FlowSpec,
        images: &[f32],
        test: &[f32],
        judge: Option<Judge>,
        train: &TrainSpec,
        seed: u64,
    ) -> Flow {
        let n_test = (test.len() / PIXELS).min(TEST_DIGITS);
        let test_levels = pixels::levels(&test[..n_test * PIXELS]);
        let mut noise = Pcg64Mcg::seed_from_u64(seed ^ 0xF10E_0000_0000_0005);
        let u: Vec<f32> = (0..test_levels.len())
            .map(|_| noise.random::<f32>())
            .collect();
        let (test_y, test_jac) = pixels::to_logits(&test_levels, &u, PIXELS);
        let digits = Digits {
            train: pixels::levels(images),
            test_y,
            test_jac,
            real: test.to_vec(),
            judge,
        };
        let n = images.len() / PIXELS;
        Flow::with_data(spec, PIXELS, FlowData::Digits(digits), n, train, seed)
    }

    pub fn is_digits(&self) -> bool {
        matches!(self.data, FlowData::Digits(_))
    }

    /// −log p(y) in nats for each row of `x` (flat, d per row), with the current weights.
    pub fn nll_rows(&self, x: &[f32]) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.len() / self.d);
        for chunk in x.chunks(CHUNK * self.d) {
            let b = chunk.len() / self.d;
            let g = Graph::no_grad(&self.ps);
            let input = g.input(rows(chunk, b, self.d));
            let (z, logdet) = coupling::forward(&g, &self.layers, &input);
            let nll = g.sub(&coupling::prior_nll(&g, &z), &logdet);
            out.extend(nll.value().iter().map(|&v| v as f64));
        }
        out
    }

    /// The held-out score: nats per point in the plane, bits per dimension on digits.
    pub fn test_nll(&self) -> f64 {
        match &self.data {
            FlowData::Plane(p) => mean(&self.nll_rows(&p.test)),
            FlowData::Digits(dg) => mean(&self.test_bits(dg)),
        }
    }

    fn test_bits(&self, dg: &Digits) -> Vec<f64> {
        self.nll_rows(&dg.test_y)
            .iter()
            .zip(&dg.test_jac)
            .map(|(&nll, &jac)| pixels::bits_per_dim(nll, jac, self.d))
            .collect()
    }

    /// max |x − f⁻¹(f(x))| over the held-out inputs of the flow (points, or digits in logit
    /// space).
    pub fn invertibility_error(&self) -> f64 {
        let x = match &self.data {
            FlowData::Plane(p) => &p.test,
            FlowData::Digits(dg) => &dg.test_y,
        };
        let mut worst = 0.0f64;
        for chunk in x.chunks(CHUNK * self.d) {
            let b = chunk.len() / self.d;
            let g = Graph::no_grad(&self.ps);
            let (z, _) = coupling::forward(&g, &self.layers, &g.input(rows(chunk, b, self.d)));
            let (back, _) = coupling::inverse(&g, &self.layers, &z, false);
            for (a, r) in chunk.iter().zip(back.value().iter()) {
                let e = (a - r).abs() as f64;
                // A NaN is the worst error there is; f64::max would hide it.
                worst = if e.is_nan() { f64::NAN } else { worst.max(e) };
                if worst.is_nan() {
                    return worst;
                }
            }
        }
        worst
    }

    /// `n` draws of z ~ N(0, T²·I) from `rng`, pushed through f⁻¹: the samples in the flow's
    /// space (flat) and, with `frames`, z and the state after each inverse coupling.
    pub(crate) fn draw_flow(
        &self,
        n: usize,
        temperature: f64,
        rng: &mut Pcg64Mcg,
        frames: bool,
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        draw_with(&self.ps, &self.layers, self.d, n, temperature, rng, frames)
    }
}

/// Samples of the flow `layers` with weights `ps` on `d` coordinates (see [`Flow::draw_flow`]).
pub(crate) fn draw_with(
    ps: &ParamStore,
    layers: &[Coupling],
    d: usize,
    n: usize,
    temperature: f64,
    rng: &mut Pcg64Mcg,
    frames: bool,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let t = temperature as f32;
    let mut out = Vec::with_capacity(n * d);
    let mut film: Vec<Vec<f32>> = Vec::new();
    let mut left = n;
    while left > 0 {
        let b = left.min(CHUNK);
        let z: Vec<f32> = (0..b * d).map(|_| t * gauss(rng)).collect();
        let g = Graph::no_grad(ps);
        let (x, kept) = coupling::inverse(&g, layers, &g.input(rows(&z, b, d)), frames);
        if frames {
            if film.is_empty() {
                film.push(Vec::new());
                film.extend(kept.iter().map(|_| Vec::new()));
            }
            film[0].extend(&z);
            for (f, k) in film[1..].iter_mut().zip(&kept) {
                f.extend(k.iter());
            }
        }
        out.extend(x.value().iter());
        left -= b;
    }
    (out, film)
}

fn rows(x: &[f32], b: usize, d: usize) -> Tensor {
    Tensor::from_shape_vec(ndarray::IxDyn(&[b, d]), x.to_vec()).expect("b × d values")
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// A small, fast lesson shared by the tests of every file here.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::config::spec::Optimizer as Opt;

    pub(super) fn small() -> FlowSpec {
        FlowSpec {
            couplings: 4,
            hidden: vec![32, 32],
            samples: 300,
            grid: 4,
            judge_samples: 0,
            ..FlowSpec::default()
        }
    }

    pub(super) fn train(lr: f64, batch: usize) -> TrainSpec {
        let mut t = TrainSpec::for_tests(Opt::Adam, lr, 1000);
        t.batch_size = batch;
        t
    }

    pub(super) fn plane(spec: &FlowSpec, toy: Toy, seed: u64) -> Flow {
        Flow::on_plane(spec, toy, toy.sample(4000, seed).0, &train(3e-3, 256), seed)
    }

    pub(super) fn digits(spec: &FlowSpec, seed: u64) -> Flow {
        let (images, _) = crate::data::digits::generate(300, 1);
        let (test, _) = crate::data::digits::generate(40, 2);
        Flow::on_digits(spec, &images, &test, None, &train(1e-3, 16), seed)
    }
}
