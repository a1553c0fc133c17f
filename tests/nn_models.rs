//! Whole models through the gradient checker (an MLP, an attention block, a transformer, a
//! conv residual stack, each loss), saves that round-trip, determinism, and no-grad evaluation.

use mllab::bench::models::{
    CharTransformer, DdpmMlp, Gan, RealNvp, Vae, bce_const, ddpm_sample, ddpm_schedule, noisy,
};
use mllab::models::diffusion::{BetaSchedule, NoiseSchedule};
use mllab::nn::{
    self, Activation, CausalSelfAttention, Conv2d, GroupNorm, Mlp, TinyUnet, TransformerBlock,
    UnetConfig,
};
use mllab::tensor::{
    GradCheckConfig, Graph, ParamStore, Tensor, grad_check, grad_check_params, randn, uniform,
};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

fn rng(seed: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed)
}

fn cfg() -> GradCheckConfig {
    GradCheckConfig {
        max_elements: 24,
        ..GradCheckConfig::default()
    }
}

/// Whole-model checks verify how a model wires its ops together. The reference models use
/// ReLU-family activations, whose kinks defeat finite differences when a hidden unit sits within
/// a step of zero (hundreds of units make that likely); those ops are checked on their own, away
/// from the kink, in `grad_check.rs`. Here the kinked activations are swapped for tanh.
fn smooth(mlp: &mut Mlp) {
    mlp.activation = Activation::Tanh;
}

fn model_cfg() -> GradCheckConfig {
    GradCheckConfig {
        max_elements: 8,
        ..GradCheckConfig::default()
    }
}

/// For scalar losses that sum ~10³ terms of order one (an ELBO or NLL over 784 pixels): the f32
/// rounding of that sum (~10⁻⁵ absolute, divided by the 2·10⁻² step) is ~10⁻³ per derivative,
/// a few percent of these gradients. A wrong rule still gives errors of order one.
fn big_sum_cfg() -> GradCheckConfig {
    GradCheckConfig {
        tolerance: 5e-2,
        ..model_cfg()
    }
}

fn assert_passes(name: &str, report: mllab::tensor::GradCheckReport) {
    assert!(
        report.passed(),
        "{name} failed the gradient check:\n{report}"
    );
}

#[test]
fn an_mlp_with_cross_entropy_passes_the_gradient_check() {
    let mut r = rng(1);
    let mut ps = ParamStore::new();
    let mlp = Mlp::new(&mut ps, "mlp", &[6, 8, 5], Activation::Tanh, &mut r);
    let x = randn(&[4, 6], &mut r);
    assert_passes(
        "mlp",
        grad_check(
            &mut ps,
            |g| g.cross_entropy(&mlp.forward(g, &g.input(x.clone())), &[0, 3, 4, 1]),
            &cfg(),
        ),
    );
}

#[test]
fn a_causal_attention_block_passes_the_gradient_check() {
    let mut r = rng(2);
    let mut ps = ParamStore::new();
    let att = CausalSelfAttention::new(&mut ps, "attn", 8, 2, &mut r);
    let x = randn(&[2, 5, 8], &mut r);
    assert_passes(
        "attention",
        grad_check(&mut ps, |g| att.forward(g, &g.input(x.clone())), &cfg()),
    );
}

#[test]
fn fused_attention_matches_the_op_by_op_version_forward_and_backward() {
    let mut r = rng(20);
    let mut ps = ParamStore::new();
    let att = CausalSelfAttention::new(&mut ps, "attn", 16, 4, &mut r);
    let x = randn(&[3, 7, 16], &mut r);
    let u = randn(&[3, 7, 16], &mut r);
    let run = |fused: bool| {
        let g = Graph::new(&ps);
        let xi = g.input(x.clone());
        let y = if fused {
            att.forward(&g, &xi)
        } else {
            att.forward_unfused(&g, &xi)
        };
        let grads = g.backward_with(&y, u.clone());
        (y.into_tensor(), grads)
    };
    let ((y1, g1), (y2, g2)) = (run(true), run(false));
    let close = |a: &Tensor, b: &Tensor| {
        a.iter()
            .zip(b.iter())
            .all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + y.abs()))
    };
    assert!(close(&y1, &y2));
    for id in ps.ids() {
        assert!(
            close(g1.get(id).unwrap(), g2.get(id).unwrap()),
            "{}",
            ps.name(id)
        );
    }
}

#[test]
fn full_attention_is_the_unmasked_softmax_of_the_scores_times_the_values() {
    let mut r = rng(21);
    let (b, t, h, hd) = (2, 6, 2, 4);
    let d = h * hd;
    let qkv = randn(&[b, t, 3 * d], &mut r);
    let ps = ParamStore::new();
    let g = Graph::no_grad(&ps);
    let fused = g.full_attention(&g.input(qkv.clone()), h).into_tensor();
    // Op by op, as in CausalSelfAttention::forward_unfused but with no mask.
    let x = g.permute(
        &g.reshape(&g.input(qkv), &[b, t, 3, h, hd]),
        &[2, 0, 3, 1, 4],
    );
    let part = |i: usize| g.reshape(&g.slice(&x, 0, i, i + 1), &[b, h, t, hd]);
    let (q, k, v) = (part(0), part(1), part(2));
    let p = g.softmax(&g.mul_scalar(&g.matmul_nt(&q, &k), 1.0 / (hd as f32).sqrt()));
    let y = g.reshape(&g.permute(&g.matmul(&p, &v), &[0, 2, 1, 3]), &[b, t, d]);
    let y = y.into_tensor();
    assert_eq!(fused.shape(), y.shape());
    for (a, e) in fused.iter().zip(y.iter()) {
        assert!((a - e).abs() < 1e-5 * (1.0 + e.abs()), "{a} vs {e}");
    }
    // Unlike causal attention, the first position sees the others: it is not just its own value.
    let v0 = v.value().slice(ndarray::s![0, 0, 0, ..]).to_owned();
    let y0 = fused.slice(ndarray::s![0, 0, ..hd]).to_owned();
    assert!(v0.iter().zip(y0.iter()).any(|(a, b)| (a - b).abs() > 1e-3));
}

#[test]
fn a_transformer_block_with_layer_norm_and_gelu_passes_the_gradient_check() {
    let mut r = rng(3);
    let mut ps = ParamStore::new();
    let blk = TransformerBlock::new(&mut ps, "blk", 8, 2, 2, &mut r);
    let x = randn(&[2, 4, 8], &mut r);
    assert_passes(
        "transformer block",
        grad_check(&mut ps, |g| blk.forward(g, &g.input(x.clone())), &cfg()),
    );
}

#[test]
fn a_char_transformer_language_model_passes_the_gradient_check() {
    let mut r = rng(4);
    let mut ps = ParamStore::new();
    let m = CharTransformer::new(&mut ps, &mut r, 7, 6, 2, 8, 2);
    let idx: Vec<usize> = (0..12).map(|_| r.random_range(0..7)).collect();
    let tgt: Vec<usize> = (0..12).map(|_| r.random_range(0..7)).collect();
    assert_passes(
        "char transformer",
        grad_check(&mut ps, |g| m.loss(g, &idx, &tgt, 2, 6), &cfg()),
    );
}

#[test]
fn a_conv_group_norm_stack_passes_the_gradient_check() {
    let mut r = rng(5);
    let mut ps = ParamStore::new();
    let c1 = Conv2d::new(&mut ps, "c1", 2, 4, 3, 1, 1, &mut r);
    let gn = GroupNorm::new(&mut ps, "gn", 2, 4);
    let c2 = Conv2d::new(&mut ps, "c2", 4, 4, 3, 2, 1, &mut r);
    let x = randn(&[2, 2, 6, 6], &mut r);
    assert_passes(
        "conv stack",
        grad_check(
            &mut ps,
            |g| {
                let h = g.silu(&gn.forward(g, &c1.forward(g, &g.input(x.clone()))));
                g.upsample_nearest2x(&c2.forward(g, &h))
            },
            &cfg(),
        ),
    );
}

#[test]
fn the_tiny_unet_passes_the_gradient_check() {
    check_tiny_unet("unet", 0);
}

#[test]
fn the_tiny_unet_with_attention_in_the_middle_passes_the_gradient_check() {
    check_tiny_unet("unet with attention", 2);
}

fn check_tiny_unet(what: &str, attention_heads: usize) {
    let mut r = rng(6);
    let mut ps = ParamStore::new();
    let config = UnetConfig {
        channels: [8, 8, 16],
        time_features: 8,
        time_dim: 8,
        attention_heads,
    };
    // At least two channels per group: with one, GroupNorm cancels a per-channel shift
    // exactly, and the gradients of the biases before it are truly zero (nothing to check).
    let unet = TinyUnet::new(&mut ps, "unet", config, &mut r);
    // The output conv and the attention's projection start at zero; give them weights so
    // gradients reach every layer.
    let zeroed: Vec<_> = ps
        .ids_with_prefix("unet.out.")
        .into_iter()
        .chain(ps.ids_with_prefix("unet.attn.proj."))
        .collect();
    assert_eq!(zeroed.len(), if attention_heads > 0 { 4 } else { 2 });
    for id in zeroed {
        let shape = ps.get(id).shape().to_vec();
        ps.set(id, randn(&shape, &mut r).mapv(|v| v * 0.1));
    }
    let x = randn(&[2, 1, 28, 28], &mut r);
    let t = [3.0, 500.0];
    let config = GradCheckConfig {
        max_elements: 6,
        ..GradCheckConfig::default()
    };
    // The network output (O(1) values and gradients); the MSE is checked at op level.
    assert_passes(
        what,
        grad_check(
            &mut ps,
            |g| unet.forward(g, &g.input(x.clone()), &t),
            &config,
        ),
    );
}

#[test]
fn the_vae_elbo_passes_the_gradient_check() {
    let mut r = rng(7);
    let mut ps = ParamStore::new();
    let mut m = Vae::new(&mut ps, &mut r);
    m.activation = Activation::Tanh;
    let x = uniform(&[3, 784], 0.0, 1.0, &mut r).mapv(|v| if v > 0.7 { 1.0 } else { 0.0 });
    let noise = randn(&[3, 20], &mut r);
    let config = model_cfg();
    let _ = config;
    assert_passes(
        "vae",
        grad_check(
            &mut ps,
            |g| m.loss(g, &g.input(x.clone()), &g.input(noise.clone())),
            &big_sum_cfg(),
        ),
    );
}

#[test]
fn both_gan_losses_pass_the_gradient_check() {
    let mut r = rng(8);
    let mut ps = ParamStore::new();
    let mut gan = Gan::new(&mut ps, &mut r);
    smooth(&mut gan.generator);
    smooth(&mut gan.disc);
    let z = randn(&[3, 64], &mut r);
    let real = uniform(&[3, 784], -1.0, 1.0, &mut r);
    let config = model_cfg();
    // The D loss depends on G's weights through the fake batch, but its gradient is cut there
    // (detach), so only D's gradients are checked; the G loss reaches both.
    let disc = gan.disc.params();
    assert_passes(
        "gan d loss",
        grad_check_params(
            &mut ps,
            &disc,
            |g| {
                let fake = g.detach(&gan.generator.forward(g, &g.input(z.clone())));
                g.add(
                    &bce_const(g, &gan.disc.forward(g, &g.input(real.clone())), 1.0),
                    &bce_const(g, &gan.disc.forward(g, &fake), 0.0),
                )
            },
            &config,
        ),
    );
    assert_passes(
        "gan g loss",
        grad_check(
            &mut ps,
            |g| {
                bce_const(
                    g,
                    &gan.disc
                        .forward(g, &gan.generator.forward(g, &g.input(z.clone()))),
                    1.0,
                )
            },
            &config,
        ),
    );
}

#[test]
fn the_ddpm_noise_mlp_with_mse_passes_the_gradient_check() {
    let mut r = rng(9);
    let mut ps = ParamStore::new();
    let m = DdpmMlp::new(&mut ps, &mut r);
    let x = randn(&[2, 784], &mut r);
    let eps = randn(&[2, 784], &mut r);
    let config = GradCheckConfig {
        max_elements: 6,
        ..GradCheckConfig::default()
    };
    // The network output itself (the loss is checked at op level): O(1) values, O(1) gradients.
    let _ = eps;
    assert_passes(
        "ddpm",
        grad_check(
            &mut ps,
            |g| m.forward(g, &g.input(x.clone()), &[10.0, 900.0]),
            &config,
        ),
    );
}

#[test]
fn the_realnvp_likelihood_passes_the_gradient_check() {
    let mut r = rng(10);
    let mut ps = ParamStore::new();
    let mut m = RealNvp::new(&mut ps, &mut r, 2, 16);
    for c in m.layers.iter_mut() {
        smooth(&mut c.s);
        smooth(&mut c.t);
    }
    let scales: Vec<_> = ps
        .ids()
        .into_iter()
        .filter(|id| ps.name(*id).ends_with("scale"))
        .collect();
    for id in scales {
        ps.set(id, randn(&[1, 784], &mut r).mapv(|v| v * 0.1));
    }
    let x = randn(&[2, 784], &mut r);
    // The flow's outputs (z and the log-determinant), then the NLL itself.
    let config = model_cfg();
    assert_passes(
        "realnvp flow",
        grad_check(
            &mut ps,
            |g| {
                let (z, logdet) = m.forward(g, &g.input(x.clone()));
                g.concat(&[&z, &g.reshape(&logdet, &[2, 1])], 1)
            },
            &config,
        ),
    );
    assert_passes(
        "realnvp nll",
        grad_check(&mut ps, |g| m.nll(g, &g.input(x.clone())), &big_sum_cfg()),
    );
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let run = || {
        let mut r = rng(11);
        let mut ps = ParamStore::new();
        let m = DdpmMlp::new(&mut ps, &mut r);
        let mut opt = nn::Adam::new(nn::AdamConfig::adam(1e-3));
        let x0 = uniform(&[128, 784], -1.0, 1.0, &mut r);
        let sch = ddpm_schedule();
        let mut losses = Vec::new();
        for _ in 0..3 {
            let t: Vec<usize> = (0..128).map(|_| r.random_range(1..=1000)).collect();
            let eps = randn(&[128, 784], &mut r);
            let xt = noisy(&sch, &x0, &eps, &t);
            let tf: Vec<f32> = t.iter().map(|&v| v as f32).collect();
            let grads = {
                let g = Graph::new(&ps);
                let l = g.mse(&m.forward(&g, &g.input(xt), &tf), &g.input(eps));
                losses.push(l.item());
                g.backward(&l)
            };
            nn::Optimizer::step(&mut opt, &mut ps, &grads);
        }
        (losses, ps.get(ps.ids()[2]).clone())
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
}

#[test]
fn no_grad_evaluation_records_nothing_and_matches_the_training_forward() {
    let mut r = rng(12);
    let mut ps = ParamStore::new();
    let m = DdpmMlp::new(&mut ps, &mut r);
    let x = randn(&[4, 784], &mut r);
    let eval = {
        let g = Graph::no_grad(&ps);
        let y = m.forward(&g, &g.input(x.clone()), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(g.len(), 0);
        y.into_tensor()
    };
    let g = Graph::new(&ps);
    let train = m.forward(&g, &g.input(x), &[1.0, 2.0, 3.0, 4.0]);
    assert!(!g.is_empty());
    assert_eq!(&eval, train.value());
}

#[test]
fn ddpm_sampling_runs_without_a_tape_and_gives_finite_samples() {
    let mut r = rng(13);
    let mut ps = ParamStore::new();
    let m = DdpmMlp::new(&mut ps, &mut r);
    let sch = NoiseSchedule::new(BetaSchedule::Linear, 20);
    let x = ddpm_sample(&m, &ps, &sch, 3, &mut r);
    assert_eq!(x.shape(), &[3, 784]);
    assert!(x.iter().all(|v| v.is_finite()));
}

/// The bench runs the lessons' schedule; its PyTorch twin (`DDPMSchedule` in the reference
/// folder's `torch_models.py`) counts steps from 0 and takes σₜ² = βₜ. This pins the rest: twin
/// index i is step i + 1, with the same β and the same noise-free step.
#[test]
fn the_bench_schedule_is_the_pytorch_twins_one_step_later_but_for_sigma() {
    let sch = ddpm_schedule();
    assert_eq!(sch.steps(), 1000);
    let (x, eps) = ([0.7f32, -0.2, 1.5], [0.3f32, -1.1, 0.4]);
    for i in [0usize, 1, 10, 499, 998, 999] {
        let beta = 1e-4 + (0.02 - 1e-4) * i as f64 / 999.0; // torch.linspace(1e-4, 0.02, 1000)[i]
        let abar: f64 = (0..=i)
            .map(|j| 1.0 - (1e-4 + (0.02 - 1e-4) * j as f64 / 999.0))
            .product();
        assert!((sch.beta[i] - beta).abs() < 1e-15, "β at twin index {i}");
        assert!(
            (sch.alpha_bar_at(i + 1) - abar).abs() < 1e-12,
            "ᾱ at twin index {i}"
        );
        let coef_eps = (beta / (1.0 - abar).sqrt()) as f32;
        let inv_sqrt_alpha = (1.0 / (1.0 - beta).sqrt()) as f32;
        let mut ours = x;
        sch.ddpm_step(&mut ours, &eps, i + 1, &[0.0; 3]);
        for (k, got) in ours.iter().enumerate() {
            let twin = inv_sqrt_alpha * (x[k] - coef_eps * eps[k]);
            assert!((got - twin).abs() < 1e-6, "twin index {i}: {got} vs {twin}");
        }
    }
}

#[test]
fn parameters_survive_a_safetensors_round_trip() {
    let mut r = rng(14);
    let mut ps = ParamStore::new();
    let _m = CharTransformer::new(&mut ps, &mut r, 7, 6, 1, 8, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    nn::save(&ps, &path, None).unwrap();
    let loaded = nn::load(&path).unwrap();
    assert_eq!(loaded.len(), ps.len());
    // `load` gives the file's layout: Linear weights come back as PyTorch's (out, in).
    for (_, p) in ps.iter() {
        let file = loaded.get(loaded.id(&p.name).unwrap());
        if p.saved_transposed {
            assert_eq!(file.t(), p.value.view(), "{}", p.name);
        } else {
            assert_eq!(file, &*p.value, "{}", p.name);
        }
    }
    let mut fresh = ParamStore::new();
    let _m2 = CharTransformer::new(&mut fresh, &mut rng(99), 7, 6, 1, 8, 2);
    nn::load_into(&mut fresh, &path).unwrap();
    for (id, p) in ps.iter() {
        assert_eq!(fresh.get(id), &*p.value);
    }
}

#[test]
fn linear_weights_are_saved_in_pytorch_layout_out_by_in() {
    let mut ps = ParamStore::new();
    let l = nn::Linear::new(&mut ps, "fc", 3, 5, &mut rng(15));
    assert_eq!(ps.get(l.weight).shape(), &[3, 5]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fc.safetensors");
    nn::save(&ps, &path, None).unwrap();
    let file = nn::load(&path).unwrap();
    let w = file.get(file.id("fc.weight").unwrap());
    assert_eq!(w.shape(), &[5, 3]);
    assert_eq!(w.t(), ps.get(l.weight).view());
}

#[test]
fn loading_weights_of_the_wrong_shape_names_the_tensor_and_changes_nothing() {
    let mut ps = ParamStore::new();
    ps.add("enc.l1.weight", Tensor::zeros(ndarray::IxDyn(&[2, 3])));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut other = ParamStore::new();
    other.add("enc.l1.weight", Tensor::ones(ndarray::IxDyn(&[3, 2])));
    nn::save(&other, &path, None).unwrap();
    let err = nn::load_into(&mut ps, &path).unwrap_err().to_string();
    assert!(
        err.contains("enc.l1.weight") && err.contains("[3, 2]"),
        "{err}"
    );
    assert!(ps.get(ps.ids()[0]).iter().all(|&v| v == 0.0));
    let missing = nn::load_into(&mut ps, &dir.path().join("none.safetensors")).unwrap_err();
    assert!(missing.to_string().contains("none.safetensors"));
}

#[test]
fn models_parameters_and_optimizers_can_move_to_a_trainer_thread() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<ParamStore>();
    assert_send::<nn::Adam>();
    assert_send::<Box<dyn nn::Optimizer>>();
    assert_send::<nn::Ema>();
    assert_send::<Mlp>();
    assert_send::<TransformerBlock>();
    assert_send::<TinyUnet>();
    assert_send::<CharTransformer>();
    assert_send::<mllab::tensor::Grads>();
}
