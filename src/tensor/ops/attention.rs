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

/// The sizes of one attention op: a batch of `b` sequences of `t` positions, `heads` heads
/// of width `hd` side by side in each of q, k and v (D = heads·hd), the scale s = 1/√hd,
/// whether it is causal, and the threads the batch is split between.
#[derive(Clone, Copy)]
struct Heads {
    b: usize,
    t: usize,
    d: usize,
    heads: usize,
    hd: usize,
    scale: f32,
    causal: bool,
    threads: usize,
}

impl Heads {
    /// Q, K and V (T, hd) of head h, read out of the (T, 3D) rows of one sequence that start
    /// at `base` in the projection.
    fn qkv<'a>(&self, src: &'a [f32], base: usize, h: usize) -> [ArrayView2<'a, f32>; 3] {
        let (t, d, hd) = (self.t, self.d, self.hd);
        [0, d, 2 * d].map(|part| strided(src, base + part + h * hd, t, hd, 3 * d))
    }

    /// Y (B, T, D) and the probabilities P (B, heads, T, T) that backward needs. The first
    /// half of the batch and the second run on two threads when there are two.
    fn forward(&self, src: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (b, t, d, heads, hd) = (self.b, self.t, self.d, self.heads, self.hd);
        let mut y = vec![0.0f32; b * t * d];
        let mut probs = vec![0.0f32; b * heads * t * t];
        // Each thread owns its rows of y and of the saved probabilities.
        let (ya, yb) = y.split_at_mut((b / 2) * t * d);
        let (pa, pb) = probs.split_at_mut((b / 2) * heads * t * t);
        let run = |b0: usize, yp: &mut [f32], pp: &mut [f32]| {
            for bi in 0..yp.len() / (t * d) {
                let base = (b0 + bi) * t * 3 * d;
                for h in 0..heads {
                    let p = &mut pp[(bi * heads + h) * t * t..][..t * t];
                    let out = strided_mut(yp, bi * t * d + h * hd, t, hd, d);
                    self.head_forward(self.qkv(src, base, h), p, out);
                }
            }
        };
        if self.threads > 1 && b > 1 {
            rayon::join(|| run(0, ya, pa), || run(b / 2, yb, pb));
        } else {
            run(0, ya, pa);
            run(b / 2, yb, pb);
        }
        (y, probs)
    }

    /// One head of one sequence: P = softmax(s·Q·Kᵀ) into `p`, then Y = P·V into `out`.
    fn head_forward(
        &self,
        [q, k, v]: [ArrayView2<'_, f32>; 3],
        p: &mut [f32],
        out: ArrayViewMut2<'_, f32>,
    ) {
        let t = self.t;
        gemm_into_threads(
            q,
            k.t(),
            ArrayViewMut2::from_shape((t, t), &mut *p).expect("t×t"),
            false,
            1,
        );
        for x in p.iter_mut() {
            *x *= self.scale;
        }
        row_softmax(p, t, self.causal);
        gemm_into_threads(
            ArrayView2::from_shape((t, t), &*p).expect("t×t"),
            v,
            out,
            false,
            1,
        );
    }

    /// The gradient (B, T, 3D) of the projection for the output gradient `g` (B, T, D), with
    /// the batch split between the threads.
    fn backward(&self, src: &[f32], g: &[f32], probs: &[f32]) -> Vec<f32> {
        let (b, t, d, heads, hd) = (self.b, self.t, self.d, self.heads, self.hd);
        let d3 = 3 * d;
        let mut gqkv = vec![0.0f32; b * t * d3];
        par_items(&mut gqkv, b, self.threads, |items, gpart| {
            let mut dp = vec![0.0f32; t * t];
            for (bi, bidx) in items.clone().enumerate() {
                let g_seq = &mut gpart[bi * t * d3..][..t * d3];
                for h in 0..heads {
                    let p = &probs[(bidx * heads + h) * t * t..][..t * t];
                    let gy = strided(g, bidx * t * d + h * hd, t, hd, d);
                    let qkv = self.qkv(src, bidx * t * d3, h);
                    self.head_backward(qkv, p, gy, h, g_seq, &mut dp);
                }
            }
        });
        gqkv
    }

    /// One head of one sequence, into the (T, 3D) gradient `g_seq` of its projection:
    /// dV = Pᵀ·dY, dP = dY·Vᵀ turned into dS in place in `dp`, dQ = dS·K and dK = dSᵀ·Q.
    fn head_backward(
        &self,
        [q, k, v]: [ArrayView2<'_, f32>; 3],
        p: &[f32],
        gy: ArrayView2<'_, f32>,
        h: usize,
        g_seq: &mut [f32],
        dp: &mut [f32],
    ) {
        let (t, d, hd, d3) = (self.t, self.d, self.hd, 3 * self.d);
        let pv = ArrayView2::from_shape((t, t), p).expect("t×t");
        // dV = Pᵀ·dY
        let dv = strided_mut(g_seq, 2 * d + h * hd, t, hd, d3);
        gemm_into_threads(pv.t(), gy, dv, false, 1);
        // dP = dY·Vᵀ, then dS in place
        let dpv = ArrayViewMut2::from_shape((t, t), &mut dp[..]).expect("t×t");
        gemm_into_threads(gy, v.t(), dpv, false, 1);
        softmax_grad(dp, p, t, self.scale);
        let ds = ArrayView2::from_shape((t, t), &dp[..]).expect("t×t");
        // dQ = dS·K ; dK = dSᵀ·Q
        gemm_into_threads(ds, k, strided_mut(g_seq, h * hd, t, hd, d3), false, 1);
        gemm_into_threads(
            ds.t(),
            q,
            strided_mut(g_seq, d + h * hd, t, hd, d3),
            false,
            1,
        );
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
        let a = Heads {
            b,
            t,
            d,
            heads,
            hd,
            scale: 1.0 / (hd as f32).sqrt(),
            causal,
            threads: threads_for(b * heads * t * t * hd * 2),
        };
        let qv = qkv.arc();
        let (y, probs) = a.forward(slice(&qv));
        let y = Tensor::from_shape_vec(ndarray::IxDyn(&[b, t, d]), y).expect("(B, T, D)");
        self.record(y, &[qkv], move |g: Tensor, _| {
            let gqkv = a.backward(slice(&qv), slice(&g), &probs);
            vec![Some(
                Tensor::from_shape_vec(ndarray::IxDyn(&[b, t, d3]), gqkv).expect("(B, T, 3D)"),
            )]
        })
    }
}
