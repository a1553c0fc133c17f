//! Losses, fused for speed and stability.
//!
//! | op                   | forward                                   | backward                          |
//! |----------------------|-------------------------------------------|-----------------------------------|
//! | cross_entropy(x, t)  | mean over rows of lse(x) − x_t           | (softmax(x) − onehot(t)) · g / N  |
//! | mse(a, b)            | mean (a − b)²                             | ±2(a − b) · g / n                 |
//! | bce_with_logits(x,y) | max(x,0) − x·y + ln(1 + e^−|x|)  (each)   | x: (σ(x) − y)·g ; y: −x·g         |

use ndarray::IxDyn;

use super::arith::{map_with, zip_with};
use super::softmax::{slice, softmax_rows};
use crate::tensor::kernels::{exp_fast, log1p_exp_neg_abs, map3, sigmoid};
use crate::tensor::{Graph, Tensor, Var};

impl Graph<'_> {
    /// Mean cross-entropy of logits (…, C) against integer classes, one per row. Panics if a
    /// class is out of range.
    pub fn cross_entropy(&self, logits: &Var, targets: &[usize]) -> Var {
        let c = *logits.shape().last().expect("cross_entropy of a scalar");
        let rows = logits.len() / c.max(1);
        assert_eq!(
            targets.len(),
            rows,
            "cross_entropy: {rows} rows but {} targets",
            targets.len()
        );
        let mut logp = vec![0.0; logits.len()];
        softmax_rows(slice(logits.value()), &mut logp, c, true);
        let mut loss = 0.0f64;
        for (r, &t) in targets.iter().enumerate() {
            assert!(t < c, "class {t} out of range for {c} classes");
            loss -= logp[r * c + t] as f64;
        }
        let loss = (loss / rows.max(1) as f64) as f32;
        let targets = targets.to_vec();
        let shape = logits.shape().to_vec();
        self.record(
            Tensor::from_elem(IxDyn(&[]), loss),
            &[logits],
            move |g: Tensor, _| {
                let g = &g;
                let scale = g.iter().copied().next().unwrap_or(0.0) / rows.max(1) as f32;
                let mut gx = logp;
                for v in gx.iter_mut() {
                    *v = exp_fast(*v) * scale;
                }
                for (r, &t) in targets.iter().enumerate() {
                    gx[r * c + t] -= scale;
                }
                vec![Some(
                    Tensor::from_shape_vec(IxDyn(&shape), gx).expect("logits shape"),
                )]
            },
        )
    }

    /// Mean squared error over all elements (shapes must match).
    pub fn mse(&self, a: &Var, b: &Var) -> Var {
        assert_eq!(a.shape(), b.shape(), "mse: shapes differ");
        let n = a.len().max(1) as f32;
        let diff = zip_with(a.value(), b.value(), |x, y| x - y);
        let loss = slice(&diff).iter().map(|d| (d * d) as f64).sum::<f64>() / n as f64;
        self.record(
            Tensor::from_elem(IxDyn(&[]), loss as f32),
            &[a, b],
            move |g: Tensor, need| {
                let g = &g;
                let s = 2.0 * g.iter().copied().next().unwrap_or(0.0) / n;
                let ga = map_with(&diff, |d| d * s);
                let gb = need[1].then(|| map_with(&ga, |v| -v));
                vec![need[0].then_some(ga), gb]
            },
        )
    }

    /// Binary cross-entropy of logits x against targets y in [0, 1], elementwise (no
    /// reduction; follow with `mean_all` or `sum_axis`).
    pub fn bce_with_logits(&self, x: &Var, y: &Var) -> Var {
        assert_eq!(x.shape(), y.shape(), "bce_with_logits: shapes differ");
        let l = zip_with(x.value(), y.value(), |x, y| {
            x.max(0.0) - x * y + log1p_exp_neg_abs(x)
        });
        let (xv, yv) = (x.arc(), y.arc());
        self.record(l, &[x, y], move |g: Tensor, need| {
            let g = &g;
            let gx = need[0].then(|| {
                let mut out = vec![0.0; g.len()];
                map3(slice(&xv), slice(&yv), slice(g), &mut out, |x, y, g| {
                    (sigmoid(x) - y) * g
                });
                Tensor::from_shape_vec(g.raw_dim(), out).expect("same shape")
            });
            let gy = need[1].then(|| zip_with(&xv, g, |x, g| -x * g));
            vec![gx, gy]
        })
    }
}
