//! A save's event log, read as a stream: one pass checks every line and keeps only where each
//! event starts and when it happened; a replay then reads the events again one at a time as
//! it reaches them. A replay's memory does not grow with the log.
//!
//! The pass also checks that the log is one run told in order: it begins with the run's
//! start, has one start, nothing after the end, and steps that never go back. A log that
//! breaks one of these (two logs joined, a log written twice) is refused rather than replayed
//! as a run that never happened. A log cut short by a kill replays up to the cut.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::run::{EventKind, RunEvent, Summary, SummaryBuilder};

/// Where one event's line starts, and its run time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    offset: u64,
    t: f64,
}

/// An indexed event log.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    index: Vec<Entry>,
    /// Opened on the first read, positioned at event `next`.
    reader: Option<BufReader<File>>,
    next: usize,
    line: Vec<u8>,
}

impl Clone for EventLog {
    fn clone(&self) -> EventLog {
        EventLog {
            path: self.path.clone(),
            index: self.index.clone(),
            reader: None,
            next: 0,
            line: Vec::new(),
        }
    }
}

/// What one pass over a log found.
pub struct Scanned {
    pub log: EventLog,
    /// The summary the events add up to (None when there is no start).
    pub summary: Option<Summary>,
    /// Where the log is cut short or garbled, if it is.
    pub damage: Option<String>,
}

/// Why a log cannot be replayed at all.
#[derive(Debug, PartialEq)]
pub enum LogProblem {
    /// No complete event: the log is missing, empty, or cut before its first line ended.
    Empty,
    /// The lines are not one run in order.
    NotOneRun(String),
}

impl EventLog {
    /// Reads `path` once, checking every line. A missing file is an empty log.
    pub fn scan(path: &Path) -> std::io::Result<Result<Scanned, LogProblem>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(LogProblem::Empty));
            }
            Err(e) => return Err(e),
        };
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut index = Vec::new();
        let mut order = Order::default();
        let mut summary = SummaryBuilder::default();
        let mut damage = None;
        let mut line = Vec::new();
        let mut offset = 0u64;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                damage = Some(format!(
                    "{}: cut short at byte {offset} (a line without its end: the run was interrupted while writing); replaying the {} events before it",
                    path.display(),
                    index.len()
                ));
                break;
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice::<RunEvent>(&line) {
                    Ok(ev) => {
                        if let Err(why) = order.check(&ev, index.len() + 1) {
                            return Ok(Err(LogProblem::NotOneRun(format!(
                                "{}: {why}; the log is not one run in order (two logs joined, or one written twice?) and cannot be replayed",
                                path.display()
                            ))));
                        }
                        summary.see(&ev);
                        index.push(Entry { offset, t: ev.t });
                    }
                    Err(e) => {
                        damage = Some(format!(
                            "{}: damaged at byte {offset} (line {}: {e}); replaying the {} events before it",
                            path.display(),
                            index.len() + 1,
                            index.len()
                        ));
                        break;
                    }
                }
            }
            offset += n as u64;
        }
        if index.is_empty() {
            return Ok(Err(LogProblem::Empty));
        }
        Ok(Ok(Scanned {
            log: EventLog {
                path: path.to_path_buf(),
                index,
                reader: None,
                next: 0,
                line: Vec::new(),
            },
            summary: summary.build(),
            damage,
        }))
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The run time of event `i`.
    pub fn time(&self, i: usize) -> Option<f64> {
        self.index.get(i).map(|e| e.t)
    }

    /// The run time of the last event.
    pub fn last_time(&self) -> Option<f64> {
        self.index.last().map(|e| e.t)
    }

    /// Reads event `i` from the file (sequential reads cost no seek). None past the end, or
    /// when the file changed since it was scanned.
    pub fn get(&mut self, i: usize) -> Option<RunEvent> {
        let entry = *self.index.get(i)?;
        if self.reader.is_none() || self.next != i {
            let mut file = match self.reader.take() {
                Some(r) => r,
                None => BufReader::with_capacity(1 << 16, File::open(&self.path).ok()?),
            };
            file.seek(SeekFrom::Start(entry.offset)).ok()?;
            self.reader = Some(file);
        }
        let reader = self.reader.as_mut()?;
        // Blank lines were skipped by the scan; skip them again.
        loop {
            self.line.clear();
            if reader.read_until(b'\n', &mut self.line).ok()? == 0 {
                self.reader = None;
                return None;
            }
            if !self.line.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        self.next = i + 1;
        serde_json::from_slice(&self.line).ok()
    }

    /// Every event, in order, read afresh (for tools and tests; a replay uses `get`).
    pub fn read_all(&self) -> Vec<RunEvent> {
        let mut copy = self.clone();
        (0..self.len()).map_while(|i| copy.get(i)).collect()
    }
}

/// The order a log of one run keeps.
#[derive(Default)]
struct Order {
    first: Option<(crate::run::RunId, u64)>,
    last_step: u64,
    ended_at: Option<usize>,
}

impl Order {
    fn check(&mut self, ev: &RunEvent, line: usize) -> Result<(), String> {
        let started = matches!(ev.kind, EventKind::Started { .. });
        match self.first {
            None if !started => {
                return Err(format!(
                    "line {line} is a `{}` event before the run's start",
                    kind_name(&ev.kind)
                ));
            }
            None => self.first = Some((ev.run, line as u64)),
            Some((_, at)) if started => {
                return Err(format!(
                    "line {line} starts a second run (the first started at line {at})"
                ));
            }
            Some((run, _)) if run != ev.run => {
                return Err(format!(
                    "line {line} belongs to run {}, the lines before it to run {run}",
                    ev.run
                ));
            }
            Some(_) => {}
        }
        if let Some(end) = self.ended_at {
            return Err(format!(
                "line {line} comes after the run ended at line {end}"
            ));
        }
        if ev.step < self.last_step {
            return Err(format!(
                "the step goes back from {} to {} at line {line}",
                self.last_step, ev.step
            ));
        }
        self.last_step = ev.step;
        if matches!(
            ev.kind,
            EventKind::Finished { .. } | EventKind::Failed { .. }
        ) {
            self.ended_at = Some(line);
        }
        Ok(())
    }
}

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Started { .. } => "started",
        EventKind::Metrics { .. } => "metrics",
        EventKind::Visual(_) => "visual",
        EventKind::Log { .. } => "log",
        EventKind::Command { .. } => "command",
        EventKind::Progress { .. } => "progress",
        EventKind::Estimate { .. } => "estimate",
        EventKind::Finished { .. } => "finished",
        EventKind::Failed { .. } => "failed",
    }
}
