//! The rasteriser and MNIST's normalisation: the bent strokes are scaled so the inked box fits
//! 20×20 (aspect kept), stroked with an anti-aliased pen onto 28×28 pixels, moved so the centre
//! of mass sits at pixel (14, 14), and brightened so the strokes reach full white.

use super::style::Style;
use super::{PIXELS, SIDE};

/// MNIST fits each digit's inked box into this many pixels…
const BOX: f32 = 20.0;
/// …and puts its centre of mass here (column, row), in pixel indices.
const CENTRE: f32 = 14.0;

/// The strokes (polylines in the unit box) as an image, row-major, in [0, 1].
pub(super) fn rasterise(strokes: &[Vec<[f32; 2]>], style: &Style) -> [f32; PIXELS] {
    let mut pen = Pen::fit(strokes, style);
    let mut image = [0.0; PIXELS];
    pen.draw(strokes, &mut image);
    // The guess of the centre of mass from the skeleton is close; move by what is left.
    let (cx, cy) = centre_of_mass(&image);
    if (cx - CENTRE).abs().max((cy - CENTRE).abs()) > 0.2 {
        pen.offset[0] += CENTRE - cx;
        pen.offset[1] += CENTRE - cy;
        image = [0.0; PIXELS];
        pen.draw(strokes, &mut image);
    }
    // A thin pen may pass between pixel centres; MNIST's strokes always reach full white.
    let brightest = image.iter().copied().fold(0.0, f32::max);
    if brightest > 0.0 && brightest < 1.0 {
        image.iter_mut().for_each(|v| *v /= brightest);
    }
    image
}

/// Centre of mass (column, row) of an image, in pixel indices; the middle if it is empty.
fn centre_of_mass(image: &[f32]) -> (f32, f32) {
    let (mut m, mut sx, mut sy) = (0.0f32, 0.0f32, 0.0f32);
    for (i, &v) in image.iter().enumerate() {
        m += v;
        sx += v * (i % SIDE) as f32;
        sy += v * (i / SIDE) as f32;
    }
    if m > 0.0 {
        (sx / m, sy / m)
    } else {
        (CENTRE, CENTRE)
    }
}

/// Where the strokes land in pixels, and the pen that draws them.
struct Pen {
    scale: f32,
    /// Pixel position of the skeleton's (0, 0).
    offset: [f32; 2],
    radius: f32,
    edge: f32,
}

impl Pen {
    /// Scales the inked box to fit 20×20 and guesses the offset that centres the mass.
    fn fit(strokes: &[Vec<[f32; 2]>], style: &Style) -> Pen {
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in strokes.iter().flatten() {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        // Pixels inked at all lie within radius + edge of the skeleton.
        let reach = style.radius + style.edge;
        let span = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-3);
        let scale = (BOX - 0.02 - 2.0 * reach) / span;
        // Ink is about proportional to length: the skeleton's centre of length.
        let (mut m, mut sx, mut sy) = (0.0f32, 0.0f32, 0.0f32);
        for line in strokes {
            for w in line.windows(2) {
                let len = ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt();
                m += len;
                sx += len * 0.5 * (w[0][0] + w[1][0]);
                sy += len * 0.5 * (w[0][1] + w[1][1]);
            }
        }
        let (cx, cy) = if m > 0.0 {
            (sx / m, sy / m)
        } else {
            (0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]))
        };
        Pen {
            scale,
            offset: [CENTRE - cx * scale, CENTRE - cy * scale],
            radius: style.radius,
            edge: style.edge,
        }
    }

    /// Strokes every segment: full ink within radius − edge of it, fading to none at
    /// radius + edge; where strokes overlap the brighter wins.
    fn draw(&self, strokes: &[Vec<[f32; 2]>], image: &mut [f32; PIXELS]) {
        let reach = self.radius + self.edge;
        let to_px = |p: &[f32; 2]| {
            [
                p[0] * self.scale + self.offset[0],
                p[1] * self.scale + self.offset[1],
            ]
        };
        let last = (SIDE - 1) as f32;
        for line in strokes {
            let mut segments: Vec<[f32; 2]> = line.iter().map(to_px).collect();
            if segments.len() == 1 {
                segments.push(segments[0]);
            }
            for w in segments.windows(2) {
                let ([ax, ay], [bx, by]) = (w[0], w[1]);
                let x0 = (ax.min(bx) - reach).ceil().clamp(0.0, last) as usize;
                let x1 = (ax.max(bx) + reach).floor().clamp(0.0, last) as usize;
                let y0 = (ay.min(by) - reach).ceil().clamp(0.0, last) as usize;
                let y1 = (ay.max(by) + reach).floor().clamp(0.0, last) as usize;
                let (dx, dy) = (bx - ax, by - ay);
                let len2 = dx * dx + dy * dy;
                let inv = if len2 > 0.0 { 1.0 / len2 } else { 0.0 };
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        let (px, py) = (x as f32 - ax, y as f32 - ay);
                        let t = ((px * dx + py * dy) * inv).clamp(0.0, 1.0);
                        let (ex, ey) = (px - t * dx, py - t * dy);
                        let d2 = ex * ex + ey * ey;
                        if d2 >= reach * reach {
                            continue;
                        }
                        let v = ((reach - d2.sqrt()) / (2.0 * self.edge)).min(1.0);
                        let cell = &mut image[y * SIDE + x];
                        if v > *cell {
                            *cell = v;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::generate;
    use super::*;

    /// Rows and columns that hold any ink: (top, bottom, left, right), inclusive.
    fn inked_box(image: &[f32]) -> (usize, usize, usize, usize) {
        let (mut top, mut bottom, mut left, mut right) = (SIDE, 0, SIDE, 0);
        for (i, _) in image.iter().enumerate().filter(|(_, v)| **v > 0.0) {
            let (r, c) = (i / SIDE, i % SIDE);
            (top, bottom) = (top.min(r), bottom.max(r));
            (left, right) = (left.min(c), right.max(c));
        }
        (top, bottom, left, right)
    }

    #[test]
    fn pixels_lie_between_zero_and_one_and_strokes_are_bright() {
        let (pixels, _) = generate(500, 2);
        assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        for image in pixels.chunks(PIXELS) {
            let brightest = image.iter().cloned().fold(0.0, f32::max);
            assert!(brightest > 0.9, "a faint digit: {brightest}");
        }
    }

    #[test]
    fn every_digit_is_centred_by_its_centre_of_mass() {
        let (pixels, _) = generate(1000, 3);
        for image in pixels.chunks(PIXELS) {
            let (cx, cy) = centre_of_mass(image);
            assert!(
                (cx - 14.0).abs() < 1.0 && (cy - 14.0).abs() < 1.0,
                "({cx}, {cy})"
            );
        }
    }

    #[test]
    fn every_digit_fits_a_twenty_pixel_box_and_fills_it_one_way() {
        let (pixels, _) = generate(1000, 4);
        for image in pixels.chunks(PIXELS) {
            let (top, bottom, left, right) = inked_box(image);
            let (h, w) = (bottom + 1 - top, right + 1 - left);
            assert!(h <= 20 && w <= 20, "{h}×{w}");
            assert!(h.max(w) >= 17, "a small digit: {h}×{w}");
        }
    }
}
