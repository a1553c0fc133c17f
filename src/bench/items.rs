//! The timed items: one closure per reference model doing one full training step on synthetic
//! data made beforehand, DDPM sampling, and plain matrix products.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::Item;
use super::models::*;
use crate::nn::{Adam, AdamConfig, Optimizer, TinyUnet, UnetConfig};
use crate::tensor::matmul::{gemm_into, set_num_threads};
use crate::tensor::{Graph, ParamStore, Var, randn, uniform};

/// Matmul MFLOP per training step, as PyTorch's flop counter reports them (reference table).
pub const REFERENCE_MFLOP: &[(&str, f64)] = &[
    ("mlp", 105.0),
    ("vae", 420.0),
    ("gan", 1439.0),
    ("ddpm", 3062.0),
    ("realnvp", 12881.0),
    ("transformer", 10620.0),
    ("unet", 9396.0),
];

fn mflop(name: &str) -> f64 {
    REFERENCE_MFLOP
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0.0, |(_, f)| *f)
        * 1e6
}

fn rng() -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(0)
}

/// One step: forward + backward inside a graph, then the optimizer.
fn train_step(ps: &mut ParamStore, opt: &mut Adam, loss: impl Fn(&Graph) -> Var) -> f32 {
    let (l, grads) = {
        let g = Graph::new(ps);
        let l = loss(&g);
        (l.item(), g.backward(&l))
    };
    opt.step(ps, &grads);
    l
}

fn item(name: &str, runs: usize, build: impl FnOnce() -> Box<dyn FnMut()> + 'static) -> Item {
    Item {
        name: name.to_string(),
        flops: mflop(name),
        warmup: 5,
        runs,
        inner: 1,
        build: Box::new(build),
    }
}

/// The training-step items and DDPM sampling.
pub fn training_items() -> Vec<Item> {
    vec![
        item("mlp", 50, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let m = MlpClassifier::new(&mut ps, &mut r);
            let mut opt = Adam::new(AdamConfig::adam(1e-3));
            let x = uniform(&[128, 784], 0.0, 1.0, &mut r);
            let y: Vec<usize> = (0..128).map(|_| r.random_range(0..10)).collect();
            Box::new(move || {
                train_step(&mut ps, &mut opt, |g| m.loss(g, &g.input(x.clone()), &y));
            })
        }),
        item("vae", 40, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let m = Vae::new(&mut ps, &mut r);
            let mut opt = Adam::new(AdamConfig::adam(1e-3));
            let x =
                uniform(&[128, 784], 0.0, 1.0, &mut r).mapv(|v| if v > 0.8 { 1.0 } else { 0.0 });
            Box::new(move || {
                let noise = randn(&[128, 20], &mut r);
                train_step(&mut ps, &mut opt, |g| {
                    m.loss(g, &g.input(x.clone()), &g.input(noise.clone()))
                });
            })
        }),
        item("gan", 30, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let gan = Gan::new(&mut ps, &mut r);
            let cfg = AdamConfig::adam(2e-4).betas(0.5, 0.999);
            let mut opt_g = Adam::new(cfg.clone()).with_params(gan.generator.params());
            let mut opt_d = Adam::new(cfg).with_params(gan.disc.params());
            let real = uniform(&[128, 784], -1.0, 1.0, &mut r);
            Box::new(move || {
                let z = randn(&[128, gan.zdim], &mut r);
                gan_step(&gan, &mut ps, &mut opt_g, &mut opt_d, &real, &z);
            })
        }),
        item("ddpm", 30, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let m = DdpmMlp::new(&mut ps, &mut r);
            let sch = ddpm_schedule();
            let mut opt = Adam::new(AdamConfig::adam(1e-3));
            let x0 = uniform(&[128, 784], -1.0, 1.0, &mut r);
            Box::new(move || {
                let t: Vec<usize> = (0..128).map(|_| r.random_range(1..=1000)).collect();
                let eps = randn(&[128, 784], &mut r);
                let xt = noisy(&sch, &x0, &eps, &t);
                let tf: Vec<f32> = t.iter().map(|&v| v as f32).collect();
                train_step(&mut ps, &mut opt, |g| {
                    g.mse(
                        &m.forward(g, &g.input(xt.clone()), &tf),
                        &g.input(eps.clone()),
                    )
                });
            })
        }),
        item("realnvp", 15, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let m = RealNvp::new(&mut ps, &mut r, 8, 512);
            let mut opt = Adam::new(AdamConfig::adam(1e-4));
            let x = uniform(&[128, 784], 0.05, 0.95, &mut r).mapv(|p| (p / (1.0 - p)).ln());
            Box::new(move || {
                train_step(&mut ps, &mut opt, |g| m.nll(g, &g.input(x.clone())));
            })
        }),
        item("transformer", 15, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let m = CharTransformer::new(&mut ps, &mut r, 96, 64, 4, 128, 4);
            let mut opt = Adam::new(AdamConfig::adamw(3e-4, 0.0));
            let idx: Vec<usize> = (0..32 * 64).map(|_| r.random_range(0..96)).collect();
            let tgt: Vec<usize> = (0..32 * 64).map(|_| r.random_range(0..96)).collect();
            Box::new(move || {
                train_step(&mut ps, &mut opt, |g| m.loss(g, &idx, &tgt, 32, 64));
            })
        }),
        item("unet", 10, || {
            let mut r = rng();
            let mut ps = ParamStore::new();
            let m = TinyUnet::new(&mut ps, "unet", UnetConfig::default(), &mut r);
            let sch = ddpm_schedule();
            let mut opt = Adam::new(AdamConfig::adam(1e-3));
            let x0 = uniform(&[64, 1, 28, 28], -1.0, 1.0, &mut r);
            Box::new(move || {
                let t: Vec<usize> = (0..64).map(|_| r.random_range(1..=1000)).collect();
                let eps = randn(&[64, 1, 28, 28], &mut r);
                let xt = noisy(&sch, &x0, &eps, &t);
                let tf: Vec<f32> = t.iter().map(|&v| v as f32).collect();
                train_step(&mut ps, &mut opt, |g| {
                    g.mse(
                        &m.forward(g, &g.input(xt.clone()), &tf),
                        &g.input(eps.clone()),
                    )
                });
            })
        }),
        ddpm_sample_item(),
    ]
}

/// Forward matmul FLOPs of the DDPM MLP for one batch of `n`.
fn ddpm_forward_flops(n: usize) -> f64 {
    let macs = 128 * 256 + 1040 * 1024 + 2 * 1024 * 1024 + 1024 * 784;
    2.0 * (macs * n) as f64
}

/// Full ancestral sampling with the DDPM MLP, T = 1000, 64 samples, no tape.
fn ddpm_sample_item() -> Item {
    let build = || -> Box<dyn FnMut()> {
        let mut r = rng();
        let mut ps = ParamStore::new();
        let m = DdpmMlp::new(&mut ps, &mut r);
        let sch = ddpm_schedule();
        Box::new(move || {
            ddpm_sample(&m, &ps, &sch, 64, &mut r);
        })
    };
    Item {
        name: "ddpm_sample".into(),
        flops: ddpm_forward_flops(64) * 1000.0,
        warmup: 1,
        runs: 3,
        inner: 1,
        build: Box::new(build),
    }
}

/// Plain matrix products: the PyTorch script's shapes, plus the backward shapes of a
/// 784→512 layer.
pub fn matmul_items() -> Vec<Item> {
    let shapes: &[(usize, usize, usize, &str)] = &[
        (128, 784, 512, ""),
        (128, 1024, 1024, ""),
        (1024, 1024, 1024, ""),
        (784, 128, 512, "_tn"),
        (128, 512, 784, "_nt"),
    ];
    shapes
        .iter()
        .map(|&(m, k, n, form)| {
            let flops = 2.0 * (m * k * n) as f64;
            let inner = ((2e8 / flops) as usize).clamp(1, 1000);
            Item {
                name: format!("matmul{form}_{m}x{k}x{n}"),
                flops,
                warmup: 3,
                runs: 15,
                inner,
                build: Box::new(move || -> Box<dyn FnMut()> {
                    set_num_threads(crate::tensor::num_threads());
                    let mut r = rng();
                    // "_tn": a is stored (k, m) and used transposed; "_nt": b is stored (n, k).
                    let a = if form == "_tn" {
                        randn(&[k, m], &mut r)
                    } else {
                        randn(&[m, k], &mut r)
                    };
                    let b = if form == "_nt" {
                        randn(&[n, k], &mut r)
                    } else {
                        randn(&[k, n], &mut r)
                    };
                    let mut c = ndarray::Array2::<f32>::zeros((m, n));
                    Box::new(move || {
                        let a2 = a.view().into_dimensionality::<ndarray::Ix2>().expect("2-D");
                        let b2 = b.view().into_dimensionality::<ndarray::Ix2>().expect("2-D");
                        let a2 = if form == "_tn" {
                            a2.reversed_axes()
                        } else {
                            a2
                        };
                        let b2 = if form == "_nt" {
                            b2.reversed_axes()
                        } else {
                            b2
                        };
                        gemm_into(a2, b2, c.view_mut(), false);
                    })
                }),
            }
        })
        .collect()
}
