//! The two players and their losses, written once for the lesson and for `mllab bench`'s
//! reference GAN (`bench::models::Gan` is these networks at the digit sizes).
//!
//! ```text
//! G: z ~ N(0, I) (B, z) → Linear → LeakyReLU → … → Linear → tanh (digits, pixels in [−1, 1])
//!                                                        or nothing (points in the plane)
//! D: x (B, d) → Linear → LeakyReLU → … → Linear → ℓ (B, 1), a logit: D(x) = σ(ℓ)
//!
//! D's loss      −mean log σ(ℓ_real) − mean log(1 − σ(ℓ_fake))   = BCE(ℓ_real, 1) + BCE(ℓ_fake, 0)
//! G's loss      non-saturating: −mean log σ(ℓ_fake)              = BCE(ℓ_fake, 1)
//!               minimax:         mean log(1 − σ(ℓ_fake))         = −BCE(ℓ_fake, 0)
//! ```
//!
//! Both are built from `bce_with_logits`, whose gradient check is in `tensor`; no new op.
//! The minimax loss's gradient with respect to ℓ is −σ(ℓ): when D confidently rejects the
//! fakes (ℓ very negative) it vanishes, which the lesson charts as `g_grad_norm`.

use rand::Rng;

use super::spec::{GanLoss, Widths};
use crate::nn::{Activation, Mlp};
use crate::tensor::{Graph, ParamId, ParamStore, Tensor, Var};

/// The generator and the discriminator.
#[derive(Clone, Debug)]
pub struct Nets {
    pub generator: Mlp,
    pub disc: Mlp,
    pub z_dim: usize,
}

impl Nets {
    /// G named `gen.l{i}`, D named `disc.l{i}`; `tanh_output` squashes G's output into
    /// [−1, 1] (images).
    pub fn new(
        ps: &mut ParamStore,
        widths: &Widths,
        leak: f32,
        tanh_output: bool,
        rng: &mut impl Rng,
    ) -> Nets {
        let act = Activation::LeakyRelu(leak);
        let mut generator = Mlp::new(ps, "gen", &widths.generator, act, rng);
        if tanh_output {
            generator = generator.with_output(Activation::Tanh);
        }
        let disc = Mlp::new(ps, "disc", &widths.discriminator, act, rng);
        Nets {
            generator,
            disc,
            z_dim: widths.z_dim,
        }
    }

    pub fn g_params(&self) -> Vec<ParamId> {
        self.generator.params()
    }

    pub fn d_params(&self) -> Vec<ParamId> {
        self.disc.params()
    }

    /// G(z) for rows of noise, without a tape.
    pub fn generate(&self, ps: &ParamStore, z: &Tensor) -> Tensor {
        let g = Graph::no_grad(ps);
        let out = self.generator.forward(&g, &g.input(z.clone()));
        out.value().clone()
    }

    /// D(x) = σ(ℓ) for rows of x, without a tape.
    pub fn judge(&self, ps: &ParamStore, x: &Tensor) -> Vec<f32> {
        let g = Graph::no_grad(ps);
        let out = g.sigmoid(&self.disc.forward(&g, &g.input(x.clone())));
        out.value().iter().copied().collect()
    }
}

/// BCE-with-logits against a constant label, averaged over the batch.
pub fn bce_const(g: &Graph, logits: &Var, label: f32) -> Var {
    let y = g.input(Tensor::from_elem(logits.value().raw_dim(), label));
    g.mean_all(&g.bce_with_logits(logits, &y))
}

/// D's loss on a real batch and a fake one (which carries no gradient to G unless the caller
/// wants it to).
pub fn d_loss(g: &Graph, disc: &Mlp, real: &Var, fake: &Var) -> Var {
    let l_real = bce_const(g, &disc.forward(g, real), 1.0);
    let l_fake = bce_const(g, &disc.forward(g, fake), 0.0);
    g.add(&l_real, &l_fake)
}

/// G's loss on a fake batch, as D sees it.
pub fn g_loss(g: &Graph, disc: &Mlp, fake: &Var, kind: GanLoss) -> Var {
    let logits = disc.forward(g, fake);
    match kind {
        GanLoss::NonSaturating => bce_const(g, &logits, 1.0),
        GanLoss::Minimax => g.mul_scalar(&bce_const(g, &logits, 0.0), -1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    use crate::tensor::tensor;

    fn one_layer_d() -> (ParamStore, Mlp) {
        let mut ps = ParamStore::new();
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let disc = Mlp::new(&mut ps, "disc", &[1, 1], Activation::Identity, &mut rng);
        (ps, disc)
    }

    /// D's logit of the fake batch, with the gradient of G's loss with respect to it.
    fn grad_at_logit(kind: GanLoss, logit: f32) -> f32 {
        let (mut ps, disc) = one_layer_d();
        // ℓ = w·x + b with w = 1, b = 0: the input is the logit.
        let w = disc.layers[0].weight;
        let b = disc.layers[0].bias.unwrap();
        ps.set(w, tensor(&[1, 1], &[1.0]));
        ps.set(b, tensor(&[1], &[0.0]));
        let g = Graph::new(&ps);
        let x = g.input(tensor(&[1, 1], &[logit]));
        let fake = g.mul_scalar(&x, 1.0);
        let l = g_loss(&g, &disc, &fake, kind);
        let grads = g.backward(&l);
        // ∂L/∂b = ∂L/∂ℓ since ℓ = x + b.
        grads.get(b).unwrap().iter().copied().next().unwrap()
    }

    #[test]
    fn the_minimax_gradient_vanishes_where_d_rejects_the_fakes_and_the_non_saturating_one_does_not()
    {
        // ∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ) and ∂/∂ℓ −log σ(ℓ) = σ(ℓ) − 1.
        for ell in [-6.0f32, -2.0, 0.0, 3.0] {
            let s = 1.0 / (1.0 + (-ell).exp());
            let mm = grad_at_logit(GanLoss::Minimax, ell);
            let ns = grad_at_logit(GanLoss::NonSaturating, ell);
            assert!((mm + s).abs() < 1e-5, "minimax at {ell}: {mm} vs {}", -s);
            assert!(
                (ns - (s - 1.0)).abs() < 1e-5,
                "non-saturating at {ell}: {ns}"
            );
        }
        assert!(grad_at_logit(GanLoss::Minimax, -6.0).abs() < 3e-3);
        assert!(grad_at_logit(GanLoss::NonSaturating, -6.0).abs() > 0.99);
    }

    #[test]
    fn d_loss_is_two_ln2_when_d_cannot_tell() {
        let (mut ps, disc) = one_layer_d();
        let w = disc.layers[0].weight;
        ps.set(w, tensor(&[1, 1], &[0.0]));
        ps.set(disc.layers[0].bias.unwrap(), tensor(&[1], &[0.0]));
        let g = Graph::no_grad(&ps);
        let real = g.input(tensor(&[3, 1], &[1.0, 2.0, 3.0]));
        let fake = g.input(tensor(&[2, 1], &[-1.0, 5.0]));
        let l = d_loss(&g, &disc, &real, &fake).item();
        assert!((l - 2.0 * std::f32::consts::LN_2).abs() < 1e-6, "{l}");
    }
}

/// The identity the lesson is built on: trained alone against two fixed distributions, D
/// approaches D* = p_data / (p_data + p_G).
#[cfg(test)]
mod optimal_discriminator {
    use super::*;
    use crate::nn::{AdamConfig, Optimizer};
    use crate::tensor::randn;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn normal_pdf(x: f64, sigma: f64) -> f64 {
        (-(x * x) / (2.0 * sigma * sigma)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
    }

    #[test]
    fn a_discriminator_trained_alone_reaches_p_data_over_p_data_plus_p_g() {
        // p_data = N(0, 1), p_G = N(0, 2²): D*(x) = 1 / (1 + p_G/p_data) is ⅔ at 0 and falls
        // through ½ at |x| = √(8 ln 2 / 3) ≈ 1.36 (not a straight logit: a curve to learn).
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let mut ps = ParamStore::new();
        let disc = Mlp::new(
            &mut ps,
            "disc",
            &[1, 32, 32, 1],
            Activation::LeakyRelu(0.2),
            &mut rng,
        );
        let mut opt = crate::nn::Adam::new(AdamConfig::adam(3e-3));
        let n = 512;
        for _ in 0..1500 {
            let real = randn(&[n, 1], &mut rng);
            let fake = randn(&[n, 1], &mut rng).mapv(|v| 2.0 * v);
            let grads = {
                let g = Graph::new(&ps);
                let l = d_loss(&g, &disc, &g.input(real), &g.input(fake));
                g.backward(&l)
            };
            opt.step(&mut ps, &grads);
        }
        let xs: Vec<f32> = (0..=16).map(|i| -2.0 + 0.25 * i as f32).collect();
        let g = Graph::no_grad(&ps);
        let out =
            g.sigmoid(&disc.forward(&g, &g.input(crate::tensor::tensor(&[xs.len(), 1], &xs))));
        let d: Vec<f32> = out.value().iter().copied().collect();
        let mut worst = 0.0f64;
        for (x, d) in xs.iter().zip(&d) {
            let (p, q) = (normal_pdf(*x as f64, 1.0), normal_pdf(*x as f64, 2.0));
            let star = p / (p + q);
            worst = worst.max((*d as f64 - star).abs());
        }
        assert!(
            worst < 0.05,
            "D is {worst:.3} away from D* somewhere on [−2, 2]: {d:?}"
        );
    }
}
