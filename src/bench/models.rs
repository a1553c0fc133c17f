//! The reference models of the PyTorch anchors, built on `nn`, with exactly the architectures
//! given there (the PyTorch twins are in the reference folder's `torch_models.py`): the MLP
//! classifier, VAE, GAN, DDPM noise MLP with its schedule and sampler, RealNVP and the char
//! transformer. The U-Net is `nn::TinyUnet`. Batch sizes and optimizers are in `items`.

use rand_pcg::Pcg64Mcg;

use crate::models::diffusion::{BetaSchedule, NoiseSchedule};
use crate::nn::{Activation, Adam, Linear, Mlp, Optimizer, sinusoidal_embedding};
use crate::tensor::{Graph, ParamStore, Tensor, Var, randn};

/// (a) MLP classifier 784-256-10, ReLU, cross-entropy.
pub struct MlpClassifier {
    pub net: Mlp,
}

impl MlpClassifier {
    pub fn new(ps: &mut ParamStore, rng: &mut Pcg64Mcg) -> Self {
        Self {
            net: Mlp::new(ps, "mlp", &[784, 256, 10], Activation::Relu, rng),
        }
    }
    pub fn loss(&self, g: &Graph, x: &Var, y: &[usize]) -> Var {
        g.cross_entropy(&self.net.forward(g, x), y)
    }
}

/// (b) VAE: encoder 784-400-(2×20), decoder 20-400-784, Bernoulli likelihood, one-sample ELBO.
/// It is the `vae` lesson's own network at its default sizes, so the bench times the code the
/// lesson runs; `Vae::new(ps, rng)` builds it and `loss(g, x, noise)` is the mean −ELBO.
pub use crate::models::vae::VaeNet as Vae;

/// (c) GAN: G 64-256-512-784 (LeakyReLU 0.2, tanh), D 784-512-256-1 (LeakyReLU 0.2).
pub struct Gan {
    pub generator: Mlp,
    pub disc: Mlp,
    pub zdim: usize,
}

impl Gan {
    pub fn new(ps: &mut ParamStore, rng: &mut Pcg64Mcg) -> Self {
        let generator = Mlp::new(
            ps,
            "gen",
            &[64, 256, 512, 784],
            Activation::LeakyRelu(0.2),
            rng,
        )
        .with_output(Activation::Tanh);
        let disc = Mlp::new(
            ps,
            "disc",
            &[784, 512, 256, 1],
            Activation::LeakyRelu(0.2),
            rng,
        );
        Self {
            generator,
            disc,
            zdim: 64,
        }
    }
}

/// BCE-with-logits against a constant label, averaged.
pub fn bce_const(g: &Graph, logits: &Var, label: f32) -> Var {
    let y = g.input(Tensor::from_elem(logits.value().raw_dim(), label));
    g.mean_all(&g.bce_with_logits(logits, &y))
}

/// One D step (real + detached fake) and one G step (non-saturating), as in PyTorch's
/// `gan_step`. The fake batch is generated without a tape for the D step (it would be detached
/// anyway) and with one for the G step, where D is frozen: the same matmul work as PyTorch.
pub fn gan_step(
    gan: &Gan,
    ps: &mut ParamStore,
    opt_g: &mut Adam,
    opt_d: &mut Adam,
    real: &Tensor,
    z: &Tensor,
) -> (f32, f32) {
    let (d_loss, grads) = {
        let g = Graph::new(ps);
        g.freeze(&gan.generator.params());
        let fake = gan.generator.forward(&g, &g.input(z.clone()));
        let l_real = bce_const(&g, &gan.disc.forward(&g, &g.input(real.clone())), 1.0);
        let l_fake = bce_const(&g, &gan.disc.forward(&g, &fake), 0.0);
        let l = g.add(&l_real, &l_fake);
        (l.item(), g.backward(&l))
    };
    opt_d.step(ps, &grads);
    let (g_loss, grads) = {
        let g = Graph::new(ps);
        g.freeze(&gan.disc.params());
        let fake = gan.generator.forward(&g, &g.input(z.clone()));
        let l = bce_const(&g, &gan.disc.forward(&g, &fake), 1.0);
        (l.item(), g.backward(&l))
    };
    opt_g.step(ps, &grads);
    (d_loss, g_loss)
}

/// The DDPM schedule the bench trains and samples with: the lessons' own `NoiseSchedule`,
/// T = 1000, linear β from 1e-4 to 0.02 (computed in f64), so the bench times the code the
/// lessons run. Its timesteps are 1-based (index t − 1 holds step t); the PyTorch twin's
/// `DDPMSchedule` counts from 0, and its step t is our t + 1.
pub fn ddpm_schedule() -> NoiseSchedule {
    NoiseSchedule::new(BetaSchedule::Linear, 1000)
}

/// xₜ = √ᾱₜ·x₀ + √(1−ᾱₜ)·ε, row by row (x₀ and ε are (B, …), `t` holds one step in 1..=T per
/// row): `NoiseSchedule::q_sample` on each row.
pub fn noisy(sch: &NoiseSchedule, x0: &Tensor, eps: &Tensor, t: &[usize]) -> Tensor {
    let per = x0.len() / t.len().max(1);
    let mut xt = x0.clone();
    let xs = xt.as_slice_mut().expect("standard layout");
    let x0s = x0.as_slice().expect("standard layout");
    let es = eps.as_slice().expect("standard layout");
    for (r, &ti) in t.iter().enumerate() {
        let rows = r * per..(r + 1) * per;
        sch.q_sample(&x0s[rows.clone()], &es[rows.clone()], ti, &mut xs[rows]);
    }
    xt
}

/// (d) DDPM ε-MLP: sinusoidal t (128) → Linear 128→256 → SiLU; concat with x (784) → 1024 →
/// 1024 → 1024 (SiLU) → 784.
pub struct DdpmMlp {
    pub t1: Linear,
    pub l1: Linear,
    pub l2: Linear,
    pub l3: Linear,
    pub out: Linear,
}

impl DdpmMlp {
    pub fn new(ps: &mut ParamStore, rng: &mut Pcg64Mcg) -> Self {
        Self {
            t1: Linear::new(ps, "t1", 128, 256, rng),
            l1: Linear::new(ps, "l1", 784 + 256, 1024, rng),
            l2: Linear::new(ps, "l2", 1024, 1024, rng),
            l3: Linear::new(ps, "l3", 1024, 1024, rng),
            out: Linear::new(ps, "out", 1024, 784, rng),
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var, t: &[f32]) -> Var {
        let te = g.silu(&self.t1.forward(g, &g.input(sinusoidal_embedding(t, 128))));
        let h = g.silu(&self.l1.forward(g, &g.concat(&[x, &te], 1)));
        let h = g.silu(&self.l2.forward(g, &h));
        let h = g.silu(&self.l3.forward(g, &h));
        self.out.forward(g, &h)
    }
}

use crate::models::flow::coupling;
pub use crate::models::flow::{Coupling, checkerboard};

/// (e) RealNVP: affine couplings with alternating checkerboard masks on 784-d, N(0, I) prior,
/// separate s and t nets 784-hidden-hidden-784 (ReLU) in each, initialised as PyTorch's twin
/// is (not as the identity). The couplings and their arithmetic are the flow lesson's
/// (`models::flow::coupling`), so the bench times the code the lesson trains.
pub struct RealNvp {
    pub layers: Vec<Coupling>,
}

impl RealNvp {
    pub fn new(ps: &mut ParamStore, rng: &mut Pcg64Mcg, n_layers: usize, hidden: usize) -> Self {
        let layers = (0..n_layers)
            .map(|k| {
                Coupling::new(
                    ps,
                    &format!("layers.{k}"),
                    checkerboard(k % 2),
                    &[784, hidden, hidden, 784],
                    Activation::Relu,
                    rng,
                )
            })
            .collect();
        Self { layers }
    }

    /// Data to latent: z (B, 784) and log|det ∂z/∂x| (B).
    pub fn forward(&self, g: &Graph, x: &Var) -> (Var, Var) {
        coupling::forward(g, &self.layers, x)
    }

    /// Mean negative log-likelihood (nats per example) of x (B, 784).
    pub fn nll(&self, g: &Graph, x: &Var) -> Var {
        coupling::mean_nll(g, &self.layers, x)
    }
}

/// (f) Char transformer: vocab 96, context 64, 4 layers, d 128, 4 heads, MLP 4×, pre-LayerNorm,
/// GELU, learned positions, untied head: the next-token lesson's network at the bench's sizes.
pub use crate::models::language::CharTransformer;

/// Ancestral sampling from x_T ~ N(0, I) with `NoiseSchedule::ddpm_step`, the lessons' step:
/// x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε̂)/√α_t + σ_t·z for t = T..1, fresh z at every t > 1.
/// σ_t² is the posterior variance β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t), where the PyTorch twin
/// takes σ_t² = β_t: other numbers, the same work per step (one network call, one pass over x).
pub fn ddpm_sample(
    m: &DdpmMlp,
    ps: &ParamStore,
    sch: &NoiseSchedule,
    n: usize,
    rng: &mut Pcg64Mcg,
) -> Tensor {
    let mut x = randn(&[n, 784], rng);
    for t in (1..=sch.steps()).rev() {
        let g = Graph::no_grad(ps);
        let xin = g.input(x);
        let eps = m.forward(&g, &xin, &vec![t as f32; n]).into_tensor();
        x = xin.into_tensor(); // the only handle left: no copy
        let z = (t > 1).then(|| randn(&[n, 784], rng));
        sch.ddpm_step(
            x.as_slice_mut().expect("standard layout"),
            eps.as_slice().expect("standard layout"),
            t,
            z.as_ref()
                .map_or(&[], |z| z.as_slice().expect("standard layout")),
        );
    }
    x
}
