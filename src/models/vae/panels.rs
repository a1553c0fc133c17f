//! What the VAE lesson draws: the sample grid (captioned with the judge's reading), held-out
//! digits above their reconstructions and, when z has two dimensions, the latent map (a square
//! of codes decoded into one mosaic) and the held-out digits' codes as a scatter by class.

use super::sample::decode_means;
use super::{PIXELS, SIDE, Vae, bound::rows};
use crate::models::ModelError;
use crate::models::check_finite;
use crate::tensor::Graph;
use crate::visual::{Color, Figure, Image, Layer, PanelUpdate, Visual};

/// The latent map: MAP_SIDE × MAP_SIDE codes over [−MAP_SPAN, MAP_SPAN]², each decoded and
/// shrunk to half size.
pub const MAP_SIDE: usize = 8;
pub const MAP_SPAN: f64 = 3.0;
/// Held-out digits encoded for the scatter.
pub const SCATTER_POINTS: usize = 1000;
/// The scatter's axes run over ±this.
const SCATTER_SPAN: f64 = 4.0;

/// A colour per class; there are eight colours for ten classes, so each cloud also carries its
/// digit at its centre.
const CLASS_COLORS: [Color; 10] = [
    Color::Blue,
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Magenta,
    Color::Cyan,
    Color::White,
    Color::Gray,
    Color::Blue,
    Color::Red,
];

fn panel(name: &str, visual: Visual) -> PanelUpdate {
    PanelUpdate {
        panel: name.into(),
        part: "main".into(),
        visual,
    }
}

impl Vae {
    /// Every panel as it is now; `grid` is the samples decoded from the fixed grid codes.
    pub(super) fn panels(&self, grid: &[f32]) -> Result<Vec<PanelUpdate>, ModelError> {
        let mut out = vec![
            panel(
                "samples",
                Visual::Images {
                    images: self.sample_images(grid),
                    strip: false,
                },
            ),
            panel(
                "reconstructions",
                Visual::Images {
                    images: self.reconstruction_pairs()?,
                    strip: false,
                },
            ),
        ];
        if self.spec.latent == 2 {
            out.push(panel(
                "latent-map",
                Visual::Images {
                    images: vec![self.latent_map()?],
                    strip: false,
                },
            ));
            out.push(panel("latent-scatter", Visual::Figure(self.scatter()?)));
        }
        Ok(out)
    }

    fn sample_images(&self, grid: &[f32]) -> Vec<Image> {
        let n = grid.len() / PIXELS;
        let captions: Vec<String> = match &self.judge {
            Some(j) => j.label_each(grid),
            None => vec![String::new(); n],
        };
        grid.chunks(PIXELS)
            .zip(captions)
            .map(|(px, c)| Image::from_f32(SIDE, SIDE, px, c))
            .collect()
    }

    /// μ of q(z|x) for the images `x` (n × 784), n × latent.
    fn encode_means(&self, x: &[f32]) -> Vec<f32> {
        let n = x.len() / PIXELS;
        if n == 0 {
            return Vec::new();
        }
        let g = Graph::no_grad(&self.ps);
        let (mu, _) = self.net.encode(&g, &g.input(rows(x, n, PIXELS)));
        mu.value().iter().copied().collect()
    }

    /// The first `grid` held-out digits (as the model sees them), each above its
    /// reconstruction from z = μ, as one 28 × 57 image captioned with the digit's label.
    fn reconstruction_pairs(&self) -> Result<Vec<Image>, ModelError> {
        let n = self.spec.grid.min(self.test_count());
        let x = &self.test_x[..n * PIXELS];
        let back = decode_means(&self.net, &self.ps, &self.encode_means(x), 1.0);
        check_finite("the reconstructions", &back)?;
        Ok((0..n)
            .map(|i| {
                let mut px = x[i * PIXELS..(i + 1) * PIXELS].to_vec();
                px.extend(std::iter::repeat_n(0.25, SIDE));
                px.extend_from_slice(&back[i * PIXELS..(i + 1) * PIXELS]);
                let caption = self
                    .test_labels
                    .get(i)
                    .map(|l| l.to_string())
                    .unwrap_or_default();
                Image::from_f32(SIDE, 2 * SIDE + 1, &px, caption)
            })
            .collect())
    }

    /// Codes on a square grid over [−3, 3]², z₁ left to right and z₂ bottom to top, decoded
    /// and laid out as one mosaic of half-size digits.
    fn latent_map(&self) -> Result<Image, ModelError> {
        let k = MAP_SIDE;
        let at = |i: usize| -MAP_SPAN + 2.0 * MAP_SPAN * i as f64 / (k - 1) as f64;
        let mut z = Vec::with_capacity(k * k * 2);
        for row in 0..k {
            for col in 0..k {
                z.push(at(col) as f32);
                z.push(at(k - 1 - row) as f32);
            }
        }
        let digits = decode_means(&self.net, &self.ps, &z, 1.0);
        check_finite("the latent map", &digits)?;
        let half = SIDE / 2;
        let side = k * half;
        let mut mosaic = vec![0.0f32; side * side];
        for (t, d) in digits.chunks(PIXELS).enumerate() {
            let (row, col) = (t / k, t % k);
            for y in 0..half {
                for x in 0..half {
                    let p = |dy: usize, dx: usize| d[(2 * y + dy) * SIDE + 2 * x + dx];
                    let v = (p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1)) / 4.0;
                    mosaic[(row * half + y) * side + col * half + x] = v;
                }
            }
        }
        Ok(Image::from_f32(
            side,
            side,
            &mosaic,
            format!("z₁, z₂ from −{MAP_SPAN} to {MAP_SPAN}"),
        ))
    }

    /// The first held-out digits' codes μ, one colour per class, with each class's digit
    /// written at its mean code, over the square the latent map decodes.
    fn scatter(&self) -> Result<Figure, ModelError> {
        let n = SCATTER_POINTS.min(self.test_count());
        let mu = self.encode_means(&self.test_x[..n * PIXELS]);
        check_finite("the codes of the held-out digits", &mu)?;
        let mut by_class: Vec<Vec<[f64; 2]>> = vec![Vec::new(); 10];
        for (i, c) in mu.chunks(2).enumerate() {
            let class = self.test_labels.get(i).copied().unwrap_or(0) as usize % 10;
            by_class[class].push([c[0] as f64, c[1] as f64]);
        }
        let s = MAP_SPAN;
        let square = vec![
            [[-s, -s], [s, -s]],
            [[s, -s], [s, s]],
            [[s, s], [-s, s]],
            [[-s, s], [-s, -s]],
        ];
        let mut layers = vec![Layer::Segments {
            label: String::new(),
            color: Color::Gray,
            segments: square,
        }];
        for (class, points) in by_class.iter().enumerate() {
            layers.push(Layer::Points {
                label: class.to_string(),
                color: CLASS_COLORS[class],
                points: points.clone(),
            });
        }
        for (class, points) in by_class.iter().enumerate() {
            if points.is_empty() {
                continue;
            }
            let m = points.len() as f64;
            let centre = [
                points.iter().map(|p| p[0]).sum::<f64>() / m,
                points.iter().map(|p| p[1]).sum::<f64>() / m,
            ];
            layers.push(Layer::Marker {
                label: String::new(),
                color: CLASS_COLORS[class],
                at: centre,
                symbol: class.to_string(),
            });
        }
        Ok(Figure {
            x_label: "μ₁".into(),
            y_label: "μ₂".into(),
            x_range: [-SCATTER_SPAN, SCATTER_SPAN],
            y_range: [-SCATTER_SPAN, SCATTER_SPAN],
            layers,
        })
    }
}
