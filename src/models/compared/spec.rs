//! The `generators-compared` section: which families, in which order, the time each may train,
//! and each family's own model keys (checked by that family, errors placed where they are
//! written).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::config::parse::{Ctx, did_you_mean, show_value};
use crate::config::spec::{MAX_SECONDS, TrainFile, TrainSpec};
use crate::models::ModelSpec;

/// `model:` of a `generators-compared` lesson.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparedSpec {
    /// The families to train, in this order; each must draw digits.
    #[serde(default = "default_families")]
    pub families: Vec<String>,
    /// Seconds of training each family gets (time spent in its own steps; pauses, drawing and
    /// scoring are not counted).
    #[serde(default = "default_budget")]
    pub budget_seconds: f64,
    /// At most this many steps per family, 0 for no cap (a cap makes a run replay exactly).
    #[serde(default)]
    pub budget_steps: u64,
    /// Samples each family draws for the judge (the same n for all).
    #[serde(default = "default_judge_samples")]
    pub judge_samples: usize,
    /// Digits per family in the side-by-side grid.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Each family's model keys, as in its own lesson (`settings: {ddpm: {net: mlp}}`); a
    /// saved run holds every key, resolved.
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    /// Each family's training keys where they differ from its defaults
    /// (`training: {ddpm: {lr: 0.004}}`); a family trains at a constant rate, so only `lr`,
    /// `batch_size` and `optimizer` matter here. A saved run holds every key, resolved.
    #[serde(default)]
    pub training: BTreeMap<String, Value>,
}

/// The lecture's order (VAE, flow, GAN, diffusion), then any other digit generator the
/// registry holds.
fn default_families() -> Vec<String> {
    let generators = ComparedSpec::generators();
    let lecture = ["vae", "flow", "gan", "ddpm"];
    let mut out: Vec<String> = lecture
        .iter()
        .filter(|k| generators.contains(k))
        .map(|k| k.to_string())
        .collect();
    out.extend(
        generators
            .iter()
            .filter(|k| !lecture.contains(k))
            .map(|k| k.to_string()),
    );
    out
}
fn default_budget() -> f64 {
    60.0
}
fn default_judge_samples() -> usize {
    500
}
fn default_grid() -> usize {
    16
}

impl Default for ComparedSpec {
    fn default() -> Self {
        ComparedSpec {
            families: default_families(),
            budget_seconds: default_budget(),
            budget_steps: 0,
            judge_samples: default_judge_samples(),
            grid: default_grid(),
            settings: BTreeMap::new(),
            training: BTreeMap::new(),
        }
    }
}

impl ComparedSpec {
    /// Checks the values and lets each family read its own settings; `settings` comes back
    /// holding every family's resolved section (with its `kind`).
    pub fn check(mut self, ctx: &mut Ctx, generators: &[&str]) -> Option<ComparedSpec> {
        let mut ok = true;
        let allowed: Vec<String> = generators.iter().map(|s| s.to_string()).collect();
        if self.families.is_empty() {
            ctx.error(
                "model.families",
                Some("[]".into()),
                "no family to compare",
                format!("list one or more of: {}", allowed.join(", ")),
            );
            ok = false;
        }
        for (i, name) in self.families.iter().enumerate() {
            let key = format!("model.families[{i}]");
            if !allowed.contains(name) {
                let hint = match did_you_mean(name, &allowed) {
                    Some(best) => format!(
                        "did you mean `{best}`? Families that draw digits: {}",
                        allowed.join(", ")
                    ),
                    None => format!("families that draw digits: {}", allowed.join(", ")),
                };
                ctx.error(
                    &key,
                    Some(name.clone()),
                    format!("`{name}` is not a family that draws digits"),
                    hint,
                );
                ok = false;
            } else if self.families[..i].contains(name) {
                ctx.error(
                    &key,
                    Some(name.clone()),
                    format!("`{name}` is listed twice"),
                    "list each family once",
                );
                ok = false;
            }
        }
        if !(self.budget_seconds > 0.0 && self.budget_seconds <= MAX_SECONDS) {
            ctx.error(
                "model.budget_seconds",
                Some(crate::config::parse::format_number(self.budget_seconds)),
                "the time budget per family must be more than 0 seconds and at most a day",
                "give e.g. budget_seconds: 60",
            );
            ok = false;
        }
        ok &= ctx.check_range(
            "model.budget_steps",
            self.budget_steps,
            0,
            crate::config::spec::MAX_STEPS,
            "the step cap per family (0 = none)",
        );
        ok &= ctx.check_range(
            "model.judge_samples",
            self.judge_samples,
            10,
            10_000,
            "the samples each family draws for the judge",
        );
        ok &= ctx.check_range(
            "model.grid",
            self.grid,
            1,
            64,
            "the digits per family in the grid",
        );
        let mut resolved = BTreeMap::new();
        for (name, section) in std::mem::take(&mut self.settings) {
            let key = format!("model.settings.{name}");
            if !self.families.contains(&name) {
                ctx.error(
                    &key,
                    None,
                    format!("settings for `{name}`, which is not in `families`"),
                    format!(
                        "add {name} to families, or remove these settings (families: {})",
                        self.families.join(", ")
                    ),
                );
                ok = false;
                continue;
            }
            match section_with_kind(&name, &section) {
                Ok(v) => {
                    let spec = ctx.scoped("model", &key, |ctx| ModelSpec::parse(ctx, &v));
                    match spec.map(|s| serde_yaml::to_value(&s)) {
                        Some(Ok(v)) => {
                            resolved.insert(name, v);
                        }
                        _ => ok = false,
                    }
                }
                Err((value, message)) => {
                    ctx.error(&key, Some(value), message, format!("write the keys of {name}'s own lesson, e.g. settings: {{{name}: {{…}}}}"));
                    ok = false;
                }
            }
        }
        // Families without settings are resolved from their defaults, so the save holds them.
        for name in self.families.iter().filter(|n| allowed.contains(n)) {
            if !resolved.contains_key(name) {
                let v = section_with_kind(name, &Value::Null).expect("an empty section");
                let spec = ctx.scoped("model", &format!("model.settings.{name}"), |ctx| {
                    ModelSpec::parse(ctx, &v)
                });
                match spec.map(|s| serde_yaml::to_value(&s)) {
                    Some(Ok(v)) => {
                        resolved.insert(name.clone(), v);
                    }
                    _ => ok = false,
                }
            }
        }
        self.settings = resolved;
        let mut trained = BTreeMap::new();
        let written = std::mem::take(&mut self.training);
        for name in written.keys() {
            if !self.families.contains(name) {
                ctx.error(
                    &format!("model.training.{name}"),
                    None,
                    format!("training settings for `{name}`, which is not in `families`"),
                    format!(
                        "add {name} to families, or remove these settings (families: {})",
                        self.families.join(", ")
                    ),
                );
                ok = false;
            }
        }
        for name in self
            .families
            .iter()
            .filter(|n| self.settings.contains_key(*n))
        {
            let Ok(spec) = self.part(name) else {
                ok = false;
                continue;
            };
            let key = format!("model.training.{name}");
            let section = written.get(name).cloned().unwrap_or(Value::Null);
            let section = if section.is_null() {
                Value::Mapping(Default::default())
            } else {
                section
            };
            let file = ctx.scoped("train", &key, |ctx| {
                ctx.typed::<TrainFile>("train", &section)
            });
            let checked = file.and_then(|f| {
                ctx.scoped("train", &key, |ctx| f.check(ctx, &spec.train_defaults()))
            });
            match checked.map(|t| serde_yaml::to_value(&t)) {
                Some(Ok(v)) => {
                    trained.insert(name.clone(), v);
                }
                _ => ok = false,
            }
        }
        self.training = trained;
        ok.then_some(self)
    }

    /// The resolved training settings of family `name` (from a checked spec), with `seed`.
    pub fn train_of(&self, name: &str, seed: u64) -> Result<TrainSpec, String> {
        let section = self
            .training
            .get(name)
            .ok_or_else(|| format!("this run has no training settings for `{name}`"))?;
        let mut train: TrainSpec = serde_yaml::from_value(section.clone())
            .map_err(|e| format!("the saved training settings of `{name}` no longer read: {e}"))?;
        train.seed = seed;
        Ok(train)
    }

    /// The resolved model spec of family `name` (from a checked spec).
    pub fn part(&self, name: &str) -> Result<ModelSpec, String> {
        let section = self.settings.get(name).ok_or_else(|| {
            format!(
                "this run trained no `{name}`; it trained: {}",
                self.families.join(", ")
            )
        })?;
        let mut ctx = Ctx::new(std::path::Path::new("<saved lesson>"), "");
        ModelSpec::parse(&mut ctx, section).ok_or_else(|| {
            let errors: Vec<String> = ctx.errors.iter().map(|e| e.to_string()).collect();
            format!(
                "the saved settings of `{name}` no longer read: {}",
                errors.join("; ")
            )
        })
    }
}

/// A family's section as a `model:` mapping with its `kind` (added, or checked if written).
fn section_with_kind(name: &str, section: &Value) -> Result<Value, (String, String)> {
    let mut map = match section {
        Value::Null => serde_yaml::Mapping::new(),
        Value::Mapping(m) => m.clone(),
        other => {
            return Err((
                show_value(other),
                format!("the settings of `{name}` must be a mapping of its model keys"),
            ));
        }
    };
    let kind = Value::String("kind".into());
    match map.get(&kind) {
        None => {
            map.insert(kind, Value::String(name.into()));
        }
        Some(Value::String(k)) if k == name => {}
        Some(other) => {
            return Err((
                show_value(other),
                format!("the settings under `{name}` name another kind"),
            ));
        }
    }
    Ok(Value::Mapping(map))
}
