//! What the DDPM lesson draws: the noise-schedule figure and the forward-noising filmstrip
//! shown at the start, and the live sample grid (captioned with the judge's reading) with the
//! reverse filmstrip of its first sample, as `Figure` and `Images` panels.

use super::sample::to_unit;
use super::{Ddpm, PIXELS, SIDE};
use crate::tensor::randn;
use crate::visual::{Color, Figure, Image, Layer, PanelUpdate, Visual};

impl Ddpm {
    /// The panels drawn once before training: the schedule and the forward process.
    pub(super) fn intro_panels(&mut self) -> Vec<PanelUpdate> {
        vec![
            PanelUpdate {
                panel: "schedule".into(),
                part: "main".into(),
                visual: Visual::Figure(self.schedule_figure()),
            },
            PanelUpdate {
                panel: "forward".into(),
                part: "main".into(),
                visual: Visual::Images {
                    images: self.forward_strip(),
                    strip: true,
                },
            },
        ]
    }

    /// The samples panel (`grid`, n × 784 in [0, 1], each captioned with the judge's label
    /// when there is a judge) and the reverse filmstrip `film` of (t, pixels) frames.
    pub(super) fn sample_panels(
        &self,
        grid: &[f32],
        film: Vec<(usize, Vec<f32>)>,
    ) -> Vec<PanelUpdate> {
        let captions: Vec<String> = match &self.judge {
            Some(j) => j.label_each(grid),
            None => vec![String::new(); self.spec.grid],
        };
        let images = grid
            .chunks(PIXELS)
            .zip(captions)
            .map(|(px, c)| Image::from_f32(SIDE, SIDE, px, c))
            .collect();
        let strip = film
            .into_iter()
            .map(|(t, px)| Image::from_f32(SIDE, SIDE, &px, format!("t={t}")))
            .collect();
        vec![
            PanelUpdate {
                panel: "samples".into(),
                part: "main".into(),
                visual: Visual::Images {
                    images,
                    strip: false,
                },
            },
            PanelUpdate {
                panel: "reverse".into(),
                part: "main".into(),
                visual: Visual::Images {
                    images: strip,
                    strip: true,
                },
            },
        ]
    }

    /// ᾱₜ and βₜ (scaled to its maximum) against t: how fast the signal fades.
    fn schedule_figure(&self) -> Figure {
        let t = self.schedule.steps();
        let beta_max = self
            .schedule
            .beta
            .iter()
            .cloned()
            .fold(0.0, f64::max)
            .max(1e-12);
        let every = (t / 200).max(1);
        let pts = |f: &dyn Fn(usize) -> f64| {
            (1..=t)
                .step_by(every)
                .map(|i| [i as f64, f(i)])
                .collect::<Vec<_>>()
        };
        Figure {
            x_label: "t".into(),
            y_label: format!("ᾱₜ and βₜ/{beta_max:.3}"),
            x_range: [0.0, t as f64],
            y_range: [0.0, 1.05],
            layers: vec![
                Layer::Line {
                    label: "ᾱₜ (signal left)".into(),
                    color: Color::Cyan,
                    points: pts(&|i| self.schedule.alpha_bar_at(i)),
                },
                Layer::Line {
                    label: "βₜ (noise added)".into(),
                    color: Color::Yellow,
                    points: pts(&|i| self.schedule.beta[i - 1] / beta_max),
                },
            ],
        }
    }

    /// The first training digit noised to a few steps t between 0 and T (one fresh ε for all).
    fn forward_strip(&mut self) -> Vec<Image> {
        let x0: Vec<f32> = self.train_x[..PIXELS].to_vec();
        let eps: Vec<f32> = randn(&[PIXELS], &mut self.rng).iter().copied().collect();
        let t_max = self.schedule.steps();
        [
            0,
            t_max / 20,
            t_max / 10,
            t_max / 4,
            t_max / 2,
            3 * t_max / 4,
            t_max,
        ]
        .iter()
        .map(|&t| {
            let mut xt = vec![0.0f32; PIXELS];
            if t == 0 {
                xt.copy_from_slice(&x0);
            } else {
                self.schedule.q_sample(&x0, &eps, t, &mut xt);
            }
            Image::from_f32(SIDE, SIDE, &to_unit(&xt), format!("t={t}"))
        })
        .collect()
    }
}
