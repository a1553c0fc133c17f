//! From YAML text to typed sections, collecting errors that point into the file.
//!
//! `Ctx` carries the file name and text so that any error, found by serde or by a validator,
//! can be placed at its line and column and can quote the bad value. Typed sections are read
//! with `serde_path_to_error`, so a type error inside `train` names `train.lr`, and an unknown
//! key gets a "did you mean …?" from the list of keys serde expected. serde's own wording
//! ("invalid type: integer `-1`, expected a Value::Tagged enum") never reaches the learner: it
//! is read for what the key takes, and the message says that in plain words with the value
//! found ("`train.optimizer` must be one of sgd, momentum, … (found -1)"). Where serde does not
//! list the choices (enums, sections), the value is replaced by a probe and read again, and the
//! "unknown variant/field" error that follows lists them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::error::LessonError;
use super::locate::locate;

/// Where errors go while one lesson file is read.
pub struct Ctx {
    pub file: PathBuf,
    pub text: String,
    /// Key paths whose value came from `--set`.
    pub overridden: BTreeSet<String>,
    pub errors: Vec<LessonError>,
    /// While a section is read on behalf of another (a family's keys inside
    /// `generators-compared`), keys starting with `.0` are reported under `.1` instead.
    scope: Option<(String, String)>,
}

impl Ctx {
    pub fn new(file: &Path, text: &str) -> Ctx {
        Ctx {
            file: file.to_path_buf(),
            text: text.to_string(),
            overridden: BTreeSet::new(),
            errors: Vec::new(),
            scope: None,
        }
    }

    /// Runs `read` with every key it reports under `from` moved to `to`: a family's own parser,
    /// which names its keys `model.…`, reads a section nested at `model.settings.vae` and its
    /// errors still point at the right line.
    pub fn scoped<R>(&mut self, from: &str, to: &str, read: impl FnOnce(&mut Ctx) -> R) -> R {
        let outer = self.scope.replace((from.to_string(), to.to_string()));
        let r = read(self);
        self.scope = outer;
        r
    }

    /// Records an error about `key` (a dotted path), placed where the key is written.
    pub fn error(
        &mut self,
        key: &str,
        value: Option<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let moved = self.scope.as_ref().and_then(|(from, to)| {
            key.strip_prefix(from.as_str())
                .filter(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                .map(|rest| format!("{to}{rest}"))
        });
        let key = moved.as_deref().unwrap_or(key);
        let (mut message, mut hint) = (message.into(), hint.into());
        if let (Some(_), Some((from, to))) = (&moved, &self.scope) {
            // "set `model.min_snr` to …" names the key where it is written.
            let (from, to) = (format!("`{from}."), format!("`{to}."));
            message = message.replace(&from, &to);
            hint = hint.replace(&from, &to);
        }
        let mut e = LessonError::key(&self.file, key, value, message, hint);
        e.from_override = self.overridden.iter().any(|o| {
            key.strip_prefix(o.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        });
        if !e.from_override {
            let segments = path_segments(key);
            let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
            e = e.at(locate(&self.text, &refs));
        }
        self.errors.push(e);
    }

    /// Reads `value` as `T`, or records every error found and returns `None`.
    ///
    /// serde stops at the first error, so after each one the offending key is taken out of a
    /// copy and the copy is read again: a learner sees all the mistakes of a section at once.
    pub fn typed<T: DeserializeOwned>(&mut self, prefix: &str, value: &Value) -> Option<T> {
        self.typed_with(prefix, value, &[])
    }

    /// Like [`typed`](Self::typed), for a mapping from which the caller already took `extra`
    /// keys (`kind`, `source`): they are still listed among the allowed keys.
    pub fn typed_with<T: DeserializeOwned>(
        &mut self,
        prefix: &str,
        value: &Value,
        extra: &[&str],
    ) -> Option<T> {
        let mut work = value.clone();
        // Keys already reported: once a bad value is taken out, serde may call it missing.
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for _ in 0..32 {
            match serde_path_to_error::deserialize::<_, T>(work.clone()) {
                // After errors, the cleaned copy is still returned so that range checks can
                // report their errors too; the lesson is rejected because errors were recorded.
                Ok(t) => return Some(t),
                Err(err) => {
                    let inner = err.inner().to_string();
                    let steps = steps_of(err.path());
                    let sub = err.path().to_string();
                    let sub = if sub == "." { String::new() } else { sub };
                    let mut segments = path_segments(&sub);
                    if let Some((field, mut expected)) = parse_unknown_field(&inner) {
                        if segments.last() != Some(&field) {
                            segments.push(field.clone());
                        }
                        if segments.len() == 1 {
                            expected.splice(0..0, extra.iter().map(|e| e.to_string()));
                        }
                        let written = lookup(&work, &segments).map(show_value);
                        let key = join(prefix, &segments.join("."));
                        let hint = match did_you_mean(&field, &expected) {
                            Some(best) => format!(
                                "did you mean `{best}`? Allowed keys here: {}",
                                expected.join(", ")
                            ),
                            None => format!("allowed keys here: {}", expected.join(", ")),
                        };
                        self.error(&key, written, format!("unknown key `{field}`"), hint);
                    } else if let Some(field) = parse_missing_field(&inner) {
                        let key = join(prefix, &join(&segments.join("."), &field));
                        if !reported.contains(&key) {
                            self.error(
                                &key,
                                None,
                                format!("the key `{field}` is missing"),
                                "add it; see the lesson reference in README.md",
                            );
                        }
                        return None;
                    } else {
                        let key = join(prefix, &sub);
                        let found = lookup_steps(&work, &steps);
                        let shown = found.map(show_value);
                        let what = Expected::read::<T>(&work, &steps, &inner);
                        let (message, hint) = what.explain(&key, found);
                        self.error(&key, shown, message, hint);
                        reported.insert(key);
                    }
                    reported.insert(join(prefix, &segments.join(".")));
                    if !remove_at(&mut work, &segments) {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// Records an error unless `lo <= v <= hi`.
    pub fn check_range<N>(&mut self, key: &str, v: N, lo: N, hi: N, what: &str) -> bool
    where
        N: PartialOrd + std::fmt::Display + Copy,
    {
        if v >= lo && v <= hi {
            true
        } else {
            self.error(
                key,
                Some(v.to_string()),
                format!("{what} must be between {lo} and {hi}"),
                format!("set `{key}` to a value from {lo} to {hi}"),
            );
            false
        }
    }

    /// Records an error unless `v` is a finite number greater than zero and at most `hi`.
    pub fn check_positive(
        &mut self,
        key: &str,
        v: f64,
        hi: f64,
        what: &str,
        example: &str,
    ) -> bool {
        if v.is_finite() && v > 0.0 && v <= hi {
            true
        } else {
            self.error(
                key,
                Some(format_number(v)),
                format!(
                    "{what} must be greater than 0 and at most {}",
                    format_number(hi)
                ),
                format!("set `{key}` to a positive number such as {example}"),
            );
            false
        }
    }
}

/// `train` + `lr` → `train.lr`.
pub fn join(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}.{key}"),
    }
}

/// `model.layers[0].width` → `["model", "layers", "width"]` (list indices are dropped).
pub fn path_segments(key: &str) -> Vec<String> {
    key.split('.')
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The value at a path in a YAML tree.
pub fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = value;
    for key in path {
        v = v.as_mapping()?.get(Value::String(key.clone()))?;
    }
    Some(v)
}

/// Takes the key at `path` out of the tree; false when there is nothing to take.
fn remove_at(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut v = value;
    for key in parents {
        match v
            .as_mapping_mut()
            .and_then(|m| m.get_mut(Value::String(key.clone())))
        {
            Some(next) => v = next,
            None => return false,
        }
    }
    v.as_mapping_mut()
        .and_then(|m| m.remove(Value::String(last.clone())))
        .is_some()
}

/// A value as a learner would write it, on one line: `"text"`, `-1`, `[1, 2]`, `{a: 1}`.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null (empty)".to_string(),
        Value::Sequence(items) => {
            let items: Vec<String> = items.iter().map(show_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Mapping(m) => {
            let entries: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    let k = k
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| show_value(k));
                    format!("{k}: {}", show_value(v))
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Tagged(t) => format!("{} {}", t.tag, show_value(&t.value)),
    }
}

/// Short decimal form: 0.001, 1e-8, 100.
pub fn format_number(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-4 && v.abs() < 1e7) {
        let s = format!("{v}");
        s
    } else {
        format!("{v:e}")
    }
}

/// The closest allowed name, when it is close enough to be a typo.
pub fn did_you_mean(given: &str, allowed: &[String]) -> Option<String> {
    allowed
        .iter()
        .map(|a| (strsim::jaro_winkler(&given.to_lowercase(), a), a))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, a)| a.clone())
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
fn parse_unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    let field = rest[..end].to_string();
    let expected = backticked(&rest[end + 1..]);
    Some((field, expected))
}

fn parse_missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// All `quoted` names in a message.
pub fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// One step of a key path: a key of a mapping or a position in a list.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps_of(path: &serde_path_to_error::Path) -> Vec<Step> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

/// The value at a path that may go into lists.
fn lookup_steps<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut v = value;
    for step in steps {
        v = match step {
            Step::Key(k) => v.as_mapping()?.get(Value::String(k.clone()))?,
            Step::Index(i) => v.as_sequence()?.get(*i)?,
        };
    }
    Some(v)
}

/// A copy of `value` with the value at `steps` replaced.
fn replaced(value: &Value, steps: &[Step], with: Value) -> Option<Value> {
    let mut copy = value.clone();
    let mut v = &mut copy;
    for step in steps {
        v = match step {
            Step::Key(k) => v.as_mapping_mut()?.get_mut(Value::String(k.clone()))?,
            Step::Index(i) => v.as_sequence_mut()?.get_mut(*i)?,
        };
    }
    *v = with;
    Some(copy)
}

/// What a key takes, in a learner's words, read from serde's "expected …".
#[derive(Debug, PartialEq)]
enum Expected {
    /// One of these names.
    OneOf(Vec<String>),
    /// A mapping with (some of) these keys; empty when they could not be found.
    Mapping(Vec<String>),
    /// A list of exactly this many items.
    ListOf(usize),
    /// A plain kind: "a number", "a text", …
    Kind(String),
    /// Nothing serde said could be turned into words.
    Unknown,
}

/// A name no lesson uses, to make serde list the allowed names.
const PROBE: &str = "\u{1}";

impl Expected {
    /// Reads serde's message about the value at `steps`; for enums and structs, whose message
    /// does not list the choices, `T` is read again with a probe in place of the value, and
    /// the choices are taken from the "unknown variant/field" error that follows.
    fn read<T: DeserializeOwned>(work: &Value, steps: &[Step], inner: &str) -> Expected {
        if let Some(rest) = inner.strip_prefix("unknown variant `") {
            let end = rest.find('`').unwrap_or(rest.len());
            return Expected::OneOf(backticked(rest.get(end + 1..).unwrap_or("")));
        }
        let Some((_, expected)) = inner.split_once(", expected ") else {
            return Expected::Unknown;
        };
        if let Some(n) = expected
            .strip_prefix("an array of length ")
            .or_else(|| expected.strip_prefix("a tuple of size "))
            .and_then(|n| n.parse().ok())
        {
            return Expected::ListOf(n);
        }
        let probe = |with: Value| -> Vec<String> {
            let Some(copy) = replaced(work, steps, with) else {
                return Vec::new();
            };
            match serde_path_to_error::deserialize::<_, T>(copy) {
                Err(e) if steps_of(e.path()).starts_with(steps) => {
                    let msg = e.inner().to_string();
                    match msg.split_once(&format!("`{PROBE}`")) {
                        Some((_, rest)) => backticked(rest),
                        None => Vec::new(),
                    }
                }
                _ => Vec::new(),
            }
        };
        let words = expected.trim_start_matches("a ").trim_start_matches("an ");
        let first = words.split([' ', ':']).next().unwrap_or("");
        match first {
            _ if expected.contains("enum") || expected.contains("variant") => {
                let names = probe(Value::String(PROBE.into()));
                if names.is_empty() {
                    Expected::Unknown
                } else {
                    Expected::OneOf(names)
                }
            }
            "struct" | "map" | "mapping" => {
                let mut m = serde_yaml::Mapping::new();
                m.insert(Value::String(PROBE.into()), Value::Null);
                Expected::Mapping(probe(Value::Mapping(m)))
            }
            "u8" => Expected::Kind("a whole number from 0 to 255".into()),
            "u16" => Expected::Kind("a whole number from 0 to 65535".into()),
            "u32" => Expected::Kind(format!("a whole number from 0 to {}", u32::MAX)),
            "u64" | "usize" | "u128" => Expected::Kind("a whole number of 0 or more".into()),
            "i8" | "i16" | "i32" | "i64" | "isize" | "i128" | "integer" => {
                Expected::Kind("a whole number".into())
            }
            "f32" | "f64" | "float" => Expected::Kind("a number".into()),
            "boolean" | "bool" => Expected::Kind("true or false".into()),
            "string" | "str" | "path" | "character" | "char" => Expected::Kind("a text".into()),
            "sequence" | "seq" | "list" | "array" | "tuple" => Expected::Kind("a list".into()),
            "unit" | "null" => Expected::Kind("empty".into()),
            _ => Expected::Unknown,
        }
    }

    /// The message and the fix for the value `found` at `key`.
    fn explain(&self, key: &str, found: Option<&Value>) -> (String, String) {
        let found_words = found.map(found_words);
        let was = found_words
            .as_ref()
            .map(|w| format!(" (found {w})"))
            .unwrap_or_default();
        match self {
            Expected::OneOf(names) => {
                let given = found.and_then(Value::as_str).unwrap_or("");
                let hint = match did_you_mean(given, names) {
                    Some(best) => {
                        format!("did you mean `{best}`? Choose one of: {}", names.join(", "))
                    }
                    None => format!("choose one of: {}", names.join(", ")),
                };
                (
                    format!("`{key}` must be one of {}{was}", names.join(", ")),
                    hint,
                )
            }
            Expected::Mapping(keys) if keys.is_empty() => (
                format!("`{key}` must be a mapping of keys{was}"),
                "write the keys on the lines below it, indented, or as {key: value, …}".to_string(),
            ),
            Expected::Mapping(keys) => (
                format!(
                    "`{key}` must be a mapping with the keys {}{was}",
                    keys.join(", ")
                ),
                format!(
                    "write the keys you need on the lines below `{key}:`, indented, e.g. {}: …",
                    keys[0]
                ),
            ),
            Expected::ListOf(n) => {
                let count = found
                    .and_then(Value::as_sequence)
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(", {} items", s.len()))
                    .unwrap_or_default();
                (
                    format!(
                        "`{key}` must be a list of exactly {n} items{}",
                        match &found_words {
                            Some(w) => format!(" (found {w}{count})"),
                            None => String::new(),
                        }
                    ),
                    format!(
                        "write {n} values in brackets, e.g. [{}]",
                        vec!["…"; *n].join(", ")
                    ),
                )
            }
            Expected::Kind(what) => {
                let quoted_number = found
                    .and_then(Value::as_str)
                    .filter(|s| s.trim().parse::<f64>().is_ok() && what.contains("number"));
                let hint = match quoted_number {
                    Some(s) => format!("write it without quotes: {}", s.trim()),
                    None => format!("write {what} here"),
                };
                (format!("`{key}` must be {what}{was}"), hint)
            }
            Expected::Unknown => (
                format!("`{key}` cannot take this value{was}"),
                "see the lesson reference in README.md for what this key takes".to_string(),
            ),
        }
    }
}

/// A found value with its kind: `-1`, `the text "ten"`, `the list [1, 2]`.
fn found_words(v: &Value) -> String {
    match v {
        Value::String(_) => format!("the text {}", show_value(v)),
        Value::Sequence(s) if s.is_empty() => "an empty list []".to_string(),
        Value::Sequence(_) => format!("the list {}", show_value(v)),
        Value::Mapping(m) if m.is_empty() => "an empty mapping {}".to_string(),
        Value::Mapping(_) => format!("the mapping {}", show_value(v)),
        Value::Null => "nothing: the value is empty".to_string(),
        Value::Tagged(_) => format!("the tagged value {}", show_value(v)),
        Value::Number(_) | Value::Bool(_) => show_value(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_typo_gets_a_suggestion() {
        let allowed: Vec<String> = ["steps", "batch_size", "lr"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(did_you_mean("stpes", &allowed).as_deref(), Some("steps"));
        assert_eq!(
            did_you_mean("batchsize", &allowed).as_deref(),
            Some("batch_size")
        );
        assert_eq!(
            did_you_mean("bach", &allowed).as_deref(),
            Some("batch_size")
        );
    }

    #[test]
    fn an_unrelated_word_gets_no_suggestion() {
        let allowed: Vec<String> = ["steps", "lr"].iter().map(|s| s.to_string()).collect();
        assert_eq!(did_you_mean("temperature", &allowed), None);
    }

    #[test]
    fn serdes_unknown_field_message_is_understood() {
        let (field, expected) =
            parse_unknown_field("unknown field `stpes`, expected one of `steps`, `lr`").unwrap();
        assert_eq!(field, "stpes");
        assert_eq!(expected, vec!["steps", "lr"]);
    }

    #[test]
    fn list_indices_are_dropped_from_paths() {
        assert_eq!(
            path_segments("model.layers[2].width"),
            vec!["model", "layers", "width"]
        );
    }
}
