//! Drawing digits from a VAE: z ~ N(0, T²·I) through the decoder, one pass, shared by the live
//! lesson and `mllab sample`, which rebuilds the network from a save's weights.

use std::path::Path;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::bound::rows;
use super::net::VaeNet;
use super::{PIXELS, SIDE, VaeSpec};
use crate::models::family::{SampleRequest, Samples};
use crate::tensor::{Graph, ParamStore, randn};

/// Rows decoded at once.
const BATCH: usize = 500;

/// The decoder's mean images σ(ℓ) (n × 784 in [0, 1]) for the codes `z` (n × latent) scaled
/// by `temperature`.
pub fn decode_means(net: &VaeNet, ps: &ParamStore, z: &[f32], temperature: f32) -> Vec<f32> {
    let d = net.latent;
    let n = z.len() / d.max(1);
    let mut out = Vec::with_capacity(n * PIXELS);
    for start in (0..n).step_by(BATCH) {
        let b = (n - start).min(BATCH);
        let scaled: Vec<f32> = z[start * d..(start + b) * d]
            .iter()
            .map(|v| v * temperature)
            .collect();
        let g = Graph::no_grad(ps);
        let logits = net.decode(&g, &g.input(rows(&scaled, b, d)));
        out.extend(net.mean_image(&g, &logits).value().iter().copied());
    }
    out
}

/// The network of `spec` with the weights of a save.
pub fn from_weights(spec: &VaeSpec, weights: &Path) -> Result<(ParamStore, VaeNet), String> {
    let mut ps = ParamStore::new();
    let net = VaeNet::for_spec(spec, &mut ps, &mut Pcg64Mcg::seed_from_u64(0));
    crate::nn::load_into(&mut ps, weights).map_err(|e| e.to_string())?;
    if let Some(name) = ps.first_nonfinite() {
        return Err(format!(
            "{}: the weights of `{name}` hold NaN or infinite values (the run diverged, or the file is damaged); nothing can be sampled from them. Run the lesson again, with a smaller train.lr",
            weights.display()
        ));
    }
    Ok((ps, net))
}

/// `mllab sample`: `n` fresh digits (n × 28 × 28 in [0, 1], the decoder's mean images) from
/// the weights a VAE run saved; `--temperature` overrides the lesson's.
pub fn sample_weights(
    spec: &VaeSpec,
    weights: &Path,
    request: &SampleRequest,
) -> Result<Samples, String> {
    let one_pass = "a VAE draws z ~ N(0, T²·I) and decodes it in one pass, so it has no sampler, steps or η; leave the flag out (--temperature T sets how far from the prior's centre z is drawn)";
    for (flag, given) in [
        ("--sampler", request.sampler.is_some()),
        ("--steps", request.steps.is_some()),
        ("--eta", request.eta.is_some()),
    ] {
        if given {
            return Err(format!("{flag}: {one_pass}"));
        }
    }
    if let Some(part) = request.part.as_deref().filter(|p| *p != "vae") {
        return Err(format!(
            "--part {part}: this save holds one VAE and nothing else; leave --part out"
        ));
    }
    let temperature = request.temperature.unwrap_or(spec.temperature);
    if !(temperature > 0.0 && temperature <= 3.0) {
        return Err(format!(
            "--temperature {temperature}: give a value greater than 0 and at most 3 (1 is the model itself)"
        ));
    }
    let (ps, net) = from_weights(spec, weights)?;
    let mut rng = Pcg64Mcg::seed_from_u64(request.seed);
    let z: Vec<f32> = randn(&[request.n, spec.latent], &mut rng)
        .iter()
        .copied()
        .collect();
    Ok(Samples::Array {
        values: decode_means(&net, &ps, &z, temperature as f32),
        shape: vec![request.n, SIDE, SIDE],
    })
}
