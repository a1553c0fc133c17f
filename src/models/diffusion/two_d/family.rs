//! `diffusion-2d` in the registry: DDPM on a 2-D toy, forward noising and reverse frames as
//! point clouds (lesson diffusion-2d).

use serde_yaml::Value;

use super::{Diffusion2d, Diffusion2dSpec};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{DataShape, DataSpec, ToySpec};
use crate::models::family::{BuildEnv, Family, read_keys};
use crate::models::{MemoryPlan, Model};

impl Family for Diffusion2dSpec {
    const KIND: &'static str = "diffusion-2d";
    const PANELS: &'static [&'static str] = &["loss", "forward", "reverse", "samples", "schedule"];
    const DATA: DataShape = DataShape::Points2d;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
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
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Toy(ToySpec::default())
    }

    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan) {
        let (key, value) = data.size_key();
        plan.add("the data", &key, &value, data.estimated_bytes());
        self.plan_memory(train.batch_size, plan);
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        _env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        let points = data.load_points(seed)?;
        let toy = match data {
            DataSpec::Toy(t) => t.toy(),
            _ => return Err("diffusion-2d trains on `source: toy` data".into()),
        };
        Ok(Box::new(Diffusion2d::new(self, toy, points, train, seed)))
    }
}
