//! What a model asks the screen to draw: figures, tables and bars, as plain serialisable data.
//!
//! Models build these; the run view draws them; saves store them; replay reads them back. They
//! hold numbers and names only — no terminal types — so a model never depends on the UI.

pub mod num;

use serde::{Deserialize, Serialize};

/// A named colour; the view maps it to the terminal's palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Red,
    Green,
    Yellow,
    Magenta,
    Cyan,
    White,
    Gray,
}

/// One thing drawn on a figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub enum Layer {
    /// A scatter of points.
    Points {
        label: String,
        color: Color,
        #[serde(with = "crate::visual::num")]
        points: Vec<[f64; 2]>,
    },
    /// A polyline through the points in order.
    Line {
        label: String,
        color: Color,
        #[serde(with = "crate::visual::num")]
        points: Vec<[f64; 2]>,
    },
    /// Separate segments (contour lines, boundaries).
    Segments {
        label: String,
        color: Color,
        #[serde(with = "crate::visual::num")]
        segments: Vec<[[f64; 2]; 2]>,
    },
    /// One marked point with a symbol, such as the optimum.
    Marker {
        label: String,
        color: Color,
        #[serde(with = "crate::visual::num")]
        at: [f64; 2],
        symbol: String,
    },
}

impl Layer {
    pub fn label(&self) -> &str {
        match self {
            Layer::Points { label, .. }
            | Layer::Line { label, .. }
            | Layer::Segments { label, .. }
            | Layer::Marker { label, .. } => label,
        }
    }

    pub fn color(&self) -> Color {
        match self {
            Layer::Points { color, .. }
            | Layer::Line { color, .. }
            | Layer::Segments { color, .. }
            | Layer::Marker { color, .. } => *color,
        }
    }
}

/// A 2-D figure: axes, ranges and layers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub x_label: String,
    pub y_label: String,
    #[serde(with = "crate::visual::num")]
    pub x_range: [f64; 2],
    #[serde(with = "crate::visual::num")]
    pub y_range: [f64; 2],
    pub layers: Vec<Layer>,
}

/// A small table of text cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A bar chart: labelled values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bars {
    #[serde(with = "crate::visual::num")]
    pub bars: Vec<(String, f64)>,
}

/// A small grayscale image, 0 = black, 255 = white, row-major, with a caption.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
    pub caption: String,
}

impl Image {
    /// Quantises floats in [0, 1] (values outside are clipped).
    pub fn from_f32(
        width: usize,
        height: usize,
        values: &[f32],
        caption: impl Into<String>,
    ) -> Image {
        let pixels = values
            .iter()
            .take(width * height)
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        Image {
            width,
            height,
            pixels,
            caption: caption.into(),
        }
    }

    /// The pixel at (x, y) in [0, 1]; 0 outside the image.
    pub fn at(&self, x: usize, y: usize) -> f32 {
        if x < self.width && y < self.height {
            self.pixels
                .get(y * self.width + x)
                .map_or(0.0, |&p| p as f32 / 255.0)
        } else {
            0.0
        }
    }
}

/// Anything a panel can show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Visual {
    Figure(Figure),
    Table(Table),
    Bars(Bars),
    Text {
        text: String,
    },
    /// Images side by side: a grid (samples), or one row read left to right (a filmstrip).
    Images {
        images: Vec<Image>,
        strip: bool,
    },
}

/// A new content for one part of one panel.
///
/// A panel is drawn from its parts in the order they first arrived; sending a part again
/// replaces it. This lets a model send a static background (a loss surface) once and then only
/// the part that moves (the descent path).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelUpdate {
    pub panel: String,
    pub part: String,
    pub visual: Visual,
}

/// Most points a scatter layer carries: a panel of a few hundred by a few hundred braille dots
/// shows no more, and the screen, the save and the memory should not carry a million.
pub const MAX_SHOWN_POINTS: usize = 4000;

/// The points of a scatter as shown: all of them up to [`MAX_SHOWN_POINTS`], else that many
/// spread evenly over the whole set (the same ones every time).
pub fn shown_points(points: impl ExactSizeIterator<Item = [f64; 2]>) -> Vec<[f64; 2]> {
    let n = points.len();
    if n <= MAX_SHOWN_POINTS {
        return points.collect();
    }
    let mut out = Vec::with_capacity(MAX_SHOWN_POINTS);
    for (i, p) in points.enumerate() {
        // Point i is kept when it is the first at or past the next even mark.
        if out.len() < MAX_SHOWN_POINTS && i == out.len() * n / MAX_SHOWN_POINTS {
            out.push(p);
        }
    }
    out
}

/// Contour segments of a scalar field sampled on a regular grid (marching squares).
///
/// `values[j * nx + i]` is the field at `(x0 + i·dx, y0 + j·dy)`.
pub fn contour_segments(
    values: &[f64],
    nx: usize,
    ny: usize,
    x_range: [f64; 2],
    y_range: [f64; 2],
    level: f64,
) -> Vec<[[f64; 2]; 2]> {
    let mut out = Vec::new();
    if nx < 2 || ny < 2 || values.len() < nx * ny {
        return out;
    }
    let dx = (x_range[1] - x_range[0]) / (nx - 1) as f64;
    let dy = (y_range[1] - y_range[0]) / (ny - 1) as f64;
    let at = |i: usize, j: usize| values[j * nx + i];
    let point = |i: usize, j: usize| [x_range[0] + i as f64 * dx, y_range[0] + j as f64 * dy];
    let cross = |a: [f64; 2], va: f64, b: [f64; 2], vb: f64| {
        let t = if (vb - va).abs() < 1e-300 {
            0.5
        } else {
            (level - va) / (vb - va)
        };
        [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
    };
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let mut crossings = Vec::with_capacity(4);
            for k in 0..4 {
                let (ai, aj) = corners[k];
                let (bi, bj) = corners[(k + 1) % 4];
                let (va, vb) = (at(ai, aj), at(bi, bj));
                if (va < level) != (vb < level) {
                    crossings.push(cross(point(ai, aj), va, point(bi, bj), vb));
                }
            }
            if crossings.len() == 2 {
                out.push([crossings[0], crossings[1]]);
            } else if crossings.len() == 4 {
                out.push([crossings[0], crossings[1]]);
                out.push([crossings[2], crossings[3]]);
            }
        }
    }
    out
}

/// `k` indices spread over `0..n`, keeping the first and the last: which frames of a film, or
/// which columns of a grid, to show when there are more than fit.
pub fn evenly_spaced(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    if k <= 1 {
        return vec![n - 1];
    }
    (0..k)
        .map(|i| (i * (n - 1) + (k - 1) / 2) / (k - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scatter_shows_every_point_of_a_small_set_and_an_even_spread_of_a_huge_one() {
        let small: Vec<[f64; 2]> = (0..100).map(|i| [i as f64, 0.0]).collect();
        assert_eq!(shown_points(small.clone().into_iter()), small);
        let n = 1_000_003;
        let huge = shown_points((0..n).map(|i| [i as f64, 0.0]));
        assert_eq!(huge.len(), MAX_SHOWN_POINTS);
        assert_eq!(huge[0][0], 0.0);
        // Evenly spread: consecutive kept points are n / MAX apart, give or take one.
        let gap = n as f64 / MAX_SHOWN_POINTS as f64;
        for w in huge.windows(2) {
            assert!((w[1][0] - w[0][0] - gap).abs() <= 1.0, "{:?}", w);
        }
        assert!(huge.last().unwrap()[0] > (n as f64) - 2.0 * gap);
    }

    #[test]
    fn a_circle_contour_stays_on_the_circle() {
        let n = 41;
        let range = [-2.0, 2.0];
        let mut values = Vec::new();
        for j in 0..n {
            for i in 0..n {
                let x = -2.0 + 4.0 * i as f64 / (n - 1) as f64;
                let y = -2.0 + 4.0 * j as f64 / (n - 1) as f64;
                values.push(x * x + y * y);
            }
        }
        let segs = contour_segments(&values, n, n, range, range, 1.0);
        assert!(segs.len() > 20, "{} segments", segs.len());
        for s in segs {
            for p in s {
                let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
                assert!((r - 1.0).abs() < 0.02, "point {p:?} at radius {r}");
            }
        }
    }

    #[test]
    fn a_level_outside_the_field_has_no_contour() {
        let values = vec![0.0; 9];
        assert!(contour_segments(&values, 3, 3, [0.0, 1.0], [0.0, 1.0], 5.0).is_empty());
    }
}
