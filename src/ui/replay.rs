//! Replaying a saved run: a cursor over its events that feeds the same `RunState::apply` as a
//! live run, on the recorded rhythm, faster or slower, or one event at a time.
//!
//! The replay holds only each event's time; the events themselves stay in the save's log,
//! which the runtime owns. When the cursor must move, a method returns the [`Want`]ed range,
//! the app asks the runtime for it (`Effect::ReadReplay`), and the events come back as a
//! message ([`ReplayState::receive`]): `update` never reads a file, and a long run is never
//! held in memory all at once.

use crate::saves::{EventLog, LoadedSave};

use super::run_state::RunState;

/// Speeds offered by `[` and `]`.
const MIN_SPEED: f64 = 1.0 / 16.0;
const MAX_SPEED: f64 = 64.0;
/// A replay lasts at least this many seconds at speed 1, so a fast headless run can be watched.
const MIN_REPLAY_SECONDS: f64 = 8.0;

/// Events `from..to` of the save's log, to be applied next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    pub from: usize,
    pub to: usize,
}

#[derive(Clone, Debug)]
pub struct ReplayState {
    pub dir: String,
    /// Each event's run time, in order.
    times: Vec<f64>,
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
    /// The replay of a loaded save, and the save's log for whoever reads its events (the
    /// runtime). Reads the first event, for the run's id.
    pub fn new(save: LoadedSave) -> (ReplayState, EventLog) {
        let mut events = save.events;
        let run = events.get(0).map(|e| e.run).unwrap_or(0);
        let times: Vec<f64> = (0..events.len()).filter_map(|i| events.time(i)).collect();
        let mut fresh = RunState::new(run, &save.lesson);
        fresh.save_dir = Some(save.dir.display().to_string());
        let duration = events.last_time().unwrap_or(0.0);
        let stretch = if duration > 0.0 && duration < MIN_REPLAY_SECONDS {
            duration / MIN_REPLAY_SECONDS
        } else {
            1.0
        };
        let replay = ReplayState {
            dir: save.dir.display().to_string(),
            times,
            cursor: 0,
            playing: true,
            speed: 1.0,
            clock: 0.0,
            stretch: if stretch > 0.0 { stretch } else { 1.0 },
            state: fresh.clone(),
            fresh,
            damage: save.damage,
        };
        (replay, events)
    }

    /// How many events the save holds.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Applies events read from the log, if they start where the cursor is (a stale answer is
    /// dropped). Fewer than were wanted means the log ended early: the replay ends there.
    /// Returns whether anything changed.
    pub fn receive(&mut self, want: Want, events: &[crate::run::RunEvent]) -> bool {
        if want.from != self.cursor {
            return false;
        }
        for ev in events {
            self.state.apply(ev);
        }
        self.cursor += events.len();
        if events.len() < want.to - want.from {
            self.times.truncate(self.cursor);
        }
        if self.at_end() {
            self.playing = false;
        }
        !events.is_empty()
    }

    /// The events up to `to`, from the cursor, if there are any.
    fn want(&self, to: usize) -> Option<Want> {
        let to = to.min(self.len());
        (to > self.cursor).then_some(Want {
            from: self.cursor,
            to,
        })
    }

    pub fn at_end(&self) -> bool {
        self.cursor >= self.len()
    }

    /// Advances the replay clock by `dt` wall seconds; wants the events now due.
    pub fn tick(&mut self, dt: f64) -> Option<Want> {
        if !self.playing || self.at_end() {
            return None;
        }
        self.clock += dt * self.speed * self.stretch;
        let due = self.cursor + self.times[self.cursor..].partition_point(|&t| t <= self.clock);
        self.want(due)
    }

    pub fn toggle(&mut self) -> Option<Want> {
        let want = if self.at_end() { self.seek(0) } else { None };
        self.playing = !self.playing;
        want
    }

    /// One event forward, paused.
    pub fn step_forward(&mut self) -> Option<Want> {
        self.playing = false;
        let want = self.want(self.cursor + 1)?;
        self.clock = self.times[self.cursor];
        Some(want)
    }

    /// One event back, paused.
    pub fn step_back(&mut self) -> Option<Want> {
        self.playing = false;
        self.seek(self.cursor.saturating_sub(1))
    }

    /// Starts the state afresh and wants exactly the first `n` events.
    pub fn seek(&mut self, n: usize) -> Option<Want> {
        let n = n.min(self.len());
        self.state = self.fresh.clone();
        self.cursor = 0;
        self.clock = if n == 0 { 0.0 } else { self.times[n - 1] };
        self.want(n)
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed * 2.0).min(MAX_SPEED);
    }

    pub fn slower(&mut self) {
        self.speed = (self.speed / 2.0).max(MIN_SPEED);
    }
}
