//! `linear-regression` in the registry: y = b + w·x by gradient descent (lesson regression-gd).

use serde_yaml::Value;

use super::{LinearRegression, LinearRegressionSpec, SURFACE_BYTES};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{CpSpec, DataShape, DataSpec};
use crate::models::family::{BuildEnv, Family, read_keys};
use crate::models::{MemoryPlan, Model};

impl Family for LinearRegressionSpec {
    const KIND: &'static str = "linear-regression";
    const PANELS: &'static [&'static str] = &["loss", "fit", "surface"];
    const DATA: DataShape = DataShape::Regression;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 3000,
            batch_size: 65_536,
            optimizer: Optimizer::Adagrad,
            lr: 10.0,
            optimizers: &[Optimizer::Sgd, Optimizer::Adagrad],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Cp(CpSpec::default())
    }

    // The points and one working copy (measured: about 30 bytes a point; the fit panel shows
    // at most `visual::MAX_SHOWN_POINTS` of them).
    fn memory(&self, data: &DataSpec, _train: &TrainSpec, plan: &mut MemoryPlan) {
        let (key, value) = data.size_key();
        plan.add("the data", &key, &value, data.estimated_bytes() * 5 / 4);
        plan.add("the loss surface", "", "", SURFACE_BYTES);
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        _env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        let (set, _) = data.load_regression(seed)?;
        Ok(Box::new(LinearRegression::new(self, set, train, seed)))
    }
}
