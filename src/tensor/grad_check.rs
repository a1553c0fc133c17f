//! Gradient checking: compares the gradients of `backward` with central differences.
//!
//! The function under test maps parameters to any tensor y. A random upstream gradient u (fixed
//! by the seed) turns it into the scalar L = Σ u·y, accumulated in f64; its derivative along
//! each checked parameter element is estimated as (L(θ+h) − L(θ−h)) / 2h, using the step that
//! f32 actually represents. Per parameter the check reports the relative error
//! ‖analytic − numeric‖ / (max(‖analytic‖, ‖numeric‖) + √n·floor) over its n checked elements.
//!
//! The floor is what an f32 forward pass can resolve: `abs_floor` plus the rounding noise of
//! the difference quotient, 4·ε₃₂·‖u⊙y‖/h. Small op tests have a tiny floor; a whole model
//! whose loss sums hundreds of terms (a VAE's ELBO on 784 pixels) has a larger one, printed in
//! the report. A wrong derivative still shows as a relative error of order one.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::{Graph, ParamId, ParamStore, Tensor, Var};

/// How to check.
#[derive(Clone, Debug)]
pub struct GradCheckConfig {
    /// Finite-difference step (f32 forward passes: 1e-2 balances truncation and rounding).
    pub step: f32,
    /// Largest relative error that passes.
    pub tolerance: f32,
    /// At most this many elements per parameter are checked (chosen at random beyond it).
    pub max_elements: usize,
    /// Seed of the upstream gradient and of the element choice.
    pub seed: u64,
    /// Absolute error per element that is always tolerated (before the rounding-noise term).
    pub abs_floor: f32,
}

impl Default for GradCheckConfig {
    fn default() -> Self {
        Self {
            step: 1e-2,
            tolerance: 1e-2,
            max_elements: 64,
            seed: 0,
            abs_floor: 1e-4,
        }
    }
}

/// Result for one parameter.
#[derive(Clone, Debug)]
pub struct ParamCheck {
    pub name: String,
    pub checked: usize,
    pub relative_error: f32,
    pub max_abs_error: f32,
}

/// Result for all parameters.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    pub params: Vec<ParamCheck>,
    pub tolerance: f32,
    /// The per-element error floor used (see the module doc).
    pub floor: f32,
}

impl GradCheckReport {
    /// The largest relative error over all parameters.
    pub fn worst(&self) -> f32 {
        self.params
            .iter()
            .map(|p| p.relative_error)
            .fold(0.0, f32::max)
    }

    pub fn passed(&self) -> bool {
        self.params
            .iter()
            .all(|p| p.relative_error <= self.tolerance)
    }
}

impl std::fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "tolerance {:.1e}, per-element floor {:.1e}",
            self.tolerance, self.floor
        )?;
        for p in &self.params {
            let verdict = if p.relative_error <= self.tolerance {
                "ok"
            } else {
                "FAIL"
            };
            writeln!(
                f,
                "{:<24} {:>5} elems  rel {:.2e}  abs {:.2e}  {verdict}",
                p.name, p.checked, p.relative_error, p.max_abs_error
            )?;
        }
        Ok(())
    }
}

/// L = Σ u·y in f64.
fn weighted_sum(y: &Var, u: &Tensor) -> f64 {
    y.value()
        .iter()
        .zip(u.iter())
        .map(|(&y, &u)| y as f64 * u as f64)
        .sum()
}

/// Checks the gradients of every parameter of `store` that `f` reads.
pub fn grad_check(
    store: &mut ParamStore,
    f: impl Fn(&Graph) -> Var,
    cfg: &GradCheckConfig,
) -> GradCheckReport {
    let ids = store.ids();
    grad_check_params(store, &ids, f, cfg)
}

/// Checks the gradients of the given parameters only.
pub fn grad_check_params(
    store: &mut ParamStore,
    ids: &[ParamId],
    f: impl Fn(&Graph) -> Var,
    cfg: &GradCheckConfig,
) -> GradCheckReport {
    let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
    let (u, grads, uy_norm) = {
        let g = Graph::new(store);
        let y = f(&g);
        let u =
            Tensor::from_shape_simple_fn(y.value().raw_dim(), || StandardNormal.sample(&mut rng));
        let uy: f64 = y
            .value()
            .iter()
            .zip(u.iter())
            .map(|(&y, &u)| (y as f64 * u as f64).powi(2))
            .sum();
        let grads = g.backward_with(&y, u.clone());
        (u, grads, uy.sqrt())
    };
    let floor = cfg.abs_floor as f64 + 4.0 * f32::EPSILON as f64 * uy_norm / cfg.step as f64;
    let loss_at = |store: &ParamStore| {
        let g = Graph::no_grad(store);
        weighted_sum(&f(&g), &u)
    };
    let mut params = Vec::new();
    for &id in ids {
        let n = store.get(id).len();
        let mut elems: Vec<usize> = (0..n).collect();
        if n > cfg.max_elements {
            for i in 0..cfg.max_elements {
                let j = rng.random_range(i..n);
                elems.swap(i, j);
            }
            elems.truncate(cfg.max_elements);
        }
        let analytic: Vec<f64> = match grads.get(id) {
            Some(gr) => {
                let gs = gr.as_slice().expect("gradients are in standard layout");
                elems.iter().map(|&i| gs[i] as f64).collect()
            }
            None => vec![0.0; elems.len()],
        };
        let mut numeric = Vec::with_capacity(elems.len());
        for &i in &elems {
            let orig = store.get(id).as_slice().expect("standard layout")[i];
            let (up, down) = (orig + cfg.step, orig - cfg.step);
            store.get_mut(id).as_slice_mut().expect("standard layout")[i] = up;
            let lp = loss_at(store);
            store.get_mut(id).as_slice_mut().expect("standard layout")[i] = down;
            let lm = loss_at(store);
            store.get_mut(id).as_slice_mut().expect("standard layout")[i] = orig;
            numeric.push((lp - lm) / (up as f64 - down as f64));
        }
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let diff: Vec<f64> = analytic.iter().zip(&numeric).map(|(a, b)| a - b).collect();
        let rel = norm(&diff)
            / (norm(&analytic).max(norm(&numeric)) + floor * (elems.len() as f64).sqrt());
        let max_abs = diff.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        params.push(ParamCheck {
            name: store.name(id).to_string(),
            checked: elems.len(),
            relative_error: rel as f32,
            max_abs_error: max_abs as f32,
        });
    }
    GradCheckReport {
        params,
        tolerance: cfg.tolerance,
        floor: floor as f32,
    }
}
