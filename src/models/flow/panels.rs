//! What the flow lesson draws. In the plane: `layers`, a filmstrip of the Normal being warped
//! into the data one inverse coupling at a time (a grid of lines and a cloud of points drawn
//! from N(0, T²·I), the same ones every snapshot), `density`, the model's p(x) over the plane
//! as a heat map of four bands, and `samples` over fresh data. On digits: `layers`, one
//! sample's pixels after each inverse coupling; `density`, the held-out digits the model finds
//! most and least likely with their bits per dimension; `samples`, a grid captioned by the
//! judge.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::{Flow, FlowData, PIXELS, Plane, SIDE, pixels};
use crate::models::{ModelError, check_finite};
use crate::visual::{Color, Figure, Image, Layer, PanelUpdate, Visual};

/// Lines of the warped grid in each direction, the points along each, and how far out they go
/// in z (standard deviations).
const GRID_LINES: usize = 9;
const GRID_POINTS: usize = 41;
const GRID_REACH: f32 = 2.5;
/// Cells a side of the density heat map.
const HEAT: usize = 64;
/// Density bands of the heat map, as shares of the highest density, lowest first.
const BANDS: [(f64, Color); 4] = [
    (0.01, Color::Blue),
    (0.05, Color::Cyan),
    (0.2, Color::Yellow),
    (0.5, Color::Red),
];
/// Held-out digits shown at each end of the likelihood ranking.
const RANKED: usize = 6;

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Flow {
    /// The stream every snapshot draws its pictured samples from, so that frames change only
    /// because the flow learnt something.
    fn picture_rng(&self) -> Pcg64Mcg {
        Pcg64Mcg::seed_from_u64(self.seed ^ 0xF10E_91C7_0000_0000)
    }

    pub(super) fn intro_panels(&mut self) -> Vec<PanelUpdate> {
        let FlowData::Plane(p) = &self.data else {
            return Vec::new();
        };
        let n = self.spec.samples.min(p.test.len() / 2);
        vec![PanelUpdate {
            panel: "samples".into(),
            part: "data".into(),
            visual: Visual::Figure(Figure {
                x_label: "x₁".into(),
                y_label: "x₂".into(),
                x_range: [-p.half, p.half],
                y_range: [-p.half, p.half],
                layers: vec![Layer::Points {
                    label: format!("data ({})", p.toy.name()),
                    color: Color::Gray,
                    points: plane_points(&p.test[..2 * n]),
                }],
            }),
        }]
    }

    pub(super) fn snapshot_panels(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        match &self.data {
            FlowData::Plane(p) => self.plane_panels(p),
            FlowData::Digits(_) => self.digit_panels(),
        }
    }

    fn plane_panels(&self, p: &Plane) -> Result<Vec<PanelUpdate>, ModelError> {
        let t = self.spec.temperature as f32;
        let n = self.spec.samples;
        // The grid's lines in z, then the samples' z: one batch through the inverse.
        let mut rng = self.picture_rng();
        let (_, film) = self.draw_flow(n, self.spec.temperature, &mut rng, true);
        let lines = grid_lines();
        let line_film: Vec<Vec<f32>> = {
            let g = crate::tensor::Graph::no_grad(&self.ps);
            let z = super::rows(&lines, lines.len() / 2, 2);
            let (_, kept) = super::coupling::inverse(&g, &self.layers, &g.input(z), true);
            std::iter::once(lines.clone())
                .chain(kept.iter().map(|t| t.iter().copied().collect()))
                .collect()
        };
        let last = film.last().expect("a flow has couplings");
        check_finite("the samples", last)?;
        let frames = film.len();
        let half = p.half.max(3.3 * t as f64);
        let columns = (frames as f64).sqrt().ceil() as usize;
        let rows = frames.div_ceil(columns);
        let width = 2.0 * half * 1.08;
        let mut layers = Vec::new();
        for (k, (points, grid)) in film.iter().zip(&line_film).enumerate() {
            let (c, r) = (k % columns, k / columns);
            let centre = [c as f64 * width, (rows - 1 - r) as f64 * width];
            let name = match k {
                0 => "z".to_string(),
                k if k == frames - 1 => "x".to_string(),
                k => k.to_string(),
            };
            layers.extend(cell(centre, half, &name, points, grid));
        }
        let pad = half * 1.04;
        let strip = Figure {
            x_label: format!("z ~ N(0, {t}²·I) → f⁻¹, one coupling a cell"),
            y_label: String::new(),
            x_range: [-pad, (columns - 1) as f64 * width + pad],
            y_range: [-pad, (rows - 1) as f64 * width + pad],
            layers,
        };
        let test = self.test_nll();
        Ok(vec![
            PanelUpdate {
                panel: "layers".into(),
                part: "frames".into(),
                visual: Visual::Figure(strip),
            },
            PanelUpdate {
                panel: "density".into(),
                part: "main".into(),
                visual: Visual::Figure(self.heat_map(p)),
            },
            PanelUpdate {
                panel: "samples".into(),
                part: "samples".into(),
                visual: Visual::Figure(Figure {
                    x_label: "x₁".into(),
                    y_label: "x₂".into(),
                    x_range: [-p.half, p.half],
                    y_range: [-p.half, p.half],
                    layers: vec![Layer::Points {
                        label: format!("samples (test NLL {test:.3} nats)"),
                        color: Color::Cyan,
                        points: plane_points(last),
                    }],
                }),
            },
        ])
    }

    /// p(x) on a HEAT × HEAT grid over the plane, as one scatter of cell centres per band.
    fn heat_map(&self, p: &Plane) -> Figure {
        let h = p.half;
        let step = 2.0 * h / HEAT as f64;
        let centres: Vec<[f64; 2]> = (0..HEAT * HEAT)
            .map(|k| {
                let (i, j) = (k % HEAT, k / HEAT);
                [-h + (i as f64 + 0.5) * step, -h + (j as f64 + 0.5) * step]
            })
            .collect();
        let flat: Vec<f32> = centres
            .iter()
            .flat_map(|c| [c[0] as f32, c[1] as f32])
            .collect();
        let log_p: Vec<f64> = self.nll_rows(&flat).iter().map(|v| -v).collect();
        let top = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut layers = Vec::new();
        for (b, &(share, color)) in BANDS.iter().enumerate() {
            let upper = BANDS.get(b + 1).map_or(f64::INFINITY, |n| n.0.ln());
            let points: Vec<[f64; 2]> = centres
                .iter()
                .zip(&log_p)
                .filter(|(_, lp)| {
                    let rel = **lp - top;
                    rel >= share.ln() && rel < upper
                })
                .map(|(c, _)| [round3(c[0]), round3(c[1])])
                .collect();
            layers.push(Layer::Points {
                label: format!("p > {share} · max"),
                color,
                points,
            });
        }
        Figure {
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            x_range: [-h, h],
            y_range: [-h, h],
            layers,
        }
    }

    fn digit_panels(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        let mut rng = self.picture_rng();
        let (_, film) = self.draw_flow(1, self.spec.temperature, &mut rng, true);
        let (grid, _) = self.draw_flow(self.spec.grid, self.spec.temperature, &mut rng, false);
        check_finite("the samples", &grid)?;
        let grid = pixels::to_pixels(&grid);
        let frames = film.len();
        let strip = film
            .iter()
            .enumerate()
            .map(|(k, y)| {
                let caption = match k {
                    0 => "z".to_string(),
                    k if k == frames - 1 => "x".to_string(),
                    k => k.to_string(),
                };
                Image::from_f32(SIDE, SIDE, &pixels::to_pixels(y), caption)
            })
            .collect();
        let FlowData::Digits(dg) = &self.data else {
            unreachable!("digit panels of a digit flow")
        };
        let captions = match &dg.judge {
            Some(j) => j.label_each(&grid),
            None => vec![String::new(); self.spec.grid],
        };
        let samples = grid
            .chunks(PIXELS)
            .zip(captions)
            .map(|(px, c)| Image::from_f32(SIDE, SIDE, px, c))
            .collect();
        // The held-out digits ranked by bits per dimension, most likely first.
        let bits = self.test_bits(dg);
        let mut order: Vec<usize> = (0..bits.len()).collect();
        order.sort_by(|&a, &b| bits[a].total_cmp(&bits[b]));
        let k = RANKED.min(order.len() / 2);
        let picked = order[..k].iter().chain(&order[order.len() - k..]);
        let ranked = picked
            .map(|&i| {
                Image::from_f32(
                    SIDE,
                    SIDE,
                    &dg.real[i * PIXELS..(i + 1) * PIXELS],
                    format!("{:.2}", bits[i]),
                )
            })
            .collect();
        self.last_grid = grid;
        Ok(vec![
            PanelUpdate {
                panel: "layers".into(),
                part: "main".into(),
                visual: Visual::Images {
                    images: strip,
                    strip: true,
                },
            },
            PanelUpdate {
                panel: "density".into(),
                part: "main".into(),
                visual: Visual::Images {
                    images: ranked,
                    strip: false,
                },
            },
            PanelUpdate {
                panel: "samples".into(),
                part: "main".into(),
                visual: Visual::Images {
                    images: samples,
                    strip: false,
                },
            },
        ])
    }
}

/// GRID_LINES horizontal and GRID_LINES vertical lines across [−R, R]² in z, GRID_POINTS
/// points each, flat (x, y) pairs, line after line.
fn grid_lines() -> Vec<f32> {
    let at = |i: usize, n: usize| -GRID_REACH + 2.0 * GRID_REACH * i as f32 / (n - 1) as f32;
    let mut out = Vec::with_capacity(2 * GRID_LINES * GRID_POINTS * 2);
    for vertical in [false, true] {
        for l in 0..GRID_LINES {
            for k in 0..GRID_POINTS {
                let (a, b) = (at(l, GRID_LINES), at(k, GRID_POINTS));
                if vertical {
                    out.extend([a, b]);
                } else {
                    out.extend([b, a]);
                }
            }
        }
    }
    out
}

fn plane_points(flat: &[f32]) -> Vec<[f64; 2]> {
    flat.chunks_exact(2)
        .map(|c| [round3(c[0] as f64), round3(c[1] as f64)])
        .collect()
}

/// One cell of the filmstrip at `centre`: its frame, the warped grid (segments with both ends
/// inside), the points inside, and its name in the corner.
fn cell(centre: [f64; 2], h: f64, name: &str, points: &[f32], grid: &[f32]) -> Vec<Layer> {
    let [cx, cy] = centre;
    let inside = |x: f32, y: f32| (x as f64).abs() < h && (y as f64).abs() < h;
    let moved = |x: f32, y: f32| [round3(cx + x as f64), round3(cy + y as f64)];
    let corners = [
        [cx - h, cy - h],
        [cx + h, cy - h],
        [cx + h, cy + h],
        [cx - h, cy + h],
    ];
    let mut segments = Vec::new();
    for line in grid.chunks_exact(2 * GRID_POINTS) {
        for w in line.chunks_exact(2).collect::<Vec<_>>().windows(2) {
            let (a, b) = (w[0], w[1]);
            if inside(a[0], a[1]) && inside(b[0], b[1]) {
                segments.push([moved(a[0], a[1]), moved(b[0], b[1])]);
            }
        }
    }
    vec![
        Layer::Segments {
            label: String::new(),
            color: Color::Gray,
            segments: (0..4).map(|i| [corners[i], corners[(i + 1) % 4]]).collect(),
        },
        Layer::Segments {
            label: String::new(),
            color: Color::Blue,
            segments,
        },
        Layer::Points {
            label: String::new(),
            color: Color::Yellow,
            points: points
                .chunks_exact(2)
                .filter(|p| inside(p[0], p[1]))
                .map(|p| moved(p[0], p[1]))
                .collect(),
        },
        Layer::Marker {
            label: String::new(),
            color: Color::White,
            at: [cx - 0.92 * h, cy + 0.85 * h],
            symbol: name.to_string(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{digits, plane, small};
    use super::*;
    use crate::data::toys::Toy;
    use crate::models::Model;

    #[test]
    fn a_plane_snapshot_draws_a_cell_per_layer_a_heat_map_and_samples() {
        let mut m = plane(&small(), Toy::Moons, 0);
        for s in 1..=50 {
            m.train_step(s, 3e-3).unwrap();
        }
        let mut updates = m.intro();
        updates.extend(m.snapshot().unwrap());
        let find = |panel: &str| {
            updates
                .iter()
                .find(|u| u.panel == panel)
                .map(|u| &u.visual)
                .unwrap_or_else(|| panic!("no {panel}"))
        };
        let Visual::Figure(strip) = find("layers") else {
            panic!("layers is a figure")
        };
        // z, then the state after each of the 4 inverse couplings: 5 cells of 4 layers.
        assert_eq!(strip.layers.len(), 5 * 4);
        let names: Vec<&str> = strip
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Marker { symbol, .. } => Some(symbol.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["z", "1", "2", "3", "x"]);
        assert!(
            matches!(&strip.layers[1], Layer::Segments { segments, .. } if segments.len() > 300)
        );
        let Visual::Figure(heat) = find("density") else {
            panic!("density is a figure")
        };
        let cells: usize = heat
            .layers
            .iter()
            .map(|l| match l {
                Layer::Points { points, .. } => points.len(),
                _ => 0,
            })
            .sum();
        assert!(cells > 50 && cells < HEAT * HEAT, "{cells} cells shaded");
        // The highest band holds the peak: at least one cell.
        assert!(matches!(&heat.layers[3], Layer::Points { points, .. } if !points.is_empty()));
    }

    #[test]
    fn the_same_weights_draw_the_same_frames() {
        let mut a = plane(&small(), Toy::Spiral, 5);
        let mut b = plane(&small(), Toy::Spiral, 5);
        assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    }

    #[test]
    fn a_digit_snapshot_draws_the_film_the_ranking_and_the_grid() {
        let mut m = digits(&small(), 1);
        let updates = m.snapshot().unwrap();
        let images = |panel: &str| match updates.iter().find(|u| u.panel == panel) {
            Some(PanelUpdate {
                visual: Visual::Images { images, .. },
                ..
            }) => images.clone(),
            other => panic!("{panel}: {other:?}"),
        };
        assert_eq!(images("layers").len(), 5);
        assert_eq!(images("samples").len(), 4);
        let ranked = images("density");
        assert_eq!(ranked.len(), 2 * RANKED);
        let bits: Vec<f64> = ranked.iter().map(|i| i.caption.parse().unwrap()).collect();
        assert!(bits.windows(2).all(|w| w[0] <= w[1]), "{bits:?}");
        assert_eq!(m.last_grid.len(), 4 * PIXELS);
    }
}
