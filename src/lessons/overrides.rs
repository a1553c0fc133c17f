//! `--set key.path=value`: changes to a lesson made on the command line, never in its file.

use serde_yaml::{Mapping, Value};

/// One `key.path=value` given with `--set`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// Dotted key path, e.g. `train.lr`.
    pub key: String,
    /// The value as typed.
    pub raw: String,
    /// The value read as YAML (so `0.1` is a number and `adam` a string).
    pub value: Value,
}

impl Override {
    /// Reads `key.path=value`.
    pub fn parse(text: &str) -> Result<Override, String> {
        let (key, raw) = text.split_once('=').ok_or_else(|| {
            format!("`--set {text}` needs the form key.path=value, e.g. --set train.lr=0.01")
        })?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!(
                "`--set {text}`: the key path `{key}` is empty or has an empty part"
            ));
        }
        let value: Value =
            serde_yaml::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        Ok(Override {
            key: key.to_string(),
            raw: raw.to_string(),
            value,
        })
    }

    /// A shorthand: `--steps 100` is `--set train.steps=100`.
    pub fn new(key: &str, value: impl ToString) -> Override {
        let raw = value.to_string();
        let value = serde_yaml::from_str(&raw).unwrap_or_else(|_| Value::String(raw.clone()));
        Override {
            key: key.to_string(),
            raw,
            value,
        }
    }

    /// Puts the value into the tree, creating mappings on the way.
    ///
    /// Switching `data.source` or `model.kind` to another value starts that section afresh:
    /// the old source's keys (a CP set's `train: 10`) mean nothing to the new one, so
    /// `--set data.source=idx --set data.images=…` works without removing them by hand.
    pub fn apply(&self, root: &mut Value) -> Result<(), String> {
        if let Some((section, tag)) = self.key.split_once('.')
            && matches!((section, tag), ("data", "source") | ("model", "kind"))
            && let Some(map) = root.as_mapping_mut()
        {
            let key = Value::String(section.to_string());
            let old = map.get(&key).and_then(|s| s.get(tag)).cloned();
            if old.as_ref() != Some(&self.value) {
                let mut fresh = serde_yaml::Mapping::new();
                fresh.insert(Value::String(tag.to_string()), self.value.clone());
                map.insert(key, Value::Mapping(fresh));
                return Ok(());
            }
        }
        let parts: Vec<&str> = self.key.split('.').collect();
        let mut node = root;
        for (i, part) in parts.iter().enumerate() {
            if node.is_null() {
                *node = Value::Mapping(Mapping::new());
            }
            let map = node.as_mapping_mut().ok_or_else(|| {
                format!(
                    "`{}` is not a mapping, so it has no key `{part}`",
                    parts[..i].join(".")
                )
            })?;
            let key = Value::String(part.to_string());
            if i + 1 == parts.len() {
                map.insert(key, self.value.clone());
                return Ok(());
            }
            node = map.entry(key).or_insert(Value::Null);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_read_as_a_number() {
        let o = Override::parse("train.lr=0.5").unwrap();
        assert_eq!(o.value, Value::from(0.5));
    }

    #[test]
    fn a_missing_equals_sign_is_explained() {
        let err = Override::parse("train.lr").unwrap_err();
        assert!(err.contains("key.path=value"), "{err}");
    }

    #[test]
    fn applying_creates_the_missing_mappings() {
        let mut root: Value = serde_yaml::from_str("id: x").unwrap();
        Override::parse("train.steps=5")
            .unwrap()
            .apply(&mut root)
            .unwrap();
        assert_eq!(root["train"]["steps"], Value::from(5));
    }

    #[test]
    fn switching_the_data_source_drops_the_old_sources_keys() {
        let mut root: Value = serde_yaml::from_str("data: {source: digits, train: 5}").unwrap();
        Override::parse("data.source=idx")
            .unwrap()
            .apply(&mut root)
            .unwrap();
        Override::parse("data.first=8")
            .unwrap()
            .apply(&mut root)
            .unwrap();
        assert_eq!(
            root["data"],
            serde_yaml::from_str::<Value>("{source: idx, first: 8}").unwrap()
        );
    }

    #[test]
    fn setting_the_same_source_keeps_the_other_keys() {
        let mut root: Value = serde_yaml::from_str("data: {source: cp, train: 5}").unwrap();
        Override::parse("data.source=cp")
            .unwrap()
            .apply(&mut root)
            .unwrap();
        assert_eq!(root["data"]["train"], Value::from(5));
    }

    #[test]
    fn applying_under_a_scalar_is_refused() {
        let mut root: Value = serde_yaml::from_str("id: x").unwrap();
        let err = Override::parse("id.deeper=5")
            .unwrap()
            .apply(&mut root)
            .unwrap_err();
        assert!(err.contains("`id` is not a mapping"), "{err}");
    }
}
