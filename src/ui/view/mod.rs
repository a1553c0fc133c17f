//! Drawing: `&App` is a widget. Views read the state and change nothing, and never read the
//! clock, so the same state always draws the same screen.

pub mod browser;
pub mod help;
pub mod run;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Stylize;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::app::App;
use super::keymap::Screen;

/// Smallest terminal the views are laid out for.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = self.lang.pick(
                &format!("Please enlarge the window: mllab needs at least {MIN_WIDTH}×{MIN_HEIGHT}, this one is {}×{}.", area.width, area.height),
                &format!("请把窗口放大：mllab 至少需要 {MIN_WIDTH}×{MIN_HEIGHT}，当前为 {}×{}。", area.width, area.height),
            )
            .to_string();
            Paragraph::new(text)
                .yellow()
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        }
        match self.screen {
            Screen::Browser => browser::render(self, area, buf),
            Screen::Run | Screen::Replay => run::render(self, area, buf),
        }
        if self.help {
            help::render(self, area, buf);
        }
    }
}
