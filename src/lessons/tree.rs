//! From YAML text to a tree of values, with the problems of that step placed and worded here.
//!
//! serde_yaml builds its `Value` tree in one call that stops at the first problem and words it
//! for programmers: a duplicate key is placed at the first key of its mapping, a number past
//! 64 bits is "invalid type: integer as u128, expected any YAML value", a second document is
//! "more than one document is not supported" with no line. This module builds the same tree
//! with its own visitor, which sees each key and value while the parser still knows where it
//! is, so every problem is reported at its own line, with its key path and in plain words:
//! - a duplicate key at the duplicate, naming the line of the first one;
//! - a tag (`!foo 3`), which means nothing in a lesson;
//! - a whole number too large for 64 bits;
//! - a second document, at the line where it starts.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Number, Value};

use crate::config::error::{LessonError, LessonErrors};
use crate::config::parse::show_value;

/// Reads `text` as one YAML document.
pub fn read_tree(path: &Path, text: &str) -> Result<Value, LessonErrors> {
    let state = RefCell::new(State::default());
    let mut documents = serde_yaml::Deserializer::from_str(text);
    let Some(first) = documents.next() else {
        return Ok(Value::Null);
    };
    let value = match (Node { state: &state }).deserialize(first) {
        Ok(value) => value,
        Err(e) => {
            let position = e.location().map(|l| (l.line(), l.column()));
            let problem = state.borrow_mut().problem.take();
            return Err(match problem {
                Some(problem) => explain(path, text, problem, position),
                None => syntax_error(path, &e, &state.borrow().path),
            }
            .into());
        }
    };
    if documents.next().is_some() {
        return Err(second_document(path, text).into());
    }
    Ok(value)
}

/// A key path as a learner reads it: `train.lr`, `model.channels[1]`.
#[derive(Clone, Debug, Default, PartialEq)]
struct KeyPath(Vec<Segment>);

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What the visitor found; its error to serde carries no words, only the position.
#[derive(Debug)]
enum Problem {
    Duplicate {
        mapping: usize,
        key: Value,
        path: KeyPath,
    },
    /// Found while looking for the first of two equal keys.
    FirstOfDuplicate,
    Tag {
        tag: String,
        path: KeyPath,
    },
    TooLarge {
        number: String,
        path: KeyPath,
    },
}

#[derive(Default)]
struct State {
    /// Mappings entered so far, in document order: names a mapping in a second pass.
    mappings: usize,
    /// Where the walk is.
    path: KeyPath,
    /// In a second pass, the key whose first occurrence is wanted: (mapping, key).
    find_first: Option<(usize, Value)>,
    problem: Option<Problem>,
}

fn stop<E: de::Error>(state: &RefCell<State>, problem: Problem) -> E {
    state.borrow_mut().problem = Some(problem);
    E::custom("")
}

/// Deserializes one node of the document into a `Value`.
#[derive(Clone, Copy)]
struct Node<'a> {
    state: &'a RefCell<State>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(Value::Number(v.into())),
            Err(_) => Err(self.too_large(v.to_string())),
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(v) => Ok(Value::Number(v.into())),
            Err(_) => Err(self.too_large(v.to_string())),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.state
                .borrow_mut()
                .path
                .0
                .push(Segment::Index(items.len()));
            let item = seq.next_element_seed(self)?;
            self.state.borrow_mut().path.0.pop();
            match item {
                Some(v) => items.push(v),
                None => return Ok(Value::Sequence(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let ordinal = {
            let mut s = self.state.borrow_mut();
            s.mappings += 1;
            s.mappings
        };
        let mut mapping = Mapping::new();
        loop {
            let key = Key {
                node: self,
                mapping: ordinal,
                seen: &mapping,
            };
            let Some(key) = map.next_key_seed(key)? else {
                return Ok(Value::Mapping(mapping));
            };
            let segment = Segment::Key(
                key.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| show_value(&key)),
            );
            self.state.borrow_mut().path.0.push(segment);
            let value = map.next_value_seed(self)?;
            self.state.borrow_mut().path.0.pop();
            mapping.insert(key, value);
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, _) = data.variant::<String>()?;
        let path = self.state.borrow().path.clone();
        Err(stop(self.state, Problem::Tag { tag, path }))
    }
}

impl Node<'_> {
    fn too_large<E: de::Error>(self, number: String) -> E {
        let path = self.state.borrow().path.clone();
        stop(self.state, Problem::TooLarge { number, path })
    }
}

/// Deserializes a key, and stops at it when it repeats one already in its mapping.
struct Key<'a> {
    node: Node<'a>,
    mapping: usize,
    seen: &'a Mapping,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Key<'_> {
    /// The check happens inside the visitor, so that serde places the error at this key.
    fn check<E: de::Error>(&self, key: Value) -> Result<Value, E> {
        let state = self.node.state;
        let wanted = state.borrow().find_first.clone();
        if let Some((mapping, first)) = wanted {
            if mapping == self.mapping && first == key && !self.seen.contains_key(&key) {
                return Err(stop(state, Problem::FirstOfDuplicate));
            }
        } else if self.seen.contains_key(&key) {
            let mut path = state.borrow().path.clone();
            path.0.push(Segment::Key(
                key.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| show_value(&key)),
            ));
            return Err(stop(
                state,
                Problem::Duplicate {
                    mapping: self.mapping,
                    key,
                    path,
                },
            ));
        }
        Ok(key)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        let key = self.node.visit_bool(v)?;
        self.check(key)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        let key = self.node.visit_i64(v)?;
        self.check(key)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        let key = self.node.visit_u64(v)?;
        self.check(key)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        let key = self.node.visit_i128(v)?;
        self.check(key)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        let key = self.node.visit_u128(v)?;
        self.check(key)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        let key = self.node.visit_f64(v)?;
        self.check(key)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        let key = self.node.visit_str(v)?;
        self.check(key)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        let key = self.node.visit_string(v)?;
        self.check(key)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        let key = self.node.visit_unit()?;
        self.check(key)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        let key = self.node.visit_none()?;
        self.check(key)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        let key = self.node.visit_seq(seq)?;
        self.check(key)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        let key = self.node.visit_map(map)?;
        self.check(key)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        self.node.visit_enum(data)
    }
}

/// The line and column of the first of two equal keys (a second pass over the text).
fn first_of_duplicate(text: &str, mapping: usize, key: Value) -> Option<(usize, usize)> {
    let state = RefCell::new(State {
        find_first: Some((mapping, key)),
        ..State::default()
    });
    let first = serde_yaml::Deserializer::from_str(text).next()?;
    let error = (Node { state: &state }).deserialize(first).err()?;
    let found = matches!(state.borrow().problem, Some(Problem::FirstOfDuplicate));
    let location = error.location()?;
    found.then_some((location.line(), location.column()))
}

fn explain(
    path: &Path,
    text: &str,
    problem: Problem,
    position: Option<(usize, usize)>,
) -> LessonError {
    match problem {
        Problem::Duplicate {
            mapping,
            key,
            path: key_path,
        } => {
            let name = key
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| show_value(&key));
            let within = match key_path.0.len() {
                0 | 1 => String::new(),
                n => format!(" in `{}`", KeyPath(key_path.0[..n - 1].to_vec())),
            };
            let first = match first_of_duplicate(text, mapping, key) {
                Some((line, column)) if position.is_some_and(|p| p.0 == line) => {
                    format!("; this is a duplicate of the key at line {line}, column {column}")
                }
                Some((line, _)) => format!("; this is a duplicate of the key at line {line}"),
                None => String::new(),
            };
            LessonError::key(
                path,
                key_path.to_string(),
                position.and_then(|p| written_after_key(text, p)),
                format!("the key `{name}` is written twice{within}{first}"),
                "keep one of the two and delete the other",
            )
            .at(position)
        }
        Problem::Tag {
            tag,
            path: key_path,
        } => LessonError::key(
            path,
            key_path.to_string(),
            position
                .and_then(|p| written_at(text, p))
                .or_else(|| Some(format!("!{tag}"))),
            format!("the YAML tag `!{tag}` has no meaning in a lesson file"),
            format!("remove `!{tag}` and write the value alone"),
        )
        .at(position),
        Problem::TooLarge {
            number,
            path: key_path,
        } => LessonError::key(
            path,
            key_path.to_string(),
            Some(number),
            format!(
                "this whole number is too large: the largest a lesson can hold is {}",
                u64::MAX
            ),
            "write a smaller number",
        )
        .at(position),
        Problem::FirstOfDuplicate => {
            syntax_error_text(path, "the YAML could not be read", position)
        }
    }
}

/// An error of the YAML parser, or of serde_yaml reading a tagged scalar (`!!int abc`): the
/// parser's own words, which are plain, without serde's key path and position (the error
/// shows both already).
fn syntax_error(path: &Path, e: &serde_yaml::Error, at: &KeyPath) -> LessonError {
    let position = e.location().map(|l| (l.line(), l.column()));
    let mut message = e.to_string();
    if let Some(l) = e.location() {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if let Some(cut) = message.find(&suffix) {
            message.replace_range(cut..cut + suffix.len(), "");
        }
    }
    let key = at.to_string();
    if let Some(rest) = message.strip_prefix(&format!("{key}: ")) {
        message = rest.to_string();
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let found = found.strip_prefix("string ").unwrap_or(found);
        return LessonError::key(
            path,
            key,
            Some(found.to_string()),
            format!("{found} is marked with a YAML tag as {expected}, and is not one"),
            "remove the tag (`!!int`, `!!float`, `!!bool`, `!!null`) or fix the value",
        )
        .at(position);
    }
    message = match message.as_str() {
        "recursion limit exceeded" => "the values are nested too deeply".to_string(),
        "repetition limit exceeded" => {
            "aliases (`*name`) repeat the values too many times".to_string()
        }
        "unknown anchor" => {
            "an alias (`*name`) names an anchor (`&name`) that is not defined before it".to_string()
        }
        _ => message,
    };
    syntax_error_text(path, &message, position)
}

fn syntax_error_text(path: &Path, message: &str, position: Option<(usize, usize)>) -> LessonError {
    let hint = if position.is_some() {
        "fix the YAML syntax at that line (indentation, a missing colon or quote)"
    } else {
        "fix the YAML syntax (indentation, a missing colon or quote)"
    };
    LessonError::file(path, format!("this is not valid YAML: {message}"), hint).at(position)
}

/// What is written from `(line, column)` to the end of the line or a comment.
fn written_at(text: &str, (line, column): (usize, usize)) -> Option<String> {
    let line = text.lines().nth(line.checked_sub(1)?)?;
    let from = line.char_indices().nth(column.checked_sub(1)?)?.0;
    let value = line[from..].split(" #").next().unwrap_or("").trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The value written after the key at `(line, column)`, as it stands in the text.
fn written_after_key(text: &str, (line, column): (usize, usize)) -> Option<String> {
    let line = text.lines().nth(line.checked_sub(1)?)?;
    let from = line.char_indices().nth(column.checked_sub(1)?)?.0;
    let rest = &line[from..];
    let colon = rest
        .find(": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
    let value = rest[colon + 1..].split(" #").next().unwrap_or("").trim();
    let value = value.trim_end_matches(['}', ',']).trim();
    let value = value.split(", ").next().unwrap_or(value).trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// "a lesson is one YAML document", at the `---` (or the first line) of the second one.
fn second_document(path: &Path, text: &str) -> LessonError {
    let line = document_start_line(text);
    let message = match line {
        Some(line) => format!("a lesson is one YAML document; a second starts at line {line}"),
        None => "a lesson is one YAML document; this file has a second one".to_string(),
    };
    LessonError::file(
        path,
        message,
        "delete the `---` line and what follows it, or move it into its own file",
    )
    .at(line.map(|l| (l, 1)))
}

/// The line of the second document's start: a `---` after content, or content after `...`.
fn document_start_line(text: &str) -> Option<usize> {
    let mut content = false;
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if marker("---") {
            if content || ended {
                return Some(i + 1);
            }
            content = true;
            continue;
        }
        if marker("...") {
            ended = true;
            continue;
        }
        let body = line.trim();
        if body.is_empty() || body.starts_with('#') || line.starts_with('%') {
            continue;
        }
        if ended {
            return Some(i + 1);
        }
        content = true;
    }
    None
}
