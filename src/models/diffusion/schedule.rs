//! The arithmetic of DDPM, shared by every diffusion lesson: noise schedules, the forward
//! process, and the two samplers. No network here — only the formulas, on flat `f32` slices.
//!
//! With βₜ the noise added at step t, αₜ = 1 − βₜ and ᾱₜ = α₁·…·αₜ:
//!
//! ```text
//! forward    q(xₜ | x₀) = N(√ᾱₜ·x₀, (1 − ᾱₜ)·I)        so  xₜ = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε
//! training   minimise ‖ε − ε_θ(xₜ, t)‖²  for t ~ U{1..T}, ε ~ N(0, I)        (Algorithm 1)
//! DDPM       xₜ₋₁ = (xₜ − βₜ/√(1 − ᾱₜ)·ε_θ) / √αₜ + σₜ·z,  σₜ² = β̃ₜ = βₜ(1 − ᾱₜ₋₁)/(1 − ᾱₜ)   (Algorithm 2)
//! DDIM       x̂₀ = (xₜ − √(1 − ᾱₜ)·ε_θ)/√ᾱₜ;   xₛ = √ᾱₛ·x̂₀ + √(1 − ᾱₛ)·ε_θ   for s < t (no noise)
//! ```
//!
//! Timesteps are 1-based, as in the paper; index t − 1 of every table holds step t.

use serde::{Deserialize, Serialize};

/// How βₜ grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BetaSchedule {
    /// βₜ from 10⁻⁴ to 0.02 in a straight line (scaled by 1000/T for other T), as in DDPM.
    #[default]
    Linear,
    /// ᾱₜ = cos²(((t/T + s)/(1 + s))·π/2) with s = 0.008, βₜ clipped at 0.999 (improved DDPM):
    /// less noise early on, so fewer steps are wasted on pure noise.
    Cosine,
}

/// What the network is trained to output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prediction {
    /// The noise ε (DDPM's choice).
    #[default]
    Eps,
    /// The "velocity" v = √ᾱₜ·ε − √(1 − ᾱₜ)·x₀ (Salimans & Ho, 2022): mostly ε when the image
    /// is nearly clean, mostly −x₀ when it is nearly all noise — so at high noise the network
    /// says what the digit looks like instead of which noise hides it.
    V,
}

/// Which reverse process draws samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampler {
    /// Ancestral sampling, every one of the T steps, fresh noise at each (Algorithm 2).
    #[default]
    Ddpm,
    /// Deterministic DDIM on a few evenly spaced steps: same network, many times faster.
    Ddim,
}

impl Sampler {
    pub fn name(self) -> &'static str {
        match self {
            Sampler::Ddpm => "ddpm",
            Sampler::Ddim => "ddim",
        }
    }
}

/// βₜ, αₜ and ᾱₜ for t = 1..T.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseSchedule {
    pub beta: Vec<f64>,
    pub alpha: Vec<f64>,
    pub alpha_bar: Vec<f64>,
}

impl NoiseSchedule {
    pub fn new(kind: BetaSchedule, steps: usize) -> NoiseSchedule {
        let t = steps.max(1);
        let beta: Vec<f64> = match kind {
            BetaSchedule::Linear => {
                let scale = 1000.0 / t as f64;
                let (lo, hi) = (1e-4 * scale, (0.02 * scale).min(0.999));
                (0..t)
                    .map(|i| {
                        if t == 1 {
                            hi
                        } else {
                            lo + (hi - lo) * i as f64 / (t - 1) as f64
                        }
                    })
                    .collect()
            }
            BetaSchedule::Cosine => {
                let f = |i: usize| {
                    let x = (i as f64 / t as f64 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2;
                    x.cos().powi(2)
                };
                (1..=t)
                    .map(|i| (1.0 - f(i) / f(i - 1)).clamp(0.0, 0.999))
                    .collect()
            }
        };
        let alpha: Vec<f64> = beta.iter().map(|b| 1.0 - b).collect();
        let alpha_bar = alpha
            .iter()
            .scan(1.0, |acc, a| {
                *acc *= a;
                Some(*acc)
            })
            .collect();
        NoiseSchedule {
            beta,
            alpha,
            alpha_bar,
        }
    }

    /// T, the number of noising steps.
    pub fn steps(&self) -> usize {
        self.beta.len()
    }

    /// ᾱₜ, with ᾱ₀ = 1.
    pub fn alpha_bar_at(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.alpha_bar[t - 1] }
    }

    /// The signal-to-noise ratio of step t: SNRₜ = ᾱₜ / (1 − ᾱₜ).
    pub fn snr(&self, t: usize) -> f64 {
        let ab = self.alpha_bar_at(t);
        ab / (1.0 - ab)
    }

    /// The min-SNR-γ weight of step t's squared error (Hang et al., 2023), for a network that
    /// predicts `prediction`. For ε: min(SNRₜ, γ) / SNRₜ — 1 where the noise dominates
    /// (SNRₜ ≤ γ), smaller on the nearly clean steps, whose noise is easy to predict and whose
    /// gradients pull against the noisy steps'. For v: min(SNRₜ, γ) / (SNRₜ + 1), which puts
    /// the same weight min(SNRₜ, γ) on x₀'s error, since ‖ε̂ − ε‖² = SNRₜ·‖x̂₀ − x₀‖² and
    /// ‖v̂ − v‖² = (1 + SNRₜ)·‖x̂₀ − x₀‖².
    pub fn min_snr_weight(&self, t: usize, gamma: f64, prediction: Prediction) -> f64 {
        let snr = self.snr(t);
        match prediction {
            Prediction::Eps => snr.min(gamma) / snr,
            Prediction::V => snr.min(gamma) / (snr + 1.0),
        }
    }

    /// Turns the noise ε added to x₀ at step t into the velocity, in place:
    /// v = √ᾱₜ·ε − √(1 − ᾱₜ)·x₀.
    pub fn v_from_eps(&self, x0: &[f32], eps: &mut [f32], t: usize) {
        let ab = self.alpha_bar_at(t);
        let (a, b) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
        for (e, x) in eps.iter_mut().zip(x0) {
            *e = a * *e - b * x;
        }
    }

    /// Turns a predicted v at step t into the noise it implies, in place:
    /// ε = √ᾱₜ·v + √(1 − ᾱₜ)·xₜ.
    pub fn eps_from_v(&self, x: &[f32], v: &mut [f32], t: usize) {
        let ab = self.alpha_bar_at(t);
        let (a, b) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
        for (xi, vi) in x.iter().zip(v.iter_mut()) {
            *vi = a * *vi + b * xi;
        }
    }

    /// xₜ = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε, written into `out`.
    pub fn q_sample(&self, x0: &[f32], eps: &[f32], t: usize, out: &mut [f32]) {
        let ab = self.alpha_bar_at(t);
        let (a, b) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
        for ((o, x), e) in out.iter_mut().zip(x0).zip(eps) {
            *o = a * x + b * e;
        }
    }

    /// One ancestral step xₜ → xₜ₋₁ (Algorithm 2). `z` is fresh N(0, I) noise (unused at t = 1).
    pub fn ddpm_step(&self, x: &mut [f32], eps_hat: &[f32], t: usize, z: &[f32]) {
        let (beta, alpha, ab) = (self.beta[t - 1], self.alpha[t - 1], self.alpha_bar_at(t));
        let ab_prev = self.alpha_bar_at(t - 1);
        let coef = (beta / (1.0 - ab).sqrt()) as f32;
        let scale = (1.0 / alpha.sqrt()) as f32;
        let sigma = if t > 1 {
            (beta * (1.0 - ab_prev) / (1.0 - ab)).sqrt() as f32
        } else {
            0.0
        };
        for ((xi, e), zi) in x
            .iter_mut()
            .zip(eps_hat)
            .zip(z.iter().chain(std::iter::repeat(&0.0)))
        {
            *xi = scale * (*xi - coef * e) + sigma * zi;
        }
    }

    /// For data known to lie in [−1, 1] (pixels): clips the estimate x̂₀ = (xₜ − √(1 − ᾱₜ)·ε̂)/√ᾱₜ
    /// to that range and replaces ε̂ by the noise consistent with the clipped x̂₀, as DDPM's own
    /// sampler does. Either step then moves towards a plausible image; without it, the
    /// network's small errors at high noise are amplified by 1/√ᾱₜ and pixels run away.
    pub fn clip_eps(&self, x: &[f32], eps: &mut [f32], t: usize) {
        let ab = self.alpha_bar_at(t);
        let (a, b) = (ab.sqrt() as f32, (1.0 - ab).sqrt().max(1e-12) as f32);
        for (xi, e) in x.iter().zip(eps.iter_mut()) {
            let x0 = ((xi - b * *e) / a).clamp(-1.0, 1.0);
            *e = (xi - a * x0) / b;
        }
    }

    /// One deterministic DDIM step from t down to s (s < t, s = 0 gives x̂₀).
    pub fn ddim_step(&self, x: &mut [f32], eps_hat: &[f32], t: usize, s: usize) {
        self.ddim_step_eta(x, eps_hat, t, s, 0.0, &[]);
    }

    /// The general DDIM step from t to an earlier s with stochasticity η ∈ [0, 1]: the noise
    /// σ = η·√((1 − ᾱₛ)/(1 − ᾱₜ))·√(1 − ᾱₜ/ᾱₛ) is drawn afresh (from `z`) and the rest of the
    /// variance keeps the predicted direction: xₛ = √ᾱₛ·x̂₀ + √(1 − ᾱₛ − σ²)·ε̂ + σ·z. η = 0 is
    /// deterministic DDIM; η = 1 with s = t − 1 is exactly DDPM's ancestral step, and with
    /// larger jumps is ancestral sampling on a subsequence of the steps.
    pub fn ddim_step_eta(
        &self,
        x: &mut [f32],
        eps_hat: &[f32],
        t: usize,
        s: usize,
        eta: f64,
        z: &[f32],
    ) {
        let (at, as_) = (self.alpha_bar_at(t), self.alpha_bar_at(s));
        let sigma = if s > 0 {
            eta * ((1.0 - as_) / (1.0 - at)).sqrt() * (1.0 - at / as_).max(0.0).sqrt()
        } else {
            0.0
        };
        let (sa, sb) = (at.sqrt() as f32, (1.0 - at).sqrt() as f32);
        let ta = as_.sqrt() as f32;
        let tb = (1.0 - as_ - sigma * sigma).max(0.0).sqrt() as f32;
        let sigma = sigma as f32;
        let noise = z.iter().chain(std::iter::repeat(&0.0));
        for ((xi, e), zi) in x.iter_mut().zip(eps_hat).zip(noise) {
            let x0 = (*xi - sb * e) / sa;
            *xi = ta * x0 + tb * e + sigma * zi;
        }
    }

    /// `k` timesteps from T down to 1, evenly spaced, for DDIM.
    pub fn ddim_timesteps(&self, k: usize) -> Vec<usize> {
        let t = self.steps();
        let k = k.clamp(1, t);
        let mut out: Vec<usize> = (0..k).map(|i| t - i * t / k).collect();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_velocity_gives_back_the_noise_and_weighs_x0_like_min_snr_does() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let x0 = [0.9f32, -1.0, 0.0, 0.3];
        let eps = [0.5f32, -1.5, 2.0, 0.0];
        for t in [1, 10, 500, 1000] {
            let (mut xt, mut v) = ([0.0f32; 4], eps);
            s.q_sample(&x0, &eps, t, &mut xt);
            s.v_from_eps(&x0, &mut v, t);
            s.eps_from_v(&xt, &mut v, t);
            for (got, want) in v.iter().zip(&eps) {
                assert!((got - want).abs() < 1e-5, "t = {t}: ε {got} ≠ {want}");
            }
            // The v-weight is the ε-weight moved onto v's scale: both put min(SNR, γ) on x₀.
            let snr = s.snr(t);
            let on_x0_via_v = s.min_snr_weight(t, 5.0, Prediction::V) * (1.0 + snr);
            let on_x0_via_eps = s.min_snr_weight(t, 5.0, Prediction::Eps) * snr;
            assert!((on_x0_via_v - on_x0_via_eps).abs() < 1e-9 * on_x0_via_eps.max(1.0));
        }
    }

    #[test]
    fn min_snr_weights_only_the_nearly_clean_steps_down() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let w: Vec<f64> = (1..=1000)
            .map(|t| s.min_snr_weight(t, 5.0, Prediction::Eps))
            .collect();
        // SNR falls with t, so the weight rises with t, up to 1 once SNR ≤ γ.
        assert!(w.windows(2).all(|p| p[0] <= p[1] + 1e-12));
        assert!(w[0] < 0.01, "t = 1 is almost clean: weight {}", w[0]);
        assert_eq!(w[999], 1.0);
        let ab = s.alpha_bar_at(10);
        assert!((w[9] - 5.0 * (1.0 - ab) / ab).abs() < 1e-12);
        // Halfway, the noise already dominates.
        assert_eq!(w[499], 1.0);
    }

    #[test]
    fn ddim_with_eta_one_on_consecutive_steps_is_the_ddpm_step() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let x0: Vec<f32> = (0..8).map(|i| i as f32 * 0.2 - 0.7).collect();
        let eps: Vec<f32> = (0..8).map(|i| (i as f32 * 1.3).sin()).collect();
        let z: Vec<f32> = (0..8).map(|i| (i as f32 * 0.7).cos()).collect();
        for t in [2, 10, 500, 1000] {
            let (mut a, mut b) = (x0.clone(), x0.clone());
            s.ddpm_step(&mut a, &eps, t, &z);
            s.ddim_step_eta(&mut b, &eps, t, t - 1, 1.0, &z);
            for (u, v) in a.iter().zip(&b) {
                assert!((u - v).abs() < 1e-4, "t = {t}: ddpm {u} vs ddim(η=1) {v}");
            }
        }
    }

    #[test]
    fn the_signal_fades_monotonically_to_almost_nothing() {
        for kind in [BetaSchedule::Linear, BetaSchedule::Cosine] {
            let s = NoiseSchedule::new(kind, 1000);
            assert!(s.alpha_bar.windows(2).all(|w| w[1] < w[0]), "{kind:?}");
            assert!(
                s.alpha_bar[0] > 0.99 && s.alpha_bar[999] < 1e-3,
                "{kind:?}: ᾱ_T = {}",
                s.alpha_bar[999]
            );
        }
    }

    #[test]
    fn the_linear_schedule_matches_the_papers_endpoints() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        assert!((s.beta[0] - 1e-4).abs() < 1e-12 && (s.beta[999] - 0.02).abs() < 1e-12);
    }

    #[test]
    fn forward_noising_keeps_unit_variance_for_unit_variance_data() {
        let s = NoiseSchedule::new(BetaSchedule::Cosine, 100);
        let x0 = [1.0f32, -1.0, 1.0, -1.0];
        let eps = [1.0f32, 1.0, -1.0, -1.0];
        let mut xt = [0.0f32; 4];
        s.q_sample(&x0, &eps, 40, &mut xt);
        let ab = s.alpha_bar_at(40);
        // Each coordinate is √ᾱ·(±1) + √(1−ᾱ)·(±1); the sum of squares of the two weights is 1.
        let expected = (ab.sqrt() + (1.0 - ab).sqrt()) as f32;
        assert!((xt[0] - expected).abs() < 1e-6);
    }

    #[test]
    fn ddim_with_the_true_noise_recovers_the_data_exactly() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let x0 = [0.3f32, -0.7, 0.9];
        let eps = [0.5f32, -1.2, 0.1];
        let mut x = [0.0f32; 3];
        s.q_sample(&x0, &eps, 1000, &mut x);
        let ts = s.ddim_timesteps(50);
        for (i, &t) in ts.iter().enumerate() {
            let next = ts.get(i + 1).copied().unwrap_or(0);
            s.ddim_step(&mut x, &eps, t, next);
        }
        for (a, b) in x.iter().zip(&x0) {
            assert!((a - b).abs() < 1e-3, "{x:?} vs {x0:?}");
        }
    }

    #[test]
    fn a_ddpm_step_with_the_true_noise_and_no_fresh_noise_moves_towards_the_data() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let x0 = [0.8f32; 8];
        let eps = [1.0f32; 8];
        let mut x = [0.0f32; 8];
        s.q_sample(&x0, &eps, 500, &mut x);
        let before = (x[0] - x0[0]).abs();
        s.ddpm_step(&mut x, &eps, 500, &[0.0; 8]);
        assert!((x[0] - x0[0]).abs() < before);
    }

    #[test]
    fn clipping_leaves_a_consistent_estimate_inside_the_range_alone() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let x0 = [0.5f32, -0.25];
        let eps = [0.3f32, -1.1];
        let mut x = [0.0f32; 2];
        s.q_sample(&x0, &eps, 300, &mut x);
        let mut e = eps;
        s.clip_eps(&x, &mut e, 300);
        assert!(
            (e[0] - eps[0]).abs() < 1e-4 && (e[1] - eps[1]).abs() < 1e-4,
            "{e:?}"
        );
        // An estimate that implies x̂₀ = 3 is pulled back to x̂₀ = 1.
        let mut wild = [0.0f32; 2];
        let ab = s.alpha_bar_at(300);
        let xt = [0.0f32; 2];
        wild[0] = (xt[0] - ab.sqrt() as f32 * 3.0) / (1.0 - ab).sqrt() as f32;
        s.clip_eps(&xt, &mut wild, 300);
        let x0_hat = (xt[0] - (1.0 - ab).sqrt() as f32 * wild[0]) / ab.sqrt() as f32;
        assert!((x0_hat - 1.0).abs() < 1e-4, "{x0_hat}");
    }

    #[test]
    fn ddim_timesteps_run_from_t_down_and_are_distinct() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000);
        let ts = s.ddim_timesteps(50);
        assert_eq!((ts.len(), ts[0], *ts.last().unwrap()), (50, 1000, 20));
        assert!(ts.windows(2).all(|w| w[1] < w[0]));
    }
}
