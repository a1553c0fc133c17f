//! Where a run's events go besides its watcher: the trainer writes through this trait and
//! knows nothing of folders or file formats. `saves::SaveWriter` is the implementation every
//! real run uses; tests may pass their own.

use std::io;
use std::path::Path;

use super::event::RunEvent;
use super::summary::Summary;

/// A durable record of one run, written as it goes.
pub trait Recorder: Send {
    /// Where the record lives, for messages.
    fn location(&self) -> &Path;
    /// Appends one event (it may be buffered until [`flush`](Self::flush)).
    fn append(&mut self, event: &RunEvent) -> io::Result<()>;
    /// Bytes of events appended so far (the trainer stops recording panel snapshots past a
    /// budget).
    fn event_bytes(&self) -> u64;
    /// Makes every appended event survive a kill.
    fn flush(&mut self) -> io::Result<()>;
    /// Stores another file of the run (trained weights, say) under a plain file name.
    fn write_file(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Flushes the events and writes the summary, which marks the record complete.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}
