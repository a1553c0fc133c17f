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

use ndarray::{ArrayD, IxDyn};

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
        self.record(y, &[x], move |g: Tensor, _| {
            vec![Some(
                g.into_shape_with_order(IxDyn(&old))
                    .expect("gradients are in standard layout"),
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
        self.record(y, &[x], move |g: Tensor, _| {
            let g = &g;
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
        let mut shape = xs[0].shape().to_vec();
        for x in xs {
            let mut s = x.shape().to_vec();
            s[ax] = shape[ax];
            assert_eq!(s, shape, "concat: shapes must match except along axis {ax}");
        }
        shape[ax] = xs.iter().map(|v| v.shape()[ax]).sum();
        let (outer, inner): (usize, usize) = (
            shape[..ax].iter().product(),
            shape[ax + 1..].iter().product(),
        );
        // Each input contributes one contiguous chunk of len·inner values per outer index.
        let chunks: Vec<usize> = xs.iter().map(|v| v.shape()[ax] * inner).collect();
        let row: usize = chunks.iter().sum();
        let mut y = Vec::with_capacity(outer * row);
        for o in 0..outer {
            for (x, &c) in xs.iter().zip(&chunks) {
                y.extend_from_slice(&slice_of(x.value())[o * c..(o + 1) * c]);
            }
        }
        let y = Tensor::from_shape_vec(IxDyn(&shape), y).expect("concat shape");
        let shapes: Vec<Vec<usize>> = xs.iter().map(|v| v.shape().to_vec()).collect();
        self.record(y, xs, move |g: Tensor, need| {
            let g = &g;
            let gs = slice_of(g);
            let mut offset = 0;
            let mut out = Vec::with_capacity(chunks.len());
            for ((&c, s), &n) in chunks.iter().zip(&shapes).zip(need) {
                out.push(n.then(|| {
                    let mut piece = Vec::with_capacity(outer * c);
                    for o in 0..outer {
                        piece.extend_from_slice(&gs[o * row + offset..o * row + offset + c]);
                    }
                    Tensor::from_shape_vec(IxDyn(s), piece).expect("input shape")
                }));
                offset += c;
            }
            out
        })
    }

    /// Elements `start..end` along an axis (PyTorch's `narrow`).
    pub fn slice(&self, x: &Var, axis: isize, start: usize, end: usize) -> Var {
        let ax = norm_axis(axis, x.ndim());
        let len = x.shape()[ax];
        assert!(
            start <= end && end <= len,
            "slice {start}..{end} out of range for axis of length {len}"
        );
        let shape = x.shape().to_vec();
        let (outer, inner): (usize, usize) = (
            shape[..ax].iter().product(),
            shape[ax + 1..].iter().product(),
        );
        let (row, lo, hi) = (len * inner, start * inner, end * inner);
        let xs = slice_of(x.value());
        let mut y = Vec::with_capacity(outer * (hi - lo));
        for o in 0..outer {
            y.extend_from_slice(&xs[o * row + lo..o * row + hi]);
        }
        let mut out_shape = shape.clone();
        out_shape[ax] = end - start;
        let y = Tensor::from_shape_vec(IxDyn(&out_shape), y).expect("slice shape");
        self.record(y, &[x], move |g: Tensor, _| {
            let g = &g;
            let gs = slice_of(g);
            let mut gx = vec![0.0f32; outer * row];
            for o in 0..outer {
                gx[o * row + lo..o * row + hi]
                    .copy_from_slice(&gs[o * (hi - lo)..(o + 1) * (hi - lo)]);
            }
            vec![Some(
                Tensor::from_shape_vec(IxDyn(&shape), gx).expect("input shape"),
            )]
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
        self.record(y, &[table], move |g: Tensor, _| {
            let g = &g;
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
        self.record(y, &[x], move |g: Tensor, _| {
            let g = &g;
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

fn slice_of(t: &Tensor) -> &[f32] {
    t.as_slice()
        .expect("tensors on the tape are in standard layout")
}

fn standard_bool(m: ArrayD<bool>) -> ArrayD<bool> {
    if m.is_standard_layout() {
        m
    } else {
        m.as_standard_layout().into_owned()
    }
}
