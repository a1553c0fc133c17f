//! What the GAN lesson draws. On the plane: `samples` (the real points once, then the
//! generated ones over them with the line where D(x) = ½), `critic` (D(x) over the plane as a
//! grey heat map: white where D says "real") and `modes` (the share of the points on each of
//! the toy's modes). On digits: `samples` (a grid, captioned with the judge's reading),
//! `critic` (D's mean output on real digits and on G's) and `modes` (the judge's class
//! histogram of a few hundred samples).

use super::{Data, Gan, HISTOGRAM_SAMPLES, PIXELS, SIDE};
use crate::models::ModelError;
use crate::tensor::Tensor;
use crate::visual::{Bars, Color, Figure, Image, Layer, PanelUpdate, Visual, contour_segments};

/// Pixels on a side of D's heat map.
const HEAT: usize = 64;

fn round3(v: f32) -> f64 {
    (v as f64 * 1000.0).round() / 1000.0
}

fn update(panel: &str, part: &str, visual: Visual) -> PanelUpdate {
    PanelUpdate {
        panel: panel.into(),
        part: part.into(),
        visual,
    }
}

impl Gan {
    fn plane_range(&self) -> [f64; 2] {
        match &self.data {
            Data::Plane { half, .. } => [-half, *half],
            Data::Digits { .. } => [-1.0, 1.0],
        }
    }

    fn figure(&self, layers: Vec<Layer>) -> Figure {
        let r = self.plane_range();
        Figure {
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            x_range: r,
            y_range: r,
            layers,
        }
    }

    /// The real points, drawn once under everything else.
    pub(super) fn intro_panels(&self) -> Vec<PanelUpdate> {
        match &self.data {
            Data::Plane { toy, held_out, .. } => {
                let n = self.spec.samples.min(held_out.len());
                let data = Layer::Points {
                    label: format!("data ({})", toy.name()),
                    color: Color::Gray,
                    points: held_out[..n]
                        .iter()
                        .map(|p| [round3(p[0]), round3(p[1])])
                        .collect(),
                };
                vec![update(
                    "samples",
                    "data",
                    Visual::Figure(self.figure(vec![data])),
                )]
            }
            Data::Digits { .. } => Vec::new(),
        }
    }

    /// D(x) at the centres of a HEAT × HEAT grid over the plane, row 0 at the top.
    pub(super) fn critic_grid(&self) -> Vec<f32> {
        let [lo, hi] = self.plane_range();
        let step = (hi - lo) / HEAT as f64;
        let mut xy = Vec::with_capacity(HEAT * HEAT * 2);
        for row in 0..HEAT {
            let y = hi - (row as f64 + 0.5) * step;
            for col in 0..HEAT {
                xy.push((lo + (col as f64 + 0.5) * step) as f32);
                xy.push(y as f32);
            }
        }
        let x = Tensor::from_shape_vec(ndarray::IxDyn(&[HEAT * HEAT, 2]), xy).expect("grid");
        self.nets.judge(&self.ps, &x)
    }

    pub(super) fn snapshot_panels(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        let samples = self.current()?.to_vec();
        match &self.data {
            Data::Plane { modes, .. } => {
                let points: Vec<[f32; 2]> = samples.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
                let coverage = modes.coverage(&points);
                let heat = self.critic_grid();
                // The line D(x) = ½ on the heat map's grid (row 0 at the top, so y flips).
                let [lo, hi] = self.plane_range();
                let half_step = (hi - lo) / HEAT as f64 / 2.0;
                let flipped: Vec<f64> = (0..HEAT)
                    .rev()
                    .flat_map(|row| heat[row * HEAT..(row + 1) * HEAT].iter().map(|&v| v as f64))
                    .collect();
                let boundary = contour_segments(
                    &flipped,
                    HEAT,
                    HEAT,
                    [lo + half_step, hi - half_step],
                    [lo + half_step, hi - half_step],
                    0.5,
                );
                let generated = vec![
                    Layer::Points {
                        label: format!("G(z): {} of {} modes", coverage.covered, modes.count()),
                        color: Color::Cyan,
                        points: points
                            .iter()
                            .map(|p| [round3(p[0]), round3(p[1])])
                            .collect(),
                    },
                    Layer::Segments {
                        label: "D = ½".into(),
                        color: Color::Yellow,
                        segments: boundary,
                    },
                ];
                let (d_min, d_max) = heat
                    .iter()
                    .fold((1.0f32, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
                let image = Image::from_f32(
                    HEAT,
                    HEAT,
                    &heat,
                    format!("D(x): black {d_min:.2} … white {d_max:.2}"),
                );
                let n = points.len().max(1) as f64;
                let mut bars: Vec<(String, f64)> = coverage
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| (format!("mode {}", k + 1), c as f64 / n))
                    .collect();
                bars.push(("off".into(), coverage.off as f64 / n));
                Ok(vec![
                    update(
                        "samples",
                        "generated",
                        Visual::Figure(self.figure(generated)),
                    ),
                    update(
                        "critic",
                        "main",
                        Visual::Images {
                            images: vec![image],
                            strip: false,
                        },
                    ),
                    update("modes", "main", Visual::Bars(Bars { bars })),
                ])
            }
            Data::Digits { judge, real, .. } => {
                let captions: Vec<String> = match judge {
                    Some(j) => j.label_each(&samples),
                    None => vec![String::new(); samples.len() / PIXELS],
                };
                let images = samples
                    .chunks(PIXELS)
                    .zip(captions)
                    .map(|(px, c)| Image::from_f32(SIDE, SIDE, px, c))
                    .collect();
                let mut out = vec![update(
                    "samples",
                    "main",
                    Visual::Images {
                        images,
                        strip: false,
                    },
                )];
                // D's mean verdict on held-out real digits and on the grid's fakes.
                let k = (real.len() / PIXELS).min(100);
                if k > 0 {
                    let r: Vec<f32> = real[..k * PIXELS].iter().map(|v| v * 2.0 - 1.0).collect();
                    let f: Vec<f32> = samples.iter().map(|v| v * 2.0 - 1.0).collect();
                    let mean = |x: Vec<f32>| {
                        let rows = x.len() / PIXELS;
                        let t = Tensor::from_shape_vec(ndarray::IxDyn(&[rows, PIXELS]), x)
                            .expect("rows × 784");
                        let d = self.nets.judge(&self.ps, &t);
                        d.iter().map(|&v| v as f64).sum::<f64>() / d.len().max(1) as f64
                    };
                    out.push(update(
                        "critic",
                        "main",
                        Visual::Bars(Bars {
                            bars: vec![("D(real)".into(), mean(r)), ("D(G(z))".into(), mean(f))],
                        }),
                    ));
                }
                if let Some(hist) = self.class_histogram()? {
                    out.push(update("modes", "main", Visual::Bars(Bars { bars: hist })));
                }
                Ok(out)
            }
        }
    }

    /// The judge's share of each digit (and of junk) among fresh samples, drawn from noise
    /// fixed by the seed; `None` without a judge.
    pub(super) fn class_histogram(&self) -> Result<Option<Vec<(String, f64)>>, ModelError> {
        let Data::Digits {
            judge: Some(judge),
            real,
            ..
        } = &self.data
        else {
            return Ok(None);
        };
        let x = self.draw_seeded(HISTOGRAM_SAMPLES, self.seed ^ 0x6A11_0000_0000_0008);
        crate::models::check_finite("the generated samples", &x)?;
        let k = (real.len() / PIXELS).min(HISTOGRAM_SAMPLES);
        let s = judge.score(&x, &real[..k * PIXELS]);
        let n = s.n.max(1) as f64;
        let mut bars: Vec<(String, f64)> = s
            .histogram
            .iter()
            .enumerate()
            .map(|(d, &c)| (d.to_string(), c as f64 / n))
            .collect();
        bars.push(("?".into(), s.junk));
        Ok(Some(bars))
    }
}
