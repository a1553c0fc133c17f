//! ε_θ(xₜ, t), the noise predictor: the input features (xₜ and sinusoidal embeddings of its
//! coordinates and of t) and the residual MLP that maps them to ε̂.

use rand_pcg::Pcg64Mcg;

use super::Diffusion2dSpec;
use crate::nn::{Linear, sinusoidal_embedding};
use crate::tensor::{Graph, ParamStore, Tensor, Var, tensor};

/// Width of each sinusoidal embedding (of t, and of each coordinate of xₜ).
pub(super) const EMB: usize = 32;
/// Coordinates are multiplied by this before their sinusoidal embedding, so its fastest
/// frequency resolves details of about 0.25 in the plane (as in the common toy denoisers).
const X_SCALE: f32 = 25.0;

/// ε_θ(xₜ, t): the noise predictor.
pub(super) struct Denoiser {
    input: Linear,
    blocks: Vec<Linear>,
    output: Linear,
    timesteps: usize,
}

impl Denoiser {
    pub(super) fn new(spec: &Diffusion2dSpec, ps: &mut ParamStore, rng: &mut Pcg64Mcg) -> Denoiser {
        let h = spec.hidden;
        Denoiser {
            input: Linear::new(ps, "eps.input", 2 + 3 * EMB, h, rng),
            blocks: (0..spec.layers)
                .map(|i| Linear::new(ps, &format!("eps.block{i}"), h, h, rng))
                .collect(),
            // Zero at the start: the first guess is "no noise", and the loss starts at 1.
            output: Linear::zeroed(ps, "eps.output", h, 2),
            timesteps: spec.timesteps,
        }
    }

    /// The network's input for points `x` (flat, 2 per row) at times `t` (1-based): (B, 2 + 3E).
    fn features(&self, x: &[f32], t: &[usize]) -> Tensor {
        let b = t.len();
        let scale = 1000.0 / self.timesteps as f32;
        let times: Vec<f32> = t.iter().map(|&t| t as f32 * scale).collect();
        let x1: Vec<f32> = x.iter().step_by(2).map(|v| v * X_SCALE).collect();
        let x2: Vec<f32> = x.iter().skip(1).step_by(2).map(|v| v * X_SCALE).collect();
        let (e1, e2, et) = (
            sinusoidal_embedding(&x1, EMB),
            sinusoidal_embedding(&x2, EMB),
            sinusoidal_embedding(&times, EMB),
        );
        let width = 2 + 3 * EMB;
        let mut out = vec![0.0f32; b * width];
        for i in 0..b {
            let row = &mut out[i * width..(i + 1) * width];
            row[0] = x[2 * i];
            row[1] = x[2 * i + 1];
            for j in 0..EMB {
                row[2 + j] = e1[[i, j]];
                row[2 + EMB + j] = e2[[i, j]];
                row[2 + 2 * EMB + j] = et[[i, j]];
            }
        }
        tensor(&[b, width], &out)
    }

    pub(super) fn forward(&self, g: &Graph, x: &[f32], t: &[usize]) -> Var {
        let input = g.input(self.features(x, t));
        let mut h = g.silu(&self.input.forward(g, &input));
        for block in &self.blocks {
            h = g.add(&h, &g.silu(&block.forward(g, &h)));
        }
        self.output.forward(g, &h)
    }

    /// ε̂ for every row, without a graph to keep.
    pub(super) fn predict(&self, ps: &ParamStore, x: &[f32], t: usize) -> Vec<f32> {
        let g = Graph::no_grad(ps);
        let ts = vec![t; x.len() / 2];
        let out = self.forward(&g, x, &ts);
        out.value().iter().copied().collect()
    }
}
