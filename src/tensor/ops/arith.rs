//! Binary arithmetic with NumPy broadcasting: add, sub, mul, div, and their scalar forms.
//! Backward of a broadcast operand sums the gradient over the axes it was stretched along.
//!
//! | op        | forward     | ∂/∂a            | ∂/∂b               |
//! |-----------|-------------|-----------------|--------------------|
//! | add       | a + b       | g               | g                  |
//! | sub       | a − b       | g               | −g                 |
//! | mul       | a · b       | g · b           | g · a              |
//! | div       | a / b       | g / b           | −g · a / b²        |

use std::sync::Arc;

use ndarray::{IxDyn, Zip};

use crate::tensor::kernels::{map1, map1_vec, map2, map2_vec};
use crate::tensor::shape::{block_broadcast, broadcast_shape, sum_to};
use crate::tensor::{Graph, Tensor, Var};

/// out[i] = f(a[i], b[i]) with broadcasting; output in C order.
pub(crate) fn zip_with(a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) -> Tensor {
    if a.shape() == b.shape()
        && let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice())
    {
        return Tensor::from_shape_vec(a.raw_dim(), map2_vec(sa, sb, f)).expect("same shape");
    }
    if let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice()) {
        if let Some((len, inner)) = block_broadcast(a.shape(), b.shape()) {
            return Tensor::from_shape_vec(a.raw_dim(), block_zip(sa, sb, len, inner, &f))
                .expect("same shape");
        }
        if let Some((len, inner)) = block_broadcast(b.shape(), a.shape()) {
            return Tensor::from_shape_vec(
                b.raw_dim(),
                block_zip(sb, sa, len, inner, |y, x| f(x, y)),
            )
            .expect("same shape");
        }
    }
    let shape = broadcast_shape(a.shape(), b.shape());
    let av = a.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    let bv = b.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    let mut out = Tensor::zeros(IxDyn(&shape));
    Zip::from(&mut out)
        .and(&av)
        .and(&bv)
        .for_each(|o, &x, &y| *o = f(x, y));
    out
}

/// out[i] = f(full[i], small[(i / inner) % len]) (see `shape::block_broadcast`).
fn block_zip(
    full: &[f32],
    small: &[f32],
    len: usize,
    inner: usize,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let mut out = vec![0.0; full.len()];
    if inner == 1 {
        for (o, a) in out.chunks_exact_mut(len).zip(full.chunks_exact(len)) {
            map2(a, small, o, &f);
        }
    } else {
        for (i, (o, a)) in out
            .chunks_exact_mut(inner)
            .zip(full.chunks_exact(inner))
            .enumerate()
        {
            let s = small[i % len];
            map1(a, o, |x| f(x, s));
        }
    }
    out
}

/// out[i] = f(a[i]) in C order.
pub(crate) fn map_with(a: &Tensor, f: impl Fn(f32) -> f32 + Sync) -> Tensor {
    let out = match a.as_slice() {
        Some(s) => map1_vec(s, f),
        None => map1_vec(
            a.as_standard_layout().as_slice().expect("standard layout"),
            f,
        ),
    };
    Tensor::from_shape_vec(a.raw_dim(), out).expect("same shape")
}

impl Graph<'_> {
    /// a + b (broadcasting).
    pub fn add(&self, a: &Var, b: &Var) -> Var {
        let y = zip_with(a.value(), b.value(), |x, y| x + y);
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        self.record(y, &[a, b], move |g: Tensor, need| {
            // The gradient passes through: the second parent gets a copy, the first the original.
            let gb = need[1].then(|| sum_to(g.clone(), &sb));
            vec![need[0].then(|| sum_to(g, &sa)), gb]
        })
    }

    /// a − b (broadcasting).
    pub fn sub(&self, a: &Var, b: &Var) -> Var {
        let y = zip_with(a.value(), b.value(), |x, y| x - y);
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        self.record(y, &[a, b], move |g: Tensor, need| {
            let g = &g;
            vec![
                need[0].then(|| sum_to(g.clone(), &sa)),
                need[1].then(|| sum_to(map_with(g, |x| -x), &sb)),
            ]
        })
    }

    /// a · b elementwise (broadcasting).
    pub fn mul(&self, a: &Var, b: &Var) -> Var {
        let y = zip_with(a.value(), b.value(), |x, y| x * y);
        let (av, bv) = (a.arc(), b.arc());
        self.record(y, &[a, b], move |g: Tensor, need| {
            let g = &g;
            vec![
                need[0].then(|| sum_to(zip_with(g, &bv, |g, b| g * b), av.shape())),
                need[1].then(|| sum_to(zip_with(g, &av, |g, a| g * a), bv.shape())),
            ]
        })
    }

    /// a / b elementwise (broadcasting).
    pub fn div(&self, a: &Var, b: &Var) -> Var {
        let y = Arc::new(zip_with(a.value(), b.value(), |x, y| x / y));
        let (sa, bv, yv) = (a.shape().to_vec(), b.arc(), Arc::clone(&y));
        self.record_shared(y, &[a, b], move |g: Tensor, need| {
            let g = &g;
            vec![
                need[0].then(|| sum_to(zip_with(g, &bv, |g, b| g / b), &sa)),
                // ∂(a/b)/∂b = −a/b² = −y/b
                need[1].then(|| {
                    sum_to(
                        zip_with(&zip_with(g, &yv, |g, y| -g * y), &bv, |gy, b| gy / b),
                        bv.shape(),
                    )
                }),
            ]
        })
    }

    /// −x.
    pub fn neg(&self, x: &Var) -> Var {
        self.mul_scalar(x, -1.0)
    }

    /// x + c.
    pub fn add_scalar(&self, x: &Var, c: f32) -> Var {
        let y = map_with(x.value(), |v| v + c);
        self.record(y, &[x], move |g, _| vec![Some(g)])
    }

    /// c · x.
    pub fn mul_scalar(&self, x: &Var, c: f32) -> Var {
        let y = map_with(x.value(), |v| v * c);
        self.record(y, &[x], move |g, _| vec![Some(map_with(&g, |g| g * c))])
    }
}
