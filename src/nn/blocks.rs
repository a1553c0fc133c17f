//! Composite blocks built from the layers: an MLP builder, a pre-norm residual MLP block, causal
//! multi-head self-attention, a GPT-style transformer block and the sinusoidal time embedding.
//! Shapes are annotated as (batch B, time T, width D, heads H, head width hd = D/H).

use ndarray::{ArrayD, IxDyn};
use rand::Rng;

use super::layers::{Activation, LayerNorm, Linear};
use crate::tensor::{Graph, ParamId, ParamStore, Tensor, Var};

/// Linear layers of the given widths with an activation between them (none after the last, or
/// `output` if given). Layer i is named `{name}.l{i}`.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    pub activation: Activation,
    pub output: Activation,
}

impl Mlp {
    /// Panics if fewer than two widths are given.
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        widths: &[usize],
        activation: Activation,
        rng: &mut impl Rng,
    ) -> Self {
        assert!(
            widths.len() >= 2,
            "an MLP needs at least an input and an output width"
        );
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| Linear::new(ps, &format!("{name}.l{i}"), w[0], w[1], rng))
            .collect();
        Self {
            layers,
            activation,
            output: Activation::Identity,
        }
    }

    /// The same MLP with an activation after the last layer (e.g. tanh for a GAN generator).
    pub fn with_output(mut self, output: Activation) -> Self {
        self.output = output;
        self
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        let last = self.layers.len() - 1;
        let mut h = x.clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(g, &h);
            h = if i < last {
                self.activation.apply(g, &h)
            } else {
                self.output.apply(g, &h)
            };
        }
        h
    }

    pub fn params(&self) -> Vec<ParamId> {
        self.layers.iter().flat_map(Linear::params).collect()
    }
}

/// x + fc2(act(fc1(norm(x)))): a pre-norm residual MLP block of width `dim`.
#[derive(Clone, Debug)]
pub struct ResidualBlock {
    pub norm: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub activation: Activation,
}

impl ResidualBlock {
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        dim: usize,
        hidden: usize,
        activation: Activation,
        rng: &mut impl Rng,
    ) -> Self {
        Self {
            norm: LayerNorm::new(ps, &format!("{name}.norm"), dim),
            fc1: Linear::new(ps, &format!("{name}.fc1"), dim, hidden, rng),
            fc2: Linear::new(ps, &format!("{name}.fc2"), hidden, dim, rng),
            activation,
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        let h = self.fc1.forward(g, &self.norm.forward(g, x));
        let h = self.fc2.forward(g, &self.activation.apply(g, &h));
        g.add(x, &h)
    }
}

/// Causal multi-head self-attention: softmax(Q·Kᵀ/√hd + causal mask)·V, heads concatenated,
/// then a projection. Parameters `{name}.qkv` (D → 3D) and `{name}.proj` (D → D).
#[derive(Clone, Debug)]
pub struct CausalSelfAttention {
    pub qkv: Linear,
    pub proj: Linear,
    pub heads: usize,
}

impl CausalSelfAttention {
    /// Panics if `dim` is not a multiple of `heads`.
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        dim: usize,
        heads: usize,
        rng: &mut impl Rng,
    ) -> Self {
        assert!(
            heads > 0 && dim.is_multiple_of(heads),
            "attention: width {dim} does not split into {heads} heads"
        );
        Self {
            qkv: Linear::new(ps, &format!("{name}.qkv"), dim, 3 * dim, rng),
            proj: Linear::new(ps, &format!("{name}.proj"), dim, dim, rng),
            heads,
        }
    }

    /// x (B, T, D) → (B, T, D), with the fused attention op.
    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        let qkv = self.qkv.forward(g, x); // (B, T, 3D)
        self.proj.forward(g, &g.causal_attention(&qkv, self.heads))
    }

    /// The same computation spelled out op by op (reshape, permute, scores, mask, softmax,
    /// weighted sum): the reference the fused op is tested against, and the readable version.
    pub fn forward_unfused(&self, g: &Graph, x: &Var) -> Var {
        let (b, t, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let (h, hd) = (self.heads, d / self.heads);
        let qkv = self.qkv.forward(g, x); // (B, T, 3D)
        let qkv = g.reshape(&qkv, &[b, t, 3, h, hd]);
        let qkv = g.permute(&qkv, &[2, 0, 3, 1, 4]); // (3, B, H, T, hd)
        let part = |i: usize| g.reshape(&g.slice(&qkv, 0, i, i + 1), &[b, h, t, hd]);
        let (q, k, v) = (part(0), part(1), part(2));
        let att = g.mul_scalar(&g.matmul_nt(&q, &k), 1.0 / (hd as f32).sqrt()); // (B, H, T, T)
        let att = g.masked_fill(&att, &causal_mask(t), f32::NEG_INFINITY);
        let y = g.matmul(&g.softmax(&att), &v); // (B, H, T, hd)
        let y = g.reshape(&g.permute(&y, &[0, 2, 1, 3]), &[b, t, d]);
        self.proj.forward(g, &y)
    }
}

/// true above the diagonal: position i may not look at j > i.
pub fn causal_mask(t: usize) -> ArrayD<bool> {
    ArrayD::from_shape_fn(IxDyn(&[t, t]), |ix| ix[1] > ix[0])
}

/// A GPT block: x + attn(ln1(x)), then + fc2(gelu(fc1(ln2(x)))).
#[derive(Clone, Debug)]
pub struct TransformerBlock {
    pub ln1: LayerNorm,
    pub attn: CausalSelfAttention,
    pub ln2: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
}

impl TransformerBlock {
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        dim: usize,
        heads: usize,
        mlp_mult: usize,
        rng: &mut impl Rng,
    ) -> Self {
        Self {
            ln1: LayerNorm::new(ps, &format!("{name}.ln1"), dim),
            attn: CausalSelfAttention::new(ps, &format!("{name}.attn"), dim, heads, rng),
            ln2: LayerNorm::new(ps, &format!("{name}.ln2"), dim),
            fc1: Linear::new(ps, &format!("{name}.fc1"), dim, mlp_mult * dim, rng),
            fc2: Linear::new(ps, &format!("{name}.fc2"), mlp_mult * dim, dim, rng),
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        let x = g.add(x, &self.attn.forward(g, &self.ln1.forward(g, x)));
        let h = self
            .fc2
            .forward(g, &g.gelu(&self.fc1.forward(g, &self.ln2.forward(g, &x))));
        g.add(&x, &h)
    }
}

/// Sinusoidal embedding of (diffusion) times: row i is [sin(tᵢ·ω), cos(tᵢ·ω)] with
/// ω_j = 10000^(−j/(dim/2)), j < dim/2. Shape (len, dim). A constant, not a parameter.
pub fn sinusoidal_embedding(t: &[f32], dim: usize) -> Tensor {
    let half = dim / 2;
    let mut out = Tensor::zeros(IxDyn(&[t.len(), dim]));
    for (i, &ti) in t.iter().enumerate() {
        for j in 0..half {
            let w = (-(10000f32.ln()) * j as f32 / half as f32).exp();
            out[[i, j]] = (ti * w).sin();
            out[[i, half + j]] = (ti * w).cos();
        }
    }
    out
}
