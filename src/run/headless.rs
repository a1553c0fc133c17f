//! Headless runs: train without the TUI, show progress on stderr, print one JSON line.
//!
//! On a terminal, stderr shows a progress bar redrawn in place; otherwise (a pipe, CI) a plain
//! line every tenth of the run or every five seconds. Stdout gets exactly one line: the summary.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::event::{EventKind, RunEvent};
use super::summary::{RunStatus, Summary};
use super::trainer::{RunConfig, spawn};
use crate::lessons::Lesson;
use crate::saves::SaveWriter;

/// Runs `lesson` to the end on a trainer thread; returns its summary.
/// `save_root` = `None` runs without saving.
pub fn run(
    lesson: Lesson,
    save_root: Option<&Path>,
    progress: &mut dyn Write,
    tty: bool,
) -> anyhow::Result<Summary> {
    let seed = lesson.train.seed;
    let save = match save_root {
        Some(root) => Some(SaveWriter::create(root, &lesson, seed).map_err(|e| {
            anyhow::anyhow!(
                "cannot create a save under {}: {e} (use --save-dir DIR to save elsewhere)",
                root.display()
            )
        })?),
        None => None,
    };
    let save_dir = save.as_ref().map(|s| s.dir().display().to_string());
    let mut handle = spawn(RunConfig {
        run: 1,
        lesson,
        paced: false,
        save,
    });
    let mut events: Vec<RunEvent> = Vec::new();
    let mut printer = Progress::new(tty);
    loop {
        match handle.recv_timeout(Duration::from_millis(200)) {
            Some(ev) => {
                let end = matches!(
                    ev.kind,
                    EventKind::Finished { .. } | EventKind::Failed { .. }
                );
                printer.see(&ev, progress);
                events.push(ev);
                if end {
                    break;
                }
            }
            None => {
                if handle.is_done() {
                    events.extend(handle.drain(usize::MAX));
                    break;
                }
            }
        }
    }
    handle.stop_and_join();
    printer.done(progress);
    let mut summary = Summary::from_events(&events).unwrap_or(Summary {
        lesson: String::new(),
        seed,
        steps: 0,
        seconds: 0.0,
        status: RunStatus::Failed,
        reason: Some("the trainer ended without reporting".into()),
        metrics: Default::default(),
        save: None,
    });
    summary.save = save_dir;
    Ok(summary)
}

/// Is stderr a terminal (for the progress bar)?
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

struct Progress {
    tty: bool,
    total: u64,
    started: Instant,
    last_print: Instant,
    last_fraction: f64,
    loss: Option<f64>,
    drew_bar: bool,
}

impl Progress {
    fn new(tty: bool) -> Progress {
        let now = Instant::now();
        Progress {
            tty,
            total: 1,
            started: now,
            last_print: now,
            last_fraction: 0.0,
            loss: None,
            drew_bar: false,
        }
    }

    fn see(&mut self, ev: &RunEvent, out: &mut dyn Write) {
        match &ev.kind {
            EventKind::Started {
                lesson,
                total_steps,
                seed,
                ..
            } => {
                self.total = (*total_steps).max(1);
                let _ = writeln!(
                    out,
                    "mllab: running {lesson} (seed {seed}, {total_steps} steps)"
                );
            }
            EventKind::Metrics { values } => {
                if let Some(l) = values.get("loss") {
                    self.loss = Some(*l);
                }
            }
            EventKind::Log { text } => {
                self.clear_bar(out);
                let _ = writeln!(out, "mllab: {text}");
            }
            EventKind::Failed { reason, .. } => {
                self.clear_bar(out);
                let _ = writeln!(out, "mllab: run failed: {reason}");
            }
            _ => {}
        }
        let fraction = ev.step as f64 / self.total as f64;
        let since = self.last_print.elapsed();
        if self.tty {
            if since >= Duration::from_millis(100) {
                self.bar(ev, fraction, out);
            }
        } else if fraction - self.last_fraction >= 0.1 || since >= Duration::from_secs(5) {
            let loss = self
                .loss
                .map(|l| format!("  loss {l:.4}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "mllab: step {}/{}{loss}  {:.1} s",
                ev.step, self.total, ev.t
            );
            self.last_print = Instant::now();
            self.last_fraction = fraction;
        }
    }

    fn bar(&mut self, ev: &RunEvent, fraction: f64, out: &mut dyn Write) {
        let width = 30;
        let filled = ((fraction.clamp(0.0, 1.0)) * width as f64).round() as usize;
        let loss = self
            .loss
            .map(|l| format!("  loss {l:.4}"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "\r[{}{}] {}/{}{loss}  {:.1} s   ",
            "#".repeat(filled),
            "-".repeat(width - filled),
            ev.step,
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        let _ = out.flush();
        self.drew_bar = true;
        self.last_print = Instant::now();
    }

    fn clear_bar(&mut self, out: &mut dyn Write) {
        if self.drew_bar {
            let _ = writeln!(out);
            self.drew_bar = false;
        }
    }

    fn done(&mut self, out: &mut dyn Write) {
        self.clear_bar(out);
    }
}
