//! Replaying a saved run: a cursor over its events that feeds the same `RunState::apply` as a
//! live run, on the recorded rhythm, faster or slower, or one event at a time. The events are
//! read from the log as the cursor reaches them, never held all at once.

use crate::saves::{EventLog, LoadedSave};

use super::run_state::RunState;

/// Speeds offered by `[` and `]`.
const MIN_SPEED: f64 = 1.0 / 16.0;
const MAX_SPEED: f64 = 64.0;
/// A replay lasts at least this many seconds at speed 1, so a fast headless run can be watched.
const MIN_REPLAY_SECONDS: f64 = 8.0;

#[derive(Clone, Debug)]
pub struct ReplayState {
    pub dir: String,
    pub events: EventLog,
    /// How many events have been applied.
    pub cursor: usize,
    pub playing: bool,
    pub speed: f64,
    /// Replay time, in the run's own seconds.
    pub clock: f64,
    /// Run seconds per replay second at speed 1.
    stretch: f64,
    pub state: RunState,
    fresh: RunState,
    pub damage: Option<String>,
}

impl ReplayState {
    pub fn new(save: LoadedSave) -> ReplayState {
        let mut events = save.events;
        let run = events.get(0).map(|e| e.run).unwrap_or(0);
        let mut fresh = RunState::new(run, &save.lesson);
        fresh.save_dir = Some(save.dir.display().to_string());
        let duration = events.last_time().unwrap_or(0.0);
        let stretch = if duration > 0.0 && duration < MIN_REPLAY_SECONDS {
            duration / MIN_REPLAY_SECONDS
        } else {
            1.0
        };
        ReplayState {
            dir: save.dir.display().to_string(),
            events,
            cursor: 0,
            playing: true,
            speed: 1.0,
            clock: 0.0,
            stretch: if stretch > 0.0 { stretch } else { 1.0 },
            state: fresh.clone(),
            fresh,
            damage: save.damage,
        }
    }

    pub fn at_end(&self) -> bool {
        self.cursor >= self.events.len()
    }

    /// Advances the replay clock by `dt` wall seconds and applies the events now due.
    pub fn tick(&mut self, dt: f64) -> bool {
        if !self.playing || self.at_end() {
            return false;
        }
        self.clock += dt * self.speed * self.stretch;
        let mut changed = false;
        while let Some(t) = self.events.time(self.cursor) {
            if t > self.clock {
                break;
            }
            let Some(ev) = self.events.get(self.cursor) else {
                break;
            };
            self.state.apply(&ev);
            self.cursor += 1;
            changed = true;
        }
        if self.at_end() {
            self.playing = false;
        }
        changed
    }

    pub fn toggle(&mut self) {
        if self.at_end() {
            self.seek(0);
        }
        self.playing = !self.playing;
    }

    pub fn next(&mut self) {
        self.playing = false;
        if let Some(ev) = self.events.get(self.cursor) {
            self.state.apply(&ev);
            self.clock = ev.t;
            self.cursor += 1;
        }
    }

    pub fn prev(&mut self) {
        self.playing = false;
        self.seek(self.cursor.saturating_sub(1));
    }

    /// Rebuilds the state with exactly the first `n` events applied.
    pub fn seek(&mut self, n: usize) {
        let n = n.min(self.events.len());
        self.state = self.fresh.clone();
        for i in 0..n {
            match self.events.get(i) {
                Some(ev) => self.state.apply(&ev),
                None => break,
            };
        }
        self.cursor = n;
        self.clock = if n == 0 {
            0.0
        } else {
            self.events.time(n - 1).unwrap_or(0.0)
        };
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed * 2.0).min(MAX_SPEED);
    }

    pub fn slower(&mut self) {
        self.speed = (self.speed / 2.0).max(MIN_SPEED);
    }
}
