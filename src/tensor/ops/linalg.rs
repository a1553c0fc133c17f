//! Matrix products on the tape: `matmul` (a·b), `matmul_nt` (a·bᵀ, for attention scores and
//! PyTorch-layout weights) and `linear` (x·W + b with the bias fused), each over a plain or
//! batched leading shape. Backward uses transposed *views*, never copies:
//!
//! | op            | forward   | ∂/∂a      | ∂/∂b       |
//! |---------------|-----------|-----------|------------|
//! | matmul        | a·b       | g·bᵀ      | aᵀ·g       |
//! | matmul_nt     | a·bᵀ      | g·b       | gᵀ·a       |
//! | linear        | x·W + β   | g·Wᵀ      | xᵀ·g ; Σ g |
//!
//! Shapes: a is (…, m, k). If b is 2-D, a's leading axes are flattened into rows (one big
//! product). Otherwise b must have a's leading axes (a batch of products).

use ndarray::{Array2, ArrayView2, ArrayView3, IxDyn};

use crate::tensor::kernels::add_assign;
use crate::tensor::matmul::{batched_gemm_into, gemm_into};
use crate::tensor::{Graph, Tensor, Var};

fn view2(t: &Tensor, rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    t.view()
        .into_shape_with_order((rows, cols))
        .expect("standard layout reshapes")
}

fn view3(t: &Tensor, b: usize, r: usize, c: usize) -> ArrayView3<'_, f32> {
    t.view()
        .into_shape_with_order((b, r, c))
        .expect("standard layout reshapes")
}

fn last2(t: &Tensor) -> (usize, usize, usize) {
    let s = t.shape();
    let n = s.len();
    assert!(n >= 2, "matmul needs at least 2-D operands, got {s:?}");
    (s[..n - 2].iter().product(), s[n - 2], s[n - 1])
}

/// c = a·b (or a·bᵀ) where a (rows, k) and b is 2-D.
fn mm2(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let mut c = Array2::zeros((a.dim().0, b.dim().1));
    gemm_into(a, b, c.view_mut(), false);
    c
}

fn mm3(a: ArrayView3<f32>, b: ArrayView3<f32>) -> ndarray::Array3<f32> {
    let mut c = ndarray::Array3::zeros((a.dim().0, a.dim().1, b.dim().2));
    batched_gemm_into(a, b, c.view_mut(), false);
    c
}

fn tr<'a>(v: ArrayView3<'a, f32>) -> ArrayView3<'a, f32> {
    v.permuted_axes([0, 2, 1])
}

fn out_shape(a: &[usize], n: usize) -> Vec<usize> {
    let mut s = a.to_vec();
    *s.last_mut().expect("at least 1-D") = n;
    s
}

impl Graph<'_> {
    /// a·b over the last two axes (see the module doc for batching).
    pub fn matmul(&self, a: &Var, b: &Var) -> Var {
        self.matmul_impl(a, b, false)
    }

    /// a·bᵀ over the last two axes: b is (…, n, k).
    pub fn matmul_nt(&self, a: &Var, b: &Var) -> Var {
        self.matmul_impl(a, b, true)
    }

    fn matmul_impl(&self, a: &Var, b: &Var, bt: bool) -> Var {
        let k = *a.shape().last().expect("matmul of a scalar");
        let (av, bv) = (a.arc(), b.arc());
        if b.ndim() == 2 {
            let rows = a.len() / k.max(1);
            let (b0, b1) = (b.shape()[0], b.shape()[1]);
            let n = if bt { b0 } else { b1 };
            let bview = if bt {
                bv.view()
                    .into_dimensionality()
                    .expect("2-D")
                    .reversed_axes()
            } else {
                view2(&bv, b0, b1)
            };
            let y = mm2(view2(&av, rows, k), bview);
            let y = y
                .into_shape_with_order(IxDyn(&out_shape(a.shape(), n)))
                .expect("contiguous");
            return self.record(y, &[a, b], move |g: Tensor, need| {
                let g = &g;
                let g2 = view2(g, rows, n);
                let a2 = view2(&av, rows, k);
                let b2 = view2(&bv, b0, b1);
                let ga = need[0].then(|| {
                    let ga = if bt { mm2(g2, b2) } else { mm2(g2, b2.t()) };
                    ga.into_shape_with_order(IxDyn(av.shape()))
                        .expect("contiguous")
                });
                let gb = need[1].then(|| {
                    let gb = if bt { mm2(g2.t(), a2) } else { mm2(a2.t(), g2) };
                    gb.into_dyn()
                });
                vec![ga, gb]
            });
        }
        let (batch, m, ka) = last2(&av);
        let (batch_b, b0, b1) = last2(&bv);
        assert_eq!(
            a.shape()[..a.ndim() - 2],
            b.shape()[..b.ndim() - 2],
            "batched matmul: leading axes differ"
        );
        debug_assert_eq!(batch, batch_b);
        let (kb, n) = if bt { (b1, b0) } else { (b0, b1) };
        assert_eq!(
            ka,
            kb,
            "matmul: inner dimensions differ ({:?} · {:?})",
            a.shape(),
            b.shape()
        );
        let b3 = view3(&bv, batch, b0, b1);
        let y = mm3(
            view3(&av, batch, m, ka),
            if bt { b3.permuted_axes([0, 2, 1]) } else { b3 },
        );
        let y = y
            .into_shape_with_order(IxDyn(&out_shape(a.shape(), n)))
            .expect("contiguous");
        self.record(y, &[a, b], move |g: Tensor, need| {
            let g = &g;
            let g3 = view3(g, batch, m, n);
            let a3 = view3(&av, batch, m, ka);
            let b3 = view3(&bv, batch, b0, b1);
            let ga = need[0].then(|| {
                let ga = if bt { mm3(g3, b3) } else { mm3(g3, tr(b3)) };
                ga.into_shape_with_order(IxDyn(av.shape()))
                    .expect("contiguous")
            });
            let gb = need[1].then(|| {
                let gb = if bt { mm3(tr(g3), a3) } else { mm3(tr(a3), g3) };
                gb.into_shape_with_order(IxDyn(bv.shape()))
                    .expect("contiguous")
            });
            vec![ga, gb]
        })
    }

    /// x·W + b with W stored (in, out) and b of shape (out); x is (…, in). The forward product
    /// is then a plain A·B, the fastest kind, and the slower A·Bᵀ falls to the input gradient,
    /// which the first layer of a network never needs. (`nn::Linear` saves W transposed, in
    /// PyTorch's (out, in) layout.)
    pub fn linear(&self, x: &Var, w: &Var, b: Option<&Var>) -> Var {
        let Some(b) = b else {
            return self.matmul(x, w);
        };
        let (in_f, out_f) = (w.shape()[0], w.shape()[1]);
        assert_eq!(
            *x.shape().last().expect("linear of a scalar"),
            in_f,
            "linear: x {:?} vs weight {:?}",
            x.shape(),
            w.shape()
        );
        assert_eq!(b.shape(), [out_f], "linear: bias must be ({out_f})");
        let rows = x.len() / in_f.max(1);
        let (xv, wv) = (x.arc(), w.arc());
        // Start from the bias in every row, then accumulate the product onto it.
        let bias = b.value().as_slice().expect("standard layout");
        let mut y = Vec::with_capacity(rows * out_f);
        for _ in 0..rows {
            y.extend_from_slice(bias);
        }
        let mut y = Array2::from_shape_vec((rows, out_f), y).expect("rows × out");
        gemm_into(
            view2(&xv, rows, in_f),
            view2(&wv, in_f, out_f),
            y.view_mut(),
            true,
        );
        let y = y
            .into_shape_with_order(IxDyn(&out_shape(x.shape(), out_f)))
            .expect("contiguous");
        self.record(y, &[x, w, b], move |g: Tensor, need| {
            let g = &g;
            let g2 = view2(g, rows, out_f);
            let gx = need[0].then(|| {
                mm2(g2, view2(&wv, in_f, out_f).reversed_axes())
                    .into_shape_with_order(IxDyn(xv.shape()))
                    .expect("contiguous")
            });
            let gw = need[1].then(|| mm2(view2(&xv, rows, in_f).reversed_axes(), g2).into_dyn());
            let gb = need[2].then(|| {
                let mut gb = vec![0.0f32; out_f];
                for row in g.as_slice().expect("standard layout").chunks_exact(out_f) {
                    add_assign(&mut gb, row);
                }
                Tensor::from_shape_vec(IxDyn(&[out_f]), gb).expect("(out)")
            });
            vec![gx, gw, gb]
        })
    }
}
