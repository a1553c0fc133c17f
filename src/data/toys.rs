//! Two-dimensional toy distributions for generative models: each is easy to see on a braille
//! canvas and hard enough that a bad model shows it.
//!
//! All are centred near the origin with a spread of about 1–2, and deterministic by seed. Each
//! point comes with a label: the mode or arm it was drawn from (0 when there is only one).

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// The toys, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Toy {
    SwissRoll,
    Moons,
    EightGaussians,
    Rings,
    Checkerboard,
    Spiral,
}

pub const TOYS: &[(&str, Toy)] = &[
    ("swiss-roll", Toy::SwissRoll),
    ("moons", Toy::Moons),
    ("eight-gaussians", Toy::EightGaussians),
    ("rings", Toy::Rings),
    ("checkerboard", Toy::Checkerboard),
    ("spiral", Toy::Spiral),
];

impl Toy {
    pub fn from_name(name: &str) -> Option<Toy> {
        TOYS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub fn name(self) -> &'static str {
        TOYS.iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// `n` points and their labels.
    pub fn sample(self, n: usize, seed: u64) -> (Vec<[f32; 2]>, Vec<u8>) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x7095_0000_0000_0005);
        (0..n).map(|_| self.point(&mut rng)).unzip()
    }

    fn point(self, rng: &mut impl Rng) -> ([f32; 2], u8) {
        let (x, y, label) = match self {
            Toy::SwissRoll => {
                let t = 1.5 * std::f64::consts::PI * (1.0 + 2.0 * rng.random::<f64>());
                let (x, y) = (t * t.cos() / 5.0, t * t.sin() / 5.0);
                (x + 0.05 * gauss(rng), y + 0.05 * gauss(rng), 0)
            }
            Toy::Moons => {
                let upper = rng.random::<bool>();
                let a = std::f64::consts::PI * rng.random::<f64>();
                let (x, y) = if upper {
                    (a.cos(), a.sin())
                } else {
                    (1.0 - a.cos(), 0.5 - a.sin())
                };
                (
                    1.2 * (x - 0.5) + 0.08 * gauss(rng),
                    1.2 * (y - 0.25) + 0.08 * gauss(rng),
                    u8::from(!upper),
                )
            }
            Toy::EightGaussians => {
                let k = rng.random_range(0..8u8);
                let a = std::f64::consts::TAU * k as f64 / 8.0;
                (
                    2.0 * a.cos() + 0.12 * gauss(rng),
                    2.0 * a.sin() + 0.12 * gauss(rng),
                    k,
                )
            }
            Toy::Rings => {
                let k = rng.random_range(0..3u8);
                let r = 0.6 + 0.7 * k as f64;
                let a = std::f64::consts::TAU * rng.random::<f64>();
                (
                    r * a.cos() + 0.06 * gauss(rng),
                    r * a.sin() + 0.06 * gauss(rng),
                    k,
                )
            }
            Toy::Checkerboard => {
                // Uniform on the dark squares of a 4×4 board spanning [−2, 2]².
                let (i, j) = loop {
                    let (i, j) = (rng.random_range(0..4i32), rng.random_range(0..4i32));
                    if (i + j) % 2 == 0 {
                        break (i, j);
                    }
                };
                let x = -2.0 + i as f64 + rng.random::<f64>();
                let y = -2.0 + j as f64 + rng.random::<f64>();
                (x, y, (i * 4 + j) as u8)
            }
            Toy::Spiral => {
                let arm = rng.random_range(0..2u8);
                let t = rng.random::<f64>().sqrt() * 3.0 * std::f64::consts::PI;
                let a = t + std::f64::consts::PI * arm as f64;
                let r = t / (1.5 * std::f64::consts::PI);
                (
                    r * a.cos() + 0.04 * gauss(rng),
                    r * a.sin() + 0.04 * gauss(rng),
                    arm,
                )
            }
        };
        ([x as f32, y as f32], label)
    }
}

fn gauss(rng: &mut impl Rng) -> f64 {
    StandardNormal.sample(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_toy_is_deterministic_and_stays_in_a_small_box() {
        for &(name, toy) in TOYS {
            let (a, la) = toy.sample(2000, 1);
            let (b, lb) = toy.sample(2000, 1);
            assert_eq!((&a, &la), (&b, &lb), "{name}");
            assert!(
                a.iter().all(|p| p[0].abs() < 3.5 && p[1].abs() < 3.5),
                "{name} leaves the box"
            );
            let mx = a.iter().map(|p| p[0]).sum::<f32>() / 2000.0;
            assert!(mx.abs() < 0.6, "{name} is off centre: {mx}");
        }
    }

    #[test]
    fn eight_gaussians_has_eight_modes_on_a_circle_of_radius_two() {
        let (pts, labels) = Toy::EightGaussians.sample(4000, 2);
        for k in 0..8u8 {
            let mine: Vec<_> = pts
                .iter()
                .zip(&labels)
                .filter(|(_, l)| **l == k)
                .map(|(p, _)| p)
                .collect();
            assert!(mine.len() > 350, "mode {k} has {} points", mine.len());
            let r = mine
                .iter()
                .map(|p| (p[0] * p[0] + p[1] * p[1]).sqrt())
                .sum::<f32>()
                / mine.len() as f32;
            assert!((r - 2.0).abs() < 0.05, "mode {k} at radius {r}");
        }
    }

    #[test]
    fn checkerboard_points_fall_only_on_dark_squares() {
        let (pts, _) = Toy::Checkerboard.sample(3000, 3);
        for p in pts {
            let (i, j) = ((p[0] + 2.0).floor() as i32, (p[1] + 2.0).floor() as i32);
            assert_eq!((i + j).rem_euclid(2), 0, "{p:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for &(name, toy) in TOYS {
            assert_eq!(Toy::from_name(name), Some(toy));
            assert_eq!(toy.name(), name);
        }
        assert_eq!(Toy::from_name("donut"), None);
    }
}
