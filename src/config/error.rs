//! The error a learner sees when a lesson file is wrong.
//!
//! Every error names the file, the line and column when known, the key path, the value as it
//! was written, what is wrong, and how to fix it. Nothing here decides *whether* something is
//! wrong; the parser and the validators do, and build these.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one lesson file.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonError {
    /// The lesson file.
    pub file: PathBuf,
    /// 1-based line of the key or value, when it could be found.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Dotted key path, e.g. `train.lr`; empty for the whole document.
    pub key: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What is allowed, or how to fix it.
    pub hint: String,
    /// Set when the bad value came from `--set key=value`, not from the file.
    pub from_override: bool,
}

impl LessonError {
    /// An error about the whole file (unreadable, not YAML, …).
    pub fn file(file: &Path, message: impl Into<String>, hint: impl Into<String>) -> LessonError {
        LessonError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: String::new(),
            value: None,
            message: message.into(),
            hint: hint.into(),
            from_override: false,
        }
    }

    /// An error about one key.
    pub fn key(
        file: &Path,
        key: impl Into<String>,
        value: Option<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> LessonError {
        LessonError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: key.into(),
            value,
            message: message.into(),
            hint: hint.into(),
            from_override: false,
        }
    }

    /// The same error at a position in the file.
    pub fn at(mut self, position: Option<(usize, usize)>) -> LessonError {
        if let Some((line, column)) = position {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    /// `file:line:column` as far as it is known.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file.display()),
            (Some(l), None) => format!("{}:{l}", self.file.display()),
            _ => self.file.display().to_string(),
        }
    }
}

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location())?;
        if !self.key.is_empty() {
            write!(f, "`{}`", self.key)?;
            if let Some(v) = &self.value {
                write!(f, " = {v}")?;
            }
            if self.from_override {
                write!(f, " (from --set)")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n    fix: {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for LessonError {}

/// All the problems found in one file, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonErrors(pub Vec<LessonError>);

impl LessonErrors {
    pub fn first_line(&self) -> String {
        self.0
            .first()
            .map(|e| e.to_string().lines().next().unwrap_or("").to_string())
            .unwrap_or_default()
    }
}

impl fmt::Display for LessonErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LessonErrors {}

impl From<LessonError> for LessonErrors {
    fn from(e: LessonError) -> Self {
        LessonErrors(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_error_shows_file_line_key_value_and_fix() {
        let e = LessonError::key(
            Path::new("lessons/x.yaml"),
            "train.lr",
            Some("-0.1".into()),
            "the learning rate must be positive",
            "use a value such as 0.01",
        )
        .at(Some((12, 7)));
        let text = e.to_string();
        assert_eq!(
            text,
            "lessons/x.yaml:12:7: `train.lr` = -0.1: the learning rate must be positive\n    fix: use a value such as 0.01"
        );
    }
}
