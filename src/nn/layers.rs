//! The basic layers: Linear, Embedding, LayerNorm, GroupNorm, Conv2d, and activations. A layer
//! holds only `ParamId`s; `forward` reads them from the graph. Names follow PyTorch
//! (`{name}.weight`, `{name}.bias`) so saves load into the PyTorch twin of a model.

use rand::Rng;

use super::init;
use crate::tensor::{Graph, ParamId, ParamStore, Var, ones, zeros};

/// y = x·W + b. W is kept (in, out) for speed and saved as PyTorch's (out, in) `weight`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: ParamId,
    pub bias: Option<ParamId>,
    pub in_features: usize,
    pub out_features: usize,
}

impl Linear {
    /// PyTorch's default initialization: U(±1/√in) for weight and bias.
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        in_features: usize,
        out_features: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let weight = ps.add_transposed(
            format!("{name}.weight"),
            init::torch_default(&[in_features, out_features], in_features, rng),
        );
        let bias = Some(ps.add(
            format!("{name}.bias"),
            init::torch_default(&[out_features], in_features, rng),
        ));
        Self {
            weight,
            bias,
            in_features,
            out_features,
        }
    }

    /// A Linear layer whose weight and bias start at zero (e.g. the last layer of a denoiser).
    pub fn zeroed(
        ps: &mut ParamStore,
        name: &str,
        in_features: usize,
        out_features: usize,
    ) -> Self {
        let weight = ps.add_transposed(
            format!("{name}.weight"),
            zeros(&[in_features, out_features]),
        );
        let bias = Some(ps.add(format!("{name}.bias"), zeros(&[out_features])));
        Self {
            weight,
            bias,
            in_features,
            out_features,
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        let b = self.bias.map(|b| g.param(b));
        g.linear(x, &g.param(self.weight), b.as_ref())
    }

    pub fn params(&self) -> Vec<ParamId> {
        std::iter::once(self.weight).chain(self.bias).collect()
    }
}

/// A table of `vocab` vectors of length `dim`, initialized N(0, 1) as in PyTorch.
#[derive(Clone, Debug)]
pub struct Embedding {
    pub weight: ParamId,
    pub vocab: usize,
    pub dim: usize,
}

impl Embedding {
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        vocab: usize,
        dim: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let weight = ps.add(
            format!("{name}.weight"),
            crate::tensor::randn(&[vocab, dim], rng),
        );
        Self { weight, vocab, dim }
    }

    /// Looks up `ids` arranged as `shape`; the output is `shape + [dim]`.
    pub fn forward(&self, g: &Graph, ids: &[usize], shape: &[usize]) -> Var {
        g.gather_rows(&g.param(self.weight), ids, shape)
    }
}

/// Layer norm over the last axis, γ = 1 and β = 0 at the start.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: ParamId,
    pub bias: ParamId,
    pub eps: f32,
}

impl LayerNorm {
    pub fn new(ps: &mut ParamStore, name: &str, dim: usize) -> Self {
        let weight = ps.add(format!("{name}.weight"), ones(&[dim]));
        let bias = ps.add(format!("{name}.bias"), zeros(&[dim]));
        Self {
            weight,
            bias,
            eps: 1e-5,
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        g.layer_norm(x, &g.param(self.weight), &g.param(self.bias), self.eps)
    }
}

/// Group norm over (N, C, …) with `groups` groups.
#[derive(Clone, Debug)]
pub struct GroupNorm {
    pub weight: ParamId,
    pub bias: ParamId,
    pub groups: usize,
    pub eps: f32,
}

impl GroupNorm {
    /// Panics if `channels` is not a multiple of `groups` (a model-definition bug).
    pub fn new(ps: &mut ParamStore, name: &str, groups: usize, channels: usize) -> Self {
        assert!(
            groups > 0 && channels.is_multiple_of(groups),
            "GroupNorm: {channels} channels in {groups} groups"
        );
        let weight = ps.add(format!("{name}.weight"), ones(&[channels]));
        let bias = ps.add(format!("{name}.bias"), zeros(&[channels]));
        Self {
            weight,
            bias,
            groups,
            eps: 1e-5,
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        g.group_norm(
            x,
            self.groups,
            &g.param(self.weight),
            &g.param(self.bias),
            self.eps,
        )
    }

    /// `silu(self.forward(x))`, fused into one op.
    pub fn forward_silu(&self, g: &Graph, x: &Var) -> Var {
        g.group_norm_silu(
            x,
            self.groups,
            &g.param(self.weight),
            &g.param(self.bias),
            self.eps,
        )
    }
}

/// 2-D convolution, weight (out, in, k, k), PyTorch's default initialization.
#[derive(Clone, Debug)]
pub struct Conv2d {
    pub weight: ParamId,
    pub bias: Option<ParamId>,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let fan_in = cin * kernel * kernel;
        let weight = ps.add(
            format!("{name}.weight"),
            init::torch_default(&[cout, cin, kernel, kernel], fan_in, rng),
        );
        let bias = Some(ps.add(
            format!("{name}.bias"),
            init::torch_default(&[cout], fan_in, rng),
        ));
        Self {
            weight,
            bias,
            stride,
            padding,
        }
    }

    /// A convolution that starts at zero (the output layer of a denoiser).
    pub fn zeroed(
        ps: &mut ParamStore,
        name: &str,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        let weight = ps.add(
            format!("{name}.weight"),
            zeros(&[cout, cin, kernel, kernel]),
        );
        let bias = Some(ps.add(format!("{name}.bias"), zeros(&[cout])));
        Self {
            weight,
            bias,
            stride,
            padding,
        }
    }

    pub fn forward(&self, g: &Graph, x: &Var) -> Var {
        self.forward_ext(g, x, None, None)
    }

    /// The convolution plus, in the same op, an optional `shift` (N, O) added to each image's
    /// output channels (a time embedding, say) and an optional `residual` shaped like the
    /// output (the sum that closes a residual block).
    pub fn forward_ext(
        &self,
        g: &Graph,
        x: &Var,
        shift: Option<&Var>,
        residual: Option<&Var>,
    ) -> Var {
        let b = self.bias.map(|b| g.param(b));
        g.conv2d_ext(
            x,
            &g.param(self.weight),
            b.as_ref(),
            shift,
            residual,
            self.stride,
            self.padding,
        )
    }
}

/// An elementwise nonlinearity, chosen by configuration.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Identity,
    Relu,
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
    Silu,
    Gelu,
    Softplus,
}

impl Activation {
    pub fn apply(self, g: &Graph, x: &Var) -> Var {
        match self {
            Activation::Identity => x.clone(),
            Activation::Relu => g.relu(x),
            Activation::LeakyRelu(a) => g.leaky_relu(x, a),
            Activation::Tanh => g.tanh(x),
            Activation::Sigmoid => g.sigmoid(x),
            Activation::Silu => g.silu(x),
            Activation::Gelu => g.gelu(x),
            Activation::Softplus => g.softplus(x),
        }
    }
}
