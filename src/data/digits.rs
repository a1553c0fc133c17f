//! Handwritten-looking digits 0–9 on 28×28 pixels, drawn here from stroke skeletons so the lab
//! runs offline, yet close enough to MNIST that a model trained on them reads real digits.
//!
//! Each class is a few pen-stroke skeletons in a unit box (a 1 with and without flag and base,
//! open and closed 4s, crossed 7s, 2s with a loop, …). One drawing picks a skeleton, jitters
//! its control points, slants, rotates and stretches it, bends it with a smooth elastic warp
//! and strokes it with an anti-aliased pen of random width. Then MNIST's own normalisation:
//! the inked box is scaled to fit 20×20 (aspect kept) and the drawing is moved so its centre
//! of mass sits at pixel (14, 14). Light strokes on black, values in [0, 1].
//!
//! Owns the skeletons, the random style and the rasteriser; deterministic by seed. It must not
//! read files: real MNIST comes in through the IDX reader, never through here.

use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::lessons::parse::Ctx;

/// Side of an image in pixels.
pub const SIDE: usize = 28;
/// Pixels in an image, row-major.
pub const PIXELS: usize = SIDE * SIDE;
/// MNIST fits each digit's inked box into this many pixels…
const BOX: f32 = 20.0;
/// …and puts its centre of mass here (column, row), in pixel indices.
const CENTRE: f32 = 14.0;

/// `data: {source: digits, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsSpec {
    /// Training images; 10 ..= 200,000. Default 60,000, as in MNIST.
    #[serde(default = "sixty_thousand")]
    pub train: usize,
    /// Testing images; 10 ..= 100,000. Default 10,000, as in MNIST.
    #[serde(default = "ten_thousand")]
    pub test: usize,
    /// Seed of the data set; default: the run's `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn sixty_thousand() -> usize {
    60_000
}
fn ten_thousand() -> usize {
    10_000
}

impl Default for DigitsSpec {
    fn default() -> Self {
        DigitsSpec {
            train: sixty_thousand(),
            test: ten_thousand(),
            seed: None,
        }
    }
}

impl DigitsSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<DigitsSpec> {
        // At least one image of each class; at most what fits comfortably in memory (4 bytes a pixel).
        let a = ctx.check_range(
            "data.train",
            self.train,
            10,
            200_000,
            "the number of training images",
        );
        let b = ctx.check_range(
            "data.test",
            self.test,
            10,
            100_000,
            "the number of testing images",
        );
        (a && b).then_some(self)
    }
}

/// `n` images (row-major, `n × 784` values in [0, 1]) and their labels: each class `n / 10`
/// times (give or take one), in random order. The same `n` and seed always give the same data.
pub fn generate(n: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xD161_7500_0000_0028);
    let mut labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    labels.shuffle(&mut rng);
    let mut pixels = Vec::with_capacity(n * PIXELS);
    for &class in &labels {
        pixels.extend_from_slice(&render(class, &mut rng));
    }
    (pixels, labels)
}

/// One drawing of digit `class` (0–9), row-major, in [0, 1]. Panics on any other class.
pub fn render(class: u8, rng: &mut impl Rng) -> [f32; PIXELS] {
    assert!(class < 10, "there is no digit {class}");
    let glyph = pick_variant(GLYPHS[class as usize], rng);
    let style = Style::draw(rng);
    let strokes = style.apply(glyph, rng);
    let mut pen = Pen::fit(&strokes, &style);
    let mut image = [0.0; PIXELS];
    pen.draw(&strokes, &mut image);
    // The guess of the centre of mass from the skeleton is close; move by what is left.
    let (cx, cy) = centre_of_mass(&image);
    if (cx - CENTRE).abs().max((cy - CENTRE).abs()) > 0.2 {
        pen.offset[0] += CENTRE - cx;
        pen.offset[1] += CENTRE - cy;
        image = [0.0; PIXELS];
        pen.draw(&strokes, &mut image);
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

// ---------------------------------------------------------------------------------------------
// Skeletons: x to the right, y downwards, in a unit box. A point shared by two strokes of one
// glyph is written identically in both, so it gets the same jitter and the strokes stay joined.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Straight segments between the points, with sharp corners.
    Line,
    /// A smooth curve through the points (Catmull–Rom).
    Curve,
    /// A smooth closed curve through the points.
    Loop,
}

struct Stroke {
    kind: Kind,
    points: &'static [(f32, f32)],
}

const fn line(points: &'static [(f32, f32)]) -> Stroke {
    Stroke {
        kind: Kind::Line,
        points,
    }
}
const fn curve(points: &'static [(f32, f32)]) -> Stroke {
    Stroke {
        kind: Kind::Curve,
        points,
    }
}
const fn closed(points: &'static [(f32, f32)]) -> Stroke {
    Stroke {
        kind: Kind::Loop,
        points,
    }
}

/// A way of writing a digit, and how often people write it that way (relative weight).
type Variant = (u32, &'static [Stroke]);

// One stroke a line; the tables are laid out by hand, so rustfmt leaves them alone.

#[rustfmt::skip]
const ZERO: &[Variant] = &[
    (3, &[closed(&[(0.5, 0.0), (0.18, 0.12), (0.04, 0.5), (0.18, 0.88), (0.5, 1.0), (0.82, 0.88), (0.96, 0.5), (0.82, 0.12)])]),
    // Started at the top and overshooting the start.
    (2, &[curve(&[(0.62, 0.04), (0.35, 0.02), (0.1, 0.3), (0.08, 0.68), (0.32, 0.98), (0.66, 0.95), (0.9, 0.62), (0.86, 0.22), (0.58, 0.0), (0.32, 0.1)])]),
    // Left open at the top right.
    (2, &[curve(&[(0.55, 0.0), (0.2, 0.12), (0.05, 0.55), (0.25, 0.92), (0.55, 1.0), (0.85, 0.8), (0.93, 0.42), (0.82, 0.12)])]),
    // Finishing with a curl inside the top.
    (1, &[curve(&[(0.6, 0.0), (0.22, 0.1), (0.05, 0.5), (0.2, 0.9), (0.52, 1.0), (0.85, 0.85), (0.95, 0.45), (0.8, 0.1), (0.55, 0.05), (0.42, 0.2)])]),
    // Narrow.
    (1, &[closed(&[(0.5, 0.0), (0.3, 0.15), (0.26, 0.55), (0.36, 0.92), (0.55, 1.0), (0.72, 0.8), (0.74, 0.4), (0.66, 0.08)])]),
];

#[rustfmt::skip]
const ONE: &[Variant] = &[
    (6, &[line(&[(0.5, 0.0), (0.5, 1.0)])]),
    // With a flag.
    (2, &[line(&[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)])]),
    // With a flag and a base.
    (1, &[line(&[(0.28, 0.18), (0.55, 0.0), (0.55, 1.0)]), line(&[(0.25, 1.0), (0.55, 1.0), (0.85, 1.0)])]),
];

#[rustfmt::skip]
const TWO: &[Variant] = &[
    (3, &[curve(&[(0.1, 0.25), (0.38, 0.02), (0.72, 0.06), (0.84, 0.32), (0.65, 0.58), (0.05, 1.0)]), line(&[(0.05, 1.0), (0.95, 1.0)])]),
    // With a loop at the bottom left.
    (2, &[curve(&[(0.1, 0.22), (0.4, 0.0), (0.75, 0.08), (0.8, 0.35), (0.55, 0.62), (0.3, 0.85), (0.12, 0.98), (0.06, 0.86), (0.22, 0.8), (0.42, 0.9), (0.68, 1.0), (0.98, 0.96)])]),
    // A big loop in the lower half.
    (2, &[curve(&[(0.08, 0.2), (0.4, 0.0), (0.75, 0.12), (0.7, 0.4), (0.45, 0.62), (0.15, 0.85), (0.25, 1.0), (0.55, 0.95), (0.62, 0.75), (0.42, 0.68), (0.35, 0.85), (0.65, 1.0), (1.0, 0.95)])]),
    // A big loop at the bottom, and a curl where the pen starts.
    (2, &[curve(&[(0.22, 0.3), (0.12, 0.15), (0.4, 0.0), (0.75, 0.1), (0.75, 0.4), (0.45, 0.7), (0.2, 0.9), (0.15, 1.0), (0.0, 0.85), (0.3, 0.68), (0.55, 0.88), (0.75, 0.98), (1.0, 0.92)])]),
    // A Z-like 2 with a wavy base.
    (1, &[curve(&[(0.1, 0.2), (0.5, 0.0), (0.86, 0.22), (0.6, 0.6), (0.1, 1.0)]), curve(&[(0.1, 1.0), (0.5, 0.92), (0.95, 1.0)])]),
];

#[rustfmt::skip]
const THREE: &[Variant] = &[
    (3, &[curve(&[(0.1, 0.12), (0.45, 0.0), (0.8, 0.12), (0.75, 0.36), (0.4, 0.48)]), curve(&[(0.4, 0.48), (0.85, 0.62), (0.85, 0.88), (0.5, 1.0), (0.1, 0.9)])]),
    // A long middle stroke pointing left.
    (1, &[curve(&[(0.12, 0.1), (0.5, 0.0), (0.82, 0.18), (0.6, 0.42), (0.25, 0.5)]), curve(&[(0.25, 0.5), (0.75, 0.55), (0.88, 0.82), (0.55, 1.0), (0.12, 0.92)])]),
    // Flat top.
    (1, &[line(&[(0.1, 0.0), (0.85, 0.0), (0.4, 0.4)]), curve(&[(0.4, 0.4), (0.85, 0.6), (0.85, 0.87), (0.5, 1.0), (0.1, 0.88)])]),
    // One smooth stroke.
    (2, &[curve(&[(0.15, 0.1), (0.5, 0.0), (0.8, 0.15), (0.7, 0.4), (0.42, 0.5), (0.8, 0.62), (0.85, 0.85), (0.5, 1.0), (0.15, 0.9)])]),
];

#[rustfmt::skip]
const FOUR: &[Variant] = &[
    // Closed.
    (2, &[line(&[(0.62, 0.0), (0.0, 0.66), (1.0, 0.66)]), line(&[(0.68, 0.02), (0.68, 1.0)])]),
    // Open.
    (3, &[line(&[(0.12, 0.0), (0.05, 0.6), (0.95, 0.6)]), line(&[(0.72, 0.0), (0.72, 1.0)])]),
    // Open, in one stroke with a rounded corner.
    (1, &[curve(&[(0.15, 0.0), (0.1, 0.45), (0.3, 0.62), (0.98, 0.56)]), line(&[(0.75, 0.12), (0.72, 1.0)])]),
];

#[rustfmt::skip]
const FIVE: &[Variant] = &[
    (3, &[line(&[(0.88, 0.0), (0.22, 0.0), (0.17, 0.45)]), curve(&[(0.17, 0.45), (0.5, 0.37), (0.82, 0.55), (0.8, 0.85), (0.5, 1.0), (0.1, 0.9)])]),
    // A big belly and a short bar.
    (1, &[line(&[(0.75, 0.0), (0.3, 0.02), (0.22, 0.35)]), curve(&[(0.22, 0.35), (0.55, 0.3), (0.9, 0.55), (0.8, 0.88), (0.45, 1.0), (0.12, 0.92)])]),
    // The bar floating apart from the rest.
    (2, &[curve(&[(0.22, 0.08), (0.18, 0.45), (0.55, 0.38), (0.88, 0.62), (0.72, 0.93), (0.35, 1.0), (0.05, 0.85)]), line(&[(0.35, 0.0), (0.95, -0.03)])]),
    // The bar as its own stroke, the rest in one.
    (2, &[curve(&[(0.25, 0.0), (0.2, 0.45), (0.55, 0.38), (0.85, 0.62), (0.7, 0.93), (0.35, 1.0), (0.05, 0.85)]), line(&[(0.25, 0.0), (0.9, 0.02)])]),
];

#[rustfmt::skip]
const SIX: &[Variant] = &[
    (3, &[curve(&[(0.8, 0.0), (0.45, 0.15), (0.2, 0.5), (0.18, 0.8), (0.45, 1.0), (0.78, 0.88), (0.8, 0.62), (0.5, 0.5), (0.22, 0.65)])]),
    // A tall stem and a small loop.
    (2, &[curve(&[(0.72, 0.0), (0.42, 0.25), (0.26, 0.6), (0.3, 0.9), (0.55, 1.0), (0.75, 0.86), (0.68, 0.68), (0.42, 0.66), (0.28, 0.8)])]),
    // A straight stem and a small loop at its foot.
    (2, &[curve(&[(0.5, 0.0), (0.36, 0.35), (0.26, 0.75), (0.36, 0.97), (0.65, 0.98), (0.75, 0.78), (0.55, 0.62), (0.3, 0.72)])]),
    // A straighter stem and a small loop.
    (2, &[curve(&[(0.65, 0.0), (0.35, 0.3), (0.18, 0.7), (0.35, 0.97), (0.7, 0.95), (0.78, 0.72), (0.5, 0.55), (0.2, 0.72)])]),
];

#[rustfmt::skip]
const SEVEN: &[Variant] = &[
    (4, &[line(&[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)])]),
    // Crossed.
    (1, &[line(&[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]), line(&[(0.3, 0.5), (0.88, 0.5)])]),
    // With a hook at the start.
    (1, &[line(&[(0.0, 0.18), (0.02, 0.0), (1.0, 0.0), (0.4, 1.0)])]),
    // With a long serif and a curved stem.
    (1, &[curve(&[(0.05, 0.35), (0.0, 0.1), (0.1, 0.02)]), line(&[(0.1, 0.02), (1.0, 0.0)]), curve(&[(1.0, 0.0), (0.75, 0.45), (0.6, 1.0)])]),
    // With a curved stem.
    (2, &[line(&[(0.0, 0.0), (1.0, 0.0)]), curve(&[(1.0, 0.0), (0.7, 0.4), (0.55, 1.0)])]),
    // In one stroke with a round shoulder.
    (1, &[curve(&[(0.0, 0.2), (0.3, 0.02), (0.7, 0.0), (0.95, 0.1), (0.72, 0.5), (0.55, 1.0)])]),
    // The bar drooping at its start, the stem nearly upright.
    (1, &[curve(&[(0.02, 0.3), (0.1, 0.05), (0.5, 0.0), (1.0, 0.0)]), line(&[(1.0, 0.0), (0.6, 1.0)])]),
];

#[rustfmt::skip]
const EIGHT: &[Variant] = &[
    // One stroke crossing itself in the middle.
    (3, &[closed(&[(0.8, 0.12), (0.5, 0.0), (0.2, 0.12), (0.25, 0.35), (0.5, 0.5), (0.8, 0.68), (0.8, 0.92), (0.5, 1.0), (0.2, 0.92), (0.2, 0.68), (0.5, 0.5), (0.75, 0.35)])]),
    // The same, left open at the top right where the pen started.
    (1, &[curve(&[(0.85, 0.05), (0.5, 0.0), (0.18, 0.15), (0.3, 0.38), (0.5, 0.5), (0.8, 0.7), (0.75, 0.95), (0.45, 1.0), (0.2, 0.85), (0.3, 0.65), (0.5, 0.5), (0.72, 0.32), (0.82, 0.12)])]),
    // Two loops, one on the other.
    (2, &[closed(&[(0.5, 0.0), (0.25, 0.12), (0.3, 0.35), (0.5, 0.45), (0.7, 0.35), (0.75, 0.12)]), closed(&[(0.5, 0.45), (0.2, 0.62), (0.18, 0.88), (0.5, 1.0), (0.82, 0.88), (0.8, 0.62)])]),
];

#[rustfmt::skip]
const NINE: &[Variant] = &[
    // A head and a straight stem.
    (3, &[closed(&[(0.5, 0.0), (0.2, 0.1), (0.15, 0.3), (0.4, 0.45), (0.75, 0.35), (0.8, 0.12)]), line(&[(0.8, 0.12), (0.72, 1.0)])]),
    // A head and a tail curling left.
    (2, &[closed(&[(0.5, 0.0), (0.2, 0.1), (0.15, 0.3), (0.4, 0.45), (0.75, 0.35), (0.8, 0.12)]), curve(&[(0.8, 0.12), (0.8, 0.5), (0.7, 0.85), (0.45, 1.0), (0.2, 0.9)])]),
    // A small round head and a long stem leaning left.
    (2, &[closed(&[(0.55, 0.0), (0.28, 0.08), (0.25, 0.3), (0.5, 0.38), (0.78, 0.25), (0.78, 0.08)]), curve(&[(0.78, 0.08), (0.72, 0.5), (0.55, 1.0)])]),
    // In one stroke, the head open at the top right.
    (1, &[curve(&[(0.82, 0.15), (0.5, 0.0), (0.2, 0.1), (0.15, 0.3), (0.4, 0.42), (0.8, 0.3), (0.8, 0.15), (0.75, 0.6), (0.7, 1.0)])]),
];

const GLYPHS: [&[Variant]; 10] = [ZERO, ONE, TWO, THREE, FOUR, FIVE, SIX, SEVEN, EIGHT, NINE];

fn pick_variant(variants: &'static [Variant], rng: &mut impl Rng) -> &'static [Stroke] {
    let total: u32 = variants.iter().map(|v| v.0).sum();
    let mut k = rng.random_range(0..total);
    for &(weight, strokes) in variants {
        if k < weight {
            return strokes;
        }
        k -= weight;
    }
    variants[0].1
}

// ---------------------------------------------------------------------------------------------
// Style: how this one writer holds the pen.

fn normal(rng: &mut impl Rng, mean: f32, sd: f32) -> f32 {
    let z: f32 = StandardNormal.sample(rng);
    mean + sd * z
}

/// Spans of a smooth curve are cut into straight pieces about this long (in units of the box,
/// about a pixel and a half), and never more than `MAX_PIECES`.
const PIECE: f32 = 0.07;
const MAX_PIECES: usize = 8;

struct Style {
    /// x += shear · (0.5 − y): positive leans the top to the right.
    shear: f32,
    rotation: f32,
    /// Width over height, relative to the skeleton.
    aspect: f32,
    /// Standard deviation of each control point's displacement, in units of the box.
    jitter: f32,
    /// Bends of the box: x += bend_x·x(1 − x), y += bend_y·y(1 − y) move a digit's middle
    /// (the waist of an 8, the bar of a 4); taper widens the bottom against the top.
    bend: [f32; 2],
    taper: f32,
    /// Elastic warp: per axis, two waves (amplitude, wave vector x, wave vector y, phase).
    warp: [[[f32; 4]; 2]; 2],
    /// Half the pen's width in pixels, and the half-width of its soft edge.
    radius: f32,
    edge: f32,
}

impl Style {
    fn draw(rng: &mut impl Rng) -> Style {
        let mut warp = [[[0.0; 4]; 2]; 2];
        for axis in &mut warp {
            for wave in axis {
                let angle = rng.random_range(0.0..std::f32::consts::TAU);
                let freq = std::f32::consts::TAU * rng.random_range(0.5..1.5);
                *wave = [
                    normal(rng, 0.0, 0.07),
                    freq * angle.cos(),
                    freq * angle.sin(),
                    rng.random_range(0.0..std::f32::consts::TAU),
                ];
            }
        }
        Style {
            bend: [normal(rng, 0.0, 0.3), normal(rng, 0.0, 0.35)],
            taper: normal(rng, 0.0, 0.3),
            shear: normal(rng, 0.12, 0.2).clamp(-0.4, 0.7),
            rotation: normal(rng, 0.0, 0.1).clamp(-0.35, 0.35),
            aspect: normal(rng, 0.0, 0.25).clamp(-0.6, 0.6).exp(),
            jitter: rng.random_range(0.02..0.09),
            warp,
            // Most pens draw a core 1.2 to 3.4 pixels wide (plus the soft edge); one in six is
            // as bold as MNIST's boldest digits, 3.6 to 5.6.
            radius: if rng.random_bool(0.16) {
                rng.random_range(1.8..2.8)
            } else {
                rng.random_range(0.6..1.7)
            },
            edge: rng.random_range(0.45..0.9),
        }
    }

    /// The skeleton jittered, flattened into polylines, slanted, stretched and warped.
    fn apply(&self, glyph: &[Stroke], rng: &mut impl Rng) -> Vec<Vec<[f32; 2]>> {
        let mut moved: Vec<((f32, f32), [f32; 2])> = Vec::new();
        let (sin, cos) = self.rotation.sin_cos();
        glyph
            .iter()
            .map(|stroke| {
                let points: Vec<[f32; 2]> = stroke
                    .points
                    .iter()
                    .map(|&p| {
                        if let Some(&(_, q)) = moved.iter().find(|(o, _)| *o == p) {
                            return q;
                        }
                        let q = [
                            p.0 + normal(rng, 0.0, self.jitter),
                            p.1 + normal(rng, 0.0, self.jitter),
                        ];
                        moved.push((p, q));
                        q
                    })
                    .collect();
                flatten(stroke.kind, &points)
                    .into_iter()
                    .map(|[x, y]| {
                        let x = x + self.bend[0] * x * (1.0 - x);
                        let y = y + self.bend[1] * y * (1.0 - y);
                        let x = 0.5 + (x - 0.5) * (1.0 + self.taper * (y - 0.5));
                        let (x, y) = ((x - 0.5) * self.aspect, y - 0.5);
                        let x = x - self.shear * y;
                        let (x, y) = (cos * x - sin * y, sin * x + cos * y);
                        let mut d = [0.0; 2];
                        for (axis, waves) in self.warp.iter().enumerate() {
                            for w in waves {
                                d[axis] += w[0] * (w[1] * x + w[2] * y + w[3]).sin();
                            }
                        }
                        [x + d[0], y + d[1]]
                    })
                    .collect()
            })
            .collect()
    }
}

/// The polyline of one stroke.
fn flatten(kind: Kind, p: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let n = p.len();
    if kind == Kind::Line || n < 2 {
        return p.to_vec();
    }
    let closed = kind == Kind::Loop;
    let spans = if closed { n } else { n - 1 };
    // Neighbours of an open curve's ends are mirrored, so the curve leaves its ends straight.
    let at = |i: isize| -> [f32; 2] {
        if closed {
            p[i.rem_euclid(n as isize) as usize]
        } else if i < 0 {
            [2.0 * p[0][0] - p[1][0], 2.0 * p[0][1] - p[1][1]]
        } else if i as usize >= n {
            [
                2.0 * p[n - 1][0] - p[n - 2][0],
                2.0 * p[n - 1][1] - p[n - 2][1],
            ]
        } else {
            p[i as usize]
        }
    };
    let mut out = Vec::with_capacity(spans * MAX_PIECES + 1);
    for s in 0..spans as isize {
        let (p0, p1, p2, p3) = (at(s - 1), at(s), at(s + 1), at(s + 2));
        let chord = ((p2[0] - p1[0]).powi(2) + (p2[1] - p1[1]).powi(2)).sqrt();
        let pieces = ((chord / PIECE).ceil() as usize).clamp(2, MAX_PIECES);
        for k in 0..pieces {
            let t = k as f32 / pieces as f32;
            let (t2, t3) = (t * t, t * t * t);
            let c = |a: usize| {
                0.5 * (2.0 * p1[a]
                    + (p2[a] - p0[a]) * t
                    + (2.0 * p0[a] - 5.0 * p1[a] + 4.0 * p2[a] - p3[a]) * t2
                    + (3.0 * p1[a] - p0[a] - 3.0 * p2[a] + p3[a]) * t3)
            };
            out.push([c(0), c(1)]);
        }
    }
    out.push(at(spans as isize));
    out
}

// ---------------------------------------------------------------------------------------------
// Rasterising.

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
    use super::*;

    fn rng(seed: u64) -> Pcg64Mcg {
        Pcg64Mcg::seed_from_u64(seed)
    }

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
    fn the_same_seed_gives_the_same_digits() {
        assert_eq!(generate(50, 7), generate(50, 7));
        assert_ne!(generate(50, 7).0, generate(50, 8).0);
    }

    #[test]
    fn labels_are_balanced_and_shuffled() {
        let (pixels, labels) = generate(1003, 1);
        assert_eq!(pixels.len(), 1003 * PIXELS);
        let mut counts = [0usize; 10];
        for &l in &labels {
            counts[l as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c == 100 || c == 101), "{counts:?}");
        let in_order = (0..1003).all(|i| labels[i] == (i % 10) as u8);
        assert!(!in_order, "the labels are not shuffled");
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

    #[test]
    fn every_class_renders_ink() {
        let mut r = rng(5);
        for class in 0..10 {
            for _ in 0..50 {
                let ink: f32 = render(class, &mut r).iter().sum();
                assert!(ink > 20.0, "digit {class} has ink {ink}");
            }
        }
    }

    #[test]
    fn drawings_of_one_class_differ_and_their_variants_all_show_up() {
        let mut r = rng(6);
        let a = render(7, &mut r);
        let b = render(7, &mut r);
        let diff: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
        assert!(diff > 10.0, "two 7s differ by only {diff}");
        // Every variant's weight is positive, and picking reaches each of them.
        for variants in GLYPHS {
            let mut seen = vec![false; variants.len()];
            for _ in 0..2000 {
                let strokes = pick_variant(variants, &mut r);
                let k = variants.iter().position(|v| std::ptr::eq(v.1, strokes));
                seen[k.expect("a picked variant is one of the class")] = true;
            }
            assert!(seen.iter().all(|&s| s), "{seen:?}");
        }
    }

    #[test]
    fn ink_is_like_mnists() {
        // Real MNIST (test set): mean pixel 0.133, 13% of pixels above 0.5; a 1 has the least ink.
        let (pixels, labels) = generate(2000, 8);
        let mean = pixels.iter().sum::<f32>() / pixels.len() as f32;
        assert!((0.10..0.17).contains(&mean), "mean intensity {mean}");
        let bright = pixels.iter().filter(|&&v| v > 0.5).count() as f32 / pixels.len() as f32;
        assert!((0.08..0.2).contains(&bright), "pixels above 0.5: {bright}");
        let ink = |class: u8| -> f32 {
            let images = pixels
                .chunks(PIXELS)
                .zip(&labels)
                .filter(|(_, l)| **l == class);
            let (sum, n) = images.fold((0.0, 0), |(s, n), (im, _)| {
                (s + im.iter().sum::<f32>(), n + 1)
            });
            sum / n as f32
        };
        assert!(
            (0..10).filter(|&c| c != 1).all(|c| ink(1) < ink(c)),
            "a 1 should have the least ink"
        );
    }

    #[test]
    fn only_digits_are_drawn() {
        let result = std::panic::catch_unwind(|| render(10, &mut rng(9)));
        assert!(result.is_err());
    }
}
