//! What the lesson draws: the filmstrips (forward x₀ → x_T and reverse x_T → x₀, one cell per
//! frame, at the frame times chosen here), the plane the samples panel shows, and the noise
//! schedule chart.

use super::quality::noise_points;
use super::{Diffusion2d, flat, pairs};
use crate::models::diffusion::NoiseSchedule;
use crate::visual::{Color, Figure, Layer};

/// Frames in each filmstrip (x_T … x₀), laid out in a grid of this many columns.
const FRAMES: usize = 6;
const FRAME_COLUMNS: usize = 3;

impl Diffusion2d {
    /// Where frame k of a filmstrip sits: the centre of its cell.
    fn cell_centre(&self, k: usize) -> [f64; 2] {
        let w = 2.0 * self.half * 1.08;
        let rows = FRAMES.div_ceil(FRAME_COLUMNS);
        let (c, r) = (k % FRAME_COLUMNS, k / FRAME_COLUMNS);
        [c as f64 * w, (rows - 1 - r) as f64 * w]
    }

    fn strip_range(&self) -> ([f64; 2], [f64; 2]) {
        let w = 2.0 * self.half * 1.08;
        let rows = FRAMES.div_ceil(FRAME_COLUMNS);
        let pad = self.half * 1.04;
        (
            [-pad, (FRAME_COLUMNS - 1) as f64 * w + pad],
            [-pad, (rows - 1) as f64 * w + pad],
        )
    }

    /// Frame k of a filmstrip: its points moved into cell k (those outside the cell dropped),
    /// a frame around the cell and its time written in the corner.
    fn cell_layers(&self, k: usize, t: usize, points: &[[f32; 2]], color: Color) -> Vec<Layer> {
        let [cx, cy] = self.cell_centre(k);
        let h = self.half;
        let corners = [
            [cx - h, cy - h],
            [cx + h, cy - h],
            [cx + h, cy + h],
            [cx - h, cy + h],
        ];
        vec![
            Layer::Segments {
                label: String::new(),
                color: Color::Gray,
                segments: (0..4).map(|i| [corners[i], corners[(i + 1) % 4]]).collect(),
            },
            Layer::Points {
                label: String::new(),
                color,
                points: points
                    .iter()
                    .filter(|p| (p[0] as f64).abs() < h && (p[1] as f64).abs() < h)
                    .map(|p| [round3(cx + p[0] as f64), round3(cy + p[1] as f64)])
                    .collect(),
            },
            Layer::Marker {
                label: String::new(),
                color: Color::White,
                at: [cx - 0.92 * h, cy + 0.85 * h],
                symbol: format!("t={t}"),
            },
        ]
    }

    pub(super) fn strip(
        &self,
        frames: &[(usize, Vec<[f32; 2]>)],
        color: Color,
        label: &str,
    ) -> Figure {
        let (x_range, y_range) = self.strip_range();
        Figure {
            x_label: label.into(),
            y_label: "".into(),
            x_range,
            y_range,
            layers: frames
                .iter()
                .enumerate()
                .take(FRAMES)
                .flat_map(|(k, (t, p))| self.cell_layers(k, *t, p, color))
                .collect(),
        }
    }

    /// x₀ noised to each frame time: the forward process, left to right.
    pub(super) fn forward_frames(&self) -> Vec<(usize, Vec<[f32; 2]>)> {
        let n = self.spec.samples.min(self.held_out.len());
        let x0 = flat(&self.held_out[..n]);
        let eps = flat(&noise_points(n, self.seed ^ 0xD1FF_2D00_F0F0_0000));
        self.frame_times
            .iter()
            .rev()
            .map(|&t| {
                let mut xt = vec![0.0f32; x0.len()];
                self.schedule.q_sample(&x0, &eps, t, &mut xt);
                (t, pairs(&xt))
            })
            .collect()
    }

    pub(super) fn plane(&self) -> ([f64; 2], [f64; 2]) {
        let h = self.half;
        ([-h, h], [-h, h])
    }

    pub(super) fn schedule_figure(&self) -> Figure {
        let s = &self.schedule;
        let big_t = s.steps();
        let beta_max = s.beta.iter().copied().fold(0.0, f64::max).max(1e-12);
        let curve = |f: &dyn Fn(usize) -> f64| -> Vec<[f64; 2]> {
            (0..=big_t).map(|t| [t as f64, f(t)]).collect()
        };
        let mut layers = vec![
            Layer::Line {
                label: "√ᾱ signal".into(),
                color: Color::Cyan,
                points: curve(&|t| s.alpha_bar_at(t).sqrt()),
            },
            Layer::Line {
                label: "√(1−ᾱ) noise".into(),
                color: Color::Magenta,
                points: curve(&|t| (1.0 - s.alpha_bar_at(t)).sqrt()),
            },
            Layer::Line {
                label: format!("β/{}", short(beta_max)),
                color: Color::Yellow,
                points: (1..=big_t)
                    .map(|t| [t as f64, s.beta[t - 1] / beta_max])
                    .collect(),
            },
        ];
        for &t in &self.frame_times {
            layers.push(Layer::Marker {
                label: String::new(),
                color: Color::White,
                at: [t as f64, s.alpha_bar_at(t).sqrt()],
                symbol: "◆".into(),
            });
        }
        Figure {
            x_label: "t".into(),
            y_label: "".into(),
            x_range: [0.0, big_t as f64],
            y_range: [0.0, 1.05],
            layers,
        }
    }
}

/// Frame times from T down to 0 where √ᾱₜ passes 0, 0.2, …, 1 (even steps of remaining signal),
/// so that the shape fades (or forms) evenly across the filmstrip.
pub(super) fn frame_times(s: &NoiseSchedule) -> Vec<usize> {
    let big_t = s.steps();
    let mut out: Vec<usize> = (0..FRAMES)
        .map(|k| {
            let target = k as f64 / (FRAMES - 1) as f64; // √ᾱ wanted
            if k == 0 {
                return big_t;
            }
            // The largest t whose √ᾱₜ is at least the target.
            (0..=big_t)
                .rev()
                .find(|&t| s.alpha_bar_at(t).sqrt() >= target)
                .unwrap_or(0)
        })
        .collect();
    out.dedup();
    out
}

pub(super) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn short(v: f64) -> String {
    format!("{v:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::diffusion::BetaSchedule;

    #[test]
    fn filmstrip_times_run_from_t_down_to_zero_for_both_schedules() {
        for kind in [BetaSchedule::Linear, BetaSchedule::Cosine] {
            let s = NoiseSchedule::new(kind, 200);
            let t = frame_times(&s);
            assert_eq!((t[0], *t.last().unwrap()), (200, 0), "{kind:?}");
            assert!(t.windows(2).all(|w| w[1] < w[0]), "{kind:?}: {t:?}");
            assert_eq!(t.len(), FRAMES, "{kind:?}: {t:?}");
        }
    }
}
