//! A panel: whatever parts a model sent for it (figures, a table, bars, text), drawn together.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Row, Table, Widget, Wrap};

use super::figure::FigureWidget;
use super::image::{ImageGrid, ImageMode};
use super::short_number;
use crate::visual::Visual;

pub struct PanelWidget<'a> {
    pub parts: &'a [(String, Visual)],
    pub block: Block<'a>,
    /// Columns the block's title takes (see `FigureWidget::title_width`).
    pub title_width: u16,
    pub empty_text: &'a str,
    /// How images are drawn.
    pub image_mode: ImageMode,
}

impl Widget for PanelWidget<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let figures: Vec<_> = self
            .parts
            .iter()
            .filter_map(|(_, v)| match v {
                Visual::Figure(f) => Some(f),
                _ => None,
            })
            .collect();
        if !figures.is_empty() {
            FigureWidget {
                parts: figures,
                block: self.block,
                title_width: self.title_width,
            }
            .render(area, buf);
            return;
        }
        match self.parts.last().map(|(_, v)| v) {
            Some(Visual::Table(t)) => {
                let widths = vec![Constraint::Fill(1); t.header.len().max(1)];
                Table::new(t.rows.iter().map(|r| Row::new(r.clone())), widths)
                    .header(Row::new(t.header.clone()).style(Style::new().bold()))
                    .block(self.block)
                    .render(area, buf);
            }
            Some(Visual::Bars(b)) => {
                let bars: Vec<Bar> = b
                    .bars
                    .iter()
                    .map(|(label, v)| {
                        Bar::default()
                            .label(label.clone())
                            .value((v.max(0.0) * 1000.0) as u64)
                            .text_value(short_number(*v))
                    })
                    .collect();
                BarChart::default()
                    .block(self.block)
                    .data(BarGroup::default().bars(&bars))
                    .bar_width(5)
                    .bar_gap(1)
                    .render(area, buf);
            }
            Some(Visual::Images { images, strip }) => ImageGrid {
                images,
                mode: self.image_mode,
                strip: *strip,
                block: self.block,
            }
            .render(area, buf),
            Some(Visual::Text { text }) => Paragraph::new(text.as_str())
                .wrap(Wrap { trim: false })
                .block(self.block)
                .render(area, buf),
            _ => Paragraph::new(self.empty_text)
                .block(self.block)
                .render(area, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visual::{Bars, Table as VTable};

    fn render(parts: &[(String, Visual)], w: u16, h: u16) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        PanelWidget {
            parts,
            block: Block::bordered(),
            title_width: 0,
            empty_text: "waiting",
            image_mode: ImageMode::Braille,
        }
        .render(buf.area, &mut buf);
        buf.content().iter().map(|c| c.symbol()).collect()
    }

    #[test]
    fn a_table_shows_its_header_and_cells() {
        let parts = vec![(
            "t".to_string(),
            Visual::Table(VTable {
                header: vec!["degree".into(), "test".into()],
                rows: vec![vec!["1".into(), "35.2".into()]],
            }),
        )];
        let text = render(&parts, 30, 6);
        assert!(text.contains("degree") && text.contains("35.2"), "{text}");
    }

    #[test]
    fn bars_show_their_values() {
        let parts = vec![(
            "b".to_string(),
            Visual::Bars(Bars {
                bars: vec![("d1".into(), 3.5), ("d2".into(), 7.25)],
            }),
        )];
        let text = render(&parts, 30, 10);
        assert!(text.contains("d1") && text.contains("7.25"), "{text}");
    }

    #[test]
    fn an_empty_panel_says_it_is_waiting_and_tiny_areas_do_not_panic() {
        assert!(render(&[], 20, 3).contains("waiting"));
        let parts = vec![(
            "x".to_string(),
            Visual::Text {
                text: "hello".into(),
            },
        )];
        for (w, h) in [(0, 0), (1, 1), (2, 2)] {
            render(&parts, w, h);
        }
    }
}
