//! mllab: a terminal learning lab for machine learning.
//!
//! Lessons (YAML files under `lessons/`) are validated into [`lessons::Lesson`]s; a trainer
//! thread ([`run`]) trains the lesson's model ([`models`]) and sends events out; the TUI
//! ([`ui`]) folds them into one state and draws it; [`saves`] records every run so it can be
//! replayed. Neural models train on [`tensor`] (reverse-mode autodiff) and [`nn`] (layers,
//! optimisers); [`bench`] times them. The binary (`src/main.rs`) only parses the command line
//! ([`cli`]).

// No `unsafe` anywhere but in the tensor engine, which needs it in two places, each explained
// where it stands: the GEMM call (raw pointers into ndarray views) and the CPU-feature
// dispatch of hot elementwise loops (`#[target_feature]` copies chosen at run time).
#![deny(unsafe_code)]
// Index loops read like the formulas they implement (Σⱼ over features, over classes).
#![allow(clippy::needless_range_loop)]

pub mod bench;
pub mod cli;
pub mod clock;
pub mod data;
pub mod i18n;
pub mod lessons;
pub mod linalg;
pub mod metrics;
pub mod models;
#[allow(unsafe_code)] // only through the engine's `simd_fn!` dispatch macro
pub mod nn;
pub mod run;
pub mod saves;
#[allow(unsafe_code)]
pub mod tensor;
pub mod ui;

/// Training allocates and frees many tensors of a few megabytes each step. With the system
/// allocator each of those is a fresh `mmap`, and every page is faulted in and zeroed again:
/// on the U-Net benchmark that cost a third of the step (133 ms → 86 ms with mimalloc,
/// 485k → 7k page faults per run). mimalloc keeps and reuses those pages. Declared here so
/// the binary, the examples and the tests all train the same way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
