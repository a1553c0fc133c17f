//! Widgets the views are built from: a figure on a braille canvas, the loss chart, and a panel
//! that shows whatever visual a model sent. Each renders into any `Rect`, including empty and
//! one-cell areas, without panicking.

pub mod figure;
pub mod image;
pub mod loss_chart;
pub mod panel;

use ratatui::style::Color as TermColor;

use crate::visual::Color;

/// The terminal colour for a model's named colour.
pub fn term_color(c: Color) -> TermColor {
    match c {
        Color::Blue => TermColor::LightBlue,
        Color::Red => TermColor::LightRed,
        Color::Green => TermColor::LightGreen,
        Color::Yellow => TermColor::Yellow,
        Color::Magenta => TermColor::LightMagenta,
        Color::Cyan => TermColor::Cyan,
        Color::White => TermColor::White,
        Color::Gray => TermColor::DarkGray,
    }
}

/// A number short enough for an axis label: 1200, 3.5, 0.012, 1.2e-5.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::short_number;

    #[test]
    fn numbers_are_shortened_for_axes() {
        assert_eq!(short_number(1234.5), "1234");
        assert_eq!(short_number(4.56789), "4.57");
        assert_eq!(short_number(0.0123), "0.012");
        assert_eq!(short_number(0.0000123), "1.2e-5");
        assert_eq!(short_number(0.0), "0");
    }
}
