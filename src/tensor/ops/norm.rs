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
use crate::tensor::kernels::{dot_centered16, dot16, sigmoid, sq_dev16, sum16};
use crate::tensor::{Graph, Tensor, Var};

crate::simd_fn! {
    /// Normalizes each block of `block` elements into `xhat`; writes 1/σ per block into `rs`.
    fn normalize_blocks(x: &[f32], xhat: &mut [f32], rs: &mut [f32], block: usize, eps: f32) {
        for ((xb, hb), r) in x.chunks_exact(block).zip(xhat.chunks_exact_mut(block)).zip(rs.iter_mut()) {
            let mean = sum16(xb) / block as f32;
            for (h, &v) in hb.iter_mut().zip(xb) {
                *h = v - mean;
            }
            let var = dot16(hb, hb) / block as f32;
            *r = 1.0 / (var + eps).sqrt();
            let rr = *r;
            for h in hb.iter_mut() {
                *h *= rr;
            }
        }
    }
}

crate::simd_fn! {
    /// gx = r · (d − mean(d) − x̂ · mean(d·x̂)) for every block, d given in `d` (overwritten).
    fn blocks_backward(d: &mut [f32], xhat: &[f32], rs: &[f32], block: usize) {
        for ((db, hb), &r) in d.chunks_exact_mut(block).zip(xhat.chunks_exact(block)).zip(rs) {
            let n = block as f32;
            let md = sum16(db) / n;
            let mdx = dot16(db, hb) / n;
            for (v, &h) in db.iter_mut().zip(hb) {
                *v = r * (*v - md - h * mdx);
            }
        }
    }
}

crate::simd_fn! {
    /// y = x̂·γ + β per row of length d.
    fn affine_rows(xhat: &[f32], gamma: &[f32], beta: &[f32], y: &mut [f32], d: usize) {
        for (yr, hr) in y.chunks_exact_mut(d).zip(xhat.chunks_exact(d)) {
            for (((o, &h), &g), &b) in yr.iter_mut().zip(hr).zip(gamma).zip(beta) {
                *o = h * g + b;
            }
        }
    }
}

crate::simd_fn! {
    /// For rows of length d: Σ g·x̂ and Σ g per column into gg, gb; d = g·γ into out.
    fn affine_rows_backward(g: &[f32], xhat: &[f32], gamma: &[f32], out: &mut [f32], gg: &mut [f32], gb: &mut [f32], d: usize) {
        for ((gr, hr), dr) in g.chunks_exact(d).zip(xhat.chunks_exact(d)).zip(out.chunks_exact_mut(d)) {
            for i in 0..d {
                gg[i] += gr[i] * hr[i];
                gb[i] += gr[i];
                dr[i] = gr[i] * gamma[i];
            }
        }
    }
}

crate::simd_fn! {
    /// Mean and 1/σ of each block of `block` values: the mean, then Σ(x − μ)² (two passes
    /// over the block, which is cache-sized, instead of storing x − μ).
    fn block_stats(x: &[f32], means: &mut [f32], rs: &mut [f32], block: usize, eps: f32) {
        for ((xb, m), r) in x.chunks_exact(block).zip(means.iter_mut()).zip(rs.iter_mut()) {
            let mean = sum16(xb) / block as f32;
            let var = sq_dev16(xb, mean) / block as f32;
            *m = mean;
            *r = 1.0 / (var + eps).sqrt();
        }
    }
}

crate::simd_fn! {
    /// Group norm's output in one pass per plane: y = act((x − μ)·r·γ[c] + β[c]), with act the
    /// identity or SiLU. Planes run over (image, channel); a group is `cpg` consecutive planes.
    fn gn_apply(x: &[f32], y: &mut [f32], means: &[f32], rs: &[f32], gamma: &[f32], beta: &[f32], cpg: usize, spatial: usize, silu: bool) {
        let c = gamma.len();
        for (i, (xp, yp)) in x.chunks_exact(spatial).zip(y.chunks_exact_mut(spatial)).enumerate() {
            let blk = i / cpg;
            let scale = rs[blk] * gamma[i % c];
            let shift = beta[i % c] - means[blk] * scale;
            if silu {
                for (o, &v) in yp.iter_mut().zip(xp) {
                    let a = v * scale + shift;
                    *o = a * sigmoid(a);
                }
            } else {
                for (o, &v) in yp.iter_mut().zip(xp) {
                    *o = v * scale + shift;
                }
            }
        }
    }
}

crate::simd_fn! {
    /// Backward, first pass. Per plane, with x̂ = (x − μ)·r recomputed and a = x̂·γ + β:
    /// da = g (or g·s·(1 + a·(1 − s)), s = σ(a), after SiLU); Σ da·x̂ and Σ da per channel into
    /// sums[0], sums[1]; d = da·γ into `out`, and Σ d, Σ d·x̂ per group into sums[2], sums[3].
    fn gn_backward_sums(x: &[f32], g: &[f32], out: &mut [f32], means: &[f32], rs: &[f32], gamma: &[f32], beta: &[f32], sums: &mut [&mut Vec<f32>; 4], cpg: usize, spatial: usize, silu: bool) {
        let c = gamma.len();
        for (i, ((xp, gp), dp)) in x.chunks_exact(spatial).zip(g.chunks_exact(spatial)).zip(out.chunks_exact_mut(spatial)).enumerate() {
            let (ci, blk) = (i % c, i / cpg);
            let (m, r, gam, bet) = (means[blk], rs[blk], gamma[ci], beta[ci]);
            if silu {
                for (o, (&v, &gv)) in dp.iter_mut().zip(xp.iter().zip(gp)) {
                    let a = (v - m) * r * gam + bet;
                    let s = sigmoid(a);
                    *o = gv * s * (1.0 + a * (1.0 - s));
                }
            } else {
                dp.copy_from_slice(gp);
            }
            let sda = sum16(dp);
            let sdah = dot_centered16(dp, xp, m) * r;
            sums[0][ci] += sdah;
            sums[1][ci] += sda;
            sums[2][blk] += sda * gam;
            sums[3][blk] += sdah * gam;
            for o in dp.iter_mut() {
                *o *= gam;
            }
        }
    }
}

crate::simd_fn! {
    /// Backward, second pass: gx = r·(d − mean(d) − x̂·mean(d·x̂)) over each group, in place.
    fn gn_backward_apply(x: &[f32], d: &mut [f32], means: &[f32], rs: &[f32], sd: &[f32], sdx: &[f32], cpg: usize, spatial: usize) {
        let n = (cpg * spatial) as f32;
        for (i, (xp, dp)) in x.chunks_exact(spatial).zip(d.chunks_exact_mut(spatial)).enumerate() {
            let blk = i / cpg;
            let (m, r) = (means[blk], rs[blk]);
            let (md, mdx) = (sd[blk] / n, sdx[blk] / n);
            for (o, &v) in dp.iter_mut().zip(xp) {
                let h = (v - m) * r;
                *o = r * (*o - md - h * mdx);
            }
        }
    }
}

/// (x̂, 1/σ per block).
fn normalize(x: &[f32], block: usize, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let mut xhat = vec![0.0; x.len()];
    let mut rs = vec![0.0; x.len() / block.max(1)];
    normalize_blocks(x, &mut xhat, &mut rs, block, eps);
    (xhat, rs)
}

/// How group norm walks its input: `n` images of `c` planes of `spatial` values each, in
/// `groups` groups of `cpg` consecutive planes, the images split between `threads` threads.
#[derive(Clone, Copy)]
struct GnLayout {
    n: usize,
    c: usize,
    groups: usize,
    cpg: usize,
    spatial: usize,
    threads: usize,
}

impl GnLayout {
    /// Values normalized together: one group of one image.
    fn block(&self) -> usize {
        self.cpg * self.spatial
    }

    fn per_image(&self) -> usize {
        self.c * self.spatial
    }
}

/// Group norm's forward: y = act(x̂·γ + β), and the statistics backward needs, the means of
/// the n·groups blocks followed by their 1/σ. The first half of the images and the second
/// run on two threads when the layout says so.
fn gn_forward(
    xs: &[f32],
    l: &GnLayout,
    gs: &[f32],
    bs: &[f32],
    eps: f32,
    silu: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (n, groups, per_image) = (l.n, l.groups, l.per_image());
    let mut stats = vec![0.0f32; 2 * n * groups];
    let mut y = vec![0.0f32; xs.len()];
    let (means, rs) = stats.split_at_mut(n * groups);
    let half = n / 2;
    let (m0, m1) = means.split_at_mut(half * groups);
    let (r0, r1) = rs.split_at_mut(half * groups);
    let (y0, y1) = y.split_at_mut(half * per_image);
    let (x0, x1) = xs.split_at(half * per_image);
    let run = |x: &[f32], y: &mut [f32], m: &mut [f32], r: &mut [f32]| {
        block_stats(x, m, r, l.block(), eps);
        gn_apply(x, y, m, r, gs, bs, l.cpg, l.spatial, silu);
    };
    if l.threads > 1 && half > 0 {
        rayon::join(|| run(x0, y0, m0, r0), || run(x1, y1, m1, r1));
    } else {
        run(x0, y0, m0, r0);
        run(x1, y1, m1, r1);
    }
    (y, stats)
}

/// Group norm's backward for the output gradient `g`: (gx, gγ, gβ). Each thread's share of
/// the images takes two passes (`gn_backward_sums`, then `gn_backward_apply`) and adds up
/// its own gγ and gβ; the shares are then summed in order.
fn gn_backward(
    xs: &[f32],
    g: &[f32],
    stats: &[f32],
    l: &GnLayout,
    gs: &[f32],
    bs: &[f32],
    silu: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, c, groups, per_image) = (l.n, l.c, l.groups, l.per_image());
    let (means, rs) = stats.split_at(n * groups);
    let mut gx = vec![0.0f32; g.len()];
    let partial = crate::tensor::parallel::par_items(&mut gx, n, l.threads, |items, gxp| {
        let (lo, hi) = (items.start * per_image, items.end * per_image);
        let (b0, b1) = (items.start * groups, items.end * groups);
        let (mut gg, mut gb) = (vec![0.0f32; c], vec![0.0f32; c]);
        let (mut sd, mut sdx) = (vec![0.0f32; b1 - b0], vec![0.0f32; b1 - b0]);
        let (xp, m, r) = (&xs[lo..hi], &means[b0..b1], &rs[b0..b1]);
        let mut sums = [&mut gg, &mut gb, &mut sd, &mut sdx];
        let (cpg, spatial) = (l.cpg, l.spatial);
        gn_backward_sums(
            xp,
            &g[lo..hi],
            gxp,
            m,
            r,
            gs,
            bs,
            &mut sums,
            cpg,
            spatial,
            silu,
        );
        gn_backward_apply(xp, gxp, m, r, &sd, &sdx, cpg, spatial);
        (gg, gb)
    });
    let (mut ggamma, mut gbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
    for (gg, gb) in partial {
        crate::tensor::kernels::add_assign(&mut ggamma, &gg);
        crate::tensor::kernels::add_assign(&mut gbeta, &gb);
    }
    (gx, ggamma, gbeta)
}

impl Graph<'_> {
    /// Layer norm over the last axis with scale γ and shift β of shape (D).
    pub fn layer_norm(&self, x: &Var, gamma: &Var, beta: &Var, eps: f32) -> Var {
        let d = *x.shape().last().expect("layer_norm of a scalar");
        assert!(
            gamma.shape() == [d] && beta.shape() == [d],
            "layer_norm: γ and β must be ({d})"
        );
        let (xhat, rs) = normalize(slice(x.value()), d, eps);
        let gs = slice(gamma.value()).to_vec();
        let mut y = vec![0.0; xhat.len()];
        affine_rows(&xhat, &gs, slice(beta.value()), &mut y, d);
        let shape = x.shape().to_vec();
        let y = Tensor::from_shape_vec(IxDyn(&shape), y).expect("same shape");
        self.record(y, &[x, gamma, beta], move |g: Tensor, need| {
            let g = &g;
            let g = slice(g);
            let (mut ggamma, mut gbeta) = (vec![0.0f32; d], vec![0.0f32; d]);
            let mut gx = vec![0.0f32; g.len()];
            affine_rows_backward(g, &xhat, &gs, &mut gx, &mut ggamma, &mut gbeta, d);
            blocks_backward(&mut gx, &xhat, &rs, d);
            vec![
                need[0].then(|| Tensor::from_shape_vec(IxDyn(&shape), gx).expect("same shape")),
                need[1].then(|| Tensor::from_shape_vec(IxDyn(&[d]), ggamma).expect("(D)")),
                need[2].then(|| Tensor::from_shape_vec(IxDyn(&[d]), gbeta).expect("(D)")),
            ]
        })
    }

    /// Group norm of x (N, C, …) with `groups` groups of channels, γ and β of shape (C).
    pub fn group_norm(&self, x: &Var, groups: usize, gamma: &Var, beta: &Var, eps: f32) -> Var {
        self.group_norm_act(x, groups, gamma, beta, eps, false)
    }

    /// `silu(group_norm(x))` as one op, the pair that opens every residual block of a U-Net:
    /// one pass fewer over the activations each way, and no stored intermediate.
    pub fn group_norm_silu(
        &self,
        x: &Var,
        groups: usize,
        gamma: &Var,
        beta: &Var,
        eps: f32,
    ) -> Var {
        self.group_norm_act(x, groups, gamma, beta, eps, true)
    }

    fn group_norm_act(
        &self,
        x: &Var,
        groups: usize,
        gamma: &Var,
        beta: &Var,
        eps: f32,
        silu: bool,
    ) -> Var {
        let (n, c) = (x.shape()[0], x.shape()[1]);
        assert!(
            groups > 0 && c % groups == 0,
            "group_norm: {c} channels do not split into {groups} groups"
        );
        assert!(
            gamma.shape() == [c] && beta.shape() == [c],
            "group_norm: γ and β must be ({c})"
        );
        let layout = GnLayout {
            n,
            c,
            groups,
            cpg: c / groups,
            spatial: x.len() / (n * c).max(1),
            // Images are independent: split them between the threads when the tensor is large.
            threads: if x.len() >= 1 << 18 {
                crate::tensor::num_threads().min(2)
            } else {
                1
            },
        };
        let xv = x.arc();
        let gs = slice(gamma.value()).to_vec();
        let bs = slice(beta.value()).to_vec();
        // Only the statistics are kept for backward, which recomputes x̂ from x.
        let (y, stats) = gn_forward(slice(&xv), &layout, &gs, &bs, eps, silu);
        let shape = x.shape().to_vec();
        let y = Tensor::from_shape_vec(IxDyn(&shape), y).expect("same shape");
        self.record(y, &[x, gamma, beta], move |g: Tensor, need| {
            let (gx, ggamma, gbeta) =
                gn_backward(slice(&xv), slice(&g), &stats, &layout, &gs, &bs, silu);
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
        self.record(y, &[x], move |g: Tensor, _| {
            let g = &g;
            let gx: Vec<f32> = slice(g).iter().zip(&mask).map(|(v, m)| v * m).collect();
            vec![Some(
                Tensor::from_shape_vec(g.raw_dim(), gx).expect("same shape"),
            )]
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use crate::tensor::{Graph, ParamStore, randn};

    #[test]
    fn fused_group_norm_silu_equals_silu_of_group_norm_forward_and_backward() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut ps = ParamStore::new();
        // Large enough that the batch is split between the threads.
        let x = ps.add("x", randn(&[12, 16, 14, 14], &mut rng));
        let gamma = ps.add("gamma", randn(&[16], &mut rng));
        let beta = ps.add("beta", randn(&[16], &mut rng));
        let up = randn(&[12, 16, 14, 14], &mut rng);
        let run = |fused: bool| {
            let g = Graph::new(&ps);
            let (xv, gv, bv) = (g.param(x), g.param(gamma), g.param(beta));
            let y = if fused {
                g.group_norm_silu(&xv, 4, &gv, &bv, 1e-5)
            } else {
                g.silu(&g.group_norm(&xv, 4, &gv, &bv, 1e-5))
            };
            let grads = g.backward_with(&y, up.clone());
            let get = |id| grads.get(id).unwrap().clone();
            (y.to_tensor(), get(x), get(gamma), get(beta))
        };
        let (a, b) = (run(true), run(false));
        for (name, p, q) in [
            ("y", &a.0, &b.0),
            ("gx", &a.1, &b.1),
            ("gγ", &a.2, &b.2),
            ("gβ", &a.3, &b.3),
        ] {
            let scale = q.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let worst = p
                .iter()
                .zip(q)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= 1e-5 * scale,
                "{name}: differs by {worst} (scale {scale})"
            );
        }
    }
}
