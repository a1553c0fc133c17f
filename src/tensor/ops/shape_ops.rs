//! Ops that move data without arithmetic: reshape, permute/transpose, concat, slice, gather of
//! rows (embedding lookup) and masked fill. Each backward moves the gradient back the same way.
//!
//! | op                      | backward                                               |
//! |-------------------------|--------------------------------------------------------|
//! | reshape                 | reshape g to x's shape                                 |
//! | permute(p)              | permute g by the inverse of p                          |
//! | concat(xs, a)           | slice g along a into the inputs' pieces                |
//! | slice(x, a, s..e)       | g placed into zeros of x's shape at s..e               |
//! | gather_rows(t, ids)     | scatter-add g's rows into a zero table at ids          |
//! | masked_fill(x, m, v)    | g where m is false, 0 where m is true                  |

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use crate::tensor::shape::{axis as norm_axis, broadcast_shape, numel, standard};
use crate::tensor::{Graph, Tensor, Var};

impl Graph<'_> {
    /// Same data, new shape (element count must match).
    pub fn reshape(&self, x: &Var, shape: &[usize]) -> Var {
        assert_eq!(
            numel(shape),
            x.len(),
            "cannot reshape {:?} to {shape:?}",
            x.shape()
        );
        let y = x
            .value()
            .to_shape(IxDyn(shape))
            .expect("standard layout reshapes")
            .into_owned();
        let old = x.shape().to_vec();
        self.record(y, &[x], move |g, _| {
            vec![Some(
                g.to_shape(IxDyn(&old))
                    .expect("standard layout")
                    .into_owned(),
            )]
        })
    }

    /// Reorders axes: output axis i is input axis `perm[i]`.
    pub fn permute(&self, x: &Var, perm: &[usize]) -> Var {
        let y = standard(x.value().view().permuted_axes(IxDyn(perm)).to_owned());
        let mut inv = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        self.record(y, &[x], move |g, _| {
            vec![Some(standard(
                g.view().permuted_axes(IxDyn(&inv)).to_owned(),
            ))]
        })
    }

    /// Swaps two axes (negative counts from the end).
    pub fn transpose(&self, x: &Var, a: isize, b: isize) -> Var {
        let (a, b) = (norm_axis(a, x.ndim()), norm_axis(b, x.ndim()));
        let mut perm: Vec<usize> = (0..x.ndim()).collect();
        perm.swap(a, b);
        self.permute(x, &perm)
    }

    /// Joins tensors along an axis; all other axes must match.
    pub fn concat(&self, xs: &[&Var], axis: isize) -> Var {
        assert!(!xs.is_empty(), "concat of nothing");
        let ax = norm_axis(axis, xs[0].ndim());
        let views: Vec<_> = xs.iter().map(|v| v.value().view()).collect();
        let y = standard(
            ndarray::concatenate(Axis(ax), &views)
                .expect("concat: shapes must match except along the axis"),
        );
        let sizes: Vec<usize> = xs.iter().map(|v| v.shape()[ax]).collect();
        self.record(y, xs, move |g, need| {
            let mut start = 0;
            sizes
                .iter()
                .zip(need)
                .map(|(&len, &n)| {
                    let piece = n.then(|| {
                        g.slice_axis(Axis(ax), Slice::from(start..start + len))
                            .to_owned()
                    });
                    start += len;
                    piece.map(standard)
                })
                .collect()
        })
    }

    /// Elements `start..end` along an axis (PyTorch's `narrow`).
    pub fn slice(&self, x: &Var, axis: isize, start: usize, end: usize) -> Var {
        let ax = norm_axis(axis, x.ndim());
        assert!(
            start <= end && end <= x.shape()[ax],
            "slice {start}..{end} out of range for axis of length {}",
            x.shape()[ax]
        );
        let y = standard(
            x.value()
                .slice_axis(Axis(ax), Slice::from(start..end))
                .to_owned(),
        );
        let shape = x.shape().to_vec();
        self.record(y, &[x], move |g, _| {
            let mut gx = Tensor::zeros(IxDyn(&shape));
            gx.slice_axis_mut(Axis(ax), Slice::from(start..end))
                .assign(g);
            vec![Some(gx)]
        })
    }

    /// Rows of a table (V, D) picked by `ids`: output shape `index_shape + [D]`. The embedding
    /// lookup. Panics if an id is out of range.
    pub fn gather_rows(&self, table: &Var, ids: &[usize], index_shape: &[usize]) -> Var {
        assert_eq!(table.ndim(), 2, "gather_rows needs a (rows, dim) table");
        assert_eq!(
            numel(index_shape),
            ids.len(),
            "index shape does not match the number of ids"
        );
        let (rows, d) = (table.shape()[0], table.shape()[1]);
        let src = table.value().as_slice().expect("standard layout");
        let mut out = Vec::with_capacity(ids.len() * d);
        for &i in ids {
            assert!(i < rows, "id {i} out of range for a table of {rows} rows");
            out.extend_from_slice(&src[i * d..(i + 1) * d]);
        }
        let mut shape = index_shape.to_vec();
        shape.push(d);
        let y = Tensor::from_shape_vec(IxDyn(&shape), out).expect("one row per id");
        let ids = ids.to_vec();
        self.record(y, &[table], move |g, _| {
            let mut gt = vec![0.0f32; rows * d];
            let gs = g.as_slice().expect("standard layout");
            for (n, &i) in ids.iter().enumerate() {
                for (acc, &v) in gt[i * d..(i + 1) * d]
                    .iter_mut()
                    .zip(&gs[n * d..(n + 1) * d])
                {
                    *acc += v;
                }
            }
            vec![Some(
                Tensor::from_shape_vec(IxDyn(&[rows, d]), gt).expect("table shape"),
            )]
        })
    }

    /// x with `value` wherever `mask` is true (mask broadcasts to x's shape).
    pub fn masked_fill(&self, x: &Var, mask: &ArrayD<bool>, value: f32) -> Var {
        let shape = broadcast_shape(x.shape(), mask.shape());
        assert_eq!(
            shape,
            x.shape(),
            "mask {:?} must broadcast to x {:?}",
            mask.shape(),
            x.shape()
        );
        let m = standard_bool(mask.broadcast(IxDyn(&shape)).expect("checked").to_owned());
        let mut y = x.to_tensor();
        ndarray::Zip::from(&mut y).and(&m).for_each(|y, &m| {
            if m {
                *y = value;
            }
        });
        self.record(y, &[x], move |g, _| {
            let mut gx = g.clone();
            ndarray::Zip::from(&mut gx).and(&m).for_each(|g, &m| {
                if m {
                    *g = 0.0;
                }
            });
            vec![Some(gx)]
        })
    }
}

fn standard_bool(m: ArrayD<bool>) -> ArrayD<bool> {
    if m.is_standard_layout() {
        m
    } else {
        m.as_standard_layout().into_owned()
    }
}
