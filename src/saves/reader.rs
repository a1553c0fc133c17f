//! Reads saves back: header, lesson, summary and an indexed event log for replay, or just
//! header and summary for listings.
//!
//! Damage is reported, not fatal: a save whose event log is cut short or garbled replays up
//! to the damage, and the message names the file and the byte offset. A save that would lie
//! is refused: a log with no events (whatever its summary says), or one that is not one run
//! in order.

use std::fs;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::log::{EventLog, LogProblem};
use super::{EVENTS_FILE, FORMAT_VERSION, HEADER_FILE, Header, LESSON_FILE, SUMMARY_FILE};
use crate::lessons::{Lesson, LessonErrors};
use crate::run::{RunStatus, Summary};

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
    #[error(
        "{0}: no events recorded (the file is missing, empty, or cut before its first line ended); there is nothing to replay"
    )]
    NoEvents(PathBuf),
    #[error("{0}")]
    NotOneRun(String),
}

/// A save read back.
#[derive(Clone, Debug)]
pub struct LoadedSave {
    pub dir: PathBuf,
    pub header: Header,
    pub lesson: Lesson,
    /// Every complete event, in order, up to any damage; read from the file as needed.
    pub events: EventLog,
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
    let scanned = match EventLog::scan(&events_path).map_err(io_err(&events_path))? {
        Ok(s) => s,
        Err(LogProblem::Empty) => return Err(SaveError::NoEvents(events_path)),
        Err(LogProblem::NotOneRun(why)) => return Err(SaveError::NotOneRun(why)),
    };
    let events = scanned.log;
    let mut damage = scanned.damage;
    let rebuilt = scanned.summary;

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
    let summary = recorded.or(rebuilt).unwrap_or_else(|| Summary {
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
    // Newest first: by the name's start time to the second, then by when the header was
    // written (two runs in the same second).
    let written = |s: &SaveInfo| {
        fs::metadata(s.dir.join(HEADER_FILE))
            .and_then(|m| m.modified())
            .ok()
    };
    out.sort_by_cached_key(|s| {
        let second = s.name.get(..15).unwrap_or(&s.name).to_string();
        std::cmp::Reverse((second, written(s), s.name.clone()))
    });
    out
}

/// Every save under `root`, lesson by lesson (by id), newest first within a lesson.
pub fn list_all(root: &Path) -> Vec<(String, SaveInfo)> {
    let Ok(read) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = read
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    ids.sort();
    ids.into_iter()
        .flat_map(|id| {
            list_saves(root, &id)
                .into_iter()
                .map(move |s| (id.clone(), s))
        })
        .collect()
}

/// The save a name stands for: a save directory as given, or a lesson id standing for that
/// lesson's newest save under `root`.
pub fn find(name: &Path, root: &Path) -> Result<PathBuf, String> {
    if name.join(HEADER_FILE).is_file() || name.is_dir() {
        return Ok(name.to_path_buf());
    }
    let id = name.to_string_lossy();
    let is_id = !id.is_empty() && !id.contains(['/', '\\']) && !id.starts_with('.');
    if is_id && let Some(newest) = list_saves(root, &id).into_iter().next() {
        return Ok(newest.dir);
    }
    Err(if is_id {
        format!(
            "{id} is neither a save directory nor a lesson with saves under {} (run it first: mllab run {id} --headless; mllab saves lists the saves there are)",
            root.display()
        )
    } else {
        format!("{id}: no such save directory")
    })
}
