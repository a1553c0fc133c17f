//! Grayscale images in a terminal: braille (2×4 dots a cell, thresholded with ordered
//! dithering so grey comes out as a dot density) or half blocks (`▀` with the upper pixel as
//! foreground colour and the lower as background: 1×2 true-grey pixels a cell). Plus a grid of
//! captioned images and a filmstrip (one row, read left to right).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Widget};

use crate::visual::{Image, evenly_spaced};

/// How images are drawn; `b` toggles it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImageMode {
    #[default]
    Braille,
    HalfBlock,
}

impl ImageMode {
    pub fn toggled(self) -> ImageMode {
        match self {
            ImageMode::Braille => ImageMode::HalfBlock,
            ImageMode::HalfBlock => ImageMode::Braille,
        }
    }

    /// Cells an image of `w`×`h` pixels takes.
    pub fn cells(self, w: usize, h: usize) -> (u16, u16) {
        match self {
            ImageMode::Braille => (w.div_ceil(2) as u16, h.div_ceil(4) as u16),
            ImageMode::HalfBlock => (w as u16, h.div_ceil(2) as u16),
        }
    }
}

/// 4×4 Bayer matrix: the order in which dots switch on as grey rises.
const BAYER: [[u8; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// Braille dot bits for (column, row) inside a 2×4 cell.
const DOT: [[u16; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];

/// Draws one image with its top-left corner at `(x, y)`, clipped to `clip`.
pub fn draw_image(img: &Image, x: u16, y: u16, mode: ImageMode, clip: Rect, buf: &mut Buffer) {
    let (cw, ch) = mode.cells(img.width, img.height);
    for cy in 0..ch {
        for cx in 0..cw {
            let (px, py) = (x.saturating_add(cx), y.saturating_add(cy));
            if px < clip.x || py < clip.y || px >= clip.right() || py >= clip.bottom() {
                continue;
            }
            let Some(cell) = buf.cell_mut((px, py)) else {
                continue;
            };
            match mode {
                ImageMode::Braille => {
                    let mut bits = 0u16;
                    for (dx, col) in DOT.iter().enumerate() {
                        for (dy, bit) in col.iter().enumerate() {
                            let (ix, iy) = (cx as usize * 2 + dx, cy as usize * 4 + dy);
                            let threshold = (BAYER[iy % 4][ix % 4] as f32 + 0.5) / 16.0;
                            if img.at(ix, iy) > threshold {
                                bits |= bit;
                            }
                        }
                    }
                    let ch = char::from_u32(0x2800 + bits as u32).unwrap_or(' ');
                    cell.set_char(ch)
                        .set_style(Style::new().fg(Color::White).bg(Color::Black));
                }
                ImageMode::HalfBlock => {
                    let grey = |v: f32| {
                        let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                        Color::Rgb(g, g, g)
                    };
                    let (ix, iy) = (cx as usize, cy as usize * 2);
                    cell.set_char('▀').set_style(
                        Style::new()
                            .fg(grey(img.at(ix, iy)))
                            .bg(grey(img.at(ix, iy + 1))),
                    );
                }
            }
        }
    }
}

/// Captioned images in a grid, or a filmstrip.
pub struct ImageGrid<'a> {
    pub images: &'a [Image],
    pub mode: ImageMode,
    /// One row only; when not all frames fit, evenly spaced ones (first and last kept) are shown.
    pub strip: bool,
    pub block: Block<'a>,
}

impl Widget for ImageGrid<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = self.block.inner(area);
        self.block.render(area, buf);
        let Some(first) = self.images.first() else {
            return;
        };
        let (cw, ch) = self.mode.cells(first.width, first.height);
        let has_captions = self.images.iter().any(|i| !i.caption.is_empty());
        let (tile_w, tile_h) = (cw + 1, ch + u16::from(has_captions));
        if inner.width < cw || inner.height < ch {
            return;
        }
        let columns = ((inner.width + 1) / tile_w).max(1) as usize;
        let rows = if self.strip {
            1
        } else {
            ((inner.height + u16::from(has_captions)) / tile_h).max(1) as usize
        };
        let shown: Vec<&Image> = if self.strip {
            evenly_spaced(self.images.len(), columns)
                .into_iter()
                .map(|i| &self.images[i])
                .collect()
        } else {
            self.images.iter().take(columns * rows).collect()
        };
        for (k, img) in shown.iter().enumerate() {
            let (col, row) = ((k % columns) as u16, (k / columns) as u16);
            let x = inner.x + col * tile_w;
            let y = inner.y + row * tile_h;
            if y >= inner.bottom() {
                break;
            }
            draw_image(img, x, y, self.mode, inner, buf);
            if has_captions && y + ch < inner.bottom() {
                let caption: String = img.caption.chars().take(tile_w as usize - 1).collect();
                buf.set_stringn(
                    x,
                    y + ch,
                    caption,
                    (inner.right().saturating_sub(x)) as usize,
                    Style::new().fg(Color::DarkGray),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 28×28 image with a bright vertical bar in columns 12–15.
    fn bar(caption: &str) -> Image {
        let mut v = vec![0.0f32; 784];
        for y in 4..24 {
            for x in 12..16 {
                v[y * 28 + x] = 1.0;
            }
        }
        Image::from_f32(28, 28, &v, caption)
    }

    fn text(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_digit_in_braille_takes_fourteen_by_seven_cells_and_lights_only_its_strokes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 14, 7));
        draw_image(&bar(""), 0, 0, ImageMode::Braille, buf.area, &mut buf);
        let rows = text(&buf);
        // Columns 12–15 are cells 6 and 7: full cells (⣿) in the middle rows, blank elsewhere.
        assert_eq!(rows[3].chars().nth(6), Some('⣿'), "{rows:#?}");
        assert_eq!(rows[3].chars().nth(7), Some('⣿'));
        assert_eq!(rows[3].chars().nth(2), Some('⠀'));
    }

    #[test]
    fn dithering_turns_mid_grey_into_about_half_the_dots() {
        let grey = Image::from_f32(8, 8, &[0.5; 64], "");
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        draw_image(&grey, 0, 0, ImageMode::Braille, buf.area, &mut buf);
        let dots: u32 = buf
            .content()
            .iter()
            .map(|c| (c.symbol().chars().next().unwrap() as u32 - 0x2800).count_ones())
            .sum();
        assert_eq!(dots, 32, "half of 64 dots");
    }

    #[test]
    fn half_blocks_carry_the_two_pixels_as_colours() {
        let img = Image::from_f32(1, 2, &[1.0, 0.0], "");
        let mut buf = Buffer::empty(Rect::new(0, 0, 1, 1));
        draw_image(&img, 0, 0, ImageMode::HalfBlock, buf.area, &mut buf);
        let cell = &buf[(0, 0)];
        assert_eq!(cell.symbol(), "▀");
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::Rgb(255, 255, 255), Color::Rgb(0, 0, 0))
        );
    }

    #[test]
    fn a_grid_shows_captions_under_its_images() {
        let images: Vec<Image> = (0..6).map(|i| bar(&format!("#{i}"))).collect();
        let mut buf = Buffer::empty(Rect::new(0, 0, 50, 18));
        ImageGrid {
            images: &images,
            mode: ImageMode::Braille,
            strip: false,
            block: Block::bordered(),
        }
        .render(buf.area, &mut buf);
        let all = text(&buf).join("\n");
        for i in 0..6 {
            assert!(
                all.contains(&format!("#{i}")),
                "caption #{i} missing:\n{all}"
            );
        }
    }

    #[test]
    fn a_filmstrip_too_long_for_its_row_keeps_the_first_and_last_frames() {
        let frames: Vec<Image> = (0..11)
            .map(|i| bar(&format!("t={}", 1000 - 100 * i)))
            .collect();
        let mut buf = Buffer::empty(Rect::new(0, 0, 47, 10));
        ImageGrid {
            images: &frames,
            mode: ImageMode::Braille,
            strip: true,
            block: Block::bordered(),
        }
        .render(buf.area, &mut buf);
        let all = text(&buf).join("\n");
        assert!(all.contains("t=1000") && all.contains("t=0"), "{all}");
        assert_eq!(evenly_spaced(11, 3), vec![0, 5, 10]);
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let images = vec![bar("x")];
        for (w, h) in [(0, 0), (1, 1), (2, 2), (3, 9), (20, 2)] {
            for mode in [ImageMode::Braille, ImageMode::HalfBlock] {
                for strip in [false, true] {
                    let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
                    ImageGrid {
                        images: &images,
                        mode,
                        strip,
                        block: Block::bordered(),
                    }
                    .render(buf.area, &mut buf);
                    draw_image(&images[0], 0, 0, mode, buf.area, &mut buf);
                }
            }
        }
    }
}
