//! Unrolling images into patches for convolution as a matrix product, and back.
//!
//! - `im2col`: channel-major columns (C·kh·kw rows, one column per output pixel), the right
//!   operand of the forward product W·cols; built by whole-row copies.
//! - `im2row`: pixel-major rows (one row of kh·kw·C values per output pixel), from a
//!   channels-last copy of the image, the left operand of the weight gradient's product.
//! - `col2im`: the transpose of `im2col`, for the input gradient of strided convolutions.

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) stride: usize,
    pub(super) pad: usize,
    pub(super) ho: usize,
    pub(super) wo: usize,
}

impl Geom {
    pub(super) fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    pub(super) fn hw(&self) -> usize {
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

/// Sets a run of values to 0. Runs of padding are often a single value (the wrapped column of a
/// 3×3 kernel, once per image row); that one is stored directly, since `fill` (and any loop,
/// which the compiler turns into the same call) calls memset, and those calls showed as 4% of
/// a U-Net step.
#[inline(always)]
fn zero(run: &mut [f32]) {
    match run {
        [] => {}
        [v] => *v = 0.0,
        [a, b] => {
            *a = 0.0;
            *b = 0.0;
        }
        _ => run.fill(0.0),
    }
}

/// Unrolls the patches of one image (C, H, W) into columns `col0..col0 + Ho·Wo` of `cols`
/// (C·kh·kw rows of `ld` values).
pub(super) fn im2col(x: &[f32], g: &Geom, cols: &mut [f32], ld: usize, col0: usize) {
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
                zero(&mut row[..ys.lo * g.wo]);
                zero(&mut row[ys.hi * g.wo..]);
                for oy in ys.lo..ys.hi {
                    let iy = oy * g.stride + i - g.pad;
                    let line = &mut row[oy * g.wo..][..g.wo];
                    zero(&mut line[..xs.lo]);
                    zero(&mut line[xs.hi..]);
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
                zero(&mut row[..lo]);
                if hi > lo {
                    let src = (lo as isize + shift) as usize;
                    row[lo..hi].copy_from_slice(&img[src..src + (hi - lo)]);
                }
                zero(&mut row[hi.max(lo)..]);
                // Columns that wrapped around to the neighbouring image row.
                if dx != 0 {
                    let bad = dx.unsigned_abs().min(w);
                    let first = if dx < 0 { 0 } else { w - bad };
                    for line in row.chunks_exact_mut(w) {
                        zero(&mut line[first..first + bad]);
                    }
                }
            }
        }
    }
}

/// (C, H·W) → (H·W, C), in tiles of TILE pixels so that the scattered writes stay in L1.
const TILE: usize = 64;
pub(super) fn to_channels_last(x: &[f32], c: usize, hw: usize, xt: &mut [f32]) {
    for p0 in (0..hw).step_by(TILE) {
        let q = TILE.min(hw - p0);
        let tile = &mut xt[p0 * c..][..q * c];
        for (ch, plane) in x.chunks_exact(hw).enumerate() {
            for (k, &v) in plane[p0..p0 + q].iter().enumerate() {
                tile[k * c + ch] = v;
            }
        }
    }
}

/// Unrolls the patches under output rows `oys` pixel-major, from the channels-last image `xt`:
/// row r of `out` (C·kh·kw values, ordered (i, j, c)) is the patch under the r-th pixel. Each
/// kernel tap is one contiguous run of C values. This is the layout the weight gradient's
/// product wants (see `weight_grad`).
pub(super) fn im2row(xt: &[f32], g: &Geom, oys: std::ops::Range<usize>, out: &mut [f32]) {
    // Copies of exactly C values compile to a few vector moves; a run-time length calls
    // memcpy once per tap and pixel, which dominated this function.
    match g.c {
        1 => taps::<1>(xt, g, oys, out),
        16 => taps::<16>(xt, g, oys, out),
        32 => taps::<32>(xt, g, oys, out),
        48 => taps::<48>(xt, g, oys, out),
        64 => taps::<64>(xt, g, oys, out),
        _ => taps_any(xt, g, oys, out),
    }
}

/// `im2row` for C known at compile time.
fn taps<const C: usize>(xt: &[f32], g: &Geom, oys: std::ops::Range<usize>, out: &mut [f32]) {
    let k = g.rows();
    let oy0 = oys.start;
    for oy in oys {
        for ox in 0..g.wo {
            let row = &mut out[((oy - oy0) * g.wo + ox) * k..][..k];
            let mut taps = row.chunks_exact_mut(C);
            for i in 0..g.kh {
                let iy = (oy * g.stride + i).wrapping_sub(g.pad);
                for j in 0..g.kw {
                    let ix = (ox * g.stride + j).wrapping_sub(g.pad);
                    let dst: &mut [f32; C] =
                        taps.next().expect("kh·kw taps").try_into().expect("C");
                    // Out-of-image taps wrapped around to huge indices: they are padding.
                    *dst = if iy < g.h && ix < g.w {
                        xt[(iy * g.w + ix) * C..][..C].try_into().expect("C values")
                    } else {
                        [0.0; C]
                    };
                }
            }
        }
    }
}

/// `im2row` for any C.
fn taps_any(xt: &[f32], g: &Geom, oys: std::ops::Range<usize>, out: &mut [f32]) {
    let (c, k) = (g.c, g.rows());
    let oy0 = oys.start;
    for oy in oys {
        for ox in 0..g.wo {
            let row = &mut out[((oy - oy0) * g.wo + ox) * k..][..k];
            for (t, dst) in row.chunks_exact_mut(c).enumerate() {
                let (i, j) = (t / g.kw, t % g.kw);
                let iy = (oy * g.stride + i).wrapping_sub(g.pad);
                let ix = (ox * g.stride + j).wrapping_sub(g.pad);
                if iy < g.h && ix < g.w {
                    dst.copy_from_slice(&xt[(iy * g.w + ix) * c..][..c]);
                } else {
                    dst.fill(0.0);
                }
            }
        }
    }
}

/// The transpose of `im2col` for one image: adds every patch entry back into its pixel.
pub(super) fn col2im(cols: &[f32], g: &Geom, x: &mut [f32], ld: usize, col0: usize) {
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
