//! Diffusion: the arithmetic every diffusion lesson shares (`schedule`: noise schedules, the
//! forward process q(xₜ | x₀), the DDPM and DDIM samplers, min-SNR weights), and beside it the
//! two families built on it: `two_d` (points in the plane, lesson diffusion-2d) and `ddpm`
//! (28×28 digits with a U-Net, lesson ddpm). The schedule is a helper, not a family: it trains
//! nothing on its own.

pub mod ddpm;
pub mod schedule;
pub mod two_d;

pub use schedule::{BetaSchedule, NoiseSchedule, Prediction, Sampler};
