//! Normalization and dropout.
//!
//! Layer norm over the last axis (D) and group norm over (channels of a group × positions) share
//! one rule. Per normalized block of n elements, with x̂ = (x − μ)·r, r = 1/√(σ² + ε):
//!
//! | quantity | forward        | backward                                              |
//! |----------|----------------|-------------------------------------------------------|
//! | y        | x̂·γ + β        | d = g·γ ;  gx = r · (d − mean(d) − x̂ · mean(d·x̂))     |
//! | γ        |                | Σ g·x̂  (over everything but the channel)              |
//! | β        |                | Σ g                                                   |
//!
//! Dropout: y = x·m/(1−p) with m ~ Bernoulli(1−p); gx = g·m/(1−p).

use ndarray::IxDyn;
use rand::RngExt;

use super::softmax::slice;
use crate::tensor::kernels::simd;
use crate::tensor::{Graph, Tensor, Var};

/// Normalizes each block of `block` elements; returns (x̂, r per block).
fn normalize_blocks(x: &[f32], block: usize, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let mut xhat = vec![0.0; x.len()];
    let mut rs = Vec::with_capacity(x.len() / block.max(1));
    simd(|| {
        for (xb, hb) in x.chunks_exact(block).zip(xhat.chunks_exact_mut(block)) {
            let mean = xb.iter().sum::<f32>() / block as f32;
            let var = xb.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / block as f32;
            let r = 1.0 / (var + eps).sqrt();
            for (h, &v) in hb.iter_mut().zip(xb) {
                *h = (v - mean) * r;
            }
            rs.push(r);
        }
    });
    (xhat, rs)
}

/// gx for one block given d = g·γ (overwritten with gx).
#[inline(always)]
fn block_backward(d: &mut [f32], xhat: &[f32], r: f32) {
    let n = d.len() as f32;
    let md = d.iter().sum::<f32>() / n;
    let mdx = d.iter().zip(xhat).map(|(a, b)| a * b).sum::<f32>() / n;
    for (v, &h) in d.iter_mut().zip(xhat) {
        *v = r * (*v - md - h * mdx);
    }
}

impl Graph<'_> {
    /// Layer norm over the last axis with scale γ and shift β of shape (D).
    pub fn layer_norm(&self, x: &Var, gamma: &Var, beta: &Var, eps: f32) -> Var {
        let d = *x.shape().last().expect("layer_norm of a scalar");
        assert!(
            gamma.shape() == [d] && beta.shape() == [d],
            "layer_norm: γ and β must be ({d})"
        );
        let (xhat, rs) = normalize_blocks(slice(x.value()), d, eps);
        let (gs, bs) = (slice(gamma.value()).to_vec(), slice(beta.value()).to_vec());
        let mut y = vec![0.0; xhat.len()];
        simd(|| {
            for (yr, hr) in y.chunks_exact_mut(d).zip(xhat.chunks_exact(d)) {
                for (((o, &h), &g), &b) in yr.iter_mut().zip(hr).zip(&gs).zip(&bs) {
                    *o = h * g + b;
                }
            }
        });
        let shape = x.shape().to_vec();
        let y = Tensor::from_shape_vec(IxDyn(&shape), y).expect("same shape");
        self.record(y, &[x, gamma, beta], move |g, need| {
            let g = slice(g);
            let (mut ggamma, mut gbeta) = (vec![0.0f32; d], vec![0.0f32; d]);
            let mut gx = vec![0.0f32; g.len()];
            simd(|| {
                for (((gr, hr), dr), &r) in g
                    .chunks_exact(d)
                    .zip(xhat.chunks_exact(d))
                    .zip(gx.chunks_exact_mut(d))
                    .zip(&rs)
                {
                    for i in 0..d {
                        ggamma[i] += gr[i] * hr[i];
                        gbeta[i] += gr[i];
                        dr[i] = gr[i] * gs[i];
                    }
                    block_backward(dr, hr, r);
                }
            });
            vec![
                need[0].then(|| Tensor::from_shape_vec(IxDyn(&shape), gx).expect("same shape")),
                need[1].then(|| Tensor::from_shape_vec(IxDyn(&[d]), ggamma).expect("(D)")),
                need[2].then(|| Tensor::from_shape_vec(IxDyn(&[d]), gbeta).expect("(D)")),
            ]
        })
    }

    /// Group norm of x (N, C, …) with `groups` groups of channels, γ and β of shape (C).
    pub fn group_norm(&self, x: &Var, groups: usize, gamma: &Var, beta: &Var, eps: f32) -> Var {
        let (n, c) = (x.shape()[0], x.shape()[1]);
        assert!(
            groups > 0 && c % groups == 0,
            "group_norm: {c} channels do not split into {groups} groups"
        );
        assert!(
            gamma.shape() == [c] && beta.shape() == [c],
            "group_norm: γ and β must be ({c})"
        );
        let spatial = x.len() / (n * c).max(1);
        let block = c / groups * spatial;
        let (xhat, rs) = normalize_blocks(slice(x.value()), block, eps);
        let (gs, bs) = (slice(gamma.value()).to_vec(), slice(beta.value()).to_vec());
        let mut y = xhat.clone();
        for (ch_i, ch) in y.chunks_exact_mut(spatial).enumerate() {
            let (g, b) = (gs[ch_i % c], bs[ch_i % c]);
            ch.iter_mut().for_each(|v| *v = *v * g + b);
        }
        let shape = x.shape().to_vec();
        let y = Tensor::from_shape_vec(IxDyn(&shape), y).expect("same shape");
        self.record(y, &[x, gamma, beta], move |g, need| {
            let g = slice(g);
            let (mut ggamma, mut gbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
            let mut gx = vec![0.0f32; g.len()];
            for (ch_i, ((gch, hch), dch)) in g
                .chunks_exact(spatial)
                .zip(xhat.chunks_exact(spatial))
                .zip(gx.chunks_exact_mut(spatial))
                .enumerate()
            {
                let ci = ch_i % c;
                for ((&gv, &h), d) in gch.iter().zip(hch).zip(dch.iter_mut()) {
                    ggamma[ci] += gv * h;
                    gbeta[ci] += gv;
                    *d = gv * gs[ci];
                }
            }
            for ((dr, hr), &r) in gx
                .chunks_exact_mut(block)
                .zip(xhat.chunks_exact(block))
                .zip(&rs)
            {
                block_backward(dr, hr, r);
            }
            vec![
                need[0].then(|| Tensor::from_shape_vec(IxDyn(&shape), gx).expect("same shape")),
                need[1].then(|| Tensor::from_shape_vec(IxDyn(&[c]), ggamma).expect("(C)")),
                need[2].then(|| Tensor::from_shape_vec(IxDyn(&[c]), gbeta).expect("(C)")),
            ]
        })
    }

    /// Inverted dropout with drop probability `p` (use only while training).
    pub fn dropout(&self, x: &Var, p: f32, rng: &mut impl rand::Rng) -> Var {
        assert!(
            (0.0..1.0).contains(&p),
            "dropout probability must be in [0, 1), got {p}"
        );
        let keep = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..x.len())
            .map(|_| if rng.random::<f32>() < p { 0.0 } else { keep })
            .collect();
        let y: Vec<f32> = slice(x.value())
            .iter()
            .zip(&mask)
            .map(|(v, m)| v * m)
            .collect();
        let y = Tensor::from_shape_vec(x.value().raw_dim(), y).expect("same shape");
        self.record(y, &[x], move |g, _| {
            let gx: Vec<f32> = slice(g).iter().zip(&mask).map(|(v, m)| v * m).collect();
            vec![Some(
                Tensor::from_shape_vec(g.raw_dim(), gx).expect("same shape"),
            )]
        })
    }
}
