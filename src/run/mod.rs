//! Running a lesson: the trainer thread, the messages it exchanges, and the headless driver.
//!
//! Heavy work happens here, never on the UI thread. The trainer sends events out and takes
//! commands in; it never waits for whoever is watching. It writes its record through
//! [`Recorder`] and knows nothing of save folders.

pub mod event;
pub mod record;
pub mod summary;
pub mod thinning;
pub mod trainer;

pub use event::{Command, EventKind, FinishReason, RunEvent, RunId};
pub use record::Recorder;
pub use summary::{RunStatus, Summary, SummaryBuilder};
pub use trainer::{RunConfig, TrainerHandle, spawn};
