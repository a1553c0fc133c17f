//! Running a lesson: the trainer thread, the messages it exchanges, and the headless driver.
//!
//! Heavy work happens here, never on the UI thread. The trainer sends events out and takes
//! commands in; it never waits for whoever is watching.

pub mod event;
pub mod headless;
pub mod num;
pub mod summary;
pub mod thinning;
pub mod trainer;
pub mod visual;

pub use event::{Command, EventKind, FinishReason, RunEvent, RunId};
pub use summary::{RunStatus, Summary, SummaryBuilder};
pub use trainer::{RunConfig, TrainerHandle, spawn};
