//! Reads saves back: whole for replay, or just header and summary for listings.
//!
//! Damage is reported, not fatal: a save whose event log is cut short or garbled replays up
//! to the damage, and the message names the file and the byte offset.

use std::fs;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::{EVENTS_FILE, FORMAT_VERSION, HEADER_FILE, Header, LESSON_FILE, SUMMARY_FILE};
use crate::lessons::{Lesson, LessonErrors};
use crate::run::{RunEvent, RunStatus, Summary};

/// Why a save cannot be opened at all.
#[derive(Debug, Error)]
pub enum SaveError {
    #[error(
        "{0} is not a mllab save (it has no {HEADER_FILE}); saves live in saves/<lesson>/<time>-s<seed>/"
    )]
    NotASave(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: this save has format {found}, newer than the format {supported} this mllab reads; update mllab to replay it"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: the header is damaged ({message}); the save cannot be replayed")]
    BadHeader { path: PathBuf, message: String },
    #[error("{path}: the saved lesson is not valid:\n{errors}")]
    BadLesson { path: PathBuf, errors: LessonErrors },
}

/// A save read back.
#[derive(Clone, Debug)]
pub struct LoadedSave {
    pub dir: PathBuf,
    pub header: Header,
    pub lesson: Lesson,
    /// Every complete event, in order, up to any damage.
    pub events: Vec<RunEvent>,
    /// The recorded summary, or one rebuilt from the events when the run was interrupted.
    pub summary: Summary,
    /// What was wrong with the save, if anything, and where.
    pub damage: Option<String>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SaveError + '_ {
    move |source| SaveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the header alone, checking the format version.
pub fn read_header(dir: &Path) -> Result<Header, SaveError> {
    let path = dir.join(HEADER_FILE);
    if !path.exists() {
        return Err(SaveError::NotASave(dir.to_path_buf()));
    }
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| SaveError::BadHeader {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let found = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0) as u32;
    if found > FORMAT_VERSION {
        return Err(SaveError::NewerFormat {
            path,
            found,
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| SaveError::BadHeader {
        path,
        message: e.to_string(),
    })
}

/// Reads a whole save.
pub fn load(dir: &Path) -> Result<LoadedSave, SaveError> {
    let header = read_header(dir)?;
    let lesson_path = dir.join(LESSON_FILE);
    let text = fs::read_to_string(&lesson_path).map_err(io_err(&lesson_path))?;
    let lesson =
        Lesson::from_text(&lesson_path, &text, &[]).map_err(|errors| SaveError::BadLesson {
            path: lesson_path.clone(),
            errors,
        })?;

    let events_path = dir.join(EVENTS_FILE);
    let bytes = match fs::read(&events_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(&events_path)(e)),
    };
    let (events, mut damage) = parse_events(&bytes, &events_path);

    let summary_path = dir.join(SUMMARY_FILE);
    let recorded = match fs::read_to_string(&summary_path) {
        Ok(text) => match serde_json::from_str::<Summary>(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                let note = format!(
                    "{}: damaged ({e}); the summary is rebuilt from the events",
                    summary_path.display()
                );
                damage = Some(match damage {
                    Some(d) => format!("{d}; {note}"),
                    None => note,
                });
                None
            }
        },
        Err(_) => None,
    };
    let summary = recorded
        .or_else(|| Summary::from_events(&events))
        .unwrap_or_else(|| Summary {
            lesson: header.lesson.clone(),
            seed: header.seed,
            steps: 0,
            seconds: 0.0,
            status: RunStatus::Interrupted,
            reason: Some("the run stopped before its first event".into()),
            metrics: Default::default(),
            save: None,
        });
    let mut summary = summary;
    summary.save = Some(dir.display().to_string());
    Ok(LoadedSave {
        dir: dir.to_path_buf(),
        header,
        lesson,
        events,
        summary,
        damage,
    })
}

/// Parses complete lines; stops at the first damaged one and says where it is.
pub fn parse_events(bytes: &[u8], path: &Path) -> (Vec<RunEvent>, Option<String>) {
    let mut events = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let Some(len) = bytes[offset..].iter().position(|&b| b == b'\n') else {
            let damage = format!(
                "{}: cut short at byte {offset} (a line without its end: the run was interrupted while writing); replaying the {} events before it",
                path.display(),
                events.len()
            );
            return (events, Some(damage));
        };
        let line = &bytes[offset..offset + len];
        if !line.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<RunEvent>(line) {
                Ok(ev) => events.push(ev),
                Err(e) => {
                    let damage = format!(
                        "{}: damaged at byte {offset} (line {}: {e}); replaying the {} events before it",
                        path.display(),
                        events.len() + 1,
                        events.len()
                    );
                    return (events, Some(damage));
                }
            }
        }
        offset += len + 1;
    }
    (events, None)
}

/// One save as the browser lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct SaveInfo {
    pub dir: PathBuf,
    pub name: String,
    pub status: RunStatus,
    pub steps: u64,
    /// The first charted number of the summary (the final loss), when recorded.
    pub loss: Option<f64>,
}

/// The saves of one lesson, newest first. Unreadable directories are skipped.
pub fn list_saves(root: &Path, lesson_id: &str) -> Vec<SaveInfo> {
    let Ok(read) = fs::read_dir(root.join(lesson_id)) else {
        return Vec::new();
    };
    let mut out: Vec<SaveInfo> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(HEADER_FILE).is_file())
        .map(|dir| {
            let summary = fs::read_to_string(dir.join(SUMMARY_FILE))
                .ok()
                .and_then(|t| serde_json::from_str::<Summary>(&t).ok());
            SaveInfo {
                name: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                status: summary
                    .as_ref()
                    .map_or(RunStatus::Interrupted, |s| s.status),
                steps: summary.as_ref().map_or(0, |s| s.steps),
                loss: summary
                    .as_ref()
                    .and_then(|s| s.metrics.get("loss"))
                    .and_then(|v| v.as_f64()),
                dir,
            }
        })
        .collect();
    out.sort_by(|a, b| b.name.cmp(&a.name));
    out
}
