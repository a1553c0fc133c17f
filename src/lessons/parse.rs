//! From YAML text to typed sections, collecting errors that point into the file.
//!
//! `Ctx` carries the file name and text so that any error, found by serde or by a validator,
//! can be placed at its line and column and can quote the bad value. Typed sections are read
//! with `serde_path_to_error`, so a type error inside `train` names `train.lr`, and an unknown
//! key gets a "did you mean …?" from the list of keys serde expected.

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
}

impl Ctx {
    pub fn new(file: &Path, text: &str) -> Ctx {
        Ctx {
            file: file.to_path_buf(),
            text: text.to_string(),
            overridden: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    /// Records an error about `key` (a dotted path), placed where the key is written.
    pub fn error(
        &mut self,
        key: &str,
        value: Option<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let mut e = LessonError::key(&self.file, key, value, message, hint);
        e.from_override = self.overridden.contains(key);
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
        for _ in 0..32 {
            match serde_path_to_error::deserialize::<_, T>(work.clone()) {
                // After errors, the cleaned copy is still returned so that range checks can
                // report their errors too; the lesson is rejected because errors were recorded.
                Ok(t) => return Some(t),
                Err(err) => {
                    let inner = err.inner().to_string();
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
                        self.error(
                            &key,
                            None,
                            format!("the key `{field}` is missing"),
                            "add it; see the lesson reference in README.md",
                        );
                        return None;
                    } else {
                        let key = join(prefix, &segments.join("."));
                        let shown = lookup(&work, &segments).map(show_value);
                        let (message, hint) = explain_type_error(&inner);
                        self.error(&key, shown, message, hint);
                    }
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

/// A value as a learner would write it.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null (empty)".to_string(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().replace('\n', " "))
            .unwrap_or_else(|_| "?".to_string()),
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

/// Turns serde's wording into a message and a fix a learner can act on.
fn explain_type_error(inner: &str) -> (String, String) {
    if let Some(rest) = inner.strip_prefix("unknown variant `") {
        let end = rest.find('`').unwrap_or(rest.len());
        let given = &rest[..end];
        let expected = backticked(rest.get(end + 1..).unwrap_or(""));
        let hint = match did_you_mean(given, &expected) {
            Some(best) => format!(
                "did you mean `{best}`? Choose one of: {}",
                expected.join(", ")
            ),
            None => format!("choose one of: {}", expected.join(", ")),
        };
        return (format!("`{given}` is not one of the allowed choices"), hint);
    }
    if let Some(pos) = inner.find(", expected ") {
        let expected = &inner[pos + ", expected ".len()..];
        let what = match expected {
            e if e.contains("u64") || e.contains("u32") || e.contains("usize") => {
                "a whole number of 0 or more"
            }
            e if e.contains("f64") || e.contains("f32") => "a number",
            e if e.contains("bool") => "true or false",
            e if e.contains("string") => "a text",
            e if e.contains("sequence") => "a list",
            e if e.contains("struct") || e.contains("map") => "a mapping of keys",
            e => e,
        };
        return (
            format!("{}; expected {what}", &inner[..pos]),
            format!("write {what} here"),
        );
    }
    (
        inner.to_string(),
        "see the lesson reference in README.md".to_string(),
    )
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
