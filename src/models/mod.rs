//! Models: what each lesson trains, behind one trait that the trainer loop drives.
//!
//! `ModelSpec` is the validated `model:` section of a lesson (one variant per kind, each with
//! documented defaults); `build` turns it into a `Model`. A model knows nothing of threads,
//! terminals or files: it steps, measures, and describes what to draw.

pub mod classifier;
pub mod contract;
pub mod diffusion;
pub mod memory;
pub mod polynomial;
pub mod regression;
pub mod steps;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::config::parse::{Ctx, did_you_mean, show_value};
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{ClassesSpec, CpSpec, DataShape, DataSpec, ToySpec};

pub use classifier::ClassifierSpec;
pub use contract::{Finals, Finish, Metrics, Model, ModelError, check_finite, finite, summarize};
pub use diffusion::ddpm::DdpmSpec;
pub use diffusion::two_d::Diffusion2dSpec;
pub use memory::MemoryPlan;
pub use polynomial::PolynomialSpec;
pub use regression::LinearRegressionSpec;

/// The data key whose size drives the data's memory, with its value.
fn data_size_key(data: &DataSpec) -> (String, String) {
    match data {
        DataSpec::Cp(c) if c.train >= c.test => ("data.train".into(), c.train.to_string()),
        DataSpec::Cp(c) => ("data.test".into(), c.test.to_string()),
        DataSpec::Classes(c) => ("data.train".into(), format!("{:?}", c.train)),
        DataSpec::Csv(c) => ("data.path".into(), c.path.display().to_string()),
        DataSpec::Toy(t) => ("data.n".into(), t.n.to_string()),
        DataSpec::Digits(d) if d.train >= d.test => ("data.train".into(), d.train.to_string()),
        DataSpec::Digits(d) => ("data.test".into(), d.test.to_string()),
        DataSpec::Idx(i) => ("data.images".into(), i.images.display().to_string()),
    }
}

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

/// The validated `model:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelSpec {
    /// y = b + w·x fitted by gradient descent (lesson regression-gd).
    LinearRegression(LinearRegressionSpec),
    /// Polynomials of several degrees, species, and ridge, side by side (lesson model-selection).
    PolynomialRegression(PolynomialSpec),
    /// Gaussian class models (shared and separate covariance) beside logistic regression
    /// (lesson generative-classifier).
    GenerativeClassifier(ClassifierSpec),
    /// DDPM on a 2-D toy: forward noising and reverse frames as point clouds (lesson
    /// diffusion-2d).
    #[serde(rename = "diffusion-2d")]
    Diffusion2d(Diffusion2dSpec),
    /// DDPM on 28×28 digits with a U-Net or MLP noise predictor (lesson ddpm).
    Ddpm(DdpmSpec),
}

/// The model kinds a lesson may name.
pub const KINDS: &[&str] = &[
    "linear-regression",
    "polynomial-regression",
    "generative-classifier",
    "diffusion-2d",
    "ddpm",
];

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
        match kind.as_str() {
            "ddpm" => Some(ModelSpec::Ddpm(
                ctx.typed_with::<DdpmSpec>("model", &rest, &["kind"])?
                    .check(ctx)?,
            )),
            "diffusion-2d" => Some(ModelSpec::Diffusion2d(
                ctx.typed_with::<Diffusion2dSpec>("model", &rest, &["kind"])?
                    .check(ctx)?,
            )),
            "generative-classifier" => Some(ModelSpec::GenerativeClassifier(
                ctx.typed_with::<ClassifierSpec>("model", &rest, &["kind"])?
                    .check(ctx)?,
            )),
            "polynomial-regression" => Some(ModelSpec::PolynomialRegression(
                ctx.typed_with::<PolynomialSpec>("model", &rest, &["kind"])?
                    .check(ctx)?,
            )),
            "linear-regression" => Some(ModelSpec::LinearRegression(
                ctx.typed_with::<LinearRegressionSpec>("model", &rest, &["kind"])?
                    .check(ctx)?,
            )),
            other => {
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

    pub fn kind_name(&self) -> &'static str {
        match self {
            ModelSpec::LinearRegression(_) => "linear-regression",
            ModelSpec::PolynomialRegression(_) => "polynomial-regression",
            ModelSpec::GenerativeClassifier(_) => "generative-classifier",
            ModelSpec::Diffusion2d(_) => "diffusion-2d",
            ModelSpec::Ddpm(_) => "ddpm",
        }
    }

    /// Training settings this kind uses when the lesson leaves them out.
    pub fn train_defaults(&self) -> TrainDefaults {
        match self {
            ModelSpec::LinearRegression(_) => TrainDefaults {
                steps: 3000,
                batch_size: 65_536,
                optimizer: Optimizer::Adagrad,
                lr: 10.0,
                optimizers: &[Optimizer::Sgd, Optimizer::Adagrad],
            },
            ModelSpec::PolynomialRegression(_) => TrainDefaults {
                steps: 2000,
                batch_size: 65_536,
                optimizer: Optimizer::Momentum,
                lr: 0.02,
                optimizers: &[Optimizer::Sgd, Optimizer::Momentum, Optimizer::Adam],
            },
            ModelSpec::GenerativeClassifier(_) => TrainDefaults {
                steps: 2000,
                batch_size: 65_536,
                optimizer: Optimizer::Sgd,
                lr: 0.5,
                optimizers: &[Optimizer::Sgd, Optimizer::Momentum, Optimizer::Adam],
            },
            ModelSpec::Ddpm(_) => TrainDefaults {
                steps: 5000,
                batch_size: 64,
                optimizer: Optimizer::Adam,
                lr: 1e-3,
                optimizers: &[Optimizer::Adam],
            },
            ModelSpec::Diffusion2d(_) => TrainDefaults {
                steps: 4000,
                batch_size: 1024,
                optimizer: Optimizer::Adam,
                lr: 0.002,
                optimizers: &[
                    Optimizer::Sgd,
                    Optimizer::Momentum,
                    Optimizer::Adam,
                    Optimizer::Adamw,
                ],
            },
        }
    }

    /// Panels this kind can draw; `loss` (the chart) is common to all.
    pub fn panels(&self) -> &'static [&'static str] {
        match self {
            ModelSpec::LinearRegression(_) => &["loss", "fit", "surface"],
            ModelSpec::PolynomialRegression(_) => {
                &["loss", "fits", "errors", "bars", "species", "lambda"]
            }
            ModelSpec::GenerativeClassifier(_) => &["loss", "classes", "accuracy"],
            ModelSpec::Diffusion2d(_) => &["loss", "forward", "reverse", "samples", "schedule"],
            ModelSpec::Ddpm(_) => &["loss", "samples", "reverse", "forward", "schedule"],
        }
    }

    /// The data set this kind trains on when the lesson names none.
    pub fn default_data(&self) -> DataSpec {
        match self {
            ModelSpec::LinearRegression(_) | ModelSpec::PolynomialRegression(_) => {
                DataSpec::Cp(CpSpec::default())
            }
            ModelSpec::GenerativeClassifier(_) => DataSpec::Classes(ClassesSpec::default()),
            ModelSpec::Diffusion2d(_) => DataSpec::Toy(ToySpec::default()),
            ModelSpec::Ddpm(_) => DataSpec::Digits(crate::data::digits::DigitsSpec::default()),
        }
    }

    /// What this kind needs from its data.
    pub fn data_shape(&self) -> DataShape {
        match self {
            ModelSpec::LinearRegression(_) | ModelSpec::PolynomialRegression(_) => {
                DataShape::Regression
            }
            ModelSpec::GenerativeClassifier(_) => DataShape::TwoClasses,
            ModelSpec::Diffusion2d(_) => DataShape::Points2d,
            ModelSpec::Ddpm(_) => DataShape::Images,
        }
    }

    pub fn accepts_data(&self, data: &DataSpec) -> bool {
        matches!(
            (self.data_shape(), data),
            (DataShape::Regression, DataSpec::Cp(_) | DataSpec::Csv(_))
                | (
                    DataShape::TwoClasses,
                    DataSpec::Classes(_) | DataSpec::Csv(_)
                )
                | (DataShape::Points2d, DataSpec::Toy(_))
                | (DataShape::Images, DataSpec::Digits(_) | DataSpec::Idx(_))
        )
    }

    /// The memory a run of this model would hold, part by part, planned before anything is
    /// allocated (see [`memory::MemoryPlan`]).
    pub fn memory(&self, data: &DataSpec, train: &TrainSpec) -> MemoryPlan {
        let mut plan = MemoryPlan::new();
        let (dkey, dvalue) = data_size_key(data);
        let d = data.estimated_bytes();
        let batch = train.batch_size as u64;
        match self {
            // The points and one working copy (measured: about 30 bytes a point; the fit panel
            // shows at most `visual::MAX_SHOWN_POINTS` of them).
            ModelSpec::LinearRegression(_) => {
                plan.add("the data", &dkey, &dvalue, d * 5 / 4);
                plan.add("the loss surface", "", "", regression::SURFACE_BYTES);
            }
            // Each fit keeps its features, its predictions and the panel's curve points:
            // about 100 bytes an example per fit (measured: 1,210 bytes a point for 12 fits).
            ModelSpec::PolynomialRegression(p) => {
                plan.add("the data", &dkey, &dvalue, d);
                let fits = (p.degrees.len() + p.lambdas.len() + 1) as u64;
                plan.add("the fits' design matrices", &dkey, &dvalue, d * fits * 4);
            }
            // The points and their per-class copies (measured: about 120 bytes a point).
            ModelSpec::GenerativeClassifier(_) => {
                plan.add("the data and its copies", &dkey, &dvalue, d * 6);
                plan.add("the boundary grid", "", "", classifier::GRID_BYTES);
            }
            ModelSpec::Diffusion2d(m) => {
                plan.add("the data", &dkey, &dvalue, d);
                m.plan_memory(train.batch_size, &mut plan);
            }
            ModelSpec::Ddpm(m) => {
                plan.add("the data", &dkey, &dvalue, d);
                let channels = format!("{:?}", m.channels);
                let (size_key, size_value) = match m.net {
                    diffusion::ddpm::Net::Unet => ("model.channels", channels),
                    diffusion::ddpm::Net::Mlp => ("model.width", m.width.to_string()),
                };
                // Weights, their gradients, Adam's two moments, the EMA copy, the averaged
                // copy sampling uses, the bytes of a checkpoint.
                plan.add(
                    "the weights, gradients and optimizer state",
                    size_key,
                    &size_value,
                    m.parameter_count() * memory::F32 * 7,
                );
                plan.add_shared(
                    "the activations a training step keeps",
                    "train.batch_size",
                    batch,
                    size_key,
                    batch * m.floats_per_image() * memory::F32,
                );
                if m.attention > 0 {
                    plan.add(
                        "attention's maps",
                        "model.attention",
                        m.attention,
                        batch * m.attention_floats_per_image() * memory::F32,
                    );
                }
                // Sampling runs in batches of 100 (the live grid, the final score).
                let sampling = m.grid.max(m.judge_samples.min(100)) as u64;
                plan.add(
                    "a sampling batch",
                    size_key,
                    &size_value,
                    sampling * m.inference_floats_per_image() * memory::F32,
                );
                if m.judge_samples > 0 || m.grid > 0 {
                    // Its reference digits in [0, 1], their features, its training batches.
                    let test = match data {
                        DataSpec::Digits(dg) => dg.test as u64,
                        _ => 10_000,
                    };
                    plan.add(
                        "the judge and its reference digits",
                        "model.judge_samples",
                        m.judge_samples,
                        test * 784 * memory::F32 + (8 << 20),
                    );
                    plan.add(
                        "the scored samples",
                        "model.judge_samples",
                        m.judge_samples,
                        m.judge_samples as u64 * 784 * memory::F32 * 2,
                    );
                }
            }
        }
        plan
    }

    /// Builds the model for a run; this is where data is generated or read and weights set.
    pub fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        match self {
            ModelSpec::LinearRegression(spec) => {
                let (set, _) = data.load_regression(seed)?;
                Ok(Box::new(regression::LinearRegression::new(
                    spec, set, train, seed,
                )))
            }
            ModelSpec::PolynomialRegression(spec) => {
                let (set, species) = data.load_regression(seed)?;
                Ok(Box::new(polynomial::Polynomials::new(
                    spec, set, species, train,
                )))
            }
            ModelSpec::GenerativeClassifier(spec) => {
                let set = data.load_classes(seed)?;
                Ok(Box::new(classifier::Generative::new(spec, set, train)))
            }
            ModelSpec::Ddpm(spec) => {
                let set = data.load_images(seed)?;
                let judge = (spec.judge_samples > 0 || spec.grid > 0).then(|| {
                    crate::metrics::judge::Judge::for_digits(
                        &env.cache_dir,
                        &format!("{}-s{seed}", set.key),
                        seed,
                        &set.train,
                        &set.train_labels,
                    )
                });
                let data = diffusion::ddpm::DdpmData {
                    images: set.train,
                    real: set.test,
                    judge,
                };
                Ok(Box::new(diffusion::ddpm::Ddpm::new(
                    spec, data, train, seed,
                )))
            }
            ModelSpec::Diffusion2d(spec) => {
                let points = data.load_points(seed)?;
                let toy = match data {
                    DataSpec::Toy(t) => t.toy(),
                    _ => return Err("diffusion-2d trains on `source: toy` data".into()),
                };
                Ok(Box::new(diffusion::two_d::Diffusion2d::new(
                    spec, toy, points, train, seed,
                )))
            }
        }
    }
}
