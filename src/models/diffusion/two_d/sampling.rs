//! Algorithm 2, the reverse process: from a fixed x_T down to x₀ by DDPM or DDIM steps with
//! the (averaged) weights, keeping the filmstrip frames on the way, and the cached run for the
//! current weights that the panels and the live score share. The runs are scored here, with
//! `quality`'s MMD (the live score and the summary's).

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::quality::{MMD_BANDWIDTH, SUMMARY_POINTS, mmd};
use super::{Diffusion2d, gauss, pairs};
use crate::models::diffusion::Sampler;
use crate::models::{ModelError, check_finite};
use crate::tensor::ParamStore;

/// The frames of one run of the reverse process, and where they were taken.
pub struct Reverse {
    /// (t, points) from x_T down to x₀.
    pub frames: Vec<(usize, Vec<[f32; 2]>)>,
}

impl Reverse {
    pub fn last(&self) -> &[[f32; 2]] {
        self.frames.last().map_or(&[], |(_, p)| p.as_slice())
    }
}

impl Diffusion2d {
    /// The weights samples are drawn with.
    pub(super) fn sampling_weights(&self) -> ParamStore {
        match &self.ema {
            Some(e) => e.averaged(&self.ps),
            None => self.ps.clone(),
        }
    }

    /// Runs the reverse process on `n` points from the fixed x_T of stream `stream`, keeping
    /// the frames at `self.frame_times` (and x_T and x₀).
    pub fn reverse(&self, n: usize, stream: u64) -> Reverse {
        let ps = self.sampling_weights();
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ 0xD1FF_2D00_5A00_0000 ^ stream);
        let big_t = self.schedule.steps();
        let mut x: Vec<f32> = (0..2 * n).map(|_| gauss(&mut rng)).collect();
        let mut frames = vec![(big_t, pairs(&x))];
        let mut next_frame = 1;
        let mut keep = |t_now: usize, x: &[f32], frames: &mut Vec<(usize, Vec<[f32; 2]>)>| {
            // Keep the first state at or below each requested time.
            while next_frame < self.frame_times.len() && t_now <= self.frame_times[next_frame] {
                if frames.last().map(|f| f.0) != Some(t_now) {
                    frames.push((t_now, pairs(x)));
                }
                next_frame += 1;
            }
        };
        match self.spec.sampler {
            Sampler::Ddpm => {
                let mut z = vec![0.0f32; 2 * n];
                for t in (1..=big_t).rev() {
                    let eps = self.net.predict(&ps, &x, t);
                    for v in z.iter_mut() {
                        *v = gauss(&mut rng);
                    }
                    self.schedule.ddpm_step(&mut x, &eps, t, &z);
                    keep(t - 1, &x, &mut frames);
                }
            }
            Sampler::Ddim => {
                let ts = self.schedule.ddim_timesteps(self.spec.steps_to_sample());
                for (i, &t) in ts.iter().enumerate() {
                    let s = ts.get(i + 1).copied().unwrap_or(0);
                    let eps = self.net.predict(&ps, &x, t);
                    self.schedule.ddim_step(&mut x, &eps, t, s);
                    keep(s, &x, &mut frames);
                }
            }
        }
        if frames.last().map(|f| f.0) != Some(0) {
            frames.push((0, pairs(&x)));
        }
        Reverse { frames }
    }

    /// The reverse run for the current weights and its MMD to the held-out data (cached until
    /// the next training step).
    /// The samples of the current weights and their MMD (computed once per step count), or
    /// `Err(Diverged)` when a sample is not finite.
    pub(super) fn current(&mut self) -> Result<&(u64, Reverse, f64), ModelError> {
        if self.cached.as_ref().map(|c| c.0) != Some(self.steps) {
            let rev = self.reverse(self.spec.samples, 0);
            check_finite("the samples", rev.last().as_flattened())?;
            let n = self.spec.samples.min(self.held_out.len());
            let score = mmd(&rev.last()[..n], &self.held_out[..n], MMD_BANDWIDTH);
            self.cached = Some((self.steps, rev, score));
        }
        Ok(self.cached.as_ref().expect("just filled"))
    }

    /// Samples for the summary's score (their own x_T, more points than the pictures).
    pub fn final_mmd(&self) -> Result<f64, ModelError> {
        let rev = self.reverse(SUMMARY_POINTS, 1);
        check_finite("the final samples", rev.last().as_flattened())?;
        Ok(mmd(rev.last(), &self.held_out, MMD_BANDWIDTH))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Diffusion2dSpec;
    use super::super::fixtures::{model, small, train};
    use super::super::quality::noise_points;
    use super::*;
    use crate::data::toys::Toy;

    #[test]
    fn trained_samples_score_between_fresh_data_and_pure_noise() {
        let mut m = model(&small(), Toy::Moons, 2);
        train(&mut m, 1500);
        let n = 600;
        let samples = m.reverse(n, 1);
        let reference = &m.held_out[..n];
        let score = mmd(samples.last(), reference, MMD_BANDWIDTH);
        let floor = mmd(&Toy::Moons.sample(n, 99).0, reference, MMD_BANDWIDTH);
        let noise = mmd(&noise_points(n, 98), reference, MMD_BANDWIDTH);
        assert!(
            floor < score && score - floor < 0.5 * (noise - floor),
            "want data {floor:.4} < samples {score:.4} < noise {noise:.4}, nearer the data"
        );
    }

    #[test]
    fn sampling_is_deterministic_by_seed() {
        for sampler in [Sampler::Ddpm, Sampler::Ddim] {
            let spec = Diffusion2dSpec {
                sampler,
                sample_steps: (sampler == Sampler::Ddim).then_some(10),
                ..small()
            };
            let run = |seed| {
                let mut m = model(&spec, Toy::EightGaussians, seed);
                train(&mut m, 30);
                m.reverse(200, 0).frames
            };
            let (a, b, c) = (run(3), run(3), run(4));
            assert_eq!(a, b, "{sampler:?}");
            assert_ne!(a.last(), c.last(), "{sampler:?}");
            assert_eq!(a.first().map(|f| f.0), Some(50));
            assert_eq!(a.last().map(|f| f.0), Some(0));
        }
    }

    #[test]
    fn ddim_in_fewer_steps_ends_at_x0_with_every_point() {
        let spec = Diffusion2dSpec {
            sampler: Sampler::Ddim,
            sample_steps: Some(7),
            ..small()
        };
        let m = model(&spec, Toy::Spiral, 0);
        let r = m.reverse(150, 0);
        let times: Vec<usize> = r.frames.iter().map(|f| f.0).collect();
        assert!(times.windows(2).all(|w| w[1] < w[0]), "{times:?}");
        assert_eq!(r.last().len(), 150);
        assert!(
            r.last()
                .iter()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        );
    }
}
