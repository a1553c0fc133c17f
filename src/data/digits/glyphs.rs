//! The stroke skeletons of the ten classes: for each digit the ways people write it (a 1 with
//! and without flag and base, open and closed 4s, crossed 7s, 2s with a loop, …), each with
//! how often it is written that way, and the weighted pick of one of them.
//!
//! Skeletons: x to the right, y downwards, in a unit box. A point shared by two strokes of one
//! glyph is written identically in both, so it gets the same jitter and the strokes stay joined.

use rand::{Rng, RngExt};

use super::stroke::{Stroke, closed, curve, line};

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

pub(super) const GLYPHS: [&[Variant]; 10] =
    [ZERO, ONE, TWO, THREE, FOUR, FIVE, SIX, SEVEN, EIGHT, NINE];

pub(super) fn pick_variant(variants: &'static [Variant], rng: &mut impl Rng) -> &'static [Stroke] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn every_variant_of_every_class_shows_up() {
        let mut r = Pcg64Mcg::seed_from_u64(6);
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
}
