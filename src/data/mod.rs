//! Data sets the lessons train on: what a lesson's `data:` says, and the generators behind it.
//!
//! Every generator is deterministic given its seed, so a run replays and verifies exactly.

pub mod classes;
pub mod cp;
pub mod csv;
pub mod digits;
pub mod export;
pub mod idx;
pub mod text;
pub mod toys;
pub mod toyset;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::config::parse::Ctx;

pub use classes::{ClassSet, ClassesSpec, Labelled};
pub use cp::{CpSet, CpSpec};
pub use csv::{CsvError, CsvSpec};
pub use toyset::ToySpec;

use std::path::Path;

/// `data:` validated: which data set, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DataSpec {
    /// Combat power before and after evolution, generated (the lecture's regression example).
    Cp(CpSpec),
    /// Two classes of 2-D features, generated (the lecture's classification example).
    Classes(ClassesSpec),
    /// The learner's own CSV file.
    Csv(CsvSpec),
    /// A 2-D toy distribution (swiss roll, moons, …), generated.
    Toy(ToySpec),
    /// Handwritten-looking 28×28 digits, generated (no download needed).
    Digits(digits::DigitsSpec),
    /// Images and labels from IDX files: MNIST, Fashion-MNIST, KMNIST, EMNIST.
    Idx(idx::IdxSpec),
    /// The learner's own UTF-8 text file (language lessons).
    Text(text::TextSpec),
    /// Sentences about a small village in English or Chinese, generated (language lessons).
    Corpus(text::CorpusSpec),
}

/// What a model needs from its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataShape {
    /// x, y and a species.
    Regression,
    /// Two features and one of two labels.
    TwoClasses,
    /// Unlabelled points in the plane (for generative models).
    Points2d,
    /// 28×28 grayscale images with class labels.
    Images,
    /// Either: points in the plane by default, digits when the lesson names a digits source
    /// (`flow`, `gan`).
    PointsOrImages,
    /// Characters of a text.
    Text,
}

impl DataShape {
    /// Whether data from `spec`'s source has this shape.
    pub fn accepts(self, spec: &DataSpec) -> bool {
        matches!(
            (self, spec),
            (DataShape::Regression, DataSpec::Cp(_) | DataSpec::Csv(_))
                | (
                    DataShape::TwoClasses,
                    DataSpec::Classes(_) | DataSpec::Csv(_)
                )
                | (DataShape::Points2d, DataSpec::Toy(_))
                | (DataShape::Images, DataSpec::Digits(_) | DataSpec::Idx(_))
                | (
                    DataShape::PointsOrImages,
                    DataSpec::Toy(_) | DataSpec::Digits(_) | DataSpec::Idx(_)
                )
                | (DataShape::Text, DataSpec::Text(_) | DataSpec::Corpus(_))
        )
    }
}

/// Images for a digit model: training and held-out, each with labels, pixels in [0, 1].
pub struct ImageSet {
    pub train: Vec<f32>,
    pub train_labels: Vec<u8>,
    pub test: Vec<f32>,
    pub test_labels: Vec<u8>,
    /// Identifies the data for caches: same key, same images.
    pub key: String,
}

impl DataSpec {
    pub fn source_name(&self) -> &'static str {
        match self {
            DataSpec::Cp(_) => "cp",
            DataSpec::Classes(_) => "classes",
            DataSpec::Csv(_) => "csv",
            DataSpec::Toy(_) => "toy",
            DataSpec::Digits(_) => "digits",
            DataSpec::Idx(_) => "idx",
            DataSpec::Text(_) => "text",
            DataSpec::Corpus(_) => "corpus",
        }
    }

    /// Reads or generates the images of a digit model.
    pub fn load_images(&self, seed: u64) -> Result<ImageSet, String> {
        match self {
            DataSpec::Digits(d) => {
                let s = d.seed.unwrap_or(seed);
                let (train, train_labels) = digits::generate(d.train, s);
                // The held-out digits come from another stream of the same generator.
                let (test, test_labels) = digits::generate(d.test, s ^ 0x7E57_0000_0000_0001);
                Ok(ImageSet {
                    train,
                    train_labels,
                    test,
                    test_labels,
                    key: format!("digits-{}-s{s}", d.train),
                })
            }
            DataSpec::Idx(spec) => spec.load(),
            other => Err(format!(
                "a digit model cannot train on `{}` data",
                other.source_name()
            )),
        }
    }

    /// Reads the data a regression model trains on, with its species names.
    pub fn load_regression(&self, seed: u64) -> Result<(CpSet, Vec<String>), String> {
        match self {
            DataSpec::Cp(c) => Ok((
                CpSet::generate(c, seed),
                cp::SPECIES.iter().map(|s| s.0.to_string()).collect(),
            )),
            DataSpec::Csv(c) => csv::read_regression(&c.path).map_err(|e| e.to_string()),
            DataSpec::Classes(_) => Err("a regression model cannot train on two-class data".into()),
            other => Err(format!(
                "a regression model cannot train on `{}` data",
                other.source_name()
            )),
        }
    }

    /// Reads the data a two-class model trains on.
    pub fn load_classes(&self, seed: u64) -> Result<ClassSet, String> {
        match self {
            DataSpec::Classes(c) => Ok(ClassSet::generate(c, seed)),
            DataSpec::Csv(c) => csv::read_classes(&c.path).map_err(|e| e.to_string()),
            DataSpec::Cp(_) => Err("a classifier cannot train on regression data".into()),
            other => Err(format!(
                "a classifier cannot train on `{}` data",
                other.source_name()
            )),
        }
    }

    /// Reads or writes the text a language model trains on.
    pub fn load_text(&self, seed: u64) -> Result<text::TextSet, String> {
        match self {
            DataSpec::Text(t) => {
                let body = text::read_text(&t.path).map_err(|e| e.to_string())?;
                Ok(text::TextSet::split(
                    &body,
                    t.val_fraction,
                    t.path.display().to_string(),
                ))
            }
            DataSpec::Corpus(c) => {
                let body = text::corpus::generate(c.language, c.chars, c.seed.unwrap_or(seed));
                Ok(text::TextSet::split(&body, c.val_fraction, c.name()))
            }
            other => Err(format!(
                "a language model cannot train on `{}` data",
                other.source_name()
            )),
        }
    }

    /// Reads the unlabelled 2-D points a generative model trains on.
    pub fn load_points(&self, seed: u64) -> Result<Vec<[f32; 2]>, String> {
        match self {
            DataSpec::Toy(t) => Ok(t.load(seed)),
            _ => Err(format!(
                "`{}` data are not 2-D toy points",
                self.source_name()
            )),
        }
    }

    /// Reads a CSV file now, so that `mllab check` and the browser report its problems with
    /// line and column before a run starts. Generated data sets need no check.
    pub fn check_file(&self, shape: DataShape) -> Result<(), CsvError> {
        match (self, shape) {
            (DataSpec::Csv(c), DataShape::Regression) => csv::read_regression(&c.path).map(|_| ()),
            (DataSpec::Csv(c), DataShape::TwoClasses) => csv::read_classes(&c.path).map(|_| ()),
            (DataSpec::Text(t), _) => text::read_text(&t.path).map(|_| ()).map_err(|e| CsvError {
                file: e.file,
                line: e.line,
                column: None,
                message: e.message,
            }),
            _ => Ok(()),
        }
    }

    /// Reads `data:` for a model that trains on `shape` (absent means the model's `default`
    /// data set; so does a missing `source`).
    pub fn parse(
        ctx: &mut Ctx,
        value: Option<&Value>,
        default: DataSpec,
        shape: DataShape,
        lesson_dir: &Path,
    ) -> Option<DataSpec> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Some(default);
        };
        let Some(map) = value.as_mapping() else {
            ctx.error(
                "data",
                Some(crate::config::parse::show_value(value)),
                "`data` must be a mapping with a `source`",
                "write e.g. data: {source: cp}",
            );
            return None;
        };
        let source = match map.get(Value::String("source".into())) {
            None => default.source_name().to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                ctx.error(
                    "data.source",
                    Some(crate::config::parse::show_value(other)),
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
            "classes" => DataSpec::Classes(
                ctx.typed_with::<ClassesSpec>("data", &rest, &["source"])?
                    .check(ctx)?,
            ),
            "toy" => DataSpec::Toy(
                ctx.typed_with::<ToySpec>("data", &rest, &["source"])?
                    .check(ctx)?,
            ),
            "digits" => DataSpec::Digits(
                ctx.typed_with::<digits::DigitsSpec>("data", &rest, &["source"])?
                    .check(ctx)?,
            ),
            "idx" => {
                let mut spec = ctx.typed_with::<idx::IdxSpec>("data", &rest, &["source"])?;
                for (key, path) in [
                    ("data.images", &mut spec.images),
                    ("data.labels", &mut spec.labels),
                ] {
                    if path.is_relative() {
                        *path = lesson_dir.join(&*path);
                    }
                    if !path.is_file() {
                        ctx.error(key, Some(path.display().to_string()), "there is no such file", "give the IDX file's path (raw or .gz), absolute or relative to the lesson file");
                        return None;
                    }
                }
                if spec.first == Some(0) {
                    ctx.error(
                        "data.first",
                        Some("0".into()),
                        "`first` keeps the first N records; 0 keeps none",
                        "remove it, or give a number such as 8000",
                    );
                    return None;
                }
                DataSpec::Idx(spec)
            }
            "corpus" => DataSpec::Corpus(
                ctx.typed_with::<text::CorpusSpec>("data", &rest, &["source"])?
                    .check(ctx)?,
            ),
            "text" => {
                let mut spec = ctx.typed_with::<text::TextSpec>("data", &rest, &["source"])?;
                if spec.path.is_relative() {
                    spec.path = lesson_dir.join(&spec.path);
                }
                if !spec.path.is_file() {
                    ctx.error(
                        "data.path",
                        Some(spec.path.display().to_string()),
                        "there is no such file",
                        "give a UTF-8 text file's path, absolute or relative to the lesson file",
                    );
                    return None;
                }
                DataSpec::Text(spec.check(ctx)?)
            }
            "csv" => {
                let mut spec = ctx.typed_with::<CsvSpec>("data", &rest, &["source"])?;
                // A relative path is relative to the lesson file, wherever mllab was started.
                if spec.path.is_relative() {
                    spec.path = lesson_dir.join(&spec.path);
                }
                if !spec.path.is_file() {
                    ctx.error(
                        "data.path",
                        Some(spec.path.display().to_string()),
                        "there is no such file",
                        "give the CSV file's path, absolute or relative to the lesson file",
                    );
                    return None;
                }
                DataSpec::Csv(spec)
            }
            other => {
                let allowed: Vec<String> = [
                    "cp", "classes", "csv", "toy", "digits", "idx", "text", "corpus",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                let hint = match crate::config::parse::did_you_mean(other, &allowed) {
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
        if !shape.accepts(&spec) {
            ctx.error(
                "data.source",
                Some(source.clone()),
                format!("this model cannot train on `{source}` data"),
                format!("use source: {}", default.source_name()),
            );
            return None;
        }
        Some(spec)
    }

    /// The key whose size drives the data's memory, with its value (for the memory plan's
    /// messages).
    pub fn size_key(&self) -> (String, String) {
        match self {
            DataSpec::Cp(c) if c.train >= c.test => ("data.train".into(), c.train.to_string()),
            DataSpec::Cp(c) => ("data.test".into(), c.test.to_string()),
            DataSpec::Classes(c) => ("data.train".into(), format!("{:?}", c.train)),
            DataSpec::Csv(c) => ("data.path".into(), c.path.display().to_string()),
            DataSpec::Toy(t) => ("data.n".into(), t.n.to_string()),
            DataSpec::Digits(d) if d.train >= d.test => ("data.train".into(), d.train.to_string()),
            DataSpec::Digits(d) => ("data.test".into(), d.test.to_string()),
            DataSpec::Idx(i) => ("data.images".into(), i.images.display().to_string()),
            DataSpec::Text(t) => ("data.path".into(), t.path.display().to_string()),
            DataSpec::Corpus(c) => ("data.chars".into(), c.chars.to_string()),
        }
    }

    /// Bytes the data set will take in memory (an estimate made before generating it).
    pub fn estimated_bytes(&self) -> u64 {
        match self {
            DataSpec::Cp(c) => (c.train as u64 + c.test as u64) * 24,
            DataSpec::Classes(c) => {
                (c.train.iter().sum::<usize>() + c.test.iter().sum::<usize>()) as u64 * 24
            }
            // Parsed numbers take about as much room as their text, a few times over.
            DataSpec::Csv(c) => std::fs::metadata(&c.path).map_or(0, |m| m.len() * 8),
            // Two f32 and a label per point, generated as f64 pairs on the way.
            DataSpec::Toy(t) => t.n as u64 * 24,
            // Four bytes a pixel, training and held-out images.
            DataSpec::Digits(d) => (d.train + d.test) as u64 * 784 * 4,
            DataSpec::Idx(i) => {
                let file = std::fs::metadata(&i.images).map_or(0, |m| m.len());
                // A gzip file of digits unpacks to about 5 times its size; floats are 4 bytes.
                let records = (file * 5 / 784).min(i.first.map_or(u64::MAX, |f| f as u64));
                records * 784 * 4
            }
            // The text, its chars and their ids.
            DataSpec::Text(t) => std::fs::metadata(&t.path).map_or(0, |m| m.len() * 10),
            DataSpec::Corpus(c) => c.chars as u64 * 16,
        }
    }
}
