//! Elementwise functions of one tensor. Each op is one line of forward and one line of
//! derivative, written in terms of the input x, the output y and the upstream gradient g, so
//! this file is the table of derivative rules for activations:
//!
//! | op          | y                         | dy/dx                                   |
//! |-------------|---------------------------|-----------------------------------------|
//! | exp         | eˣ                        | y                                       |
//! | log         | ln x                      | 1/x                                     |
//! | sqrt        | √x                        | 1/(2y)                                  |
//! | powf(p)     | xᵖ                        | p·xᵖ⁻¹                                  |
//! | tanh        | tanh x                    | 1 − y²                                  |
//! | sigmoid     | σ(x) = 1/(1+e⁻ˣ)          | y(1 − y)                                |
//! | relu        | max(x, 0)                 | 1 if x > 0 else 0                       |
//! | leaky_relu  | x if x > 0 else αx        | 1 if x > 0 else α                       |
//! | silu        | x·σ(x)                    | σ(x)(1 + x(1 − σ(x)))                   |
//! | gelu        | x·Φ(x)  (exact, erf)      | Φ(x) + x·φ(x)                           |
//! | softplus    | ln(1 + eˣ)                | σ(x)                                    |
//!
//! Forward and backward loops run through `kernels::map*`, vectorized with the fast exp.

use std::sync::Arc;

use crate::tensor::kernels::{self as k, map3_vec};
use crate::tensor::ops::arith::map_with;
use crate::tensor::{Graph, Tensor, Var};

const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f32 = 0.398_942_3;

impl Graph<'_> {
    /// Applies `fwd` elementwise; backward computes g · dy/dx from (x, y, g) with `bwd`.
    pub fn unary(
        &self,
        x: &Var,
        fwd: impl Fn(f32) -> f32 + Sync,
        bwd: impl Fn(f32, f32, f32) -> f32 + Send + Sync + 'static,
    ) -> Var {
        let y = Arc::new(map_with(x.value(), fwd));
        if !self.tracks(&[x]) {
            return self.record_shared(y, &[x], |_, _| vec![None]);
        }
        let (xv, yv) = (x.arc(), Arc::clone(&y));
        self.record_shared(y, &[x], move |g: Tensor, _| {
            let g = &g;
            let out = map3_vec(slice(&xv), slice(&yv), slice(g), bwd);
            vec![Some(
                Tensor::from_shape_vec(g.raw_dim(), out).expect("same shape"),
            )]
        })
    }

    pub fn exp(&self, x: &Var) -> Var {
        self.unary(x, k::exp_fast, |_, y, g| g * y)
    }

    pub fn log(&self, x: &Var) -> Var {
        self.unary(x, f32::ln, |x, _, g| g / x)
    }

    pub fn sqrt(&self, x: &Var) -> Var {
        self.unary(x, f32::sqrt, |_, y, g| g * 0.5 / y)
    }

    pub fn powf(&self, x: &Var, p: f32) -> Var {
        self.unary(
            x,
            move |x| x.powf(p),
            move |x, _, g| g * p * x.powf(p - 1.0),
        )
    }

    /// x² (cheaper and exact, unlike `powf(x, 2.0)`).
    pub fn square(&self, x: &Var) -> Var {
        self.unary(x, |x| x * x, |x, _, g| g * 2.0 * x)
    }

    pub fn tanh(&self, x: &Var) -> Var {
        self.unary(x, k::tanh, |_, y, g| g * (1.0 - y * y))
    }

    pub fn sigmoid(&self, x: &Var) -> Var {
        self.unary(x, k::sigmoid, |_, y, g| g * y * (1.0 - y))
    }

    pub fn relu(&self, x: &Var) -> Var {
        self.unary(x, |x| x.max(0.0), |x, _, g| if x > 0.0 { g } else { 0.0 })
    }

    pub fn leaky_relu(&self, x: &Var, alpha: f32) -> Var {
        self.unary(
            x,
            move |x| if x > 0.0 { x } else { alpha * x },
            move |x, _, g| if x > 0.0 { g } else { alpha * g },
        )
    }

    pub fn silu(&self, x: &Var) -> Var {
        self.unary(
            x,
            |x| x * k::sigmoid(x),
            |x, _, g| {
                let s = k::sigmoid(x);
                g * s * (1.0 + x * (1.0 - s))
            },
        )
    }

    /// GELU with the exact normal CDF, as PyTorch's default `F.gelu`.
    pub fn gelu(&self, x: &Var) -> Var {
        self.unary(
            x,
            |x| 0.5 * x * (1.0 + k::erf(x * INV_SQRT_2)),
            |x, _, g| {
                let cdf = 0.5 * (1.0 + k::erf(x * INV_SQRT_2));
                let pdf = INV_SQRT_2PI * k::exp_fast(-0.5 * x * x);
                g * (cdf + x * pdf)
            },
        )
    }

    /// ln(1 + eˣ), computed stably as max(x, 0) + ln(1 + e^−|x|).
    pub fn softplus(&self, x: &Var) -> Var {
        self.unary(
            x,
            |x| x.max(0.0) + k::log1p_exp_neg_abs(x),
            |x, _, g| g * k::sigmoid(x),
        )
    }
}

fn slice(t: &Tensor) -> &[f32] {
    t.as_slice()
        .expect("tensors on the tape are in standard layout")
}
