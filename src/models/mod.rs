//! Models: what each lesson trains, behind one trait that the trainer loop drives.
//!
//! Each model family lives in its own folder and implements [`Family`] there (in its
//! `family.rs`): its kind name, spec, panels, default data and training settings, memory plan
//! and `build`. The [`families!`] list below is the only place that names them all; it makes
//! `ModelSpec`, the validated `model:` section with one variant per family, and every
//! question the rest of the program asks of a spec goes through it. A model knows nothing of
//! threads, terminals, saves or file formats: it steps, measures, and describes what to draw.

pub mod classifier;
pub mod compared;
pub mod contract;
pub mod diffusion;
pub mod family;
pub mod flow;
pub mod gan;
pub mod language;
pub mod memory;
pub mod polynomial;
pub mod regression;
pub mod steps;
pub mod vae;

use std::path::Path;

use serde::{Serialize, Serializer};
use serde_yaml::Value;

use crate::config::parse::{Ctx, did_you_mean, show_value};
use crate::config::spec::{TrainDefaults, TrainSpec};
use crate::data::{DataShape, DataSpec};

pub use classifier::ClassifierSpec;
pub use contract::{
    Finals, Finish, Generator, Knob, Metrics, Model, ModelError, StepPart, check_finite, finite,
    summarize,
};
pub use diffusion::ddpm::DdpmSpec;
pub use diffusion::two_d::Diffusion2dSpec;
pub use family::{BuildEnv, Family, SampleRequest, Samples, WEIGHTS_FILE};
pub use flow::FlowSpec;
pub use gan::GanSpec;
pub use language::NextTokenSpec;
pub use memory::MemoryPlan;
pub use polynomial::PolynomialSpec;
pub use regression::LinearRegressionSpec;
pub use vae::VaeSpec;

/// The registry: one line a family, `Variant(spec type)`. It defines [`ModelSpec`] with one
/// variant per family, [`KINDS`], and `ModelSpec`'s methods, each of which asks the family.
macro_rules! families {
    ($($variant:ident($spec:ty)),* $(,)?) => {
        /// The validated `model:` section: one variant per model family.
        #[derive(Clone, Debug, PartialEq)]
        pub enum ModelSpec {
            $(
                #[doc = concat!("The `", stringify!($variant), "` family.")]
                $variant($spec),
            )*
        }

        /// The model kinds a lesson may name, in the registry's order.
        pub const KINDS: &[&str] = &[$(<$spec as Family>::KIND),*];

        /// The kinds whose saves `mllab sample` can draw from.
        pub fn kinds_that_sample() -> Vec<&'static str> {
            let mut kinds = Vec::new();
            $(
                if <$spec as Family>::sampler().is_some() {
                    kinds.push(<$spec as Family>::KIND);
                }
            )*
            kinds
        }

        /// The kinds that draw 28×28 digits and whose saves can be sampled: the generators
        /// `generators-compared` may train.
        pub fn kinds_that_draw_digits() -> Vec<&'static str> {
            let mut kinds = Vec::new();
            $(
                if <$spec as Family>::sampler().is_some()
                    && matches!(<$spec as Family>::DATA, DataShape::Images | DataShape::PointsOrImages)
                {
                    kinds.push(<$spec as Family>::KIND);
                }
            )*
            kinds
        }

        /// The panels the family of `kind` declares, if there is such a kind.
        pub fn panels_of(kind: &str) -> Option<&'static [&'static str]> {
            $(
                if kind == <$spec as Family>::KIND {
                    return Some(<$spec as Family>::PANELS);
                }
            )*
            None
        }

        impl ModelSpec {
            /// The family named `kind` reads the rest of `model:`; `None` if no family has
            /// that name.
            fn parse_kind(ctx: &mut Ctx, kind: &str, rest: &Value) -> Option<Option<ModelSpec>> {
                $(
                    if kind == <$spec as Family>::KIND {
                        return Some(<$spec as Family>::parse(ctx, rest).map(ModelSpec::$variant));
                    }
                )*
                None
            }

            /// The `model.kind` of this spec.
            pub fn kind_name(&self) -> &'static str {
                match self { $(ModelSpec::$variant(_) => <$spec as Family>::KIND),* }
            }

            /// Training settings this kind uses when the lesson leaves them out.
            pub fn train_defaults(&self) -> TrainDefaults {
                match self { $(ModelSpec::$variant(_) => <$spec as Family>::train_defaults()),* }
            }

            /// Panels this kind draws; `loss` (the chart) comes first.
            pub fn panels(&self) -> &'static [&'static str] {
                match self { $(ModelSpec::$variant(_) => <$spec as Family>::PANELS),* }
            }

            /// The data set this kind trains on when the lesson names none.
            pub fn default_data(&self) -> DataSpec {
                match self { $(ModelSpec::$variant(_) => <$spec as Family>::default_data()),* }
            }

            /// What this kind needs from its data.
            pub fn data_shape(&self) -> DataShape {
                match self { $(ModelSpec::$variant(_) => <$spec as Family>::DATA),* }
            }

            /// The memory a run of this model would hold, part by part, planned before
            /// anything is allocated (see [`memory::MemoryPlan`]).
            pub fn memory(&self, data: &DataSpec, train: &TrainSpec) -> MemoryPlan {
                let mut plan = MemoryPlan::new();
                match self { $(ModelSpec::$variant(spec) => spec.memory(data, train, &mut plan)),* }
                plan
            }

            /// Builds the model for a run; this is where data is generated or read and
            /// weights set.
            pub fn build(
                &self,
                data: &DataSpec,
                train: &TrainSpec,
                seed: u64,
                env: &BuildEnv,
            ) -> Result<Box<dyn Model>, String> {
                match self { $(ModelSpec::$variant(spec) => spec.build(data, train, seed, env)),* }
            }

            /// Draws samples from the weights a run of this spec saved; `None` when the
            /// family cannot.
            pub fn sample(
                &self,
                weights: &Path,
                request: &SampleRequest,
            ) -> Option<Result<Samples, String>> {
                match self {
                    $(ModelSpec::$variant(spec) => {
                        <$spec as Family>::sampler().map(|draw| draw(spec, weights, request))
                    })*
                }
            }
        }

        impl ModelSpec {
            /// The file of a save that `mllab sample` reads for `request`.
            pub fn weights_file(&self, request: &SampleRequest) -> Result<String, String> {
                match self { $(ModelSpec::$variant(spec) => spec.weights_file(request)),* }
            }
        }

        impl Serialize for ModelSpec {
            /// As written in a lesson: `kind` first, then the family's keys.
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $(ModelSpec::$variant(spec) => tagged(<$spec as Family>::KIND, spec, s)),* }
            }
        }
    };
}

families! {
    LinearRegression(regression::LinearRegressionSpec),
    PolynomialRegression(polynomial::PolynomialSpec),
    GenerativeClassifier(classifier::ClassifierSpec),
    Diffusion2d(diffusion::two_d::Diffusion2dSpec),
    Ddpm(diffusion::ddpm::DdpmSpec),
    Vae(vae::VaeSpec),
    Flow(flow::FlowSpec),
    Gan(gan::GanSpec),
    GeneratorsCompared(compared::ComparedSpec),
    NextToken(language::NextTokenSpec),
}

/// A family's spec as a mapping with `kind` in front.
fn tagged<T: Serialize, S: Serializer>(kind: &str, spec: &T, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let mut map = serde_yaml::Mapping::new();
    map.insert(Value::String("kind".into()), Value::String(kind.into()));
    match serde_yaml::to_value(spec).map_err(S::Error::custom)? {
        Value::Mapping(fields) => map.extend(fields),
        Value::Null => {}
        other => {
            return Err(S::Error::custom(format!(
                "a {kind} spec is not a mapping: {other:?}"
            )));
        }
    }
    Value::Mapping(map).serialize(s)
}

impl ModelSpec {
    /// Reads `model:`: its `kind`, then that kind's own keys.
    pub fn parse(ctx: &mut Ctx, value: &Value) -> Option<ModelSpec> {
        let Some(map) = value.as_mapping() else {
            ctx.error(
                "model",
                Some(show_value(value)),
                "`model` must be a mapping with a `kind`",
                "write e.g. model: {kind: linear-regression}",
            );
            return None;
        };
        let kind = match map.get(Value::String("kind".into())) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                ctx.error(
                    "model.kind",
                    Some(show_value(other)),
                    "the model kind must be a name",
                    format!("choose one of: {}", KINDS.join(", ")),
                );
                return None;
            }
            None => {
                ctx.error(
                    "model.kind",
                    None,
                    "the key `kind` is missing",
                    format!("choose one of: {}", KINDS.join(", ")),
                );
                return None;
            }
        };
        let mut rest = map.clone();
        rest.remove(Value::String("kind".into()));
        let rest = Value::Mapping(rest);
        match ModelSpec::parse_kind(ctx, &kind, &rest) {
            Some(spec) => spec,
            None => {
                let other = kind.as_str();
                let allowed: Vec<String> = KINDS.iter().map(|s| s.to_string()).collect();
                let hint = match did_you_mean(other, &allowed) {
                    Some(best) => format!("did you mean `{best}`? Kinds: {}", KINDS.join(", ")),
                    None => format!("kinds: {}", KINDS.join(", ")),
                };
                ctx.error(
                    "model.kind",
                    Some(other.to_string()),
                    format!("there is no model kind `{other}`"),
                    hint,
                );
                None
            }
        }
    }
}
