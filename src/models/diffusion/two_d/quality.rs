//! The score of the lesson: the MMD between samples and fresh data under a Gaussian kernel,
//! and the two references it is read against (fresh data, the floor; pure noise, the start).
//! Nothing here runs the reverse process: `sampling` scores its runs with these.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::{Diffusion2d, gauss};

/// Width σ of the Gaussian kernel of the MMD; the toys' structure is a few tenths wide.
pub const MMD_BANDWIDTH: f64 = 0.2;
/// Points compared by the summary's MMD (samples and each fresh data set).
pub(super) const SUMMARY_POINTS: usize = 2000;

/// The maximum mean discrepancy between two point sets under a Gaussian kernel of width
/// `sigma`: √(mean k(x,x') + mean k(y,y') − 2·mean k(x,y)), every pair counted (V-statistic),
/// so a set is at distance 0 from itself and a finite sample of the same distribution a
/// little above 0.
pub fn mmd(a: &[[f32; 2]], b: &[[f32; 2]], sigma: f64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let mean_k = |p: &[[f32; 2]], q: &[[f32; 2]]| {
        let mut s = 0.0f64;
        for x in p {
            let mut row = 0.0f32;
            for y in q {
                let (dx, dy) = (x[0] - y[0], x[1] - y[1]);
                row += (-(gamma as f32) * (dx * dx + dy * dy)).exp();
            }
            s += row as f64;
        }
        s / (p.len() * q.len()) as f64
    };
    let m2 = mean_k(a, a) + mean_k(b, b) - 2.0 * mean_k(a, b);
    // `f64::max` would turn a NaN (from NaN points) into 0, a perfect score.
    if m2.is_nan() {
        f64::NAN
    } else {
        m2.max(0.0).sqrt()
    }
}

/// Gaussian noise points, as x_T is drawn.
pub fn noise_points(n: usize, seed: u64) -> Vec<[f32; 2]> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n).map(|_| [gauss(&mut rng), gauss(&mut rng)]).collect()
}

impl Diffusion2d {
    /// MMD of fresh data to fresh data (the floor a perfect model reaches on average) and of
    /// Gaussian noise to fresh data (where sampling starts), with `n` points each.
    pub fn reference_mmds(&self, n: usize) -> (f64, f64) {
        let other = self.toy.sample(n, self.seed ^ 0xD1FF_2D00_0000_0007).0;
        let reference = &self.held_out[..n.min(self.held_out.len())];
        let noise = noise_points(n, self.seed ^ 0xD1FF_2D00_0000_0008);
        (
            mmd(&other, reference, MMD_BANDWIDTH),
            mmd(&noise, reference, MMD_BANDWIDTH),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::toys::Toy;

    #[test]
    fn points_that_are_not_numbers_have_no_distance_not_a_perfect_one() {
        let a = Toy::Rings.sample(50, 5).0;
        let nan = vec![[f32::NAN, f32::NAN]; 50];
        assert!(mmd(&nan, &a, MMD_BANDWIDTH).is_nan());
    }

    #[test]
    fn the_mmd_of_a_set_with_itself_is_zero_and_grows_with_a_shift() {
        let a = Toy::Rings.sample(500, 5).0;
        assert!(mmd(&a, &a, MMD_BANDWIDTH) < 1e-3);
        let near: Vec<[f32; 2]> = a.iter().map(|p| [p[0] + 0.1, p[1]]).collect();
        let far: Vec<[f32; 2]> = a.iter().map(|p| [p[0] + 0.5, p[1]]).collect();
        let (d1, d2) = (mmd(&a, &near, 0.2), mmd(&a, &far, 0.2));
        assert!(0.0 < d1 && d1 < d2, "{d1} {d2}");
    }
}
