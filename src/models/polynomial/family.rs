//! `polynomial-regression` in the registry: polynomials of several degrees, species and ridge
//! side by side (lesson model-selection).

use serde_yaml::Value;

use super::{PolynomialSpec, Polynomials};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{CpSpec, DataShape, DataSpec};
use crate::models::family::{BuildEnv, Family, read_keys};
use crate::models::{MemoryPlan, Model};

impl Family for PolynomialSpec {
    const KIND: &'static str = "polynomial-regression";
    const PANELS: &'static [&'static str] =
        &["loss", "fits", "errors", "bars", "species", "lambda"];
    const DATA: DataShape = DataShape::Regression;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 2000,
            batch_size: 65_536,
            optimizer: Optimizer::Momentum,
            lr: 0.02,
            optimizers: &[Optimizer::Sgd, Optimizer::Momentum, Optimizer::Adam],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Cp(CpSpec::default())
    }

    // Each fit keeps its features, its predictions and the panel's curve points: about 100
    // bytes an example per fit (measured: 1,210 bytes a point for 12 fits).
    fn memory(&self, data: &DataSpec, _train: &TrainSpec, plan: &mut MemoryPlan) {
        let (key, value) = data.size_key();
        let d = data.estimated_bytes();
        plan.add("the data", &key, &value, d);
        let fits = (self.degrees.len() + self.lambdas.len() + 1) as u64;
        plan.add("the fits' design matrices", &key, &value, d * fits * 4);
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        _env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        let (set, species) = data.load_regression(seed)?;
        Ok(Box::new(Polynomials::new(self, set, species, train)))
    }
}
