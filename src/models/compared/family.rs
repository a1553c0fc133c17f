//! `generators-compared` in the registry: it trains other families, found through the registry
//! (every kind that draws digits and can be sampled), and keeps each one's weights under its
//! name, so `mllab sample SAVE --part NAME` reads that family's file through that family.

use std::path::Path;

use serde_yaml::Value;

use super::{Compared, ComparedSpec, Part};
use crate::config::parse::Ctx;
use crate::config::spec::{MAX_STEPS, Optimizer, TrainDefaults, TrainSpec};
use crate::data::digits::DigitsSpec;
use crate::data::{DataShape, DataSpec};
use crate::metrics::judge::Judge;
use crate::models::family::{
    BuildEnv, Family, SampleFn, SampleRequest, Samples, WEIGHTS_FILE, read_keys,
};
use crate::models::memory::MemoryPlan;
use crate::models::{Model, kinds_that_draw_digits};

impl ComparedSpec {
    /// The families this lesson may list: the registry's digit generators, less itself.
    pub fn generators() -> Vec<&'static str> {
        kinds_that_draw_digits()
            .into_iter()
            .filter(|k| *k != Self::KIND)
            .collect()
    }

    /// Which family `mllab sample` should read: `--part`, or the only one.
    fn chosen_part(&self, request: &SampleRequest) -> Result<String, String> {
        match &request.part {
            Some(p) if self.families.contains(p) => Ok(p.clone()),
            Some(p) => Err(format!(
                "--part {p}: this run trained {}; choose one of them",
                self.families.join(", ")
            )),
            None if self.families.len() == 1 => Ok(self.families[0].clone()),
            None => Err(format!(
                "this run trained several families; say which with --part ({})",
                self.families.join(", ")
            )),
        }
    }
}

/// `mllab sample` on a comparison: the chosen family draws from its own weights file.
fn sample_part(
    spec: &ComparedSpec,
    weights: &Path,
    request: &SampleRequest,
) -> Result<Samples, String> {
    let name = spec.chosen_part(request)?;
    let inner = spec.part(&name)?;
    let own = SampleRequest {
        part: None,
        ..request.clone()
    };
    inner
        .sample(weights, &own)
        .unwrap_or_else(|| Err(format!("`{name}` cannot draw samples from a save")))
}

impl Family for ComparedSpec {
    const KIND: &'static str = "generators-compared";
    const PANELS: &'static [&'static str] = &["loss", "table", "samples"];
    const DATA: DataShape = DataShape::Images;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx, &Self::generators())
    }

    /// The run ends when the last family's budget is spent, not at a step count; `train.lr`
    /// scales every family's own learning rate (1 keeps them).
    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: MAX_STEPS,
            batch_size: 64,
            optimizer: Optimizer::Adam,
            lr: 1.0,
            optimizers: &[Optimizer::Adam],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Digits(DigitsSpec::default())
    }

    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan) {
        // The judge, its copy of the held-out digits and the scored samples of one family.
        let test = match data {
            DataSpec::Digits(d) => d.test as u64,
            _ => 10_000,
        };
        plan.add(
            "the judge, its reference digits and one family's scored samples",
            "model.judge_samples",
            self.judge_samples,
            test * 784 * 4 + (8 << 20) + self.judge_samples as u64 * 784 * 4 * 3,
        );
        // Every family is built at the start and kept to the end.
        for name in &self.families {
            if let Ok(inner) = self.part(name) {
                let inner_train = self
                    .train_of(name, train.seed)
                    .unwrap_or_else(|_| train.clone());
                plan.absorb(
                    inner.memory(data, &inner_train),
                    "model",
                    &format!("model.settings.{name}"),
                );
            }
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
        let judge = Judge::for_digits(
            &env.cache_dir,
            &format!("{}-s{seed}", set.key),
            seed,
            &set.train,
            &set.train_labels,
        );
        let mut parts = Vec::new();
        for name in &self.families {
            let inner = self.part(name)?;
            let inner_train = self.train_of(name, train.seed)?;
            let model = inner
                .build(data, &inner_train, seed, env)
                .map_err(|e| format!("{name}: {e}"))?;
            parts.push(Part {
                name: name.clone(),
                model,
                lr: inner_train.lr,
                steps: 0,
                seconds: 0.0,
                result: None,
            });
        }
        Ok(Box::new(Compared::new(
            self.clone(),
            parts,
            Some(judge),
            set.test,
            train.lr,
            seed,
        )))
    }

    fn sampler() -> Option<SampleFn<Self>> {
        Some(sample_part)
    }

    fn weights_file(&self, request: &SampleRequest) -> Result<String, String> {
        Ok(format!("{}.{WEIGHTS_FILE}", self.chosen_part(request)?))
    }
}
