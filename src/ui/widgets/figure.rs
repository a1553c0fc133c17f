//! Draws a `Figure` (points, lines, segments, markers) on a braille canvas.
//!
//! Each braille cell holds 2×4 dots, so a 40×12 panel is an 80×48 dot plot. Layers are drawn in
//! order, later ones on top; the legend and the axis ranges go into the block's titles.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::canvas::{Canvas, Line, Points};
use ratatui::widgets::{Block, Widget};

use super::{short_number, term_color};
use crate::visual::{Figure, Layer};

/// Several figure parts drawn as one (a static background plus the part that moves).
pub struct FigureWidget<'a> {
    pub parts: Vec<&'a Figure>,
    pub block: Block<'a>,
    /// Columns the block's own title takes on the top border; the legend keeps clear of them.
    pub title_width: u16,
}

impl Widget for FigureWidget<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Some(first) = self.parts.first() else {
            self.block.render(area, buf);
            return;
        };
        let (x_range, y_range) = (sane(first.x_range), sane(first.y_range));
        // The legend fills what the top border has left after the title, and stops there.
        let mut room = area.width.saturating_sub(self.title_width + 4) as usize;
        let mut legend: Vec<Span> = Vec::new();
        for l in self
            .parts
            .iter()
            .flat_map(|f| f.layers.iter())
            .filter(|l| !l.label().is_empty())
        {
            let text = format!("{}  ", l.label());
            let need = 2 + text.chars().count();
            if need > room {
                break;
            }
            room -= need;
            legend.push(Span::styled("■ ", Style::new().fg(term_color(l.color()))));
            legend.push(Span::raw(text));
        }
        let axes = format!(
            " {} {}…{} · {} {}…{} ",
            first.x_label,
            short_number(x_range[0]),
            short_number(x_range[1]),
            first.y_label,
            short_number(y_range[0]),
            short_number(y_range[1])
        );
        let block = self
            .block
            .title_bottom(TextLine::from(axes).dark_gray())
            .title_top(TextLine::from(legend).right_aligned());
        let parts = self.parts;
        Canvas::default()
            .block(block)
            .marker(Marker::Braille)
            .x_bounds(x_range)
            .y_bounds(y_range)
            .paint(move |ctx| {
                for fig in &parts {
                    for layer in &fig.layers {
                        match layer {
                            // A few points are drawn as bullets so that each one can be seen;
                            // many as braille dots, so that a cloud keeps its shape.
                            Layer::Points { color, points, .. } if points.len() <= FEW_POINTS => {
                                for p in points
                                    .iter()
                                    .filter(|p| finite(p) && inside(p, x_range, y_range))
                                {
                                    ctx.print(
                                        p[0],
                                        p[1],
                                        Span::styled("•", Style::new().fg(term_color(*color))),
                                    );
                                }
                            }
                            Layer::Points { color, points, .. } => {
                                let coords: Vec<(f64, f64)> = points
                                    .iter()
                                    .filter(|p| finite(p))
                                    .map(|p| (p[0], p[1]))
                                    .collect();
                                ctx.draw(&Points {
                                    coords: &coords,
                                    color: term_color(*color),
                                });
                            }
                            Layer::Line { color, points, .. } => {
                                for w in points.windows(2) {
                                    if finite(&w[0]) && finite(&w[1]) {
                                        ctx.draw(&Line::new(
                                            w[0][0],
                                            w[0][1],
                                            w[1][0],
                                            w[1][1],
                                            term_color(*color),
                                        ));
                                    }
                                }
                            }
                            Layer::Segments {
                                color, segments, ..
                            } => {
                                for [a, b] in segments {
                                    if finite(a) && finite(b) {
                                        ctx.draw(&Line::new(
                                            a[0],
                                            a[1],
                                            b[0],
                                            b[1],
                                            term_color(*color),
                                        ));
                                    }
                                }
                            }
                            Layer::Marker {
                                color, at, symbol, ..
                            } => {
                                if finite(at) && inside(at, x_range, y_range) {
                                    ctx.print(
                                        at[0],
                                        at[1],
                                        Span::styled(
                                            symbol.clone(),
                                            Style::new().fg(term_color(*color)).bold(),
                                        ),
                                    );
                                }
                            }
                        }
                        ctx.layer();
                    }
                }
            })
            .render(area, buf);
    }
}

/// Scatters up to this many points are drawn as bullets.
const FEW_POINTS: usize = 200;

fn inside(p: &[f64; 2], x: [f64; 2], y: [f64; 2]) -> bool {
    p[0] >= x[0] && p[0] <= x[1] && p[1] >= y[0] && p[1] <= y[1]
}

fn finite(p: &[f64; 2]) -> bool {
    p[0].is_finite() && p[1].is_finite()
}

/// A usable axis range: finite, increasing, not empty.
fn sane(r: [f64; 2]) -> [f64; 2] {
    if !(r[0].is_finite() && r[1].is_finite()) {
        return [0.0, 1.0];
    }
    if r[1] > r[0] {
        r
    } else {
        [r[0] - 0.5, r[0] + 0.5]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visual::Color;

    fn figure() -> Figure {
        Figure {
            x_label: "x".into(),
            y_label: "y".into(),
            x_range: [0.0, 10.0],
            y_range: [0.0, 10.0],
            layers: vec![
                Layer::Line {
                    label: "line".into(),
                    color: Color::Yellow,
                    points: vec![[0.0, 0.0], [10.0, 10.0]],
                },
                Layer::Points {
                    label: "pts".into(),
                    color: Color::Cyan,
                    points: vec![[5.0, 1.0], [f64::NAN, 2.0]],
                },
                Layer::Marker {
                    label: "opt".into(),
                    color: Color::Red,
                    at: [2.0, 8.0],
                    symbol: "×".into(),
                },
            ],
        }
    }

    fn render(w: u16, h: u16) -> Buffer {
        let f = figure();
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        FigureWidget {
            parts: vec![&f],
            block: Block::bordered(),
            title_width: 0,
        }
        .render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn a_figure_draws_braille_dots_and_its_marker() {
        let buf = render(30, 12);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(
            text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)),
            "no braille in {text}"
        );
        assert!(text.contains('×'), "the marker is missing");
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (2, 2), (3, 1), (1, 5)] {
            render(w, h);
        }
    }

    #[test]
    fn an_empty_or_inverted_range_is_made_drawable() {
        assert_eq!(sane([1.0, 1.0]), [0.5, 1.5]);
        assert_eq!(sane([f64::NAN, 1.0]), [0.0, 1.0]);
    }
}
