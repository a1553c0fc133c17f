//! `flow` in the registry: RealNVP on a 2-D toy (default) or on digits (`data.source: digits`
//! or `idx`), its memory plan, its build, and `mllab sample` from a finished run's weights.

use std::path::Path;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde_yaml::Value;

use super::{Flow, FlowSpec, PIXELS, build_layers, draw_with, pixels};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{DataShape, DataSpec, ToySpec};
use crate::metrics::judge::Judge;
use crate::models::Model;
use crate::models::family::{BuildEnv, Family, SampleFn, SampleRequest, Samples, read_keys};
use crate::models::memory::{F32, MemoryPlan};
use crate::tensor::ParamStore;

/// Coordinates the flow works on for `data`: 2 for a toy, 784 for digits.
fn dims(data: &DataSpec) -> usize {
    match data {
        DataSpec::Toy(_) => 2,
        _ => PIXELS,
    }
}

impl Family for FlowSpec {
    const KIND: &'static str = "flow";
    const PANELS: &'static [&'static str] = &["loss", "layers", "density", "samples"];
    const DATA: DataShape = DataShape::PointsOrImages;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 3000,
            batch_size: 256,
            optimizer: Optimizer::Adam,
            lr: 0.002,
            optimizers: &[
                Optimizer::Adam,
                Optimizer::Adamw,
                Optimizer::Sgd,
                Optimizer::Momentum,
            ],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Toy(ToySpec::default())
    }

    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan) {
        let d = dims(data);
        let (dkey, dvalue) = data.size_key();
        let mut data_bytes = data.estimated_bytes();
        if d == PIXELS {
            // The images arrive as floats and are kept as one byte a pixel.
            data_bytes += data_bytes / 4;
        }
        plan.add("the data", &dkey, &dvalue, data_bytes);
        let hidden = format!("{:?}", self.hidden);
        // Weights, gradients, Adam's two moments, the bytes of a checkpoint.
        plan.add(
            "the weights, gradients and optimizer state",
            "model.hidden",
            &hidden,
            self.parameter_count(d) * F32 * 5,
        );
        let batch = train.batch_size as u64;
        plan.add_shared(
            "the activations a training step keeps",
            "train.batch_size",
            batch,
            "model.hidden",
            batch * self.floats_per_example(d) * F32,
        );
        if d == 2 {
            // Scoring and picturing run in chunks of 500 rows: the heat map's 4096 cells, the
            // filmstrips of every layer, the points on their way to the screen and the save.
            let chunk = 500 * self.floats_per_example(d) * F32 / 2;
            let frames = (self.couplings as u64 + 1) * (self.samples as u64 + 800) * 2 * F32 * 8;
            plan.add(
                "the live panels",
                "model.samples",
                self.samples,
                chunk + frames + (6 << 20),
            );
        } else {
            let test = match data {
                DataSpec::Digits(dg) => dg.test as u64,
                _ => 2000,
            };
            plan.add(
                "the held-out digits and their logits",
                &dkey,
                &dvalue,
                test.min(super::TEST_DIGITS as u64) * PIXELS as u64 * 8,
            );
            plan.add(
                "a scoring batch",
                "model.hidden",
                &hidden,
                // No tape at inference: a few of the training step's floats per row are alive
                // at once (measured on real MNIST: 114 MB peak in all).
                500 * self.floats_per_example(d) * F32 / 8,
            );
            if self.judge_samples > 0 || self.grid > 0 {
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
    }

    fn build(
        &self,
        data: &DataSpec,
        train: &TrainSpec,
        seed: u64,
        env: &BuildEnv,
    ) -> Result<Box<dyn Model>, String> {
        if let DataSpec::Toy(t) = data {
            let points = data.load_points(seed)?;
            return Ok(Box::new(Flow::on_plane(self, t.toy(), points, train, seed)));
        }
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
        Ok(Box::new(Flow::on_digits(
            self, &set.train, &set.test, judge, train, seed,
        )))
    }

    fn sampler() -> Option<SampleFn<Self>> {
        Some(sample_weights)
    }
}

/// `mllab sample`: `n` fresh samples from the weights a flow run saved, at `--temperature`
/// (else the lesson's): n × 2 points for a run on a toy, n × 28 × 28 digits in [0, 1] else.
pub fn sample_weights(
    spec: &FlowSpec,
    weights: &Path,
    request: &SampleRequest,
) -> Result<Samples, String> {
    if request.sampler.is_some() || request.steps.is_some() || request.eta.is_some() {
        return Err(
            "a flow samples in one pass through its inverse: it takes --temperature, not --sampler, --steps or --eta"
                .into(),
        );
    }
    let temperature = request.temperature.unwrap_or(spec.temperature);
    if !(temperature.is_finite() && temperature > 0.0 && temperature <= 4.0) {
        return Err(format!(
            "--temperature {temperature}: give a value above 0 and at most 4"
        ));
    }
    let file = crate::nn::load(weights).map_err(|e| e.to_string())?;
    let d = file
        .id("layers.0.scale")
        .map(|id| file.get(id).len())
        .ok_or_else(|| format!("{}: not the weights of a flow", weights.display()))?;
    let mut ps = ParamStore::new();
    let layers = build_layers(spec, d, &mut ps, &mut Pcg64Mcg::seed_from_u64(0));
    crate::nn::load_into(&mut ps, weights).map_err(|e| e.to_string())?;
    if let Some(name) = ps.first_nonfinite() {
        return Err(format!(
            "{}: the weights of `{name}` hold NaN or infinite values (the run diverged, or the file is damaged); nothing can be sampled from them. Run the lesson again, with a smaller train.lr",
            weights.display()
        ));
    }
    let mut rng = Pcg64Mcg::seed_from_u64(request.seed);
    let (x, _) = draw_with(&ps, &layers, d, request.n, temperature, &mut rng, false);
    Ok(if d == PIXELS {
        Samples::Array {
            values: pixels::to_pixels(&x),
            shape: vec![request.n, super::SIDE, super::SIDE],
        }
    } else {
        Samples::Array {
            values: x,
            shape: vec![request.n, d],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{digits, plane, small};
    use super::*;
    use crate::data::toys::Toy;

    fn saved(m: &mut Flow) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (name, bytes) = m.artifacts().pop().expect("the weights");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn saved_weights_sample_like_the_flow_that_saved_them_at_any_temperature() {
        let spec = small();
        let mut m = plane(&spec, Toy::Moons, 3);
        for s in 1..=20 {
            m.train_step(s, 3e-3).unwrap();
        }
        let (_dir, path) = saved(&mut m);
        for t in [1.0, 0.5] {
            let request = SampleRequest {
                n: 7,
                seed: 11,
                temperature: Some(t),
                ..SampleRequest::default()
            };
            let got = sample_weights(&spec, &path, &request).unwrap();
            assert_eq!(got.shape(), vec![7, 2]);
            let live = m.draw_flow(7, t, &mut Pcg64Mcg::seed_from_u64(11), false).0;
            assert_eq!(got.values(), live, "temperature {t}");
        }
        let bad = SampleRequest {
            n: 1,
            temperature: Some(0.0),
            ..SampleRequest::default()
        };
        assert!(
            sample_weights(&spec, &path, &bad)
                .unwrap_err()
                .contains("--temperature")
        );
        let ddim = SampleRequest {
            n: 1,
            sampler: Some("ddim".into()),
            ..SampleRequest::default()
        };
        assert!(sample_weights(&spec, &path, &ddim).is_err());
    }

    #[test]
    fn a_digit_save_samples_digits() {
        let spec = small();
        let mut m = digits(&spec, 2);
        m.train_step(1, 1e-3).unwrap();
        let (_dir, path) = saved(&mut m);
        let request = SampleRequest {
            n: 2,
            seed: 1,
            ..SampleRequest::default()
        };
        let got = sample_weights(&spec, &path, &request).unwrap();
        assert_eq!(got.shape(), vec![2, 28, 28]);
        assert!(got.values().iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
