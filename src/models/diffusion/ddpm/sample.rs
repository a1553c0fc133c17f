//! Drawing digits from a noise predictor: the sampling loop shared by the live lesson and
//! `mllab sample`, which reloads a save's weights.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use std::path::Path;

use super::{Ddpm, DdpmSpec, PIXELS, SIDE};
use crate::models::diffusion::{NoiseSchedule, Sampler};
use crate::models::family::{SampleRequest, Samples};
use crate::tensor::{Tensor, randn};

/// Runs a sampler from pure noise; `net(x, t)` predicts the noise of a batch. For DDIM, `eta`
/// sets how much fresh noise each step adds (0: none).
#[allow(clippy::too_many_arguments)]
pub fn sample_with(
    schedule: &NoiseSchedule,
    sampler: Sampler,
    steps: usize,
    eta: f64,
    n: usize,
    frames: usize,
    rng: &mut Pcg64Mcg,
    net: impl Fn(&[f32], &[f32]) -> Vec<f32>,
) -> (Vec<f32>, Vec<(usize, Vec<f32>)>) {
    let mut x: Vec<f32> = randn(&[n * PIXELS], rng).iter().copied().collect();
    let ts: Vec<usize> = match sampler {
        Sampler::Ddpm => (1..=schedule.steps()).rev().collect(),
        Sampler::Ddim => schedule.ddim_timesteps(steps),
    };
    let keep: Vec<usize> = crate::visual::evenly_spaced(ts.len() + 1, frames.max(1));
    let mut film = Vec::new();
    for (i, &t) in ts.iter().enumerate() {
        if frames > 0 && keep.contains(&i) {
            film.push((t, to_unit(&x[..PIXELS])));
        }
        let tt = vec![t as f32; n];
        let mut e = net(&x, &tt);
        schedule.clip_eps(&x, &mut e, t);
        match sampler {
            Sampler::Ddpm => {
                let z: Vec<f32> = randn(&[n * PIXELS], rng).iter().copied().collect();
                schedule.ddpm_step(&mut x, &e, t, &z);
            }
            Sampler::Ddim => {
                let s = ts.get(i + 1).copied().unwrap_or(0);
                if eta > 0.0 && s > 0 {
                    let z: Vec<f32> = randn(&[n * PIXELS], rng).iter().copied().collect();
                    schedule.ddim_step_eta(&mut x, &e, t, s, eta, &z);
                } else {
                    schedule.ddim_step(&mut x, &e, t, s);
                }
            }
        }
    }
    if frames > 0 {
        film.push((0, to_unit(&x[..PIXELS])));
    }
    (to_unit(&x), film)
}

/// `mllab sample`: `n` fresh digits (n × 28 × 28 in [0, 1]) from the weights a DDPM run
/// saved; `sampler`, `steps` and `eta` override the lesson's.
pub fn sample_weights(
    spec: &DdpmSpec,
    weights: &Path,
    request: &SampleRequest,
) -> Result<Samples, String> {
    let sampler = match request.sampler.as_deref() {
        None => spec.sampler,
        Some("ddpm") => Sampler::Ddpm,
        Some("ddim") => Sampler::Ddim,
        Some(other) => return Err(format!("--sampler {other}: choose ddpm or ddim")),
    };
    let (ps, schedule, net) = Ddpm::from_weights(spec, weights)?;
    let steps = request
        .steps
        .unwrap_or(spec.sample_steps)
        .clamp(1, schedule.steps());
    let eta = request.eta.unwrap_or(spec.eta);
    if !(0.0..=1.0).contains(&eta) {
        return Err(format!("--eta {eta}: give a value from 0 to 1"));
    }
    let n = request.n;
    let mut rng = Pcg64Mcg::seed_from_u64(request.seed);
    let mut all = Vec::with_capacity(n * PIXELS);
    while all.len() < n * PIXELS {
        let k = (n - all.len() / PIXELS).min(100);
        all.extend(
            sample_with(&schedule, sampler, steps, eta, k, 0, &mut rng, |x, t| {
                net(&ps, x, t)
            })
            .0,
        );
    }
    Ok(Samples::Array {
        values: all,
        shape: vec![n, SIDE, SIDE],
    })
}

/// [−1, 1] → [0, 1], clipped.
pub(super) fn to_unit(x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|v| ((v + 1.0) * 0.5).clamp(0.0, 1.0))
        .collect()
}

pub(super) fn to_tensor(x: Vec<f32>, n: usize) -> Tensor {
    Tensor::from_shape_vec(ndarray::IxDyn(&[n, PIXELS]), x).expect("n × 784 values")
}
