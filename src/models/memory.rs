//! What a run will hold in memory, planned before anything is allocated, part by part.
//!
//! Each part says what it is (the data, the weights with their gradients and optimizer state,
//! the activations a training step keeps for backward, a sampling batch, the judge…) and
//! which lesson key drives it, so that a plan over the limit is refused at the key that
//! matters ("train.batch_size", "model.channels"), not at whatever key comes first. The
//! coefficients are counted from the models' own code (which tensors a step keeps) and
//! checked against measured peak memory in `tests/memory.rs`.

/// Bytes of one f32.
pub const F32: u64 = 4;

/// The process itself before any lesson: code, the threads' stacks, the allocator's arenas,
/// the terminal's buffers. Measured at 15–17 MB on Linux.
pub const BASELINE_BYTES: u64 = 16 << 20;

/// One part of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What the memory is for, in words.
    pub what: &'static str,
    /// The lesson key that drives this part's size, and its value as written.
    pub key: String,
    pub value: String,
    /// A second key the part grows with (the activations grow with the batch and the width).
    pub also: Option<String>,
    pub bytes: u64,
}

/// A run's memory, part by part.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPlan {
    pub parts: Vec<Part>,
}

impl Default for MemoryPlan {
    fn default() -> Self {
        MemoryPlan::new()
    }
}

impl MemoryPlan {
    /// A plan holding the process's baseline.
    pub fn new() -> MemoryPlan {
        MemoryPlan {
            parts: vec![Part {
                what: "the program itself",
                key: String::new(),
                value: String::new(),
                also: None,
                bytes: BASELINE_BYTES,
            }],
        }
    }

    /// Adds a part driven by `key` (whose value is `value`).
    pub fn add(&mut self, what: &'static str, key: &str, value: impl ToString, bytes: u64) {
        self.parts.push(Part {
            what,
            key: key.to_string(),
            value: value.to_string(),
            also: None,
            bytes,
        });
    }

    /// Adds a part driven by `key` that also grows with `also`.
    pub fn add_shared(
        &mut self,
        what: &'static str,
        key: &str,
        value: impl ToString,
        also: &str,
        bytes: u64,
    ) {
        self.add(what, key, value, bytes);
        if let Some(p) = self.parts.last_mut() {
            p.also = Some(also.to_string());
        }
    }

    /// Adds `other`'s parts (not its baseline), their keys moved from under `from` to under
    /// `to` (a family's plan inside `generators-compared`).
    pub fn absorb(&mut self, other: MemoryPlan, from: &str, to: &str) {
        let moved = |key: &str| match key.strip_prefix(from) {
            Some(rest) if rest.is_empty() || rest.starts_with('.') => format!("{to}{rest}"),
            _ => key.to_string(),
        };
        for mut p in other.parts.into_iter().skip(1) {
            p.key = if p.key.is_empty() {
                p.key
            } else {
                moved(&p.key)
            };
            p.also = p.also.map(|a| moved(&a));
            self.parts.push(p);
        }
    }

    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The largest part that a lesson key drives.
    pub fn driver(&self) -> Option<&Part> {
        self.parts
            .iter()
            .filter(|p| !p.key.is_empty())
            .max_by_key(|p| p.bytes)
    }

    /// The keys that drive the plan, the heaviest first (each counted over all its parts).
    pub fn keys_by_size(&self) -> Vec<String> {
        let mut keys: Vec<(String, u64)> = Vec::new();
        for p in self.parts.iter().filter(|p| !p.key.is_empty()) {
            for key in std::iter::once(&p.key).chain(&p.also) {
                match keys.iter_mut().find(|(k, _)| k == key) {
                    Some((_, b)) => *b += p.bytes,
                    None => keys.push((key.clone(), p.bytes)),
                }
            }
        }
        keys.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
        keys.into_iter().map(|(k, _)| k).collect()
    }

    /// The parts, largest first, as "activations kept for backward 11.2 GiB, …" (the three
    /// largest; smaller parts are summed as "the rest").
    pub fn describe(&self) -> String {
        let mut parts: Vec<&Part> = self.parts.iter().collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.bytes));
        let mut out: Vec<String> = parts
            .iter()
            .take(3)
            .map(|p| format!("{} {}", p.what, size(p.bytes)))
            .collect();
        let rest: u64 = parts.iter().skip(3).map(|p| p.bytes).sum();
        if rest > 0 {
            out.push(format!("the rest {}", size(rest)));
        }
        out.join(", ")
    }
}

/// "1.3 GiB", "420 MB".
pub fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{} MB", (bytes + (1 << 19)) >> 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_is_the_largest_part_a_key_drives_and_the_baseline_is_counted_once() {
        let mut plan = MemoryPlan::new();
        plan.add("data", "data.train", 1000, 10 << 20);
        plan.add("activations", "train.batch_size", 4096, 3 << 30);
        plan.add("judge", "model.judge_samples", 500, 5 << 20);
        assert_eq!(plan.driver().unwrap().key, "train.batch_size");
        assert_eq!(
            plan.total(),
            BASELINE_BYTES + (10 << 20) + (3 << 30) + (5 << 20)
        );
        assert!(
            plan.describe().starts_with("activations 3.0 GiB"),
            "{}",
            plan.describe()
        );
    }
}
