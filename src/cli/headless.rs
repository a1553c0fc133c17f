//! Headless runs: train without the TUI, show progress on stderr, print one JSON line.
//!
//! On a terminal, stderr shows a progress bar redrawn in place; otherwise (a pipe, CI) a plain
//! line every tenth of the run or every five seconds, and every step of the final scoring.
//! Stdout gets exactly one line: the summary. Events are folded into the summary as they come,
//! so a run of any length is watched in constant memory.
//!
//! Ctrl-C (or SIGTERM) ends the run cleanly: the first asks the trainer to stop (the final
//! scoring still runs, the weights and summary are saved, the status is "interrupted"); the
//! second skips the scoring; the third leaves at once.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::lessons::Lesson;
use crate::run::{EventKind, RunConfig, RunEvent, RunStatus, Summary, SummaryBuilder, spawn};
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
    let plan = lesson.model.memory(&lesson.data, &lesson.train);
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
        save: save.map(|s| Box::new(s) as Box<dyn crate::run::Recorder>),
        cache_dir: save_root.map(crate::saves::cache_dir),
    });
    let interrupts = interrupt::watch(handle.remote());
    let mut summary = SummaryBuilder::default();
    let mut printer = Progress::new(tty);
    loop {
        match handle.recv_timeout(Duration::from_millis(200)) {
            Some(ev) => {
                let end = matches!(
                    ev.kind,
                    EventKind::Finished { .. } | EventKind::Failed { .. }
                );
                printer.see(&ev, progress);
                summary.see(&ev);
                if end {
                    break;
                }
            }
            None => {
                if handle.is_done() {
                    for ev in handle.drain(usize::MAX) {
                        summary.see(&ev);
                    }
                    break;
                }
            }
        }
        printer.interrupts(interrupts.count(), progress);
    }
    interrupts.close();
    handle.stop_and_join();
    printer.done(progress);
    let mut summary = summary.build().unwrap_or(Summary {
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
    if let Some(peak) = peak_rss_bytes() {
        let _ = writeln!(
            progress,
            "mllab: peak memory {} MB (planned {} MB: {})",
            peak >> 20,
            plan.total() >> 20,
            plan.describe()
        );
    }
    Ok(summary)
}

/// Is stderr a terminal (for the progress bar)?
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// The most memory this process has held (its peak resident set), where the system says.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(unix)]
mod interrupt {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::{Handle, Signals};

    use crate::run::Command;
    use crate::run::trainer::Remote;

    /// Counts Ctrl-Cs and acts on each on a thread of its own.
    pub struct Watch {
        count: Arc<AtomicUsize>,
        handle: Option<Handle>,
    }

    pub fn watch(remote: Remote) -> Watch {
        let count = Arc::new(AtomicUsize::new(0));
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
            return Watch {
                count,
                handle: None,
            };
        };
        let handle = signals.handle();
        let seen = count.clone();
        std::thread::spawn(move || {
            for _ in signals.forever() {
                match seen.fetch_add(1, Ordering::SeqCst) + 1 {
                    1 => remote.send(Command::Interrupt),
                    2 => remote.skip_scoring(),
                    _ => {
                        eprintln!("\nmllab: interrupted three times; leaving without a summary");
                        std::process::exit(130);
                    }
                }
            }
        });
        Watch {
            count,
            handle: Some(handle),
        }
    }

    impl Watch {
        pub fn count(&self) -> usize {
            self.count.load(Ordering::SeqCst)
        }

        pub fn close(&self) {
            if let Some(h) = &self.handle {
                h.close();
            }
        }
    }
}

#[cfg(not(unix))]
mod interrupt {
    use crate::run::trainer::Remote;

    pub struct Watch;

    pub fn watch(_remote: Remote) -> Watch {
        Watch
    }

    impl Watch {
        pub fn count(&self) -> usize {
            0
        }
        pub fn close(&self) {}
    }
}

struct Progress {
    tty: bool,
    total: u64,
    started: Instant,
    last_print: Instant,
    last_fraction: f64,
    loss: Option<f64>,
    drew_bar: bool,
    /// Interrupts already told about.
    told: usize,
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
            told: 0,
        }
    }

    /// Says what each new Ctrl-C does.
    fn interrupts(&mut self, count: usize, out: &mut dyn Write) {
        while self.told < count {
            self.told += 1;
            self.clear_bar(out);
            let text = match self.told {
                1 => {
                    "interrupted: finishing the run and saving it (Ctrl-C again skips the final scoring)"
                }
                2 => "skipping the final scoring (Ctrl-C again leaves at once, without a summary)",
                _ => continue,
            };
            let _ = writeln!(out, "mllab: {text}");
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
            EventKind::Progress { phase, done, total } => {
                if self.tty {
                    let _ = write!(
                        out,
                        "\r{phase} {done}/{total}  {:.1} s (Ctrl-C skips)   ",
                        self.started.elapsed().as_secs_f64()
                    );
                    let _ = out.flush();
                    self.drew_bar = true;
                } else {
                    let _ = writeln!(out, "mllab: {phase} {done}/{total}  {:.1} s", ev.t);
                }
                return;
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
