//! What every layer reads from a lesson file before there is a lesson: the shared parse
//! context (`parse::Ctx`, which places each error at its file, line and key), the error types,
//! and the settings common to all lessons (`spec`: training, view, bilingual text).
//!
//! This is the bottom layer of the program: data sets, model families and lessons all parse
//! their own sections with it, and it depends on none of them.

pub mod error;
pub mod locate;
pub mod parse;
pub mod spec;
