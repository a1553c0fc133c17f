//! Mode collapse, counted: which parts ("modes") of a 2-D toy the generated points land on.
//!
//! Each toy is cut into modes by the labels its points are drawn with: the eight Gaussians
//! (8), the dark squares of the checkerboard (8), the rings (3), the moons and the spiral's
//! arms (2 each). The swiss roll is one curve with no discrete modes; it is cut into six arcs
//! of equal length along the roll (by distance from the centre, which grows along it), so
//! that a generator covering only part of the roll shows it.
//!
//! A generated point belongs to the mode of its nearest reference point (fresh data), if that
//! point is within [`RADIUS`]; otherwise it is "off" the data. A mode is *covered* when it
//! receives at least a quarter of its fair share of the points (for eight equal modes, 1/32).

use crate::data::toys::Toy;

/// How near a reference point a generated point must be to count as on the data.
pub const RADIUS: f32 = 0.2;
/// A mode with at least this fraction of its share of the data is covered.
pub const SHARE_TO_COVER: f64 = 0.25;
/// Reference points (fresh data) the modes are read from.
const REFERENCE: usize = 2000;
/// Arcs the swiss roll is cut into.
const ROLL_ARCS: usize = 6;

/// The modes of one toy, and the reference points that define them.
pub struct Modes {
    points: Vec<[f32; 2]>,
    labels: Vec<usize>,
    /// Each mode's share of the reference points.
    pub fair: Vec<f64>,
}

/// Where a set of generated points landed.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// Points per mode.
    pub counts: Vec<usize>,
    /// Points near no reference point.
    pub off: usize,
    /// Modes that received at least a quarter of their share.
    pub covered: usize,
}

impl Coverage {
    pub fn total(&self) -> usize {
        self.counts.iter().sum::<usize>() + self.off
    }

    /// The fraction of the points that are on the data.
    pub fn on_data(&self) -> f64 {
        let n = self.total();
        if n == 0 {
            0.0
        } else {
            1.0 - self.off as f64 / n as f64
        }
    }
}

impl Modes {
    pub fn new(toy: Toy, seed: u64) -> Modes {
        let (points, raw) = toy.sample(REFERENCE, seed);
        let labels: Vec<usize> = match toy {
            Toy::SwissRoll => points.iter().map(|p| roll_arc(*p)).collect(),
            _ => {
                // Compact labels: the checkerboard's squares are numbered i·4 + j.
                let mut seen: Vec<u8> = raw.clone();
                seen.sort_unstable();
                seen.dedup();
                raw.iter()
                    .map(|l| seen.binary_search(l).expect("seen"))
                    .collect()
            }
        };
        let k = labels.iter().copied().max().map_or(1, |m| m + 1);
        let mut fair = vec![0.0; k];
        for &l in &labels {
            fair[l] += 1.0 / labels.len() as f64;
        }
        Modes {
            points,
            labels,
            fair,
        }
    }

    pub fn count(&self) -> usize {
        self.fair.len()
    }

    /// The mode of a point, or `None` when it is off the data.
    pub fn mode_of(&self, p: [f32; 2]) -> Option<usize> {
        let mut best = (f32::INFINITY, 0);
        for (q, &l) in self.points.iter().zip(&self.labels) {
            let d = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
            if d < best.0 {
                best = (d, l);
            }
        }
        (best.0 <= RADIUS * RADIUS).then_some(best.1)
    }

    pub fn coverage(&self, samples: &[[f32; 2]]) -> Coverage {
        let mut counts = vec![0; self.count()];
        let mut off = 0;
        for p in samples {
            match self.mode_of(*p) {
                Some(m) => counts[m] += 1,
                None => off += 1,
            }
        }
        let n = samples.len().max(1) as f64;
        let covered = counts
            .iter()
            .zip(&self.fair)
            .filter(|(c, f)| **c as f64 / n >= SHARE_TO_COVER * **f)
            .count();
        Coverage {
            counts,
            off,
            covered,
        }
    }
}

/// Which of the swiss roll's arcs a point lies on: its parameter t runs over [1.5π, 4.5π]
/// uniformly and its distance from the centre is t/5, so equal bands of distance are arcs
/// holding equal shares of the data.
fn roll_arc(p: [f32; 2]) -> usize {
    let r = ((p[0] * p[0] + p[1] * p[1]).sqrt()) as f64;
    let (lo, hi) = (
        1.5 * std::f64::consts::PI / 5.0,
        4.5 * std::f64::consts::PI / 5.0,
    );
    let k = ((r - lo) / (hi - lo) * ROLL_ARCS as f64).floor();
    k.clamp(0.0, (ROLL_ARCS - 1) as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::toys::TOYS;

    #[test]
    fn fresh_data_covers_every_mode_and_lies_on_the_data() {
        let expected = [6, 2, 8, 3, 8, 2];
        for (&(name, toy), k) in TOYS.iter().zip(expected) {
            let modes = Modes::new(toy, 1);
            assert_eq!(modes.count(), k, "{name}");
            let c = modes.coverage(&toy.sample(1000, 2).0);
            assert_eq!(c.covered, k, "{name}: {c:?}");
            assert!(c.on_data() > 0.97, "{name}: {c:?}");
        }
    }

    #[test]
    fn points_piled_on_one_gaussian_cover_one_mode_and_points_between_cover_none() {
        let modes = Modes::new(Toy::EightGaussians, 1);
        let collapsed: Vec<[f32; 2]> = (0..500)
            .map(|i| [2.0 + 0.001 * (i % 7) as f32, 0.001 * (i % 5) as f32])
            .collect();
        let c = modes.coverage(&collapsed);
        assert_eq!((c.covered, c.off), (1, 0), "{c:?}");
        let between: Vec<[f32; 2]> = vec![[0.0, 0.0]; 100];
        let c = modes.coverage(&between);
        assert_eq!((c.covered, c.off), (0, 100), "{c:?}");
    }
}
