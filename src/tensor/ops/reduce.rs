//! Reductions: sum and mean (over everything or one axis) and max over one axis.
//!
//! | op            | forward               | backward                                         |
//! |---------------|-----------------------|--------------------------------------------------|
//! | sum_all       | Σ x                   | g broadcast to x's shape                         |
//! | mean_all      | Σ x / n               | g / n broadcast                                  |
//! | sum_axis(a)   | Σₐ x                  | g broadcast back along a                         |
//! | mean_axis(a)  | Σₐ x / nₐ             | g / nₐ broadcast back along a                    |
//! | max_axis(a)   | maxₐ x                | g to the (first) arg-max along a, 0 elsewhere    |

use ndarray::{Axis, IxDyn};

use crate::tensor::kernels;
use crate::tensor::shape::{axis as norm_axis, standard};
use crate::tensor::{Graph, Tensor, Var};

/// Spreads `g` (reduced along `ax`, possibly without the axis) back over `shape`.
fn expand_along(g: &Tensor, ax: usize, shape: &[usize], scale: f32) -> Tensor {
    let g = if g.ndim() < shape.len() {
        g.view().insert_axis(Axis(ax))
    } else {
        g.view()
    };
    let b = g
        .broadcast(IxDyn(shape))
        .expect("reduced shape broadcasts back");
    if scale == 1.0 {
        b.to_owned()
    } else {
        b.mapv(|v| v * scale)
    }
}

impl Graph<'_> {
    /// Sum of all elements, as a scalar (shape `[]`).
    pub fn sum_all(&self, x: &Var) -> Var {
        let s = match x.value().as_slice() {
            Some(s) => kernels::sum(s),
            None => x.value().sum(),
        };
        let shape = x.shape().to_vec();
        self.record(
            Tensor::from_elem(IxDyn(&[]), s),
            &[x],
            move |g: Tensor, _| {
                let g = &g;
                vec![Some(Tensor::from_elem(
                    IxDyn(&shape),
                    g.iter().copied().sum::<f32>(),
                ))]
            },
        )
    }

    /// Mean of all elements, as a scalar.
    pub fn mean_all(&self, x: &Var) -> Var {
        let n = x.len().max(1) as f32;
        let s = self.sum_all(x);
        self.mul_scalar(&s, 1.0 / n)
    }

    /// Sum along one axis (negative counts from the end); `keepdim` keeps it with length 1.
    pub fn sum_axis(&self, x: &Var, axis: isize, keepdim: bool) -> Var {
        self.reduce_mean_or_sum(x, axis, keepdim, false)
    }

    /// Mean along one axis.
    pub fn mean_axis(&self, x: &Var, axis: isize, keepdim: bool) -> Var {
        self.reduce_mean_or_sum(x, axis, keepdim, true)
    }

    fn reduce_mean_or_sum(&self, x: &Var, axis: isize, keepdim: bool, mean: bool) -> Var {
        let ax = norm_axis(axis, x.ndim());
        let n = x.shape()[ax] as f32;
        let scale = if mean { 1.0 / n } else { 1.0 };
        let mut y = x.value().sum_axis(Axis(ax));
        if mean {
            y.mapv_inplace(|v| v * scale);
        }
        let y = if keepdim { y.insert_axis(Axis(ax)) } else { y };
        let shape = x.shape().to_vec();
        self.record(standard(y), &[x], move |g: Tensor, _| {
            let g = &g;
            vec![Some(expand_along(g, ax, &shape, scale))]
        })
    }

    /// Maximum along one axis. The gradient goes to the first maximal element.
    pub fn max_axis(&self, x: &Var, axis: isize, keepdim: bool) -> Var {
        let ax = norm_axis(axis, x.ndim());
        let xv = x.value();
        let mut arg = Vec::with_capacity(xv.len() / xv.shape()[ax].max(1));
        let mut vals = Vec::with_capacity(arg.capacity());
        for lane in xv.lanes(Axis(ax)) {
            let (mut bi, mut bv) = (0usize, f32::NEG_INFINITY);
            for (i, &v) in lane.iter().enumerate() {
                if v > bv || i == 0 {
                    bi = i;
                    bv = v;
                }
            }
            arg.push(bi);
            vals.push(bv);
        }
        let mut out_shape = xv.shape().to_vec();
        out_shape.remove(ax);
        let y = Tensor::from_shape_vec(IxDyn(&out_shape), vals).expect("one value per lane");
        let y = if keepdim { y.insert_axis(Axis(ax)) } else { y };
        let shape = x.shape().to_vec();
        self.record(standard(y), &[x], move |g: Tensor, _| {
            let g = &g;
            let mut gx = Tensor::zeros(IxDyn(&shape));
            let gflat: Vec<f32> = g.iter().copied().collect();
            for ((mut lane, &i), &gv) in gx.lanes_mut(Axis(ax)).into_iter().zip(&arg).zip(&gflat) {
                lane[i] = gv;
            }
            vec![Some(gx)]
        })
    }
}
