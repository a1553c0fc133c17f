//! `ddpm` in the registry: DDPM on 28×28 digits with a U-Net or MLP noise predictor (lesson
//! ddpm). It can draw digits from a finished run's weights (`mllab sample`).

use serde_yaml::Value;

use super::{Ddpm, DdpmData, DdpmSpec, Net, sample_weights};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::digits::DigitsSpec;
use crate::data::{DataShape, DataSpec};
use crate::metrics::judge::Judge;
use crate::models::Model;
use crate::models::family::{BuildEnv, Family, SampleFn, read_keys};
use crate::models::memory::{F32, MemoryPlan};

impl Family for DdpmSpec {
    const KIND: &'static str = "ddpm";
    const PANELS: &'static [&'static str] = &["loss", "samples", "reverse", "forward", "schedule"];
    const DATA: DataShape = DataShape::Images;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 5000,
            batch_size: 64,
            optimizer: Optimizer::Adam,
            lr: 1e-3,
            optimizers: &[Optimizer::Adam],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Digits(DigitsSpec::default())
    }

    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan) {
        let (dkey, dvalue) = data.size_key();
        plan.add("the data", &dkey, &dvalue, data.estimated_bytes());
        let batch = train.batch_size as u64;
        let channels = format!("{:?}", self.channels);
        let (size_key, size_value) = match self.net {
            Net::Unet => ("model.channels", channels),
            Net::Mlp => ("model.width", self.width.to_string()),
        };
        // Weights, their gradients, Adam's two moments, the EMA copy, the averaged copy
        // sampling uses, the bytes of a checkpoint.
        plan.add(
            "the weights, gradients and optimizer state",
            size_key,
            &size_value,
            self.parameter_count() * F32 * 7,
        );
        plan.add_shared(
            "the activations a training step keeps",
            "train.batch_size",
            batch,
            size_key,
            batch * self.floats_per_image() * F32,
        );
        if self.attention > 0 {
            plan.add(
                "attention's maps",
                "model.attention",
                self.attention,
                batch * self.attention_floats_per_image() * F32,
            );
        }
        // Sampling runs in batches of 100 (the live grid, the final score).
        let sampling = self.grid.max(self.judge_samples.min(100)) as u64;
        plan.add(
            "a sampling batch",
            size_key,
            &size_value,
            sampling * self.inference_floats_per_image() * F32,
        );
        if self.judge_samples > 0 || self.grid > 0 {
            // Its reference digits in [0, 1], their features, its training batches.
            let test = match data {
                DataSpec::Digits(dg) => dg.test as u64,
                _ => 10_000,
            };
            plan.add(
                "the judge and its reference digits",
                "model.judge_samples",
                self.judge_samples,
                test * 784 * F32 + (8 << 20),
            );
            plan.add(
                "the scored samples",
                "model.judge_samples",
                self.judge_samples,
                self.judge_samples as u64 * 784 * F32 * 2,
            );
        }
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        let set = data.load_images(seed)?;
        let judge = (self.judge_samples > 0 || self.grid > 0).then(|| {
            Judge::for_digits(
                &env.cache_dir,
                &format!("{}-s{seed}", set.key),
                seed,
                &set.train,
                &set.train_labels,
            )
        });
        let data = DdpmData {
            images: set.train,
            real: set.test,
            judge,
        };
        Ok(Box::new(Ddpm::new(self, data, train, seed)))
    }

    fn sampler() -> Option<SampleFn<Self>> {
        Some(sample_weights)
    }
}
