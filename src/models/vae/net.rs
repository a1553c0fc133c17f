//! The VAE's two networks and the two terms of its loss, written once for the lesson, for
//! `mllab sample` and for the bench (`bench::models::Vae` is this type at its default sizes,
//! so the bench times what the lesson runs).
//!
//! ```text
//! encoder   x (B, 784) → hidden… → (B, 2·d) = [μ | log σ²]
//! sample    z = μ + σ ⊙ ε,  ε ~ N(0, I),  σ = exp(½ log σ²)          (reparameterisation)
//! decoder   z (B, d) → …hidden → logits ℓ (B, 784)
//! −log p(x|z)  Bernoulli: Σ BCE(ℓ, x)
//!              Gaussian:  Σ (x − σ(ℓ))² / (2s²) + 784·(ln s + ½ ln 2π)
//! KL(q(z|x) ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²)
//! −ELBO = −log p(x|z) + KL, averaged over the batch
//! ```

use rand::Rng;

use super::PIXELS;
use super::spec::{Likelihood, VaeSpec};
use crate::nn::{Activation, Linear};
use crate::tensor::{Graph, ParamStore, Var};

/// The encoder and decoder of a VAE, with the decoder's likelihood.
#[derive(Clone, Debug)]
pub struct VaeNet {
    /// Between layers, on both sides: ReLU (a smooth one makes finite-difference checks exact).
    pub activation: Activation,
    /// `enc.l0`, `enc.l1`, …: 784 → … → 2·latent.
    pub encoder: Vec<Linear>,
    /// `dec.l0`, …: latent → … → 784 logits.
    pub decoder: Vec<Linear>,
    pub latent: usize,
    pub likelihood: Likelihood,
    /// The Gaussian decoder's fixed σ per pixel.
    pub sigma: f32,
}

/// One batch's loss, per image (B,), with the encoder's outputs (B, d).
pub struct Terms {
    /// −log p(x|z) of the one z drawn per image.
    pub reconstruction: Var,
    /// KL(q(z|x) ‖ p(z)) in closed form.
    pub kl: Var,
    pub mu: Var,
    pub logvar: Var,
}

impl VaeNet {
    /// The family's default network, 784-400-(2×20) and 20-400-784 with a Bernoulli decoder:
    /// the reference VAE of the bench.
    pub fn new(ps: &mut ParamStore, rng: &mut impl Rng) -> Self {
        VaeNet::for_spec(&VaeSpec::default(), ps, rng)
    }

    /// The network `spec` describes, freshly initialised (PyTorch's default initialisation).
    pub fn for_spec(spec: &VaeSpec, ps: &mut ParamStore, rng: &mut impl Rng) -> Self {
        let stack = |ps: &mut ParamStore, rng: &mut _, name: &str, widths: &[usize]| {
            widths
                .windows(2)
                .enumerate()
                .map(|(i, w)| Linear::new(ps, &format!("{name}.l{i}"), w[0], w[1], rng))
                .collect::<Vec<_>>()
        };
        let encoder = stack(ps, rng, "enc", &spec.encoder_widths());
        let decoder = stack(ps, rng, "dec", &spec.decoder_widths());
        VaeNet {
            activation: Activation::Relu,
            encoder,
            decoder,
            latent: spec.latent,
            likelihood: spec.likelihood,
            sigma: spec.sigma as f32,
        }
    }

    fn through(&self, g: &Graph, layers: &[Linear], x: &Var) -> Var {
        let mut h = x.clone();
        for (i, l) in layers.iter().enumerate() {
            h = l.forward(g, &h);
            if i + 1 < layers.len() {
                h = self.activation.apply(g, &h);
            }
        }
        h
    }

    /// q(z|x): its mean and log-variance, each (B, d).
    pub fn encode(&self, g: &Graph, x: &Var) -> (Var, Var) {
        let h = self.through(g, &self.encoder, x);
        let d = self.latent;
        (g.slice(&h, 1, 0, d), g.slice(&h, 1, d, 2 * d))
    }

    /// The decoder's logits ℓ for z (B, d) → (B, 784).
    pub fn decode(&self, g: &Graph, z: &Var) -> Var {
        self.through(g, &self.decoder, z)
    }

    /// The decoder's mean image σ(ℓ), pixels in [0, 1].
    pub fn mean_image(&self, g: &Graph, logits: &Var) -> Var {
        g.sigmoid(logits)
    }

    /// −log p(x|z) per image (B,), from the decoder's logits.
    pub fn reconstruction(&self, g: &Graph, logits: &Var, x: &Var) -> Var {
        match self.likelihood {
            Likelihood::Bernoulli => g.sum_axis(&g.bce_with_logits(logits, x), 1, false),
            Likelihood::Gaussian => {
                let s = self.sigma as f64;
                let diff = g.sub(&g.sigmoid(logits), x);
                let sq = g.sum_axis(&g.square(&diff), 1, false);
                let constant = PIXELS as f64 * (s.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln());
                g.add_scalar(&g.mul_scalar(&sq, (0.5 / (s * s)) as f32), constant as f32)
            }
        }
    }

    /// KL(N(μ, σ²) ‖ N(0, I)) per image (B,): ½ Σ (μ² + σ² − 1 − log σ²).
    pub fn kl(&self, g: &Graph, mu: &Var, logvar: &Var) -> Var {
        let terms = g.sub(
            &g.add_scalar(&g.add(&g.square(mu), &g.exp(logvar)), -1.0),
            logvar,
        );
        g.mul_scalar(&g.sum_axis(&terms, 1, false), 0.5)
    }

    /// z = μ + σ ⊙ ε for the standard-normal `noise` (B, d).
    pub fn reparameterise(&self, g: &Graph, mu: &Var, logvar: &Var, noise: &Var) -> Var {
        g.add(mu, &g.mul(noise, &g.exp(&g.mul_scalar(logvar, 0.5))))
    }

    /// Both terms of −ELBO for `x` (B, 784), one z per image from `noise` (B, d).
    pub fn terms(&self, g: &Graph, x: &Var, noise: &Var) -> Terms {
        let (mu, logvar) = self.encode(g, x);
        let z = self.reparameterise(g, &mu, &logvar, noise);
        let logits = self.decode(g, &z);
        Terms {
            reconstruction: self.reconstruction(g, &logits, x),
            kl: self.kl(g, &mu, &logvar),
            mu,
            logvar,
        }
    }

    /// −ELBO per image (nats), averaged over the batch: the training loss.
    pub fn loss(&self, g: &Graph, x: &Var, noise: &Var) -> Var {
        let t = self.terms(g, x, noise);
        g.mean_all(&g.add(&t.reconstruction, &t.kl))
    }
}
