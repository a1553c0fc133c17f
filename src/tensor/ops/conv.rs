//! 2-D convolution by im2col on the fast matmul, and nearest-neighbour 2× upsampling.
//!
//! conv2d: x (N, C, H, W), w (O, C, kh, kw) in PyTorch's layout, optional bias (O), and in
//! `conv2d_ext` an optional per-image channel shift (N, O) and a residual shaped like the
//! output. Image by image, the patches of x are unrolled into `cols` (C·kh·kw, Ho·Wo, see
//! `patches`) and the convolution is the product y_n = W·cols (W viewed as (O, C·kh·kw)),
//! written straight into the output. The batch is split between the threads. In backward the
//! weight gradient is one product over pixel-major patches (`weight_grad`); with stride 1 the
//! input gradient is a convolution of g with the flipped kernel, otherwise col2im(Wᵀ·g).
//!
//! | op            | forward                   | backward                                          |
//! |---------------|---------------------------|---------------------------------------------------|
//! | conv2d        | y = W·im2col(x) + b       | gW = Σₙ gₙ·colsₙᵀ ; gx = col2im(Wᵀ·gₙ) ; gb = Σ g  |
//! | upsample 2×   | y[2i+a, 2j+b] = x[i, j]   | gx[i, j] = Σ over the 2×2 block of g               |

use ndarray::{ArrayView2, ArrayViewMut2, IxDyn};

use super::patches::{Geom, col2im, im2col, im2row, to_channels_last};
use super::softmax::slice;
use crate::tensor::matmul::{gemm_crate_into, gemm_into_threads};
use crate::tensor::parallel::{par_items, threads_for};
use crate::tensor::scratch;
use crate::tensor::{Graph, Tensor, Var};

/// One thread's share of the weight gradient, over the images `items`, as (O, kh·kw·C) in the
/// tap-major order of `im2row`: dWᵀ += patchesᵀ·gᵀ image by image, a block of output rows at a
/// time. Pixel-major patches make the left operand contiguous along its rows, which is what
/// the gemm crate's kernels want (2× faster than any product over channel-major columns), and
/// blocks of at most ~64k values stay in L2 between the gather and the product.
fn weight_grad(
    x: &[f32],
    g: &[f32],
    items: std::ops::Range<usize>,
    geom: &Geom,
    o: usize,
    inner: usize,
) -> Vec<f32> {
    let (rows, hw, hw_in) = (geom.rows(), geom.hw(), geom.h * geom.w);
    let img = geom.c * hw_in;
    let mut acc = vec![0.0f32; o * rows];
    // A 1×1 convolution's patches are the channels-last image itself.
    let pointwise = geom.kh == 1 && geom.kw == 1 && geom.stride == 1 && geom.pad == 0;
    let block = (65536 / (rows * geom.wo).max(1)).clamp(1, geom.ho.max(1));
    let mut xt = scratch::take(img);
    let mut patches = scratch::take(if pointwise { 0 } else { rows * block * geom.wo });
    for im in items {
        to_channels_last(&x[im * img..][..img], geom.c, hw_in, &mut xt);
        let g_im = view(&g[im * o * hw..][..o * hw], o, hw);
        for oy0 in (0..geom.ho).step_by(block) {
            let oy1 = (oy0 + block).min(geom.ho);
            let (p0, p1) = (oy0 * geom.wo, oy1 * geom.wo);
            let pv = if pointwise {
                view(&xt[p0 * rows..p1 * rows], p1 - p0, rows)
            } else {
                im2row(&xt, geom, oy0..oy1, &mut patches);
                view(&patches[..(p1 - p0) * rows], p1 - p0, rows)
            };
            let gb = g_im.slice(ndarray::s![.., p0..p1]);
            let dv = view_mut(&mut acc, o, rows).reversed_axes();
            gemm_crate_into(pv.t(), gb.t(), dv, true, inner);
        }
    }
    scratch::give(xt);
    scratch::give(patches);
    acc
}

/// Columns per forward product: enough (≥ 784) that the products are efficient, few enough that
/// `cols` stays cache-sized. At 28×28 that is one image, whose product lands straight in the
/// output (measured 3% faster on the U-Net step than chunks of ~3000 columns).
const CHUNK_PIXELS: usize = 784;
/// Columns per product of a strided convolution's input gradient, dcols = Wᵀ·g.
const CHUNK_PIXELS_STRIDED_BACKWARD: usize = 1568;

/// Whole images per chunk of about `pixels` output pixels (at least one, at most n).
fn chunk_images(pixels: usize, hw: usize, n: usize) -> usize {
    (pixels / hw.max(1)).clamp(1, n.max(1))
}

/// y = conv(x, w) (+ bias) for a batch of n images, as (n, O, Ho, Wo) values: per chunk of
/// images, im2col then one product W·cols; the batch is split between the threads. The bias
/// holds O values shared by every image, or n·O, one row per image; a residual (same shape as
/// the output) is added by starting the products from it.
fn conv_forward(
    x: &[f32],
    n: usize,
    geom: &Geom,
    w: &[f32],
    o: usize,
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
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
    let w2 = view(w, o, rows);
    if geom.kh == 1 && geom.kw == 1 && geom.stride == 1 && geom.pad == 0 {
        // A 1×1 convolution is a product per image, y_n = W·x_n: no columns to build.
        par_items(&mut y, n, threads, |items, out| {
            for (k, dst) in items.zip(out.chunks_exact_mut(o * hw)) {
                let xv = view(&x[k * img..][..img], geom.c, hw);
                let acc = start_from(dst, residual, k);
                gemm_into_threads(w2, xv, view_mut(dst, o, hw), acc, inner);
                add_bias(dst, bias_of(bias, k, o), hw);
            }
        });
        return y;
    }
    par_items(&mut y, n, threads, |items, out| {
        forward_images(x, items, out, geom, w2, o, bias, residual, inner);
    });
    y
}

/// The general case of [`conv_forward`] for the images `items`, into `out` (theirs, one after
/// another): per chunk of images, im2col then one product W·cols, the bias added (and the
/// residual started from) on the way back to (image, O, HW).
#[allow(clippy::too_many_arguments)]
fn forward_images(
    x: &[f32],
    items: std::ops::Range<usize>,
    out: &mut [f32],
    geom: &Geom,
    w2: ArrayView2<'_, f32>,
    o: usize,
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    inner: usize,
) {
    let (rows, hw, img) = (geom.rows(), geom.hw(), geom.c * geom.h * geom.w);
    let per = chunk_images(CHUNK_PIXELS, hw, items.len());
    let mut cols = scratch::take(rows * per * hw);
    let mut y2 = scratch::take(if per > 1 { o * per * hw } else { 0 });
    for (k0, chunk) in items.clone().step_by(per).enumerate() {
        let cnt = per.min(items.end - chunk);
        let ld = cnt * hw;
        for k in 0..cnt {
            im2col(&x[(chunk + k) * img..][..img], geom, &mut cols, ld, k * hw);
        }
        let cv = view(&cols[..rows * ld], rows, ld);
        let first = &mut out[k0 * per * o * hw..][..cnt * o * hw];
        if cnt == 1 {
            // One image: the product lands in place, as (O, HW).
            let acc = start_from(first, residual, chunk);
            gemm_into_threads(w2, cv, view_mut(first, o, hw), acc, inner);
            add_bias(first, bias_of(bias, chunk, o), hw);
            continue;
        }
        gemm_into_threads(w2, cv, view_mut(&mut y2[..o * ld], o, ld), false, inner);
        // (O, cnt·HW) → (cnt, O, HW), adding the bias on the way.
        for (k, dst) in first.chunks_exact_mut(o * hw).enumerate() {
            let b = bias_of(bias, chunk + k, o);
            let acc = start_from(dst, residual, chunk + k);
            for (oc, d) in dst.chunks_exact_mut(hw).enumerate() {
                let add = b.map_or(0.0, |b| b[oc]);
                let src = &y2[oc * ld + k * hw..][..hw];
                if acc {
                    d.iter_mut().zip(src).for_each(|(d, &v)| *d += v + add);
                } else {
                    d.iter_mut().zip(src).for_each(|(d, &v)| *d = v + add);
                }
            }
        }
    }
    scratch::give(cols);
    scratch::give(y2);
}

/// Copies image k's part of the residual, if any, into its output; true when it did (the
/// product then accumulates onto it).
fn start_from(dst: &mut [f32], residual: Option<&[f32]>, k: usize) -> bool {
    match residual {
        Some(r) => {
            dst.copy_from_slice(&r[k * dst.len()..][..dst.len()]);
            true
        }
        None => false,
    }
}

/// Image k's row of a bias of O (shared) or n·O (per image) values.
fn bias_of(bias: Option<&[f32]>, k: usize, o: usize) -> Option<&[f32]> {
    bias.map(|b| if b.len() == o { b } else { &b[k * o..][..o] })
}

/// Adds b[o] to every value of plane o of one image's (O, HW) output.
fn add_bias(y: &mut [f32], bias: Option<&[f32]>, hw: usize) {
    if let Some(b) = bias {
        for (plane, &add) in y.chunks_exact_mut(hw).zip(b) {
            plane.iter_mut().for_each(|v| *v += add);
        }
    }
}

/// The geometry of conv(x, w) with square `stride` and zero `padding`, after checking that x
/// is (N, C, H, W), w is (O, C, kh, kw) and the kernel fits the padded image.
fn conv_geom(x: &Var, w: &Var, stride: usize, padding: usize) -> Geom {
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
    Geom {
        c: xs[1],
        h,
        w: wd,
        kh,
        kw,
        stride,
        pad: padding,
        ho: (h + 2 * padding - kh) / stride + 1,
        wo: (wd + 2 * padding - kw) / stride + 1,
    }
}

/// The bias the forward products add: one row b[o] shared by the images, or with a shift
/// (N, O) one row per image, b[o] + s[n, o].
fn conv_bias(b: Option<&Var>, shift: Option<&Var>, n: usize, o: usize) -> Option<Vec<f32>> {
    let shared = b.map(|b| slice(b.value()));
    match shift {
        Some(s) => {
            assert_eq!(
                s.shape(),
                [n, o],
                "conv2d: the shift must be (N, O) = ({n}, {o})"
            );
            Some(
                slice(s.value())
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v + shared.map_or(0.0, |b| b[i % o]))
                    .collect(),
            )
        }
        None => shared.map(<[f32]>::to_vec),
    }
}

/// The input gradient (empty unless `need_x`) and the weight gradient (if `need_w`, as
/// (O, C, kh, kw)) of y = conv(x, w) for the output gradient `g`. The batch is split between
/// the threads; each share adds up its own weight gradient.
#[allow(clippy::too_many_arguments)]
fn conv_backward(
    x: &[f32],
    w: &[f32],
    g: &[f32],
    n: usize,
    geom: &Geom,
    o: usize,
    need_x: bool,
    need_w: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let (rows, hw, img) = (geom.rows(), geom.hw(), geom.c * geom.h * geom.w);
    let threads = threads_for(n * o * rows * hw);
    let inner = if threads > 1 && n > 1 {
        1
    } else {
        threads_for(o * rows * hw)
    };
    // With stride 1, the input gradient is itself a convolution: of g with the kernel flipped
    // in space and transposed in channels, padded by k − 1 − p. That reuses the forward path
    // (no scatter) with a deeper product (K = O·k·k instead of O).
    let flipped = geom.stride == 1 && geom.kh == geom.kw && geom.pad < geom.kh;
    let mut gx = match (need_x, flipped) {
        (true, true) => flipped_input_grad(g, n, geom, w, o),
        (true, false) => vec![0.0f32; n * img],
        (false, _) => Vec::new(),
    };
    // Otherwise each share of the batch scatters its images' input gradient into gx.
    let strided = need_x && !flipped;
    let mut no_gx = Vec::new();
    let target = if strided { &mut gx } else { &mut no_gx };
    let partial_dw = par_items(target, n, threads, |items, gx_part| {
        let dw = need_w.then(|| weight_grad(x, g, items.clone(), geom, o, inner));
        if strided {
            strided_input_grad(g, w, geom, o, items, gx_part, inner);
        }
        dw
    });
    let gw = need_w.then(|| weight_grad_to_oihw(partial_dw, geom, o));
    (gx, gw)
}

/// The input gradient of a stride-1 convolution with a square kernel: g (n, O, Ho, Wo)
/// convolved with the flipped kernel, padded by k − 1 − p.
fn flipped_input_grad(g: &[f32], n: usize, geom: &Geom, w: &[f32], o: usize) -> Vec<f32> {
    let wf = flip_kernel(w, o, geom.c, geom.kh, geom.kw);
    let back = Geom {
        c: o,
        h: geom.ho,
        w: geom.wo,
        pad: geom.kh - 1 - geom.pad,
        ho: geom.h,
        wo: geom.w,
        ..*geom
    };
    conv_forward(g, n, &back, &wf, geom.c, None, None)
}

/// The input gradient of the images `items` (into `gx_part`, one image after another) for
/// any stride: dcols = Wᵀ·g, scattered back by col2im, with g for a chunk of images laid out
/// as (O, cnt·HW) beside dcols.
fn strided_input_grad(
    g: &[f32],
    w: &[f32],
    geom: &Geom,
    o: usize,
    items: std::ops::Range<usize>,
    gx_part: &mut [f32],
    inner: usize,
) {
    let (rows, hw, img) = (geom.rows(), geom.hw(), geom.c * geom.h * geom.w);
    let per = chunk_images(CHUNK_PIXELS_STRIDED_BACKWARD, hw, items.len());
    let mut cols = scratch::take(rows * per * hw);
    let mut g2 = scratch::take(o * per * hw);
    let w2 = view(w, o, rows);
    for (k0, chunk) in items.clone().step_by(per).enumerate() {
        let cnt = per.min(items.end - chunk);
        let ld = cnt * hw;
        // (cnt, O, HW) → (O, cnt·HW)
        for k in 0..cnt {
            let src = &g[(chunk + k) * o * hw..][..o * hw];
            for (oc, s) in src.chunks_exact(hw).enumerate() {
                g2[oc * ld + k * hw..][..hw].copy_from_slice(s);
            }
        }
        let gv = view(&g2[..o * ld], o, ld);
        let dcols = view_mut(&mut cols[..rows * ld], rows, ld);
        gemm_into_threads(w2.t(), gv, dcols, false, inner);
        for k in 0..cnt {
            let dst = &mut gx_part[(k0 * per + k) * img..][..img];
            col2im(&cols, geom, dst, ld, k * hw);
        }
    }
    scratch::give(cols);
    scratch::give(g2);
}

/// The threads' shares of the weight gradient, (O, kh·kw·C) each, summed in order and
/// reordered to w's layout (O, C, kh, kw).
fn weight_grad_to_oihw(parts: Vec<Option<Vec<f32>>>, geom: &Geom, o: usize) -> Vec<f32> {
    let mut parts = parts.into_iter().flatten();
    let mut acc = parts.next().expect("at least one part");
    for p in parts {
        acc.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    // (O, kh, kw, C) → (O, C, kh, kw)
    let (c, taps) = (geom.c, geom.kh * geom.kw);
    let mut dw = vec![0.0f32; acc.len()];
    for oc in 0..o {
        for t in 0..taps {
            for ci in 0..c {
                dw[(oc * c + ci) * taps + t] = acc[(oc * taps + t) * c + ci];
            }
        }
    }
    dw
}

/// The gradients of the bias (O) and of the shift (N, O), those that exist, in that order;
/// `need` says which of them are wanted. Both are sums over each output plane of g: the
/// shift's per image, the bias's over the images too.
fn bias_and_shift_grads(
    g: &[f32],
    n: usize,
    o: usize,
    hw: usize,
    has_b: bool,
    has_shift: bool,
    need: &[bool],
) -> Vec<Option<Tensor>> {
    let mut out = Vec::new();
    if !(has_b || has_shift) {
        return out;
    }
    let sums: Vec<f32> = g
        .chunks_exact(hw)
        .map(crate::tensor::kernels::sum)
        .collect();
    if has_b {
        let mut db = vec![0.0f32; o];
        for (r, s) in sums.iter().enumerate() {
            db[r % o] += s;
        }
        out.push(need[0].then(|| Tensor::from_shape_vec(IxDyn(&[o]), db).expect("(O)")));
    }
    if has_shift {
        let k = out.len();
        out.push(need[k].then(|| Tensor::from_shape_vec(IxDyn(&[n, o]), sums).expect("(N, O)")));
    }
    out
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
        self.conv2d_ext(x, w, b, None, None, stride, padding)
    }

    /// `conv2d(x, w, b) + shift[n, o]`: the convolution with, for each image n, `shift[n, o]`
    /// (N, O) added to all of output channel o — how a U-Net block takes its time embedding,
    /// here without a separate pass over the output (its gradient is the per-image bias
    /// gradient, which backward computes anyway).
    pub fn conv2d_shifted(
        &self,
        x: &Var,
        w: &Var,
        b: Option<&Var>,
        shift: Option<&Var>,
        stride: usize,
        padding: usize,
    ) -> Var {
        self.conv2d_ext(x, w, b, shift, None, stride, padding)
    }

    /// `conv2d_shifted(x, w, b, shift) + residual`, with `residual` shaped like the output: the
    /// sum that closes a residual block, made by starting the products from the residual
    /// instead of by a separate pass. Its gradient is the output's.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d_ext(
        &self,
        x: &Var,
        w: &Var,
        b: Option<&Var>,
        shift: Option<&Var>,
        residual: Option<&Var>,
        stride: usize,
        padding: usize,
    ) -> Var {
        let geom = conv_geom(x, w, stride, padding);
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        let (n, o) = (xs[0], ws[0]);
        let bias = conv_bias(b, shift, n, o);
        if let Some(r) = residual {
            assert_eq!(
                r.shape(),
                [n, o, geom.ho, geom.wo],
                "conv2d: the residual must be shaped like the output"
            );
        }
        let (xv, wv) = (x.arc(), w.arc());
        let y = conv_forward(
            slice(&xv),
            n,
            &geom,
            slice(&wv),
            o,
            bias.as_deref(),
            residual.map(|r| slice(r.value())),
        );
        let y = Tensor::from_shape_vec(IxDyn(&[n, o, geom.ho, geom.wo]), y).expect("output shape");
        let mut parents: Vec<&Var> = vec![x, w];
        parents.extend(b);
        parents.extend(shift);
        parents.extend(residual);
        let (has_b, has_shift, has_res) = (b.is_some(), shift.is_some(), residual.is_some());
        self.record(y, &parents, move |g: Tensor, need| {
            let gs = slice(&g);
            let (gx, gw) = conv_backward(slice(&xv), slice(&wv), gs, n, &geom, o, need[0], need[1]);
            let mut out = vec![
                need[0].then(|| Tensor::from_shape_vec(IxDyn(&xs), gx).expect("x shape")),
                gw.map(|dw| Tensor::from_shape_vec(IxDyn(&ws), dw).expect("w shape")),
            ];
            out.extend(bias_and_shift_grads(
                gs,
                n,
                o,
                geom.hw(),
                has_b,
                has_shift,
                &need[2..],
            ));
            if has_res {
                let k = out.len();
                out.push(need[k].then(|| g.clone()));
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
        // Each source row becomes two identical output rows of doubled values.
        for (src, pair) in xs.chunks_exact(w).zip(y.chunks_exact_mut(4 * w)) {
            let (top, bottom) = pair.split_at_mut(2 * w);
            for (d, &v) in top.chunks_exact_mut(2).zip(src) {
                d[0] = v;
                d[1] = v;
            }
            bottom.copy_from_slice(top);
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
            // Each input value collects its 2×2 block: two values from each of two rows.
            for (dst, pair) in gx.chunks_exact_mut(w).zip(gs.chunks_exact(4 * w)) {
                let (top, bottom) = pair.split_at(2 * w);
                for ((d, t), b) in dst
                    .iter_mut()
                    .zip(top.chunks_exact(2))
                    .zip(bottom.chunks_exact(2))
                {
                    *d = (t[0] + t[1]) + (b[0] + b[1]);
                }
            }
            vec![Some(
                Tensor::from_shape_vec(IxDyn(&in_shape), gx).expect("input shape"),
            )]
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use crate::tensor::{Graph, ParamStore, Tensor, randn};

    /// Convolution by its definition, forward and backward, in f64: the reference for the
    /// fast paths (im2col, flipped-kernel input gradient, pixel-major weight gradient).
    #[allow(clippy::type_complexity)]
    fn naive(
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        g: &Tensor,
        stride: usize,
        pad: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (o, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
        let (ho, wo) = (g.shape()[2], g.shape()[3]);
        let mut y = vec![0.0f64; n * o * ho * wo];
        let (mut gx, mut gw, mut gb) = (
            vec![0.0f64; x.len()],
            vec![0.0f64; w.len()],
            vec![0.0f64; o],
        );
        for im in 0..n {
            for oc in 0..o {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let yi = ((im * o + oc) * ho + oy) * wo + ox;
                        let up = g.as_slice().unwrap()[yi] as f64;
                        y[yi] += b[oc] as f64;
                        gb[oc] += up;
                        for ci in 0..c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let (iy, ix) = (oy * stride + i, ox * stride + j);
                                    if iy < pad || ix < pad || iy - pad >= h || ix - pad >= wd {
                                        continue;
                                    }
                                    let xi = ((im * c + ci) * h + iy - pad) * wd + ix - pad;
                                    let wi = ((oc * c + ci) * kh + i) * kw + j;
                                    let (xv, wv) = (
                                        x.as_slice().unwrap()[xi] as f64,
                                        w.as_slice().unwrap()[wi] as f64,
                                    );
                                    y[yi] += xv * wv;
                                    gx[xi] += up * wv;
                                    gw[wi] += up * xv;
                                }
                            }
                        }
                    }
                }
            }
        }
        (y, gx, gw, gb)
    }

    fn assert_close(what: &str, fast: &Tensor, slow: &[f64]) {
        let scale = slow.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (k, (&f, &s)) in fast.iter().zip(slow).enumerate() {
            assert!(
                (f as f64 - s).abs() <= 1e-4 * scale,
                "{what}[{k}]: fast {f}, definition {s}"
            );
        }
    }

    #[test]
    fn fast_convolution_matches_the_definition_on_batches_split_across_threads_and_chunks() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        // (n, c, size, o, k, stride, pad): big enough that the batch is split between the
        // threads and each thread's share spans several chunks.
        for (n, c, s, o, k, stride, pad) in [
            (24, 8, 14, 8, 3, 1, 1),
            (24, 8, 14, 8, 3, 2, 1),
            (40, 6, 7, 10, 1, 1, 0),
            (5, 1, 9, 3, 3, 1, 1),
            (6, 4, 28, 4, 3, 1, 1),
        ] {
            let mut ps = ParamStore::new();
            let x = ps.add("x", randn(&[n, c, s, s], &mut rng));
            let w = ps.add("w", randn(&[o, c, k, k], &mut rng));
            let b = ps.add("b", randn(&[o], &mut rng));
            let g = Graph::new(&ps);
            let y = g.conv2d(&g.param(x), &g.param(w), Some(&g.param(b)), stride, pad);
            let up = randn(y.shape(), &mut rng);
            let grads = g.backward_with(&y, up.clone());
            let (ry, rgx, rgw, rgb) = naive(ps.get(x), ps.get(w), ps.get(b), &up, stride, pad);
            let what = format!("n={n} c={c} {s}px o={o} k={k} s={stride}");
            assert_close(&format!("{what} y"), y.value(), &ry);
            assert_close(&format!("{what} gx"), grads.get(x).unwrap(), &rgx);
            assert_close(&format!("{what} gw"), grads.get(w).unwrap(), &rgw);
            assert_close(&format!("{what} gb"), grads.get(b).unwrap(), &rgb);

            // The same with a per-image shift and a residual: y + shift[n, o] + r.
            let mut ps2 = ps.clone();
            let ho = y.shape()[2];
            let sh = ps2.add("shift", randn(&[n, o], &mut rng));
            let res = ps2.add("res", randn(&[n, o, ho, ho], &mut rng));
            let g = Graph::new(&ps2);
            let (xv, wv, bv) = (g.param(x), g.param(w), g.param(b));
            let (sv, rv) = (g.param(sh), g.param(res));
            let y2 = g.conv2d_ext(&xv, &wv, Some(&bv), Some(&sv), Some(&rv), stride, pad);
            let grads = g.backward_with(&y2, up.clone());
            let plane = ho * ho;
            let want: Vec<f64> = ry
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v + ps2.get(sh).as_slice().unwrap()[i / plane] as f64
                        + ps2.get(res).as_slice().unwrap()[i] as f64
                })
                .collect();
            assert_close(&format!("{what} y+shift+res"), y2.value(), &want);
            assert_close(&format!("{what} gx (ext)"), grads.get(x).unwrap(), &rgx);
            assert_close(&format!("{what} gw (ext)"), grads.get(w).unwrap(), &rgw);
            let gshift: Vec<f64> = up
                .as_slice()
                .unwrap()
                .chunks(plane)
                .map(|c| c.iter().map(|&v| v as f64).sum())
                .collect();
            assert_close(&format!("{what} gshift"), grads.get(sh).unwrap(), &gshift);
            let gres: Vec<f64> = up.iter().map(|&v| v as f64).collect();
            assert_close(&format!("{what} gres"), grads.get(res).unwrap(), &gres);
        }
    }
}
