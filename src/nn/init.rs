//! Parameter initialization. Every draw comes from the caller's seeded generator, so a lesson's
//! seed fixes its starting weights. Fan-in/fan-out follow PyTorch's conventions
//! (Linear (out, in): fan_in = in; Conv (O, C, kh, kw): fan_in = C·kh·kw).

use rand::Rng;

use crate::tensor::{Tensor, randn, uniform, zeros};

/// U(−bound, bound).
pub fn uniform_bound(shape: &[usize], bound: f32, rng: &mut impl Rng) -> Tensor {
    if bound == 0.0 {
        return zeros(shape);
    }
    uniform(shape, -bound, bound, rng)
}

/// PyTorch's default for Linear and Conv weights and biases: U(±1/√fan_in).
pub fn torch_default(shape: &[usize], fan_in: usize, rng: &mut impl Rng) -> Tensor {
    uniform_bound(shape, 1.0 / (fan_in.max(1) as f32).sqrt(), rng)
}

/// Kaiming (He) uniform: U(±gain·√(3/fan_in)); gain √2 for ReLU.
pub fn kaiming_uniform(shape: &[usize], fan_in: usize, gain: f32, rng: &mut impl Rng) -> Tensor {
    uniform_bound(shape, gain * (3.0 / fan_in.max(1) as f32).sqrt(), rng)
}

/// Kaiming (He) normal: N(0, (gain/√fan_in)²).
pub fn kaiming_normal(shape: &[usize], fan_in: usize, gain: f32, rng: &mut impl Rng) -> Tensor {
    let std = gain / (fan_in.max(1) as f32).sqrt();
    randn(shape, rng).mapv(|v| v * std)
}

/// Xavier (Glorot) uniform: U(±√(6/(fan_in + fan_out))).
pub fn xavier_uniform(
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    rng: &mut impl Rng,
) -> Tensor {
    uniform_bound(shape, (6.0 / (fan_in + fan_out).max(1) as f32).sqrt(), rng)
}

/// Xavier (Glorot) normal: N(0, 2/(fan_in + fan_out)).
pub fn xavier_normal(shape: &[usize], fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Tensor {
    let std = (2.0 / (fan_in + fan_out).max(1) as f32).sqrt();
    randn(shape, rng).mapv(|v| v * std)
}

/// Gain of the ReLU family for Kaiming initialization (√(2/(1 + α²))).
pub fn relu_gain(negative_slope: f32) -> f32 {
    (2.0 / (1.0 + negative_slope * negative_slope)).sqrt()
}
