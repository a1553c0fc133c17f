//! `next-token` in the registry: a character-level language model (lesson next-token) on the
//! built-in corpus or any UTF-8 file. It writes text from a finished run's weights
//! (`mllab sample --prompt`).

use serde_yaml::Value;

use super::{Arch, NextToken, NextTokenSpec, VAL_CHUNK, sample_weights};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::text::CorpusSpec;
use crate::data::{DataShape, DataSpec};
use crate::models::Model;
use crate::models::family::{BuildEnv, Family, SampleFn, read_keys};
use crate::models::memory::{F32, MemoryPlan};

/// The vocabulary the memory plan assumes before the text is read.
const PLANNED_VOCAB: usize = 1024;

impl Family for NextTokenSpec {
    const KIND: &'static str = "next-token";
    const PANELS: &'static [&'static str] = &["loss", "samples", "next"];
    const DATA: DataShape = DataShape::Text;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 2000,
            batch_size: 32,
            optimizer: Optimizer::Adam,
            lr: 3e-3,
            optimizers: &[Optimizer::Adam],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Corpus(CorpusSpec::default())
    }

    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan) {
        let (dkey, dvalue) = data.size_key();
        plan.add("the text", &dkey, &dvalue, data.estimated_bytes());
        let v = match data {
            DataSpec::Corpus(_) => 200,
            _ => PLANNED_VOCAB,
        };
        plan.add(
            "the weights, gradients and optimizer state",
            "model.width",
            self.width.to_string(),
            self.parameter_count(v) * F32 * 5,
        );
        // The MLP predicts one character a window, the others every character of it.
        let per_window = match self.arch {
            Arch::Mlp => 1,
            _ => self.context as u64,
        };
        let window_bytes = per_window * self.floats_per_position(v) * F32;
        let batch = train.batch_size as u64;
        plan.add_shared(
            "the activations a training step keeps",
            "train.batch_size",
            batch,
            "model.context",
            batch * window_bytes,
        );
        // The held-out windows are measured after a step's tape is freed: only what they
        // take beyond a training batch adds to the peak.
        let val = VAL_CHUNK as u64 * window_bytes;
        plan.add(
            "the held-out windows measured at once, beyond a training batch",
            "model.context",
            self.context,
            val.saturating_sub(batch * window_bytes),
        );
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        _env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        let text = data.load_text(seed)?;
        Ok(Box::new(NextToken::new(self, text, train, seed)?))
    }

    fn sampler() -> Option<SampleFn<Self>> {
        Some(sample_weights)
    }
}
