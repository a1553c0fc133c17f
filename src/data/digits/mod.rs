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
//!
//! This file holds the pipeline — pick a skeleton, draw a style, bend, rasterise — and the
//! public entry points. The parts, one concept a file:
//! - `spec`: `DigitsSpec`, the `data: {source: digits, …}` a lesson writes;
//! - `stroke`: what a skeleton's stroke is, and flattening it into a polyline;
//! - `glyphs`: the skeletons of each class and the weighted pick of one;
//! - `style`: one writer's random style and how it bends a skeleton;
//! - `raster`: the anti-aliased pen and MNIST's normalisation (fit to 20×20, centre of mass).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

mod glyphs;
mod raster;
mod spec;
mod stroke;
mod style;

pub use spec::DigitsSpec;

use glyphs::{GLYPHS, pick_variant};
use style::Style;

/// Side of an image in pixels.
pub const SIDE: usize = 28;
/// Pixels in an image, row-major.
pub const PIXELS: usize = SIDE * SIDE;

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
    raster::rasterise(&strokes, &style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> Pcg64Mcg {
        Pcg64Mcg::seed_from_u64(seed)
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
    fn two_drawings_of_one_class_differ() {
        let mut r = rng(6);
        let a = render(7, &mut r);
        let b = render(7, &mut r);
        let diff: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
        assert!(diff > 10.0, "two 7s differ by only {diff}");
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
