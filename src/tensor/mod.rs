//! Reverse-mode automatic differentiation over ndarray `f32` tensors.
//!
//! A [`Graph`] records every op applied to tracked values ([`Var`]); [`Graph::backward`] walks
//! the record newest-first and returns a [`Grads`] store keyed by the [`ParamId`]s of the
//! [`ParamStore`] the graph read. [`Graph::no_grad`] records nothing, for evaluation and
//! sampling. Ops are methods of `Graph`, one family per file in [`ops`], each with its table of
//! derivative rules; [`grad_check`](grad_check::grad_check) verifies any of them numerically.
//!
//! ```
//! use mllab::tensor::{Graph, ParamStore, tensor};
//!
//! let mut ps = ParamStore::new();
//! let w = ps.add("w", tensor(&[2], &[3.0, -1.0]));
//! let g = Graph::new(&ps);
//! let x = g.input(tensor(&[2], &[2.0, 5.0]));
//! let loss = g.sum_all(&g.mul(&g.param(w), &x)); // w·x
//! assert_eq!(loss.item(), 1.0);
//! let grads = g.backward(&loss);
//! assert_eq!(grads.get(w).unwrap().as_slice().unwrap(), &[2.0, 5.0]); // ∂(w·x)/∂w = x
//! ```

pub mod cpu;
pub mod grad_check;
pub mod graph;
pub mod kernels;
pub mod matmul;
pub mod ops;
pub mod parallel;
pub mod params;
pub mod profile;
pub mod scratch;
pub mod shape;

pub use grad_check::{GradCheckConfig, GradCheckReport, grad_check, grad_check_params};
pub use graph::{BackwardFn, Graph, Var};
pub use matmul::{num_threads, set_num_threads};
pub use params::{Grads, Param, ParamId, ParamStore};

/// The one tensor type: an n-dimensional array of `f32` in C order.
pub type Tensor = ndarray::ArrayD<f32>;

/// A tensor from a shape and its values in C order. Panics if the lengths disagree.
pub fn tensor(shape: &[usize], values: &[f32]) -> Tensor {
    assert_eq!(
        shape.iter().product::<usize>(),
        values.len(),
        "shape {shape:?} needs {} values",
        shape.iter().product::<usize>()
    );
    Tensor::from_shape_vec(ndarray::IxDyn(shape), values.to_vec()).expect("length checked")
}

/// A tensor of zeros.
pub fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(ndarray::IxDyn(shape))
}

/// A tensor of ones.
pub fn ones(shape: &[usize]) -> Tensor {
    Tensor::ones(ndarray::IxDyn(shape))
}

/// A tensor of standard-normal draws from `rng`.
pub fn randn(shape: &[usize], rng: &mut impl rand::Rng) -> Tensor {
    use rand_distr::Distribution;
    Tensor::from_shape_simple_fn(ndarray::IxDyn(shape), || {
        rand_distr::StandardNormal.sample(rng)
    })
}

/// A tensor of uniform draws in [lo, hi).
pub fn uniform(shape: &[usize], lo: f32, hi: f32, rng: &mut impl rand::Rng) -> Tensor {
    use rand::RngExt;
    Tensor::from_shape_simple_fn(ndarray::IxDyn(shape), || rng.random_range(lo..hi))
}
