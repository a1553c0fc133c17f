//! The loss chart: training and held-out curves over steps, in braille.
//!
//! When a curve spans more than two decades (a regression loss falls from millions to
//! hundreds), the y axis switches to log₁₀ so the late progress stays visible.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Widget};

use super::short_number;

const PALETTE: [Color; 6] = [
    Color::Yellow,
    Color::Cyan,
    Color::LightMagenta,
    Color::LightGreen,
    Color::LightRed,
    Color::LightBlue,
];

/// The chart of some metrics over steps.
pub struct LossChart<'a> {
    pub names: &'a [String],
    pub series: &'a BTreeMap<String, Vec<(f64, f64)>>,
    pub total_steps: u64,
    pub block: Block<'a>,
    pub empty_text: &'a str,
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let curves: Vec<(&String, &Vec<(f64, f64)>)> = self
            .names
            .iter()
            .filter_map(|n| self.series.get(n).map(|s| (n, s)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        if curves.is_empty() {
            Paragraph::new(self.empty_text)
                .block(self.block)
                .render(area, buf);
            return;
        }
        let all = curves
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.1))
            .filter(|v| v.is_finite());
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let log = lo > 0.0 && hi / lo > 100.0;
        let map = |v: f64| if log { v.log10() } else { v };
        let data: Vec<Vec<(f64, f64)>> = curves
            .iter()
            .map(|(_, s)| {
                s.iter()
                    .filter(|p| p.1.is_finite() && (!log || p.1 > 0.0))
                    .map(|p| (p.0, map(p.1)))
                    .collect()
            })
            .collect();
        let (mut y0, mut y1) = (map(lo), map(hi));
        if y1.partial_cmp(&y0) != Some(std::cmp::Ordering::Greater) {
            y0 -= 0.5;
            y1 += 0.5;
        }
        let pad = (y1 - y0) * 0.05;
        // A loss that cannot be negative gets no negative axis label.
        let y0 = if !log && lo >= 0.0 {
            (y0 - pad).max(0.0)
        } else {
            y0 - pad
        };
        let y1 = y1 + pad;
        let x1 = (self.total_steps.max(1)) as f64;
        let datasets: Vec<Dataset> = curves
            .iter()
            .zip(&data)
            .enumerate()
            .map(|(i, ((name, _), d))| {
                Dataset::default()
                    .name(name.to_string())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(PALETTE[i % PALETTE.len()]))
                    .data(d)
            })
            .collect();
        let y_label = |v: f64| {
            if log {
                short_number(10f64.powf(v))
            } else {
                short_number(v)
            }
        };
        let title = if log { "log₁₀ " } else { "" };
        Chart::new(datasets)
            .block(self.block)
            .x_axis(
                Axis::default()
                    .bounds([0.0, x1])
                    .labels([
                        Span::raw("0"),
                        Span::raw(short_number(x1 / 2.0)),
                        Span::raw(short_number(x1)),
                    ])
                    .style(Style::new().dark_gray()),
            )
            .y_axis(
                Axis::default()
                    .title(title)
                    .bounds([y0, y1])
                    .labels([
                        Span::raw(y_label(y0)),
                        Span::raw(y_label((y0 + y1) / 2.0)),
                        Span::raw(y_label(y1)),
                    ])
                    .style(Style::new().dark_gray()),
            )
            .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> BTreeMap<String, Vec<(f64, f64)>> {
        let loss: Vec<(f64, f64)> = (0..100)
            .map(|i| (i as f64, 1e6 / (1.0 + i as f64 * i as f64)))
            .collect();
        BTreeMap::from([("loss".to_string(), loss)])
    }

    fn render(w: u16, h: u16, names: &[String]) -> Buffer {
        let s = series();
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        LossChart {
            names,
            series: &s,
            total_steps: 100,
            block: Block::bordered(),
            empty_text: "waiting",
        }
        .render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn a_loss_curve_is_drawn_in_braille_on_a_log_axis() {
        let buf = render(50, 14, &["loss".to_string()]);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(
            text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)),
            "no braille: {text}"
        );
        assert!(
            text.contains("log₁₀"),
            "a curve spanning six decades gets a log axis"
        );
    }

    #[test]
    fn without_data_the_chart_says_it_is_waiting() {
        let buf = render(30, 5, &["nothing".to_string()]);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("waiting"));
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (2, 2), (5, 2), (2, 7)] {
            render(w, h, &["loss".to_string()]);
        }
    }
}
