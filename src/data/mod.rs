//! Data sets the lessons train on: what a lesson's `data:` says, and the generators behind it.
//!
//! Every generator is deterministic given its seed, so a run replays and verifies exactly.

pub mod cp;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::lessons::parse::Ctx;
use crate::models::ModelSpec;

pub use cp::{CpSet, CpSpec};

/// `data:` validated: which data set, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DataSpec {
    /// Combat power before and after evolution, generated (the lecture's regression example).
    Cp(CpSpec),
}

impl DataSpec {
    pub fn source_name(&self) -> &'static str {
        match self {
            DataSpec::Cp(_) => "cp",
        }
    }

    /// Reads `data:` (absent means the model's default data set).
    pub fn parse(ctx: &mut Ctx, value: Option<&Value>, model: &ModelSpec) -> Option<DataSpec> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Some(model.default_data());
        };
        let Some(map) = value.as_mapping() else {
            ctx.error(
                "data",
                Some(crate::lessons::parse::show_value(value)),
                "`data` must be a mapping with a `source`",
                "write e.g. data: {source: cp}",
            );
            return None;
        };
        let source = match map.get(Value::String("source".into())) {
            None => model.default_data().source_name().to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                ctx.error(
                    "data.source",
                    Some(crate::lessons::parse::show_value(other)),
                    "the data source must be a name",
                    "write e.g. source: cp",
                );
                return None;
            }
        };
        let mut rest = map.clone();
        rest.remove(Value::String("source".into()));
        let rest = Value::Mapping(rest);
        let spec = match source.as_str() {
            "cp" => DataSpec::Cp(
                ctx.typed_with::<CpSpec>("data", &rest, &["source"])?
                    .check(ctx)?,
            ),
            other => {
                let allowed = vec!["cp".to_string()];
                let hint = match crate::lessons::parse::did_you_mean(other, &allowed) {
                    Some(best) => format!("did you mean `{best}`? Sources: {}", allowed.join(", ")),
                    None => format!("sources: {}", allowed.join(", ")),
                };
                ctx.error(
                    "data.source",
                    Some(other.to_string()),
                    format!("there is no data source `{other}`"),
                    hint,
                );
                return None;
            }
        };
        if !model.accepts_data(&spec) {
            ctx.error(
                "data.source",
                Some(source.clone()),
                format!("this model cannot train on `{source}` data"),
                format!("use source: {}", model.default_data().source_name()),
            );
            return None;
        }
        Some(spec)
    }

    /// Bytes the data set will take in memory (an estimate made before generating it).
    pub fn estimated_bytes(&self) -> u64 {
        match self {
            DataSpec::Cp(c) => (c.train as u64 + c.test as u64) * 24,
        }
    }
}
