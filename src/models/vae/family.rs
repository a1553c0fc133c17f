//! `vae` in the registry: a variational autoencoder on 28×28 digits (lesson vae). It can draw
//! digits from a finished run's weights (`mllab sample`).

use serde_yaml::Value;

use super::{PIXELS, Vae, VaeData, VaeSpec, sample_weights};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::digits::DigitsSpec;
use crate::data::{DataShape, DataSpec};
use crate::metrics::judge::Judge;
use crate::models::Model;
use crate::models::family::{BuildEnv, Family, SampleFn, read_keys};
use crate::models::memory::{F32, MemoryPlan};

impl Family for VaeSpec {
    const KIND: &'static str = "vae";
    const PANELS: &'static [&'static str] = &[
        "loss",
        "samples",
        "reconstructions",
        "latent-map",
        "latent-scatter",
    ];
    const DATA: DataShape = DataShape::Images;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 3000,
            batch_size: 128,
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
        let test = match data {
            DataSpec::Digits(dg) => dg.test as u64,
            _ => 2_000,
        };
        let hidden = format!("{:?}", self.hidden);
        // The held-out digits binarised once, beside the grey ones the data holds.
        plan.add(
            "the binarised held-out digits",
            &dkey,
            &dvalue,
            test * PIXELS as u64 * F32,
        );
        // Weights, gradients, Adam's two moments, the bytes of a checkpoint.
        plan.add(
            "the weights, gradients and optimizer state",
            "model.hidden",
            &hidden,
            self.parameter_count() * F32 * 5,
        );
        let batch = train.batch_size as u64;
        plan.add_shared(
            "the activations a training step keeps",
            "train.batch_size",
            batch,
            "model.hidden",
            batch * self.floats_per_image() * F32,
        );
        // Held-out passes run 500 digits at a time, the importance-weighted one 2000 rows.
        let widest = self.hidden.iter().copied().max().unwrap_or(0) as u64;
        let rows = if self.iw_samples > 0 { 2_000 } else { 500 };
        plan.add(
            "a held-out batch",
            "model.iw_samples",
            self.iw_samples,
            rows * (4 * PIXELS as u64 + 2 * widest) * F32,
        );
        if self.judge_samples > 0 || self.grid > 0 {
            plan.add(
                "the judge and its reference digits",
                "model.judge_samples",
                self.judge_samples,
                test * PIXELS as u64 * F32 + (8 << 20),
            );
            plan.add(
                "the scored samples",
                "model.judge_samples",
                self.judge_samples,
                self.judge_samples as u64 * (PIXELS as u64 + widest) * F32 * 3,
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
        let data = VaeData {
            images: set.train,
            test: set.test,
            test_labels: set.test_labels,
            judge,
        };
        Ok(Box::new(Vae::new(self, data, train, seed)))
    }

    fn sampler() -> Option<SampleFn<Self>> {
        Some(sample_weights)
    }
}
