//! What a model family is to the rest of the program: one trait, implemented by each family's
//! spec in its own folder (`<family>/family.rs`), and one list in `models/mod.rs`
//! ([`families!`](super::families)) that names them all. Nothing outside that list matches on
//! a kind.
//!
//! A family declares its `model.kind` name, its panels, the data it trains on, its default
//! training settings, how much memory it will take, and how to build the model; it may also
//! draw samples from a finished run's weights (`mllab sample`).

use std::fmt::Debug;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::contract::Model;
use super::memory::MemoryPlan;
use crate::config::parse::Ctx;
use crate::config::spec::{TrainDefaults, TrainSpec};
use crate::data::{DataShape, DataSpec};

/// Where a model may keep things between runs (the judge's cache).
#[derive(Clone, Debug)]
pub struct BuildEnv {
    /// A folder for caches (the TUI and headless runs pass `saves/.cache/`).
    pub cache_dir: std::path::PathBuf,
}

impl Default for BuildEnv {
    fn default() -> Self {
        BuildEnv {
            cache_dir: std::env::temp_dir().join("mllab").join(".cache"),
        }
    }
}

/// What `mllab sample` asks of a family: how many, with which seed, and the sampler options
/// the learner gave (each family reads the ones it knows and refuses the rest).
#[derive(Clone, Debug, Default)]
pub struct SampleRequest {
    pub n: usize,
    pub seed: u64,
    /// `--sampler NAME`.
    pub sampler: Option<String>,
    /// `--steps N`: sampling steps.
    pub steps: Option<usize>,
    /// `--eta E`: DDIM's noise.
    pub eta: Option<f64>,
    /// `--temperature T`: how far from the prior's centre samples are drawn (flow, VAE).
    pub temperature: Option<f64>,
    /// `--part NAME`: which family's weights, in a save that holds several
    /// (`generators-compared`).
    pub part: Option<String>,
    /// `--prompt TEXT`: what generated text starts from (next-token).
    pub prompt: Option<String>,
    /// `--top-k K`: sample among the K likeliest tokens, 0 for all (next-token).
    pub top_k: Option<usize>,
    /// `--chars N`: characters to generate per sample (next-token).
    pub chars: Option<usize>,
}

/// Samples drawn by a family: numbers (`values` laid out row-major in `shape`; for digits,
/// n × 28 × 28 in [0, 1]), or text, one string a sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    Array { values: Vec<f32>, shape: Vec<usize> },
    Text(Vec<String>),
}

impl Samples {
    /// The numbers of an array (none for text).
    pub fn values(&self) -> &[f32] {
        match self {
            Samples::Array { values, .. } => values,
            Samples::Text(_) => &[],
        }
    }

    /// The shape of an array (empty for text).
    pub fn shape(&self) -> &[usize] {
        match self {
            Samples::Array { shape, .. } => shape,
            Samples::Text(_) => &[],
        }
    }
}

/// Reads the keys of a `model:` section into a family's spec with serde (unknown keys get a
/// "did you mean"); the family then checks the values.
pub fn read_keys<T: DeserializeOwned>(ctx: &mut Ctx, rest: &Value) -> Option<T> {
    ctx.typed_with::<T>("model", rest, &["kind"])
}

/// The weights file a run that can be sampled from leaves in its save.
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Draws samples from the weights file a finished run of `spec` saved.
pub type SampleFn<Spec> = fn(&Spec, &Path, &SampleRequest) -> Result<Samples, String>;

/// One model family: its spec is the validated `model:` section of a lesson.
pub trait Family: Clone + Debug + PartialEq + Serialize + DeserializeOwned + 'static {
    /// The `model.kind` a lesson names it by.
    const KIND: &'static str;
    /// The panels it draws, `loss` first; it emits no other.
    const PANELS: &'static [&'static str];
    /// What it needs from its data.
    const DATA: DataShape;

    /// Reads the `model:` section (without `kind`): unknown keys, wrong types and values out of
    /// range are reported to `ctx` at their file, line and key; `None` says there were some.
    /// Usually `read_keys(ctx, rest)?.check(ctx)`.
    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self>;

    /// Training settings it uses when the lesson leaves them out.
    fn train_defaults() -> TrainDefaults;

    /// The data set it trains on when the lesson names none.
    fn default_data() -> DataSpec;

    /// Adds the memory a run will hold to `plan`, part by part, before anything is allocated;
    /// each part names the key that drives it.
    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan);

    /// Builds the model for a run: data is generated or read here and weights are set.
    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String>;

    /// `mllab sample`: draws fresh samples from a finished run's weights. Families that
    /// cannot return `None` (the default), and `mllab sample` says which can.
    fn sampler() -> Option<SampleFn<Self>> {
        None
    }

    /// The file in a save that `mllab sample` reads for `request`: [`WEIGHTS_FILE`] unless the
    /// family keeps several (then `--part` says which).
    fn weights_file(&self, request: &SampleRequest) -> Result<String, String> {
        match &request.part {
            None => Ok(WEIGHTS_FILE.to_string()),
            Some(p) if p == Self::KIND => Ok(WEIGHTS_FILE.to_string()),
            Some(p) => Err(format!(
                "--part {p}: this run trained one family, `{}`; --part is for saves that trained several (generators-compared)",
                Self::KIND
            )),
        }
    }
}
