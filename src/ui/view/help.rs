//! The help overlay, generated from the keymap of the current screen.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Clear, Row, Table, Widget};

use crate::ui::app::App;
use crate::ui::keymap::bindings_for;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let parts = app.shown_run().map_or(&[][..], |r| r.abilities.as_slice());
    let rows: Vec<Row> = bindings_for(app.screen, parts)
        .map(|b| Row::new([b.keys.to_string(), app.lang.pick(b.en, b.zh).to_string()]))
        .collect();
    let height = (rows.len() as u16 + 2).min(area.height);
    let width = 64.min(area.width);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(popup, buf);
    let title = app
        .lang
        .pick(" keys — any key closes ", " 按键 — 任意键关闭 ");
    Table::new(rows, [Constraint::Length(8), Constraint::Fill(1)])
        .block(
            Block::bordered()
                .title(title)
                .border_style(Style::new().cyan()),
        )
        .render(popup, buf);
}
