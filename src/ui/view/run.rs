//! The run view, for live runs and replays alike: a status line, the loss chart, the lesson's
//! panels, the newest log line, and the keys (or, in a replay, the timeline), the keys as the
//! keymap binds them.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::i18n::Lang;
use crate::run::FinishReason;
use crate::ui::app::App;
use crate::ui::keymap::{self, Screen};
use crate::ui::replay::ReplayState;
use crate::ui::run_state::{RunState, Status};
use crate::ui::widgets::loss_chart::LossChart;
use crate::ui::widgets::panel::PanelWidget;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(state) = app.shown_run() else {
        return;
    };
    let lang = app.lang;
    let [header, body, log, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let replay = app.screen == Screen::Replay;
    let editing = !replay && app.run.as_ref().is_some_and(|r| r.paused_for_edit);
    status_lines(state, lang, replay, editing, header, buf);
    panels(app, state, body, buf);
    let log_line = match state.last_log() {
        Some(l) if matches!(state.status, Status::Failed(_)) => Line::from(l.to_string()).red(),
        Some(l) => Line::from(l.to_string()).dark_gray(),
        None => Line::from(""),
    };
    let log_line = match &app.message {
        Some(m) => Line::from(m.clone()).yellow(),
        None => log_line,
    };
    Paragraph::new(log_line).render(log, buf);
    let foot = match (app.screen, app.replay.as_ref()) {
        (Screen::Replay, Some(r)) => timeline(r, lang),
        _ => Line::from(keymap::footer(Screen::Run, &state.abilities, lang)).dark_gray(),
    };
    Paragraph::new(foot).render(footer, buf);
}

/// `editing`: the run was paused by `e`, and the status says so.
fn status_lines(
    s: &RunState,
    lang: Lang,
    replay: bool,
    editing: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    let (word, style) = match &s.status {
        Status::Starting => (
            lang.pick("starting", "准备中").to_string(),
            Style::new().yellow(),
        ),
        Status::Running => (
            lang.pick("▶ running", "▶ 训练中").to_string(),
            Style::new().green().bold(),
        ),
        Status::Paused if editing => (
            lang.pick("⏸ paused for editing", "⏸ 已暂停（编辑）")
                .to_string(),
            Style::new().yellow().bold(),
        ),
        Status::Paused => (
            lang.pick("⏸ paused", "⏸ 已暂停").to_string(),
            Style::new().yellow().bold(),
        ),
        Status::Finishing { phase, done, total } => (
            if *total > 0 {
                format!("… {phase} {done}/{total}")
            } else {
                format!("… {phase}")
            } + lang.pick(" (s: skip)", "（s 跳过）"),
            Style::new().magenta().bold(),
        ),
        Status::Finished(FinishReason::Stopped) => (
            lang.pick("■ stopped", "■ 已停止").to_string(),
            Style::new().yellow().bold(),
        ),
        Status::Finished(_) => (
            lang.pick("✓ done", "✓ 完成").to_string(),
            Style::new().cyan().bold(),
        ),
        Status::Failed(_) => (
            lang.pick("✗ failed", "✗ 失败").to_string(),
            Style::new().red().bold(),
        ),
    };
    let kind = if replay {
        lang.pick("replay", "回放")
    } else {
        lang.pick("live", "实时")
    };
    let title = Line::from(vec![
        Span::raw(format!("{} ", s.title.get(lang))).bold(),
        Span::raw(format!(
            "· {} · {} {}",
            kind,
            lang.pick("seed", "种子"),
            s.seed
        ))
        .dark_gray(),
    ]);
    let eta = match s.eta() {
        Some(e) if !replay => format!("  ETA {}", seconds(e)),
        _ => String::new(),
    };
    let lr = if (s.lr_scale - 1.0).abs() > 1e-12 {
        format!("  lr×{}", s.lr_scale)
    } else {
        String::new()
    };
    let stats = format!(
        "  {} {}/{}  {:.0} {}  {} {}{eta}{lr}",
        lang.pick("step", "步"),
        s.step,
        s.total_steps,
        s.rate,
        lang.pick("steps/s", "步/秒"),
        lang.pick("elapsed", "用时"),
        seconds(s.t),
    );
    // The first few charted numbers; the chart itself shows them all.
    let metrics: String = s
        .charts
        .iter()
        .take(3)
        .filter_map(|name| {
            s.latest
                .get(name)
                .map(|v| format!("  {name} {}", crate::ui::widgets::short_number(*v)))
        })
        .collect();
    let status = Line::from(vec![
        Span::styled(word, style),
        Span::raw(stats),
        Span::raw(metrics).cyan(),
    ]);
    let [a, b] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    Paragraph::new(title).render(a, buf);
    Paragraph::new(status).render(b, buf);
}

fn seconds(s: f64) -> String {
    if s >= 60.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1}s")
    }
}

fn panels(app: &App, s: &RunState, area: Rect, buf: &mut Buffer) {
    let names: &[String] = &s.panels;
    if names.is_empty() {
        return;
    }
    if app.zoom > 0
        && let Some(name) = names.get(app.zoom - 1)
    {
        panel(app, s, name, area, buf);
        return;
    }
    let has_chart = names.iter().any(|n| n == "loss");
    let others: Vec<&String> = names.iter().filter(|n| *n != "loss").collect();
    let (chart_area, rest) = if has_chart && !others.is_empty() {
        let [l, r] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Fill(1)]).areas(area);
        (Some(l), r)
    } else if has_chart {
        (Some(area), Rect::default())
    } else {
        (None, area)
    };
    if let Some(c) = chart_area {
        panel(app, s, "loss", c, buf);
    }
    // Up to two panels stack; more go in a grid of two columns, filled row by row.
    let columns = if others.len() > 2 { 2 } else { 1 };
    let rows = others.len().div_ceil(columns);
    let row_areas = Layout::vertical(vec![Constraint::Fill(1); rows]).split(rest);
    for (r, row_area) in row_areas.iter().enumerate() {
        let in_row = &others[r * columns..((r + 1) * columns).min(others.len())];
        let cells = Layout::horizontal(vec![Constraint::Fill(1); in_row.len()]).split(*row_area);
        for (name, cell) in in_row.iter().zip(cells.iter()) {
            panel(app, s, name, *cell, buf);
        }
    }
}

fn panel(app: &App, s: &RunState, name: &str, area: Rect, buf: &mut Buffer) {
    let waiting = app
        .lang
        .pick("waiting for the first numbers…", "等待第一批数据…");
    let block = Block::bordered()
        .title(format!(" {name} "))
        .border_style(Style::new().dark_gray());
    if name == "loss" {
        LossChart {
            names: &s.charts,
            series: &s.series,
            total_steps: s.total_steps,
            block,
            empty_text: waiting,
        }
        .render(area, buf);
    } else {
        let parts = s.visuals.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let title_width = name.chars().count() as u16 + 2;
        PanelWidget {
            parts,
            block,
            title_width,
            empty_text: waiting,
            image_mode: app.image_mode,
        }
        .render(area, buf);
    }
}

fn timeline(r: &ReplayState, lang: Lang) -> Line<'static> {
    let state = if r.playing {
        lang.pick("▶ playing", "▶ 播放中")
    } else {
        lang.pick("⏸ paused", "⏸ 暂停")
    };
    let mut spans = vec![
        Span::raw(format!(
            "{state}  {} {}/{}  ×{}  ",
            lang.pick("event", "事件"),
            r.cursor,
            r.len(),
            r.speed
        ))
        .cyan(),
        Span::raw(keymap::footer(Screen::Replay, &[], lang)).dark_gray(),
    ];
    if let Some(d) = &r.damage {
        spans.push(Span::raw(format!("  ⚠ {d}")).yellow());
    }
    Line::from(spans)
}
