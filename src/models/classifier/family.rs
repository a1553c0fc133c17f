//! `generative-classifier` in the registry: Gaussian class models (shared and separate
//! covariance) beside logistic regression (lesson generative-classifier).

use serde_yaml::Value;

use super::{ClassifierSpec, GRID_BYTES, Generative};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{ClassesSpec, DataShape, DataSpec};
use crate::models::family::{BuildEnv, Family, read_keys};
use crate::models::{MemoryPlan, Model};

impl Family for ClassifierSpec {
    const KIND: &'static str = "generative-classifier";
    const PANELS: &'static [&'static str] = &["loss", "classes", "accuracy"];
    const DATA: DataShape = DataShape::TwoClasses;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 2000,
            batch_size: 65_536,
            optimizer: Optimizer::Sgd,
            lr: 0.5,
            optimizers: &[Optimizer::Sgd, Optimizer::Momentum, Optimizer::Adam],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Classes(ClassesSpec::default())
    }

    // The points and their per-class copies (measured: about 120 bytes a point).
    fn memory(&self, data: &DataSpec, _train: &TrainSpec, plan: &mut MemoryPlan) {
        let (key, value) = data.size_key();
        plan.add(
            "the data and its copies",
            &key,
            &value,
            data.estimated_bytes() * 6,
        );
        plan.add("the boundary grid", "", "", GRID_BYTES);
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        _env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        let set = data.load_classes(seed)?;
        Ok(Box::new(Generative::new(self, set, train)))
    }
}
