//! Writes a save while the run goes: header and lesson first, events appended, summary last.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{EVENTS_FILE, FORMAT_VERSION, HEADER_FILE, Header, LESSON_FILE, SUMMARY_FILE};
use crate::clock::UtcTime;
use crate::lessons::Lesson;
use crate::run::{RunEvent, Summary};

/// Checks that saves can be written under `root` (creating it if need be), so that a bad
/// `--save-dir` is refused before a run starts rather than found after it.
pub fn ensure_writable(root: &Path) -> io::Result<()> {
    fs::create_dir_all(root)?;
    let probe = root.join(format!(".mllab-write-test-{}", std::process::id()));
    fs::write(&probe, b"")?;
    fs::remove_file(&probe)
}

/// An open save directory.
pub struct SaveWriter {
    dir: PathBuf,
    events: BufWriter<File>,
    pending: bool,
    /// Bytes of events appended so far.
    event_bytes: u64,
}

impl SaveWriter {
    /// Creates `root/<lesson-id>/<time>-s<seed>/` and writes the header and the lesson.
    pub fn create(root: &Path, lesson: &Lesson, seed: u64) -> io::Result<SaveWriter> {
        let now = UtcTime::now();
        let parent = root.join(&lesson.id);
        fs::create_dir_all(&parent)?;
        let base = format!("{}-s{seed}", now.compact());
        let mut dir = parent.join(&base);
        let mut n = 2;
        // A second run in the same second with the same seed gets its own directory.
        while fs::create_dir(&dir).is_err() {
            if n > 1000 {
                return Err(io::Error::other(format!(
                    "cannot create a save directory under {}",
                    parent.display()
                )));
            }
            dir = parent.join(format!("{base}-{n}"));
            n += 1;
        }
        let header = Header {
            format: FORMAT_VERSION,
            mllab: env!("CARGO_PKG_VERSION").to_string(),
            lesson: lesson.id.clone(),
            seed,
            started: now.rfc3339(),
            lesson_file: lesson.path().display().to_string(),
        };
        write_atomic(
            &dir.join(HEADER_FILE),
            serde_json::to_string_pretty(&header)?.as_bytes(),
        )?;
        write_atomic(&dir.join(LESSON_FILE), lesson.to_resolved_yaml().as_bytes())?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(EVENTS_FILE))?;
        Ok(SaveWriter {
            dir,
            events: BufWriter::new(file),
            pending: false,
            event_bytes: 0,
        })
    }

    /// The save directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one event (buffered until [`flush`](Self::flush)).
    pub fn append(&mut self, event: &RunEvent) -> io::Result<()> {
        let line = serde_json::to_string(event)?;
        self.events.write_all(line.as_bytes())?;
        self.events.write_all(b"\n")?;
        self.event_bytes += line.len() as u64 + 1;
        self.pending = true;
        Ok(())
    }

    /// Bytes of events appended so far.
    pub fn event_bytes(&self) -> u64 {
        self.event_bytes
    }

    /// Hands every appended event to the operating system, so a kill cannot lose them.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending {
            self.events.flush()?;
            self.pending = false;
        }
        Ok(())
    }

    /// Writes another file of the run (trained weights, say) atomically. The name must be a
    /// plain file name.
    pub fn write_file(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        if name.contains(['/', '\\'])
            || name.starts_with('.')
            || [
                super::HEADER_FILE,
                super::LESSON_FILE,
                super::EVENTS_FILE,
                super::SUMMARY_FILE,
            ]
            .contains(&name)
        {
            return Err(io::Error::other(format!(
                "`{name}` is not a name a model may write in a save"
            )));
        }
        write_atomic(&self.dir.join(name), bytes)
    }

    /// Flushes the events and writes `summary.json` atomically.
    pub fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.events.flush()?;
        self.events.get_ref().sync_all()?;
        let mut summary = summary.clone();
        summary.save = Some(self.dir.display().to_string());
        write_atomic(
            &self.dir.join(SUMMARY_FILE),
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )
    }
}

/// Writes a file so that readers see either nothing or all of it: a temporary file, synced,
/// then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

impl crate::run::Recorder for SaveWriter {
    fn location(&self) -> &Path {
        self.dir()
    }
    fn append(&mut self, event: &RunEvent) -> io::Result<()> {
        SaveWriter::append(self, event)
    }
    fn event_bytes(&self) -> u64 {
        SaveWriter::event_bytes(self)
    }
    fn flush(&mut self) -> io::Result<()> {
        SaveWriter::flush(self)
    }
    fn write_file(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        SaveWriter::write_file(self, name, bytes)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        SaveWriter::finish(self, summary)
    }
}
