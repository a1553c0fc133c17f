//! The one error type that means "your input is wrong", whichever layer finds it: the command
//! line turns it into exit code 2 (a program failure is 1).

/// An error in what the learner gave (no terminal for the TUI, an unwritable save folder);
/// the text says what and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
