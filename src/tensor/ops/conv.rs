//! 2-D convolution by im2col on the fast matmul, and nearest-neighbour 2× upsampling.
//!
//! conv2d: x (N, C, H, W), w (O, C, kh, kw) in PyTorch's layout, optional bias (O). The patches
//! of x are unrolled into `cols` (C·kh·kw, N·Ho·Wo), so the convolution is one product
//! y = W·cols (W viewed as (O, C·kh·kw)), then reordered to (N, O, Ho, Wo).
//!
//! | op            | forward                   | backward                                          |
//! |---------------|---------------------------|---------------------------------------------------|
//! | conv2d        | y = W·im2col(x) + b       | gW = g·colsᵀ ; gx = col2im(Wᵀ·g) ; gb = Σ g        |
//! | upsample 2×   | y[2i+a, 2j+b] = x[i, j]   | gx[i, j] = Σ over the 2×2 block of g               |

use ndarray::{Array2, Axis, IxDyn};

use super::softmax::slice;
use crate::tensor::matmul::gemm_into;
use crate::tensor::{Graph, Tensor, Var};

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
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
    fn cols(&self) -> usize {
        self.n * self.ho * self.wo
    }
    /// Input coordinate of output index `o` and kernel offset `k`, if inside the image.
    #[inline(always)]
    fn src(&self, o: usize, k: usize, len: usize) -> Option<usize> {
        (o * self.stride + k)
            .checked_sub(self.pad)
            .filter(|&i| i < len)
    }
}

/// Unrolls the patches of x into (C·kh·kw, N·Ho·Wo).
fn im2col(x: &[f32], g: &Geom) -> Vec<f32> {
    let (hw, nhw) = (g.ho * g.wo, g.cols());
    let mut cols = vec![0.0f32; g.rows() * nhw];
    for c in 0..g.c {
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &mut cols[((c * g.kh + i) * g.kw + j) * nhw..][..nhw];
                for n in 0..g.n {
                    let img = &x[(n * g.c + c) * g.h * g.w..][..g.h * g.w];
                    for oy in 0..g.ho {
                        let Some(iy) = g.src(oy, i, g.h) else {
                            continue;
                        };
                        let out = &mut row[n * hw + oy * g.wo..][..g.wo];
                        for (ox, o) in out.iter_mut().enumerate() {
                            if let Some(ix) = g.src(ox, j, g.w) {
                                *o = img[iy * g.w + ix];
                            }
                        }
                    }
                }
            }
        }
    }
    cols
}

/// The transpose of `im2col`: adds every patch entry back into its pixel.
fn col2im(cols: &[f32], g: &Geom) -> Vec<f32> {
    let (hw, nhw) = (g.ho * g.wo, g.cols());
    let mut x = vec![0.0f32; g.n * g.c * g.h * g.w];
    for c in 0..g.c {
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &cols[((c * g.kh + i) * g.kw + j) * nhw..][..nhw];
                for n in 0..g.n {
                    let img = &mut x[(n * g.c + c) * g.h * g.w..][..g.h * g.w];
                    for oy in 0..g.ho {
                        let Some(iy) = g.src(oy, i, g.h) else {
                            continue;
                        };
                        let src = &row[n * hw + oy * g.wo..][..g.wo];
                        for (ox, &v) in src.iter().enumerate() {
                            if let Some(ix) = g.src(ox, j, g.w) {
                                img[iy * g.w + ix] += v;
                            }
                        }
                    }
                }
            }
        }
    }
    x
}

impl Graph<'_> {
    /// 2-D convolution with square stride and zero padding.
    pub fn conv2d(&self, x: &Var, w: &Var, b: Option<&Var>, stride: usize, padding: usize) -> Var {
        assert!(
            x.ndim() == 4 && w.ndim() == 4,
            "conv2d needs x (N,C,H,W) and w (O,C,kh,kw)"
        );
        let (xs, ws) = (x.shape(), w.shape());
        assert_eq!(
            xs[1], ws[1],
            "conv2d: x has {} channels, w expects {}",
            xs[1], ws[1]
        );
        assert!(stride > 0, "conv2d: stride must be positive");
        let (h, wd, kh, kw) = (xs[2], xs[3], ws[2], ws[3]);
        assert!(
            h + 2 * padding >= kh && wd + 2 * padding >= kw,
            "conv2d: kernel larger than the padded image"
        );
        let geom = Geom {
            n: xs[0],
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
        let (rows, ncols, hw) = (geom.rows(), geom.cols(), geom.ho * geom.wo);
        let cols = Array2::from_shape_vec((rows, ncols), im2col(slice(x.value()), &geom))
            .expect("cols shape");
        let wv = w.arc();
        let w2 = wv
            .view()
            .into_shape_with_order((o, rows))
            .expect("standard layout");
        let mut y2 = Array2::<f32>::zeros((o, ncols));
        gemm_into(w2, cols.view(), y2.view_mut(), false);
        // (O, N, HoWo) → (N, O, HoWo), adding the bias on the way.
        let bias: Option<Vec<f32>> = b.map(|b| slice(b.value()).to_vec());
        let mut y = vec![0.0f32; geom.n * o * hw];
        for oc in 0..o {
            let add = bias.as_ref().map_or(0.0, |b| b[oc]);
            for n in 0..geom.n {
                let src = &y2.as_slice().expect("fresh")[oc * ncols + n * hw..][..hw];
                let dst = &mut y[(n * o + oc) * hw..][..hw];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = s + add;
                }
            }
        }
        let y =
            Tensor::from_shape_vec(IxDyn(&[geom.n, o, geom.ho, geom.wo]), y).expect("output shape");
        let parents: Vec<&Var> = match b {
            Some(b) => vec![x, w, b],
            None => vec![x, w],
        };
        let wshape = ws.to_vec();
        self.record(y, &parents, move |g, need| {
            // (N, O, HoWo) → (O, N·HoWo)
            let gs = slice(g);
            let mut g2 = Array2::<f32>::zeros((o, ncols));
            for n in 0..geom.n {
                for oc in 0..o {
                    let src = &gs[(n * o + oc) * hw..][..hw];
                    g2.row_mut(oc).as_slice_mut().expect("row")[n * hw..][..hw]
                        .copy_from_slice(src);
                }
            }
            let w2 = wv
                .view()
                .into_shape_with_order((o, rows))
                .expect("standard layout");
            let gx = need[0].then(|| {
                let mut dcols = Array2::<f32>::zeros((rows, ncols));
                gemm_into(w2.t(), g2.view(), dcols.view_mut(), false);
                let dx = col2im(dcols.as_slice().expect("fresh"), &geom);
                Tensor::from_shape_vec(IxDyn(&[geom.n, geom.c, geom.h, geom.w]), dx)
                    .expect("x shape")
            });
            let gw = need[1].then(|| {
                let mut dw = Array2::<f32>::zeros((o, rows));
                gemm_into(g2.view(), cols.t(), dw.view_mut(), false);
                dw.into_shape_with_order(IxDyn(&wshape)).expect("w shape")
            });
            let mut out = vec![gx, gw];
            if need.len() == 3 {
                out.push(need[2].then(|| g2.sum_axis(Axis(1)).into_dyn()));
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
        self.record(y, &[x], move |g, _| {
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
