//! mllab: a terminal learning lab for machine learning.
//!
//! Lessons (YAML files under `lessons/`) are validated into [`lessons::Lesson`]s; a trainer
//! thread ([`run`]) trains the lesson's model ([`models`]) and sends events out; the TUI
//! ([`ui`]) folds them into one state and draws it; [`saves`] records every run so it can be
//! replayed. The binary (`src/main.rs`) only parses the command line ([`cli`]).

#![forbid(unsafe_code)]
// Index loops read like the formulas they implement (Σⱼ over features, over classes).
#![allow(clippy::needless_range_loop)]

pub mod cli;
pub mod clock;
pub mod data;
pub mod i18n;
pub mod lessons;
pub mod linalg;
pub mod models;
pub mod run;
pub mod saves;
pub mod ui;
