//! Fused self-attention, causal (a language model's) or full (a U-Net's, over pixels): the
//! products, mask and softmax of multi-head attention in one op, reading q, k and v straight
//! out of the (B, T, 3D) projection through strided views, so no head is ever copied into its
//! own array. The same computation as the unfused ops (`matmul_nt`, `masked_fill`, `softmax`,
//! `matmul`), which the tests compare it against.
//!
//! Per batch b and head h, with Q, K, V (T, hd) and s = 1/√hd:
//!
//! | quantity | forward                              | backward                              |
//! |----------|--------------------------------------|---------------------------------------|
//! | S        | s·Q·Kᵀ (causal: −∞ above diagonal)   | dS = P ⊙ (dP − rowsum(dP ⊙ P)) · s    |
//! | P        | softmax(S) (rows)                    | dP = dY·Vᵀ                            |
//! | Y        | P·V                                  | dV = Pᵀ·dY ; dQ = dS·K ; dK = dSᵀ·Q   |

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::softmax::slice;
use crate::tensor::kernels::{dot16, exp_fast, max16, sum16};
use crate::tensor::matmul::gemm_into_threads;
use crate::tensor::parallel::{par_items, threads_for};
use crate::tensor::{Graph, Tensor, Var};

/// A (rows, cols) view with the given row stride into a flat buffer.
fn strided(
    s: &[f32],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols).strides((row_stride, 1)), &s[offset..])
        .expect("view inside the buffer")
}

fn strided_mut(
    s: &mut [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols).strides((row_stride, 1)), &mut s[offset..])
        .expect("view inside the buffer")
}

crate::simd_fn! {
    /// Softmax of each row i of the (T, T) scores: causal, over columns 0..=i with zeros
    /// above; otherwise over the whole row.
    fn row_softmax(p: &mut [f32], t: usize, causal: bool) {
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let (live, dead) = row.split_at_mut(if causal { i + 1 } else { t });
            let m = max16(live);
            for v in live.iter_mut() {
                *v = exp_fast(*v - m);
            }
            let inv = 1.0 / sum16(live);
            for v in live.iter_mut() {
                *v *= inv;
            }
            dead.fill(0.0);
        }
    }
}

crate::simd_fn! {
    /// dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale, in place of dP.
    fn softmax_grad(dp: &mut [f32], p: &[f32], t: usize, scale: f32) {
        for (drow, prow) in dp.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
            let dot = dot16(drow, prow);
            for (d, &pv) in drow.iter_mut().zip(prow) {
                *d = pv * (*d - dot) * scale;
            }
        }
    }
}

impl Graph<'_> {
    /// Causal multi-head attention from the fused projection `qkv` (B, T, 3D), laid out as
    /// [q | k | v] with heads side by side in each; returns the heads' outputs (B, T, D).
    pub fn causal_attention(&self, qkv: &Var, heads: usize) -> Var {
        self.attention(qkv, heads, true)
    }

    /// Multi-head attention of every position to every position (no mask), from the fused
    /// projection `qkv` (B, T, 3D) as in [`Graph::causal_attention`]; returns (B, T, D).
    pub fn full_attention(&self, qkv: &Var, heads: usize) -> Var {
        self.attention(qkv, heads, false)
    }

    fn attention(&self, qkv: &Var, heads: usize, causal: bool) -> Var {
        assert_eq!(qkv.ndim(), 3, "attention needs (B, T, 3D)");
        let (b, t, d3) = (qkv.shape()[0], qkv.shape()[1], qkv.shape()[2]);
        assert!(
            d3 % 3 == 0 && (d3 / 3) % heads == 0,
            "attention: width {d3} is not 3·heads·hd"
        );
        let d = d3 / 3;
        let hd = d / heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let threads = threads_for(b * heads * t * t * hd * 2);
        let qv = qkv.arc();
        let mut y = vec![0.0f32; b * t * d];
        let mut probs = vec![0.0f32; b * heads * t * t];
        // Split the batch: each thread owns its rows of y and of the saved probabilities.
        {
            let src = slice(&qv);
            let mut parts: Vec<(&mut [f32], &mut [f32])> = Vec::new();
            let (ya, yb) = y.split_at_mut((b / 2) * t * d);
            let (pa, pb) = probs.split_at_mut((b / 2) * heads * t * t);
            parts.push((ya, pa));
            parts.push((yb, pb));
            let run = |b0: usize, yp: &mut [f32], pp: &mut [f32]| {
                for bi in 0..yp.len() / (t * d) {
                    let base = (b0 + bi) * t * d3;
                    for h in 0..heads {
                        let p = &mut pp[(bi * heads + h) * t * t..][..t * t];
                        let q = strided(src, base + h * hd, t, hd, d3);
                        let k = strided(src, base + d + h * hd, t, hd, d3);
                        let v = strided(src, base + 2 * d + h * hd, t, hd, d3);
                        gemm_into_threads(
                            q,
                            k.t(),
                            ArrayViewMut2::from_shape((t, t), &mut *p).expect("t×t"),
                            false,
                            1,
                        );
                        for x in p.iter_mut() {
                            *x *= scale;
                        }
                        row_softmax(p, t, causal);
                        let out = strided_mut(yp, bi * t * d + h * hd, t, hd, d);
                        gemm_into_threads(
                            ArrayView2::from_shape((t, t), &*p).expect("t×t"),
                            v,
                            out,
                            false,
                            1,
                        );
                    }
                }
            };
            let (first, second) = parts.split_at_mut(1);
            let (ya, pa) = &mut first[0];
            let (yb, pb) = &mut second[0];
            if threads > 1 && b > 1 {
                rayon::join(|| run(0, ya, pa), || run(b / 2, yb, pb));
            } else {
                run(0, ya, pa);
                run(b / 2, yb, pb);
            }
        }
        let y = Tensor::from_shape_vec(ndarray::IxDyn(&[b, t, d]), y).expect("(B, T, D)");
        self.record(y, &[qkv], move |g: Tensor, _| {
            let g = &g;
            let gs = slice(g);
            let src = slice(&qv);
            let mut gqkv = vec![0.0f32; b * t * d3];
            par_items(&mut gqkv, b, threads, |items, gpart| {
                let mut dp = vec![0.0f32; t * t];
                for (bi, bidx) in items.clone().enumerate() {
                    let base = bidx * t * d3;
                    for h in 0..heads {
                        let p = &probs[(bidx * heads + h) * t * t..][..t * t];
                        let pv = ArrayView2::from_shape((t, t), p).expect("t×t");
                        let q = strided(src, base + h * hd, t, hd, d3);
                        let k = strided(src, base + d + h * hd, t, hd, d3);
                        let v = strided(src, base + 2 * d + h * hd, t, hd, d3);
                        let gy = strided(gs, bidx * t * d + h * hd, t, hd, d);
                        let lb = bi * t * d3;
                        // dV = Pᵀ·dY
                        gemm_into_threads(
                            pv.t(),
                            gy,
                            strided_mut(gpart, lb + 2 * d + h * hd, t, hd, d3),
                            false,
                            1,
                        );
                        // dP = dY·Vᵀ, then dS in place
                        gemm_into_threads(
                            gy,
                            v.t(),
                            ArrayViewMut2::from_shape((t, t), &mut dp[..]).expect("t×t"),
                            false,
                            1,
                        );
                        softmax_grad(&mut dp, p, t, scale);
                        let ds = ArrayView2::from_shape((t, t), &dp[..]).expect("t×t");
                        // dQ = dS·K ; dK = dSᵀ·Q
                        gemm_into_threads(
                            ds,
                            k,
                            strided_mut(gpart, lb + h * hd, t, hd, d3),
                            false,
                            1,
                        );
                        gemm_into_threads(
                            ds.t(),
                            q,
                            strided_mut(gpart, lb + d + h * hd, t, hd, d3),
                            false,
                            1,
                        );
                    }
                }
            });
            vec![Some(
                Tensor::from_shape_vec(ndarray::IxDyn(&[b, t, d3]), gqkv).expect("(B, T, 3D)"),
            )]
        })
    }
}
