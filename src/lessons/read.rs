//! Reading a lesson file's bytes: only regular files, only small ones, only UTF-8 text.
//!
//! Each refusal happens before the bytes could do harm: a named pipe or a device is never
//! opened for a blocking read (it could block `mllab check` forever), a file over the size cap
//! is never read into memory, and text in another encoding is named as such (UTF-16 with or
//! without a byte-order mark, Latin-1) with the offset of its first byte that is not UTF-8,
//! instead of a bare "stream did not contain valid UTF-8".

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::Path;

use crate::config::error::{LessonError, LessonErrors};

/// Lessons are a few kilobytes; a file larger than this is not one.
pub const MAX_LESSON_BYTES: u64 = 1 << 20;

/// The text of the lesson file at `path`, without a UTF-8 byte-order mark.
pub fn read_lesson_text(path: &Path) -> Result<String, LessonErrors> {
    let meta = std::fs::metadata(path).map_err(|e| cannot_open(path, &e))?;
    refuse_unless_small_regular_file(path, &meta)?;
    let file = open_without_blocking(path).map_err(|e| cannot_open(path, &e))?;
    // The path may have been replaced between the two looks; the handle is what is read.
    let meta = file.metadata().map_err(|e| cannot_open(path, &e))?;
    refuse_unless_small_regular_file(path, &meta)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_LESSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot_open(path, &e))?;
    if bytes.len() as u64 > MAX_LESSON_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    decode(path, bytes)
}

fn cannot_open(path: &Path, e: &std::io::Error) -> LessonErrors {
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound => "check the file's name and folder",
        std::io::ErrorKind::PermissionDenied => "make the file readable (e.g. chmod u+r FILE)",
        _ => "check that the file exists and can be read",
    };
    LessonError::file(path, format!("cannot read the lesson file: {e}"), hint).into()
}

fn refuse_unless_small_regular_file(path: &Path, meta: &Metadata) -> Result<(), LessonErrors> {
    if !meta.is_file() {
        return Err(LessonError::file(
            path,
            format!(
                "this is {}, not a regular file, so it was not read",
                file_type_name(meta)
            ),
            "give the path of a lesson's .yaml file",
        )
        .into());
    }
    if meta.len() > MAX_LESSON_BYTES {
        return Err(too_large(path, meta.len()));
    }
    Ok(())
}

fn too_large(path: &Path, size: u64) -> LessonErrors {
    LessonError::file(
        path,
        format!(
            "the file is {size} bytes, more than the {MAX_LESSON_BYTES} bytes (1 MiB) a lesson file may have, so it was not read"
        ),
        "a lesson is a few kilobytes of settings: keep data in a CSV or IDX file that `data.path` names",
    )
    .into()
}

/// "a directory", "a named pipe (FIFO)", … for a file that is not a regular file.
fn file_type_name(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    "not a regular file"
}

/// Opens for reading without waiting for a writer, should the path have become a pipe.
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NONBLOCK);
    }
    options.open(path)
}

// O_NONBLOCK from <fcntl.h>; it changes nothing for a regular file.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NONBLOCK: i32 = 0x0004;

/// UTF-8 text, or an error that names the encoding the file seems to be in.
fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<String, LessonErrors> {
    let save_as_utf8 =
        "save the file as UTF-8 (most editors offer it under \"Save with encoding\")";
    let utf16 = |order: &str, offset: usize| {
        LessonError::file(
            path,
            format!(
                "the file is UTF-16 text ({order}), not UTF-8; its first byte that is not UTF-8 is at byte offset {offset}"
            ),
            save_as_utf8,
        )
    };
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(utf16("little-endian, with a byte-order mark", 0).into());
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(utf16("big-endian, with a byte-order mark", 0).into());
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        // ASCII as UTF-16 is every other byte zero: the even ones for big-endian.
        let order = if nul % 2 == 0 {
            "big-endian, without a byte-order mark"
        } else {
            "little-endian, without a byte-order mark"
        };
        let sample: Vec<u8> = bytes
            .iter()
            .skip(nul % 2)
            .step_by(2)
            .take(128)
            .copied()
            .collect();
        let looks_utf16 = sample.iter().filter(|&&b| b == 0).count() * 4 >= sample.len() * 3;
        if looks_utf16 {
            return Err(utf16(order, nul).into());
        }
        let (line, column) = line_and_column(&bytes, nul);
        return Err(LessonError::file(
            path,
            format!("the file has a NUL byte (0x00) at byte offset {nul}; a lesson file is text"),
            "remove the byte, or save the file again as UTF-8 text",
        )
        .at(Some((line, column)))
        .into());
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let (line, column) = line_and_column(bytes, offset);
        LessonError::file(
            path,
            format!(
                "the file is not UTF-8 text: byte 0x{:02X} at byte offset {offset} is not valid UTF-8 (the file is probably Latin-1 or Windows-1252)",
                bytes[offset]
            ),
            save_as_utf8,
        )
        .at(Some((line, column)))
        .into()
    })
}

/// 1-based line and column (in characters) of `offset`, in bytes whose prefix is UTF-8.
fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}
