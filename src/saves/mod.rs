//! Saved runs: one directory per run, written as the run goes, read back for replay.
//!
//! Layout of `saves/<lesson-id>/<YYYYMMDD-HHMMSS>-s<seed>/`:
//!
//! - `header.json`  — format version, mllab version, lesson id, seed, start time; written first.
//! - `lesson.yaml`  — the lesson as it ran, every default filled in.
//! - `events.jsonl` — one JSON event per line, appended and flushed batch by batch.
//! - `summary.json` — the result; written to a temporary file and renamed when the run ends.
//!
//! A run killed at any moment leaves a save whose complete lines replay. A finished save is
//! never modified by mllab.

pub mod log;
pub mod reader;
pub mod writer;

use serde::{Deserialize, Serialize};

pub use log::EventLog;
pub use reader::{LoadedSave, SaveError, SaveInfo, find, list_all, list_saves, load};
pub use writer::{SaveWriter, ensure_writable};

/// The folder under a saves root where runs keep caches between runs (the digit judge).
pub fn cache_dir(saves_root: &std::path::Path) -> std::path::PathBuf {
    saves_root.join(".cache")
}

/// The save format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

pub const HEADER_FILE: &str = "header.json";
pub const LESSON_FILE: &str = "lesson.yaml";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";

/// `header.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub mllab: String,
    pub lesson: String,
    pub seed: u64,
    /// UTC start time, RFC 3339.
    pub started: String,
    /// The lesson file the run came from, as given.
    pub lesson_file: String,
}
