//! Softmax and log-softmax over the last axis, fused (one pass for the max, one for the sum),
//! with the fast exp.
//!
//! | op           | forward                       | backward (per row)            |
//! |--------------|-------------------------------|-------------------------------|
//! | softmax      | y = eˣ⁻ᵐ / Σ eˣ⁻ᵐ             | gx = y ⊙ (g − Σ g⊙y)          |
//! | log_softmax  | y = x − m − ln Σ eˣ⁻ᵐ         | gx = g − eʸ · Σ g             |

use std::sync::Arc;

use crate::tensor::kernels::{dot16, exp_fast, max16, sum16};
use crate::tensor::{Graph, Tensor, Var};

crate::simd_fn! {
    /// Writes softmax (or log-softmax) of each row of length `c` of `x` into `y`.
    pub(crate) fn softmax_rows(x: &[f32], y: &mut [f32], c: usize, log: bool) {
        for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
            let m = max16(xr);
            let m = if m.is_finite() { m } else { 0.0 };
            for (o, &v) in yr.iter_mut().zip(xr) {
                *o = exp_fast(v - m);
            }
            let s = sum16(yr);
            if log {
                let lse = m + s.ln();
                for (o, &v) in yr.iter_mut().zip(xr) {
                    *o = v - lse;
                }
            } else {
                let inv = 1.0 / s;
                for o in yr.iter_mut() {
                    *o *= inv;
                }
            }
        }
    }
}

crate::simd_fn! {
    /// gx = y ⊙ (g − Σ g⊙y), row by row.
    fn softmax_backward(g: &[f32], y: &[f32], gx: &mut [f32], c: usize) {
        for ((gr, yr), out) in g.chunks_exact(c).zip(y.chunks_exact(c)).zip(gx.chunks_exact_mut(c)) {
            let dot = dot16(gr, yr);
            for ((o, &g), &y) in out.iter_mut().zip(gr).zip(yr) {
                *o = y * (g - dot);
            }
        }
    }
}

crate::simd_fn! {
    /// gx = g − eʸ · Σ g, row by row (y is the log-softmax).
    fn log_softmax_backward(g: &[f32], y: &[f32], gx: &mut [f32], c: usize) {
        for ((gr, yr), out) in g.chunks_exact(c).zip(y.chunks_exact(c)).zip(gx.chunks_exact_mut(c)) {
            let sum = sum16(gr);
            for ((o, &g), &y) in out.iter_mut().zip(gr).zip(yr) {
                *o = g - exp_fast(y) * sum;
            }
        }
    }
}

fn last_dim(x: &Var) -> usize {
    *x.shape().last().expect("softmax of a scalar")
}

impl Graph<'_> {
    /// Softmax over the last axis.
    pub fn softmax(&self, x: &Var) -> Var {
        let c = last_dim(x);
        let mut y = Tensor::zeros(x.value().raw_dim());
        softmax_rows(slice(x.value()), y.as_slice_mut().expect("fresh"), c, false);
        let y = Arc::new(y);
        let yv = Arc::clone(&y);
        self.record_shared(y, &[x], move |g: Tensor, _| {
            let g = &g;
            let mut gx = Tensor::zeros(g.raw_dim());
            softmax_backward(slice(g), slice(&yv), gx.as_slice_mut().expect("fresh"), c);
            vec![Some(gx)]
        })
    }

    /// log(softmax(x)) over the last axis, computed stably.
    pub fn log_softmax(&self, x: &Var) -> Var {
        let c = last_dim(x);
        let mut y = Tensor::zeros(x.value().raw_dim());
        softmax_rows(slice(x.value()), y.as_slice_mut().expect("fresh"), c, true);
        let y = Arc::new(y);
        let yv = Arc::clone(&y);
        self.record_shared(y, &[x], move |g: Tensor, _| {
            let g = &g;
            let mut gx = Tensor::zeros(g.raw_dim());
            log_softmax_backward(slice(g), slice(&yv), gx.as_slice_mut().expect("fresh"), c);
            vec![Some(gx)]
        })
    }
}

pub(crate) fn slice(t: &Tensor) -> &[f32] {
    t.as_slice()
        .expect("tensors on the tape are in standard layout")
}
