//! `gan` in the registry: a GAN on a 2-D toy (the default) or on digits (when the lesson names
//! a digits source), its memory plan, and `mllab sample` from a finished run's weights.

use std::path::Path;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde_yaml::Value;

use super::{DigitData, Gan, GanData, GanSpec, Nets, PlaneData, SIDE, Space};
use crate::config::parse::Ctx;
use crate::config::spec::{Optimizer, TrainDefaults, TrainSpec};
use crate::data::{DataShape, DataSpec, ToySpec};
use crate::metrics::judge::Judge;
use crate::models::Model;
use crate::models::family::{BuildEnv, Family, SampleFn, SampleRequest, Samples, read_keys};
use crate::models::memory::{F32, MemoryPlan};
use crate::tensor::{ParamStore, randn};

/// The toy a GAN lesson trains on when it names none: eight separate modes, where a
/// collapsing generator is easy to see and to count.
pub const DEFAULT_TOY: &str = "eight-gaussians";

fn space_of(data: &DataSpec) -> Space {
    match data {
        DataSpec::Toy(_) => Space::Plane,
        _ => Space::Digits,
    }
}

impl Family for GanSpec {
    const KIND: &'static str = "gan";
    const PANELS: &'static [&'static str] = &["loss", "samples", "critic", "modes"];
    const DATA: DataShape = DataShape::PointsOrImages;

    fn parse(ctx: &mut Ctx, rest: &Value) -> Option<Self> {
        read_keys::<Self>(ctx, rest)?.check(ctx)
    }

    fn train_defaults() -> TrainDefaults {
        TrainDefaults {
            steps: 5000,
            batch_size: 128,
            optimizer: Optimizer::Adam,
            lr: 2e-4,
            optimizers: &[Optimizer::Adam],
        }
    }

    fn default_data() -> DataSpec {
        DataSpec::Toy(ToySpec {
            name: DEFAULT_TOY.into(),
            ..ToySpec::default()
        })
    }

    fn memory(&self, data: &DataSpec, train: &TrainSpec, plan: &mut MemoryPlan) {
        let (dkey, dvalue) = data.size_key();
        let space = space_of(data);
        // Digits are read in [0, 1] and kept in [−1, 1]: two copies at once while building.
        let copies = if space == Space::Digits { 2 } else { 1 };
        plan.add("the data", &dkey, &dvalue, data.estimated_bytes() * copies);
        let w = self.widths(space);
        let (size_key, size_value) = match (&self.generator, &self.discriminator) {
            (_, Some(d)) => ("model.discriminator", format!("{d:?}")),
            (Some(g), None) => ("model.generator", format!("{g:?}")),
            (None, None) => ("model.discriminator", format!("{:?}", w.discriminator)),
        };
        // Weights, their gradients, Adam's two moments, the bytes of a checkpoint.
        plan.add(
            "the weights, gradients and optimizer state",
            size_key,
            &size_value,
            w.parameters() * F32 * 5,
        );
        // The activations a step keeps: G's layers, D's layers twice (real and fake) with
        // their gradients, and the batches themselves.
        let g_width: u64 = w.generator.iter().map(|&v| v as u64).sum();
        let d_width: u64 = w.discriminator.iter().map(|&v| v as u64).sum();
        let batch = train.batch_size as u64;
        plan.add_shared(
            "the activations a training step keeps",
            "train.batch_size",
            batch,
            size_key,
            batch * (g_width + 2 * d_width) * F32 * 3,
        );
        match space {
            Space::Plane => {
                // Shown points, D's heat map, and their text on the way to the screen and the
                // save (measured: about 20 MB, and 1 kB more per point shown).
                plan.add(
                    "the live panels",
                    "model.samples",
                    self.samples,
                    (20 << 20) + self.samples as u64 * 1024,
                );
            }
            Space::Digits => {
                let test = match data {
                    DataSpec::Digits(d) => d.test as u64,
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
                    (self.judge_samples.max(super::HISTOGRAM_SAMPLES) as u64) * 784 * F32 * 3,
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
        let data = match data {
            DataSpec::Toy(t) => GanData::Plane(PlaneData {
                toy: t.toy(),
                points: t.load(seed),
            }),
            other => {
                let set = other.load_images(seed)?;
                let judge = (self.judge_samples > 0 || self.grid > 0).then(|| {
                    Judge::for_digits(
                        &env.cache_dir,
                        &format!("{}-s{seed}", set.key),
                        seed,
                        &set.train,
                        &set.train_labels,
                    )
                });
                GanData::Digits(DigitData {
                    images: set.train,
                    real: set.test,
                    judge,
                })
            }
        };
        Ok(Box::new(Gan::new(self, data, train, seed)))
    }

    fn sampler() -> Option<SampleFn<Self>> {
        Some(sample_weights)
    }
}

/// The generator of a save, with its weights: the run trained on the plane or on digits, and
/// the weights say which (G's last layer is 2 or 784 wide).
pub fn load_generator(spec: &GanSpec, weights: &Path) -> Result<(ParamStore, Nets, Space), String> {
    let mut last_error = String::new();
    for space in [Space::Plane, Space::Digits] {
        let mut ps = ParamStore::new();
        let nets = Nets::new(
            &mut ps,
            &spec.widths(space),
            spec.leak as f32,
            space == Space::Digits,
            &mut Pcg64Mcg::seed_from_u64(0),
        );
        match crate::nn::load_into(&mut ps, weights) {
            Ok(()) => {
                if let Some(name) = ps.first_nonfinite() {
                    return Err(format!(
                        "{}: the weights of `{name}` hold NaN or infinite values (the run diverged, or the file is damaged); nothing can be sampled from them. Run the lesson again, with a smaller train.lr",
                        weights.display()
                    ));
                }
                return Ok((ps, nets, space));
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(last_error)
}

/// `mllab sample`: `n` fresh samples from a GAN save: n × 2 points, or n × 28 × 28 digits in
/// [0, 1]. `--temperature T` scales the noise z (below 1: samples nearer G's most typical
/// output). Other sampler options mean nothing to a GAN and are refused.
pub fn sample_weights(
    spec: &GanSpec,
    weights: &Path,
    request: &SampleRequest,
) -> Result<Samples, String> {
    if let Some(s) = &request.sampler {
        return Err(format!(
            "--sampler {s}: a GAN draws in one pass of its generator; leave --sampler out"
        ));
    }
    if request.steps.is_some() || request.eta.is_some() {
        return Err(
            "--steps and --eta are diffusion options; a GAN draws in one pass of its generator"
                .into(),
        );
    }
    if let Some(p) = &request.part {
        return Err(format!(
            "--part {p}: a GAN save holds one generator; leave --part out"
        ));
    }
    let t = request.temperature.unwrap_or(1.0);
    if !(t.is_finite() && t > 0.0 && t <= 10.0) {
        return Err(format!(
            "--temperature {t}: give a value above 0 and at most 10"
        ));
    }
    let (ps, nets, space) = load_generator(spec, weights)?;
    let n = request.n;
    let mut rng = Pcg64Mcg::seed_from_u64(request.seed);
    let z = randn(&[n, nets.z_dim], &mut rng).mapv(|v| v * t as f32);
    let out = nets.generate(&ps, &z);
    Ok(match space {
        Space::Plane => Samples::Array {
            values: out.iter().copied().collect(),
            shape: vec![n, 2],
        },
        Space::Digits => Samples::Array {
            values: out
                .iter()
                .map(|v| ((v + 1.0) * 0.5).clamp(0.0, 1.0))
                .collect(),
            shape: vec![n, SIDE, SIDE],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::PIXELS;
    use super::*;
    use crate::data::toys::Toy;

    #[test]
    fn saved_weights_sample_points_like_the_model_that_saved_them() {
        let mut m = super::super::fixtures::plane(Toy::EightGaussians, &GanSpec::default(), 1);
        for s in 1..=3 {
            m.train_step(s, 1e-3).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let (name, bytes) = m.artifacts().pop().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let request = SampleRequest {
            n: 5,
            seed: 4,
            ..SampleRequest::default()
        };
        let s = sample_weights(&GanSpec::default(), &path, &request).unwrap();
        assert_eq!(s.shape(), vec![5, 2]);
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        let z = randn(&[5, m.widths.z_dim], &mut rng);
        let live: Vec<f32> = m.nets.generate(&m.ps, &z).iter().copied().collect();
        assert_eq!(s.values(), live);
        let bad = SampleRequest {
            steps: Some(3),
            ..request
        };
        assert!(sample_weights(&GanSpec::default(), &path, &bad).is_err());
    }

    #[test]
    fn a_digit_save_samples_images_in_the_unit_range() {
        let spec = GanSpec {
            generator: Some(vec![16]),
            discriminator: Some(vec![16]),
            z_dim: Some(4),
            ..GanSpec::default()
        };
        let mut m = super::super::fixtures::digits(&spec);
        m.train_step(1, 2e-4).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (name, bytes) = m.artifacts().pop().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let request = SampleRequest {
            n: 3,
            seed: 1,
            ..SampleRequest::default()
        };
        let s = sample_weights(&spec, &path, &request).unwrap();
        assert_eq!(s.shape(), vec![3, 28, 28]);
        assert_eq!(s.values().len(), 3 * PIXELS);
        assert!(s.values().iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
