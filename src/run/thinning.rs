//! How often a run records metrics and panels as it grows, so that its event log stays in
//! proportion to what a viewer can see.
//!
//! The interval starts at the lesson's own (`train.eval_every`, `train.snapshot_every`) and
//! doubles after every `per_octave` records: a run of a hundred times the shipped length keeps
//! its early pictures dense and its late ones sparse, and records about `per_octave` more per
//! doubling of its length instead of a hundred times as many. The cadence counts steps, never
//! time, so a seed replays the same steps (a snapshot may draw random numbers).

/// Snapshots recorded before the interval first doubles; every shipped lesson stays within it.
pub const SNAPSHOTS_PER_OCTAVE: u64 = 200;
/// Held-out evaluations recorded before the interval first doubles.
pub const EVALS_PER_OCTAVE: u64 = 500;
/// Bytes of panel snapshots a save keeps; past it only the final snapshot is written (the
/// metrics, logs and commands always are). With the cadence this binds only for runs far
/// longer than any shipped lesson.
pub const SAVED_VISUAL_BYTES: u64 = 40 << 20;

/// When to record, as a function of the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    base: u64,
    per_octave: u64,
}

impl Cadence {
    pub fn new(base: u64, per_octave: u64) -> Cadence {
        Cadence {
            base: base.max(1),
            per_octave: per_octave.max(1),
        }
    }

    /// The interval in force at `step`: `base·2^k` in the k-th run of `per_octave` records.
    pub fn interval(&self, step: u64) -> u64 {
        let span = self.base.saturating_mul(self.per_octave);
        let mut interval = self.base;
        let mut end = span;
        while step > end && interval < u64::MAX / 4 {
            interval *= 2;
            end = end.saturating_add(span.saturating_mul(interval / self.base));
        }
        interval
    }

    /// Whether `step` gets a record.
    pub fn due(&self, step: u64) -> bool {
        step.is_multiple_of(self.interval(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(c: Cadence, steps: u64) -> u64 {
        (1..=steps).filter(|&s| c.due(s)).count() as u64
    }

    #[test]
    fn a_run_within_one_octave_keeps_the_lessons_own_interval() {
        let c = Cadence::new(15, 200);
        assert!((1..=3000).all(|s| c.due(s) == s.is_multiple_of(15)));
    }

    #[test]
    fn each_doubling_of_the_run_adds_about_one_octave_of_records() {
        let c = Cadence::new(15, 200);
        assert_eq!(count(c, 3000), 200);
        assert_eq!(count(c, 9000), 400);
        assert_eq!(count(c, 21000), 600);
        // Ten million steps: about log2(3,333) ≈ 12 octaves, not 666,666 records.
        let n = count(c, 10_000_000);
        assert!((2000..=2600).contains(&n), "{n}");
    }

    #[test]
    fn intervals_only_grow_and_stay_multiples_of_the_base() {
        let c = Cadence::new(7, 3);
        let mut last = 0;
        for s in 1..5000 {
            let i = c.interval(s);
            assert!(i >= last && i.is_multiple_of(7), "step {s}: {i}");
            last = i;
        }
    }
}
