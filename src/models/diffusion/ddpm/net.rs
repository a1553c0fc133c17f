//! The noise predictors of the DDPM lesson: the tiny U-Net of `nn::unet`, or a residual MLP
//! with the time embedding added in every block, trained to output ε or v; either way the
//! samplers get ε.

use rand_pcg::Pcg64Mcg;

use super::{DdpmSpec, Net, PIXELS, SIDE};
use crate::models::diffusion::{NoiseSchedule, Prediction};
use crate::nn::{Linear, TinyUnet, UnetConfig, sinusoidal_embedding};
use crate::tensor::{Graph, ParamStore, Var};

/// The noise predictor: a network and what it outputs.
pub(super) struct Eps {
    body: Body,
    prediction: Prediction,
    schedule: NoiseSchedule,
}

/// The network.
enum Body {
    Unet(Box<TinyUnet>),
    Mlp(ResMlp),
}

/// A residual MLP: h ← h + W₂·SiLU(W₁·h + T(temb)) per block.
pub(super) struct ResMlp {
    temb: Linear,
    inp: Linear,
    blocks: Vec<(Linear, Linear, Linear)>,
    out: Linear,
}

const TIME_FEATURES: usize = 128;

impl Eps {
    pub(super) fn new(spec: &DdpmSpec, ps: &mut ParamStore, rng: &mut Pcg64Mcg) -> Eps {
        let body = match spec.net {
            Net::Unet => Body::Unet(Box::new(TinyUnet::new(
                ps,
                "eps",
                UnetConfig {
                    channels: spec.channels,
                    attention_heads: spec.attention,
                    ..UnetConfig::default()
                },
                rng,
            ))),
            Net::Mlp => {
                let w = spec.width;
                Body::Mlp(ResMlp {
                    temb: Linear::new(ps, "eps.temb", TIME_FEATURES, w, rng),
                    inp: Linear::new(ps, "eps.inp", PIXELS, w, rng),
                    blocks: (0..spec.blocks)
                        .map(|i| {
                            (
                                Linear::new(ps, &format!("eps.b{i}.l1"), w, w, rng),
                                Linear::new(ps, &format!("eps.b{i}.t"), w, w, rng),
                                Linear::new(ps, &format!("eps.b{i}.l2"), w, w, rng),
                            )
                        })
                        .collect(),
                    out: Linear::zeroed(ps, "eps.out", w, PIXELS),
                })
            }
        };
        Eps {
            body,
            prediction: spec.prediction,
            schedule: NoiseSchedule::new(spec.schedule, spec.timesteps),
        }
    }

    /// x: (B, 784) in [−1, 1]; t: B integer steps → the network's output (B, 784): ε̂, or v̂
    /// when trained to predict v.
    pub(super) fn forward(&self, g: &Graph, x: &Var, t: &[f32]) -> Var {
        let b = t.len();
        match &self.body {
            Body::Unet(u) => {
                let img = g.reshape(x, &[b, 1, SIDE, SIDE]);
                g.reshape(&u.forward(g, &img, t), &[b, PIXELS])
            }
            Body::Mlp(m) => {
                let te = g.silu(
                    &m.temb
                        .forward(g, &g.input(sinusoidal_embedding(t, TIME_FEATURES))),
                );
                let mut h = m.inp.forward(g, x);
                for (l1, tp, l2) in &m.blocks {
                    let z = g.silu(&g.add(&l1.forward(g, &g.silu(&h)), &tp.forward(g, &te)));
                    h = g.add(&h, &l2.forward(g, &z));
                }
                m.out.forward(g, &g.silu(&h))
            }
        }
    }

    /// ε̂ for rows of xₜ at steps t, with the weights in `ps`, building no graph.
    pub(super) fn predict(&self, ps: &ParamStore, x: &[f32], t: &[f32]) -> Vec<f32> {
        let g = Graph::no_grad(ps);
        let xv = g.input(super::sample::to_tensor(x.to_vec(), t.len()));
        let mut out: Vec<f32> = self.forward(&g, &xv, t).value().iter().copied().collect();
        if self.prediction == Prediction::V {
            for ((v, xt), &ti) in out.chunks_mut(PIXELS).zip(x.chunks(PIXELS)).zip(t) {
                self.schedule.eps_from_v(xt, v, ti as usize);
            }
        }
        out
    }
}
