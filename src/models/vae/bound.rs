//! The held-out numbers of a VAE: −ELBO with its two terms, and the tighter importance-weighted
//! bound (IWAE), both in nats per image, computed without a tape in batches.
//!
//! ```text
//! −ELBO(x) = E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z))                  (one z per image)
//! wⱼ = p(x|zⱼ)·p(zⱼ) / q(zⱼ|x),  zⱼ ~ q(z|x),  j = 1..k
//! log wⱼ = log p(x|zⱼ) − ½‖zⱼ‖² + ½ Σ (εⱼ² + log σ²)               (the 2π terms cancel)
//! −IWAE_k(x) = −log (1/k Σⱼ wⱼ)   ≤ −ELBO(x) in expectation, → −log p(x) as k grows
//! ```

use ndarray::IxDyn;
use rand::Rng;

use super::PIXELS;
use super::net::VaeNet;
use crate::tensor::{Graph, ParamStore, Tensor, randn};

/// −ELBO's terms averaged over a set of images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    pub n: usize,
    /// Mean −log p(x|z), nats per image.
    pub reconstruction: f64,
    /// Mean KL(q(z|x) ‖ p(z)), nats per image.
    pub kl: f64,
}

impl Bound {
    /// −ELBO, nats per image.
    pub fn neg_elbo(&self) -> f64 {
        self.reconstruction + self.kl
    }
}

/// Images per batch of the held-out passes.
const BATCH: usize = 500;

pub fn rows(x: &[f32], n: usize, width: usize) -> Tensor {
    Tensor::from_shape_vec(IxDyn(&[n, width]), x.to_vec()).expect("n rows of `width` values")
}

/// −ELBO of the images `x` (n × 784), one z per image drawn from `rng`. `progress(done)` is
/// told the images done after each batch and may return false to stop (then `None`).
pub fn elbo(
    net: &VaeNet,
    ps: &ParamStore,
    x: &[f32],
    rng: &mut impl Rng,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Option<Bound> {
    let n = x.len() / PIXELS;
    let (mut rec, mut kl) = (0.0f64, 0.0f64);
    let mut done = 0;
    while done < n {
        let b = (n - done).min(BATCH);
        let g = Graph::no_grad(ps);
        let xb = g.input(rows(&x[done * PIXELS..(done + b) * PIXELS], b, PIXELS));
        let noise = g.input(randn(&[b, net.latent], rng));
        let t = net.terms(&g, &xb, &noise);
        rec += t
            .reconstruction
            .value()
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>();
        kl += t.kl.value().iter().map(|&v| v as f64).sum::<f64>();
        done += b;
        if !progress(done) {
            return None;
        }
    }
    Some(Bound {
        n,
        reconstruction: rec / n.max(1) as f64,
        kl: kl / n.max(1) as f64,
    })
}

/// Rows decoded at once by the importance-weighted pass.
const IW_ROWS: usize = 2000;

/// −IWAE_k, nats per image, of the images `x` (n × 784) with `k` importance samples each;
/// `progress(done)` as for [`elbo`].
pub fn iwae(
    net: &VaeNet,
    ps: &ParamStore,
    x: &[f32],
    k: usize,
    rng: &mut impl Rng,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Option<f64> {
    let n = x.len() / PIXELS;
    let d = net.latent;
    let per = (IW_ROWS / k.max(1)).clamp(1, 100);
    let mut total = 0.0f64;
    let mut done = 0;
    while done < n {
        let b = (n - done).min(per);
        let xs = &x[done * PIXELS..(done + b) * PIXELS];
        let g = Graph::no_grad(ps);
        let (mu, logvar) = net.encode(&g, &g.input(rows(xs, b, PIXELS)));
        let (mu, logvar) = (mu.to_tensor(), logvar.to_tensor());
        // Running log-sum-exp of log w per image.
        let mut best = vec![f64::NEG_INFINITY; b];
        let mut sum = vec![0.0f64; b];
        let mut j = 0;
        while j < k {
            // As many samples per image as fit the rows, laid out image-major: row i·c + s.
            let c = (k - j).min((IW_ROWS / b).max(1));
            let eps = randn(&[b * c, d], rng);
            let mut z = eps.clone();
            let mut tiled = Vec::with_capacity(b * c * PIXELS);
            for i in 0..b {
                for s in 0..c {
                    let r = i * c + s;
                    for q in 0..d {
                        let sd = (0.5 * logvar[[i, q]]).exp();
                        z[[r, q]] = mu[[i, q]] + sd * eps[[r, q]];
                    }
                    tiled.extend_from_slice(&xs[i * PIXELS..(i + 1) * PIXELS]);
                }
            }
            let g = Graph::no_grad(ps);
            let logits = net.decode(&g, &g.input(z.clone()));
            let rec = net.reconstruction(&g, &logits, &g.input(rows(&tiled, b * c, PIXELS)));
            let rec = rec.value();
            for i in 0..b {
                for s in 0..c {
                    let r = i * c + s;
                    let mut log_w = -(rec[[r]] as f64);
                    for q in 0..d {
                        let (zq, e) = (z[[r, q]] as f64, eps[[r, q]] as f64);
                        log_w += -0.5 * zq * zq + 0.5 * (e * e + logvar[[i, q]] as f64);
                    }
                    if log_w > best[i] {
                        sum[i] = sum[i] * (best[i] - log_w).exp() + 1.0;
                        best[i] = log_w;
                    } else {
                        sum[i] += (log_w - best[i]).exp();
                    }
                }
            }
            j += c;
        }
        for i in 0..b {
            total += -(best[i] + sum[i].ln() - (k as f64).ln());
        }
        done += b;
        if !progress(done) {
            return None;
        }
    }
    Some(total / n.max(1) as f64)
}
