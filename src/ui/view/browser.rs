//! The lesson browser: chapters and lessons on the left; the selected lesson's summary,
//! hyperparameters and past saves on the right. A broken lesson is listed with a ✗ and its
//! errors are shown in place of the preview.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, StatefulWidget, Widget, Wrap};

use crate::lessons::registry::Entry;
use crate::lessons::{Lesson, chapter_name};
use crate::run::RunStatus;
use crate::ui::app::{App, BrowserFocus};
use crate::ui::keymap::{Screen, footer};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [body, footer] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(38), Constraint::Fill(1)]).areas(body);
    let [preview, saves] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(7)]).areas(right);
    lesson_list(app, left, buf);
    match app.selected_entry() {
        Some(Entry::Ok(lesson)) => lesson_preview(app, lesson, preview, buf),
        Some(Entry::Broken { path, errors }) => {
            let mut lines = vec![
                Line::from(
                    app.lang
                        .pick("This lesson file has errors:", "这个课程文件有错误："),
                )
                .red()
                .bold(),
                Line::from(path.display().to_string()).dark_gray(),
                Line::from(""),
            ];
            for e in &errors.0 {
                for (i, l) in e.to_string().lines().enumerate() {
                    lines.push(if i == 0 {
                        Line::from(l.to_string()).red()
                    } else {
                        Line::from(l.to_string()).yellow()
                    });
                }
            }
            lines.push(Line::from(""));
            lines.push(
                Line::from(app.lang.pick(
                    "Press e to open it in your editor.",
                    "按 e 在编辑器中打开它。",
                ))
                .italic(),
            );
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((app.browser.preview_scroll, 0))
                .block(
                    Block::bordered()
                        .title(app.lang.pick(" broken lesson ", " 有错误的课程 "))
                        .border_style(Style::new().red()),
                )
                .render(preview, buf);
        }
        None => {
            Paragraph::new(app.lang.pick(
                "No lessons found. Start mllab in the project folder, or give --lessons DIR.",
                "没有找到课程。请在项目目录中启动 mllab，或使用 --lessons DIR。",
            ))
            .wrap(Wrap { trim: true })
            .block(Block::bordered())
            .render(preview, buf);
        }
    }
    save_list(app, saves, buf);
    footer_line(app, footer, buf);
}

fn lesson_list(app: &App, area: Rect, buf: &mut Buffer) {
    let mut items = Vec::new();
    let mut selected_row = None;
    let mut last_chapter = None;
    for (i, e) in app.browser.entries.iter().enumerate() {
        match e {
            Entry::Ok(l) => {
                if last_chapter != Some(l.chapter) {
                    last_chapter = Some(l.chapter);
                    items.push(ListItem::new(
                        Line::from(format!(
                            "{} {}",
                            l.chapter,
                            chapter_name(l.chapter, app.lang)
                        ))
                        .bold()
                        .cyan(),
                    ));
                }
                if i == app.browser.selected {
                    selected_row = Some(items.len());
                }
                items.push(ListItem::new(format!("  {}", l.title.get(app.lang))));
            }
            Entry::Broken { path, .. } => {
                if last_chapter != Some(u32::MAX) {
                    last_chapter = Some(u32::MAX);
                    items.push(ListItem::new(
                        Line::from(app.lang.pick("Files with errors", "有错误的文件"))
                            .bold()
                            .red(),
                    ));
                }
                if i == app.browser.selected {
                    selected_row = Some(items.len());
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                items.push(ListItem::new(Line::from(format!("  ✗ {name}")).red()));
            }
        }
    }
    let focused = app.browser.focus == BrowserFocus::Lessons;
    let list = List::new(items)
        .block(
            Block::bordered()
                .title(app.lang.pick(" mllab · lessons ", " mllab · 课程 "))
                .border_style(border(focused)),
        )
        .highlight_style(
            Style::new()
                .bg(if focused {
                    Color::Blue
                } else {
                    Color::DarkGray
                })
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol("▶");
    let mut state = ListState::default().with_selected(selected_row);
    StatefulWidget::render(list, area, buf, &mut state);
}

fn lesson_preview(app: &App, lesson: &Lesson, area: Rect, buf: &mut Buffer) {
    let lang = app.lang;
    let mut lines = vec![
        Line::from(lesson.title.get(lang).to_string()).bold(),
        Line::from(format!(
            "{} · {} · {}",
            lang.pick(
                &format!("chapter {}", lesson.chapter),
                &format!("第 {} 章", lesson.chapter)
            ),
            lesson.model.kind_name(),
            lesson.path().display()
        ))
        .dark_gray(),
        Line::from(""),
    ];
    for paragraph in reflow(lesson.summary.get(lang)) {
        lines.push(Line::from(paragraph));
        lines.push(Line::from(""));
    }
    lines.push(Line::from(""));
    lines.push(
        Line::from(lang.pick("Hyperparameters (edit with e):", "超参数（按 e 编辑）："))
            .bold()
            .cyan(),
    );
    for (k, v) in hyperparameters(lesson) {
        lines.push(Line::from(vec![
            Span::raw(format!("  {k}: ")).dark_gray(),
            Span::raw(v),
        ]));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((app.browser.preview_scroll, 0))
        .block(Block::bordered().title(lang.pick(
            " about this lesson · Enter runs it ",
            " 课程简介 · Enter 运行 ",
        )))
        .render(area, buf);
}

/// Joins the hard-wrapped lines of each paragraph (paragraphs are separated by blank lines)
/// so that the preview can wrap them to its own width. Chinese lines join without a space.
pub fn reflow(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let cjk = |c: Option<char>| c.is_some_and(|c| c as u32 >= 0x2E80);
        if !(current.is_empty() || cjk(current.chars().last()) || cjk(line.chars().next())) {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `section.key: value` lines for model, data and train, every default filled in.
pub fn hyperparameters(lesson: &Lesson) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (section, value) in [
        ("model", serde_yaml::to_value(&lesson.model)),
        ("data", serde_yaml::to_value(&lesson.data)),
        ("train", serde_yaml::to_value(&lesson.train)),
    ] {
        if let Ok(serde_yaml::Value::Mapping(m)) = value {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("?");
                let shown = match v {
                    serde_yaml::Value::String(s) => s,
                    other => crate::config::parse::show_value(&other),
                };
                out.push((format!("{section}.{key}"), shown));
            }
        }
    }
    out
}

fn save_list(app: &App, area: Rect, buf: &mut Buffer) {
    let lang = app.lang;
    let focused = app.browser.focus == BrowserFocus::Saves;
    let items: Vec<ListItem> = app
        .browser
        .saves
        .iter()
        .map(|s| {
            let status = match s.status {
                RunStatus::Finished => Span::raw(lang.pick("finished", "完成")).green(),
                RunStatus::Stopped => Span::raw(lang.pick("stopped", "已停止")).yellow(),
                RunStatus::Failed => Span::raw(lang.pick("failed", "失败")).red(),
                RunStatus::Interrupted => Span::raw(lang.pick("interrupted", "中断")).magenta(),
            };
            let loss = s
                .loss
                .map(|l| format!("  loss {}", crate::ui::widgets::short_number(l)))
                .unwrap_or_default();
            ListItem::new(Line::from(vec![
                Span::raw(format!("{}  ", s.name)),
                status,
                Span::raw(format!("  {} {}{loss}", s.steps, lang.pick("steps", "步"))),
            ]))
        })
        .collect();
    let title = if items.is_empty() {
        lang.pick(" saves: none yet ", " 存档：暂无 ")
    } else {
        lang.pick(
            " saves · Tab, then Enter replays ",
            " 存档 · Tab 后按 Enter 回放 ",
        )
    };
    let list = List::new(items)
        .block(Block::bordered().title(title).border_style(border(focused)))
        .highlight_style(Style::new().bg(if focused { Color::Blue } else { Color::Reset }))
        .highlight_symbol(if focused { "▶" } else { " " });
    let mut state = ListState::default()
        .with_selected((!app.browser.saves.is_empty()).then_some(app.browser.save_selected));
    StatefulWidget::render(list, area, buf, &mut state);
}

fn footer_line(app: &App, area: Rect, buf: &mut Buffer) {
    let line = match &app.message {
        Some(m) => Line::from(m.clone()).yellow(),
        None => Line::from(footer(Screen::Browser, &[], app.lang)).dark_gray(),
    };
    Paragraph::new(line).render(area, buf);
}

pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().cyan()
    } else {
        Style::new().dark_gray()
    }
}

#[cfg(test)]
mod tests {
    use super::reflow;

    #[test]
    fn reflow_joins_lines_within_paragraphs_only() {
        let text = "one\ntwo\n\nthree\n";
        assert_eq!(
            reflow(text),
            vec!["one two".to_string(), "three".to_string()]
        );
    }

    #[test]
    fn reflow_joins_chinese_lines_without_spaces() {
        assert_eq!(
            reflow("我们猜\n这是直线"),
            vec!["我们猜这是直线".to_string()]
        );
    }
}
