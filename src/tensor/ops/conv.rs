//! 2-D convolution by im2col on the fast matmul, and nearest-neighbour 2× upsampling.
//!
//! conv2d: x (N, C, H, W), w (O, C, kh, kw) in PyTorch's layout, optional bias (O). Image by
//! image, the patches of x are unrolled into `cols` (C·kh·kw, Ho·Wo) and the convolution is the
//! product y_n = W·cols (W viewed as (O, C·kh·kw)), written straight into the output. The
//! batch is split between the threads; `cols` is rebuilt in backward instead of being kept.
//!
//! | op            | forward                   | backward                                          |
//! |---------------|---------------------------|---------------------------------------------------|
//! | conv2d        | y = W·im2col(x) + b       | gW = Σₙ gₙ·colsₙᵀ ; gx = col2im(Wᵀ·gₙ) ; gb = Σ g  |
//! | upsample 2×   | y[2i+a, 2j+b] = x[i, j]   | gx[i, j] = Σ over the 2×2 block of g               |

use ndarray::{Array2, ArrayView2, ArrayViewMut2, IxDyn};

use super::softmax::slice;
use crate::tensor::matmul::gemm_into_threads;
use crate::tensor::parallel::{par_items, threads_for};
use crate::tensor::{Graph, Tensor, Var};

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geom {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
    ho: usize,
    wo: usize,
}

impl Geom {
    fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    fn hw(&self) -> usize {
        self.ho * self.wo
    }
    /// Output positions o (in 0..n_out) whose input o·stride + k − pad lies in 0..len.
    fn valid(&self, k: usize, len: usize, n_out: usize) -> Range {
        let lo = self.pad.saturating_sub(k).div_ceil(self.stride);
        let hi = if len + self.pad > k {
            (len + self.pad - k - 1) / self.stride + 1
        } else {
            0
        };
        Range {
            lo: lo.min(n_out),
            hi: hi.min(n_out).max(lo.min(n_out)),
        }
    }
}

struct Range {
    lo: usize,
    hi: usize,
}

/// Unrolls the patches of one image (C, H, W) into columns `col0..col0 + Ho·Wo` of `cols`
/// (C·kh·kw rows of `ld` values).
fn im2col(x: &[f32], g: &Geom, cols: &mut [f32], ld: usize, col0: usize) {
    let hw = g.hw();
    if g.stride == 1 && g.ho == g.h && g.wo == g.w {
        return im2col_same(x, g, cols, ld, col0);
    }
    for c in 0..g.c {
        let img = &x[c * g.h * g.w..][..g.h * g.w];
        for i in 0..g.kh {
            let ys = g.valid(i, g.h, g.ho);
            for j in 0..g.kw {
                let xs = g.valid(j, g.w, g.wo);
                let row = &mut cols[((c * g.kh + i) * g.kw + j) * ld + col0..][..hw];
                // Zero only what the image does not cover (the padding).
                row[..ys.lo * g.wo].fill(0.0);
                row[ys.hi * g.wo..].fill(0.0);
                for oy in ys.lo..ys.hi {
                    let iy = oy * g.stride + i - g.pad;
                    let line = &mut row[oy * g.wo..][..g.wo];
                    line[..xs.lo].fill(0.0);
                    line[xs.hi..].fill(0.0);
                    let out = &mut line[xs.lo..xs.hi];
                    let start = xs.lo * g.stride + j - g.pad;
                    if g.stride == 1 {
                        out.copy_from_slice(&img[iy * g.w + start..][..out.len()]);
                    } else {
                        for (k, o) in out.iter_mut().enumerate() {
                            *o = img[iy * g.w + start + k * g.stride];
                        }
                    }
                }
            }
        }
    }
}

/// `im2col` for stride 1 and "same" padding: each row of `cols` is the whole image shifted by
/// (i − p, j − p), i.e. one contiguous copy, then zeros where the shift left the image.
fn im2col_same(x: &[f32], g: &Geom, cols: &mut [f32], ld: usize, col0: usize) {
    let (h, w) = (g.h, g.w);
    let hw = h * w;
    for c in 0..g.c {
        let img = &x[c * hw..][..hw];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &mut cols[((c * g.kh + i) * g.kw + j) * ld + col0..][..hw];
                let (dy, dx) = (i as isize - g.pad as isize, j as isize - g.pad as isize);
                let shift = dy * w as isize + dx;
                let lo = (-shift).clamp(0, hw as isize) as usize;
                let hi = (hw as isize - shift).clamp(0, hw as isize) as usize;
                row[..lo].fill(0.0);
                if hi > lo {
                    let src = (lo as isize + shift) as usize;
                    row[lo..hi].copy_from_slice(&img[src..src + (hi - lo)]);
                }
                row[hi.max(lo)..].fill(0.0);
                // Columns that wrapped around to the neighbouring image row.
                if dx != 0 {
                    let bad = dx.unsigned_abs().min(w);
                    for line in row.chunks_exact_mut(w) {
                        if dx < 0 {
                            line[..bad].fill(0.0);
                        } else {
                            line[w - bad..].fill(0.0);
                        }
                    }
                }
            }
        }
    }
}

/// The transpose of `im2col` for one image: adds every patch entry back into its pixel.
fn col2im(cols: &[f32], g: &Geom, x: &mut [f32], ld: usize, col0: usize) {
    let hw = g.hw();
    for c in 0..g.c {
        let img = &mut x[c * g.h * g.w..][..g.h * g.w];
        for i in 0..g.kh {
            let ys = g.valid(i, g.h, g.ho);
            for j in 0..g.kw {
                let xs = g.valid(j, g.w, g.wo);
                let row = &cols[((c * g.kh + i) * g.kw + j) * ld + col0..][..hw];
                for oy in ys.lo..ys.hi {
                    let iy = oy * g.stride + i - g.pad;
                    let src = &row[oy * g.wo..][xs.lo..xs.hi];
                    let start = iy * g.w + xs.lo * g.stride + j - g.pad;
                    if g.stride == 1 {
                        for (d, &v) in img[start..][..src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (k, &v) in src.iter().enumerate() {
                            img[start + k * g.stride] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Images per product: enough columns (~3000) that the products are efficient, few enough that
/// `cols` stays cache-sized.
fn chunk_images(hw: usize, n: usize) -> usize {
    (3072 / hw.max(1)).clamp(1, n.max(1))
}

/// y = conv(x, w) (+ bias) for a batch of n images, as (n, O, Ho, Wo) values: per chunk of
/// images, im2col then one product W·cols; the batch is split between the threads.
fn conv_forward(
    x: &[f32],
    n: usize,
    geom: &Geom,
    w: &[f32],
    o: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (rows, hw, img) = (geom.rows(), geom.hw(), geom.c * geom.h * geom.w);
    let threads = threads_for(n * o * rows * hw);
    // One thread per image when the batch is split; otherwise the products may use them.
    let inner = if threads > 1 && n > 1 {
        1
    } else {
        threads_for(o * rows * hw)
    };
    let mut y = vec![0.0f32; n * o * hw];
    par_items(&mut y, n, threads, |items, out| {
        let per = chunk_images(hw, items.len());
        let mut cols = vec![0.0f32; rows * per * hw];
        let mut y2 = vec![0.0f32; o * per * hw];
        let w2 = view(w, o, rows);
        for (k0, chunk) in items.clone().step_by(per).enumerate() {
            let cnt = per.min(items.end - chunk);
            let ld = cnt * hw;
            for k in 0..cnt {
                im2col(&x[(chunk + k) * img..][..img], geom, &mut cols, ld, k * hw);
            }
            let yv = view_mut(&mut y2[..o * ld], o, ld);
            gemm_into_threads(w2, view(&cols[..rows * ld], rows, ld), yv, false, inner);
            // (O, cnt·HW) → (cnt, O, HW), adding the bias on the way.
            for k in 0..cnt {
                let dst = &mut out[(k0 * per + k) * o * hw..][..o * hw];
                for (oc, d) in dst.chunks_exact_mut(hw).enumerate() {
                    let add = bias.map_or(0.0, |b| b[oc]);
                    for (d, &v) in d.iter_mut().zip(&y2[oc * ld + k * hw..][..hw]) {
                        *d = v + add;
                    }
                }
            }
        }
    });
    y
}

/// w (O, C, kh, kw) → w' (C, O, kh, kw) with w'[c, o, i, j] = w[o, c, kh−1−i, kw−1−j].
fn flip_kernel(w: &[f32], o: usize, c: usize, kh: usize, kw: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; w.len()];
    for oc in 0..o {
        for ci in 0..c {
            for i in 0..kh {
                for j in 0..kw {
                    out[((ci * o + oc) * kh + i) * kw + j] =
                        w[((oc * c + ci) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
                }
            }
        }
    }
    out
}

fn view<'a>(s: &'a [f32], r: usize, c: usize) -> ArrayView2<'a, f32> {
    ArrayView2::from_shape((r, c), s).expect("length matches")
}

fn view_mut<'a>(s: &'a mut [f32], r: usize, c: usize) -> ArrayViewMut2<'a, f32> {
    ArrayViewMut2::from_shape((r, c), s).expect("length matches")
}

impl Graph<'_> {
    /// 2-D convolution with square stride and zero padding.
    pub fn conv2d(&self, x: &Var, w: &Var, b: Option<&Var>, stride: usize, padding: usize) -> Var {
        assert!(
            x.ndim() == 4 && w.ndim() == 4,
            "conv2d needs x (N,C,H,W) and w (O,C,kh,kw)"
        );
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        assert_eq!(
            xs[1], ws[1],
            "conv2d: x has {} channels, w expects {}",
            xs[1], ws[1]
        );
        assert!(stride > 0, "conv2d: stride must be positive");
        let (n, h, wd, kh, kw) = (xs[0], xs[2], xs[3], ws[2], ws[3]);
        assert!(
            h + 2 * padding >= kh && wd + 2 * padding >= kw,
            "conv2d: kernel larger than the padded image"
        );
        let geom = Geom {
            c: xs[1],
            h,
            w: wd,
            kh,
            kw,
            stride,
            pad: padding,
            ho: (h + 2 * padding - kh) / stride + 1,
            wo: (wd + 2 * padding - kw) / stride + 1,
        };
        let o = ws[0];
        let (rows, hw, img) = (geom.rows(), geom.hw(), geom.c * h * wd);
        let threads = threads_for(n * o * rows * hw);
        let inner = if threads > 1 && n > 1 {
            1
        } else {
            threads_for(o * rows * hw)
        };
        let (xv, wv) = (x.arc(), w.arc());
        let bias: Option<Vec<f32>> = b.map(|b| slice(b.value()).to_vec());
        let y = conv_forward(slice(&xv), n, &geom, slice(&wv), o, bias.as_deref());
        let y = Tensor::from_shape_vec(IxDyn(&[n, o, geom.ho, geom.wo]), y).expect("output shape");
        let parents: Vec<&Var> = match b {
            Some(b) => vec![x, w, b],
            None => vec![x, w],
        };
        self.record(y, &parents, move |g: Tensor, need| {
            let g = &g;
            let gs = slice(g);
            // With stride 1, the input gradient is itself a convolution: of g with the kernel
            // flipped in space and transposed in channels, padded by k − 1 − p. That reuses the
            // forward path (no scatter) with a deeper product (K = O·k·k instead of O).
            let flipped = geom.stride == 1 && kh == kw && padding < kh;
            let mut gx = match (need[0], flipped) {
                (true, true) => {
                    let wf = flip_kernel(slice(&wv), o, geom.c, kh, kw);
                    let back = Geom {
                        c: o,
                        h: geom.ho,
                        w: geom.wo,
                        pad: kh - 1 - padding,
                        ho: geom.h,
                        wo: geom.w,
                        ..geom
                    };
                    conv_forward(gs, n, &back, &wf, geom.c, None)
                }
                (true, false) => vec![0.0f32; n * img],
                (false, _) => Vec::new(),
            };
            let per_item_gx = if need[0] && !flipped { img } else { 0 };
            let mut scratch = Vec::new();
            let target = if per_item_gx > 0 {
                &mut gx
            } else {
                &mut scratch
            };
            let partial_dw = par_items(target, n, threads, |items, gx_part| {
                let per = chunk_images(hw, items.len());
                let mut cols = vec![0.0f32; rows * per * hw];
                // g for the chunk as (cnt·HW, O): then dWᵀ = cols·g is a plain product.
                let mut g2t = vec![0.0f32; per * hw * o];
                let mut dw = need[1].then(|| Array2::<f32>::zeros((o, rows)));
                let w2 = view(slice(&wv), o, rows);
                for (k0, chunk) in items.clone().step_by(per).enumerate() {
                    let cnt = per.min(items.end - chunk);
                    let ld = cnt * hw;
                    // (cnt, O, HW) → (cnt·HW, O)
                    for k in 0..cnt {
                        let src = &gs[(chunk + k) * o * hw..][..o * hw];
                        let dst = &mut g2t[k * hw * o..][..hw * o];
                        for (oc, s) in src.chunks_exact(hw).enumerate() {
                            for (p, &v) in s.iter().enumerate() {
                                dst[p * o + oc] = v;
                            }
                        }
                    }
                    let gt = view(&g2t[..ld * o], ld, o);
                    if let Some(dw) = dw.as_mut() {
                        for k in 0..cnt {
                            im2col(
                                &slice(&xv)[(chunk + k) * img..][..img],
                                &geom,
                                &mut cols,
                                ld,
                                k * hw,
                            );
                        }
                        let cv = view(&cols[..rows * ld], rows, ld);
                        gemm_into_threads(cv, gt, dw.view_mut().reversed_axes(), true, inner);
                    }
                    if per_item_gx > 0 {
                        let dcols = view_mut(&mut cols[..rows * ld], rows, ld);
                        gemm_into_threads(w2.t(), gt.reversed_axes(), dcols, false, inner);
                        for k in 0..cnt {
                            let dst = &mut gx_part[(k0 * per + k) * img..][..img];
                            col2im(&cols, &geom, dst, ld, k * hw);
                        }
                    }
                }
                dw
            });
            let gw = need[1].then(|| {
                let mut parts = partial_dw.into_iter().flatten();
                let mut dw = parts.next().expect("at least one part");
                for p in parts {
                    dw += &p;
                }
                dw.into_shape_with_order(IxDyn(&ws)).expect("w shape")
            });
            let gxt = need[0].then(|| Tensor::from_shape_vec(IxDyn(&xs), gx).expect("x shape"));
            let mut out = vec![gxt, gw];
            if need.len() == 3 {
                let mut db = vec![0.0f32; o];
                for (r, row) in gs.chunks_exact(hw).enumerate() {
                    db[r % o] += row.iter().sum::<f32>();
                }
                out.push(need[2].then(|| Tensor::from_shape_vec(IxDyn(&[o]), db).expect("(O)")));
            }
            out
        })
    }

    /// Nearest-neighbour upsampling of (N, C, H, W) to (N, C, 2H, 2W).
    pub fn upsample_nearest2x(&self, x: &Var) -> Var {
        assert_eq!(x.ndim(), 4, "upsample needs (N, C, H, W)");
        let (nc, h, w) = (x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3]);
        let xs = slice(x.value());
        let mut y = vec![0.0f32; nc * 4 * h * w];
        for p in 0..nc {
            for i in 0..2 * h {
                let src = &xs[(p * h + i / 2) * w..][..w];
                let dst = &mut y[(p * 2 * h + i) * 2 * w..][..2 * w];
                for (j, d) in dst.iter_mut().enumerate() {
                    *d = src[j / 2];
                }
            }
        }
        let mut shape = x.shape().to_vec();
        shape[2] *= 2;
        shape[3] *= 2;
        let in_shape = x.shape().to_vec();
        let y = Tensor::from_shape_vec(IxDyn(&shape), y).expect("output shape");
        self.record(y, &[x], move |g: Tensor, _| {
            let g = &g;
            let gs = slice(g);
            let mut gx = vec![0.0f32; nc * h * w];
            for p in 0..nc {
                for i in 0..2 * h {
                    let src = &gs[(p * 2 * h + i) * 2 * w..][..2 * w];
                    let dst = &mut gx[(p * h + i / 2) * w..][..w];
                    for (j, &v) in src.iter().enumerate() {
                        dst[j / 2] += v;
                    }
                }
            }
            vec![Some(
                Tensor::from_shape_vec(IxDyn(&in_shape), gx).expect("input shape"),
            )]
        })
    }
}
