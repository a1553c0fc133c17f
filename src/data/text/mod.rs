//! Text for the language lessons: `data: {source: text, path: FILE}` (any UTF-8 file) and
//! `data: {source: corpus}` (a corpus the project writes from a small grammar, in English,
//! Chinese or both, so the lessons run offline). Both become a [`TextSet`]: a character
//! vocabulary, the training characters and the held-out last `val_fraction` of them.
//!
//! A file that is not UTF-8, is empty, or is too short for the model's context is refused with
//! the file's name and what is wrong.

pub mod corpus;
pub mod vocab;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use corpus::{CorpusSpec, Language};
pub use vocab::Vocab;

use crate::config::parse::Ctx;

/// The held-out share when a lesson names none.
pub const DEFAULT_VAL_FRACTION: f64 = 0.1;
/// The largest text file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// `data: {source: text, path: notes.txt, val_fraction: 0.1}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    /// The UTF-8 file, absolute or relative to the lesson file.
    pub path: PathBuf,
    /// The share of the text, taken from its end, held out for validation; default 0.1;
    /// 0.01 ..= 0.5.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
}

pub fn default_val_fraction() -> f64 {
    DEFAULT_VAL_FRACTION
}

/// Records an error unless the held-out share is sensible.
pub fn check_val_fraction(ctx: &mut Ctx, v: f64) -> bool {
    ctx.check_range(
        "data.val_fraction",
        v,
        0.01,
        0.5,
        "the held-out share of the text",
    )
}

impl TextSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<TextSpec> {
        check_val_fraction(ctx, self.val_fraction).then_some(self)
    }
}

/// What is wrong with a text file: which file, the line (for bad bytes) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct TextError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Reads a whole file as UTF-8 text: not UTF-8 (with the offset and line of the first bad
/// byte), empty and unreadable files are errors.
pub fn read_text(path: &Path) -> Result<String, TextError> {
    let err = |line: Option<u64>, message: String| TextError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| err(None, format!("cannot read it: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(err(
            None,
            format!(
                "it is {} MiB; the language lessons read text files of up to {} MiB",
                size >> 20,
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| err(None, format!("cannot read it: {e}")))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            return Err(err(
                Some(line),
                format!(
                    "it is not UTF-8 text: the byte at offset {at} is 0x{:02X}. Save the file as UTF-8 (most editors offer it under \"Save with encoding\"), or convert it, e.g. iconv -f GB18030 -t UTF-8",
                    bytes[at]
                ),
            ));
        }
    };
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text);
    if text.trim().is_empty() {
        return Err(err(
            None,
            "it is empty (or only white space); give a file with some text in it".into(),
        ));
    }
    Ok(text)
}

/// Text split for a language model: its vocabulary, then the training and held-out
/// characters as vocabulary ids.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSet {
    pub vocab: Vocab,
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    /// Where the text came from, for messages ("notes.txt", "the built-in English corpus").
    pub name: String,
}

impl TextSet {
    /// The vocabulary of `text` and its last `val_fraction` held out.
    pub fn split(text: &str, val_fraction: f64, name: impl Into<String>) -> TextSet {
        let vocab = Vocab::of(text);
        let ids = vocab.encode_known(text);
        let n_val = ((ids.len() as f64 * val_fraction).round() as usize).min(ids.len());
        let cut = ids.len() - n_val;
        TextSet {
            vocab,
            train: ids[..cut].to_vec(),
            val: ids[cut..].to_vec(),
            name: name.into(),
        }
    }

    /// An error unless both parts hold at least `windows` windows of `context + 1` characters.
    pub fn require(&self, context: usize, windows: usize) -> Result<(), String> {
        let need_val = windows * (context + 1);
        let need_train = 4 * need_val;
        if self.train.len() < need_train || self.val.len() < need_val {
            return Err(format!(
                "{} is too short for a context of {context}: it gave {} training and {} held-out characters, and the lesson needs at least {need_train} and {need_val} ({windows} windows of {} characters held out). Give a longer text, a smaller model.context, or a larger data.val_fraction",
                self.name,
                self.train.len(),
                self.val.len(),
                context + 1
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mllab-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_the_offset_and_line_of_the_bad_byte() {
        let p = file("latin1.txt", b"first line\ncaf\xe9\n");
        let e = read_text(&p).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("offset 14") && e.message.contains("0xE9"),
            "{e}"
        );
        assert!(e.to_string().contains("latin1.txt:2"), "{e}");
    }

    #[test]
    fn an_empty_or_blank_file_is_refused() {
        for (name, bytes) in [("empty.txt", &b""[..]), ("blank.txt", &b" \n\n\t"[..])] {
            let e = read_text(&file(name, bytes)).unwrap_err();
            assert!(e.message.contains("empty"), "{e}");
        }
    }

    #[test]
    fn chinese_text_reads_and_a_byte_order_mark_is_dropped() {
        let p = file("zh.txt", "\u{feff}小明喜欢苹果。".as_bytes());
        assert_eq!(read_text(&p).unwrap(), "小明喜欢苹果。");
    }

    #[test]
    fn the_last_val_fraction_of_the_characters_is_held_out() {
        let set = TextSet::split("abcdefghij", 0.2, "t");
        assert_eq!(set.train.len(), 8);
        assert_eq!(set.vocab.decode(&set.val), "ij");
    }

    #[test]
    fn a_text_too_short_for_the_context_says_what_it_needs() {
        let set = TextSet::split(&"ab".repeat(50), 0.1, "short.txt");
        let e = set.require(32, 2).unwrap_err();
        assert!(
            e.contains("short.txt is too short for a context of 32"),
            "{e}"
        );
        assert!(
            TextSet::split(&"ab".repeat(5000), 0.1, "t")
                .require(32, 2)
                .is_ok()
        );
    }
}
