//! The `Model` the trainer drives: a whole step (`d_steps` steps of D, then one of G), a step
//! of one player alone (the stepping keys), the live metrics, the panels, the summary and the
//! saved weights; and `Generator`, how `generators-compared` sees a digit GAN.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Data, Gan, PIXELS, SUMMARY_POINTS};
use crate::metrics::judge::JudgeScores;
use crate::models::diffusion::two_d::{MMD_BANDWIDTH, mmd};
use crate::models::{
    Finals, Finish, Generator, Metrics, Model, ModelError, StepPart, check_finite, finite,
};
use crate::visual::PanelUpdate;

/// Both players can be stepped alone.
const PARTS: &[StepPart] = &[StepPart::Discriminator, StepPart::Generator];

fn points(x: &[f32]) -> Vec<[f32; 2]> {
    x.chunks_exact(2).map(|c| [c[0], c[1]]).collect()
}

impl Gan {
    /// Judge scores of `n` fresh samples against as many held-out digits; `None` without a
    /// judge or when the learner skips the scoring.
    fn score(&self, n: usize, finish: &mut Finish) -> Result<Option<JudgeScores>, ModelError> {
        let Data::Digits {
            judge: Some(judge),
            real,
            ..
        } = &self.data
        else {
            return Ok(None);
        };
        if n == 0 {
            return Ok(None);
        }
        let what = format!("scoring {n} samples");
        finish.progress(&what, 0, n as u64);
        if finish.cancelled() {
            return Ok(None);
        }
        let x = self.draw_seeded(n, self.seed ^ 0x6A11_0000_0000_0009);
        check_finite("the final samples", &x)?;
        finish.progress(&what, n as u64, n as u64);
        let k = (real.len() / PIXELS).min(n);
        Ok(Some(judge.score(&x, &real[..k * PIXELS])))
    }
}

impl Model for Gan {
    fn generator(&mut self) -> Option<&mut dyn Generator> {
        match self.data {
            Data::Digits { .. } => Some(self),
            Data::Plane { .. } => None,
        }
    }

    fn charts(&self) -> Vec<String> {
        vec!["d_loss".into(), "g_loss".into(), "g_grad_norm".into()]
    }

    fn intro(&mut self) -> Vec<PanelUpdate> {
        self.intro_panels()
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let (mut d_loss, mut d_real, mut d_fake) = (0.0, 0.0, 0.0);
        let k = self.spec.d_steps;
        for _ in 0..k {
            let (l, r, f) = self.step_d(lr);
            d_loss += l / k as f64;
            d_real += r / k as f64;
            d_fake += f / k as f64;
        }
        let (g_loss, norm) = self.step_g(lr);
        Ok(Metrics::from([
            ("d_loss".to_string(), d_loss),
            ("g_loss".to_string(), g_loss),
            ("g_grad_norm".to_string(), norm),
            ("d_real".to_string(), d_real),
            ("d_fake".to_string(), d_fake),
        ]))
    }

    fn step_parts(&self) -> &'static [StepPart] {
        PARTS
    }

    fn train_part(&mut self, part: StepPart, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        Ok(self.part_step(part, lr))
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        self.ps.first_nonfinite().map(str::to_string)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let samples = self.current()?.to_vec();
        let mut m = Metrics::new();
        match &self.data {
            Data::Plane {
                held_out, modes, ..
            } => {
                let p = points(&samples);
                let n = p.len().min(held_out.len());
                m.insert("mmd".into(), mmd(&p[..n], &held_out[..n], MMD_BANDWIDTH));
                let c = modes.coverage(&p);
                m.insert("modes_covered".into(), c.covered as f64);
                m.insert("on_data".into(), c.on_data());
            }
            Data::Digits {
                judge: Some(judge),
                real,
                ..
            } => {
                let k = (real.len() / PIXELS).min(samples.len() / PIXELS);
                let s = judge.score(&samples, &real[..k * PIXELS]);
                m.insert("confident".into(), s.confident);
                m.insert("class_entropy".into(), s.class_entropy);
                m.insert("junk".into(), s.junk);
            }
            Data::Digits { judge: None, .. } => {}
        }
        Ok(m)
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        self.snapshot_panels()
    }

    fn summary(&mut self, finish: &mut Finish) -> Result<Finals, ModelError> {
        let mut s = BTreeMap::new();
        let (d_loss, g_loss) = self.held_out_losses();
        s.insert("d_loss".into(), finite("d_loss", d_loss)?);
        s.insert("g_loss".into(), finite("g_loss", g_loss)?);
        s.insert("train_d_loss".into(), json!(self.last.d_loss));
        s.insert("train_g_loss".into(), json!(self.last.g_loss));
        s.insert("g_grad_norm".into(), json!(self.last.g_grad_norm));
        s.insert("gan_loss".into(), json!(self.spec.loss.name()));
        s.insert("d_steps".into(), json!(self.spec.d_steps));
        s.insert("parameters".into(), json!(self.ps.num_scalars()));
        match &self.data {
            Data::Plane {
                toy,
                held_out,
                modes,
                ..
            } => {
                let x = self.draw_seeded(SUMMARY_POINTS, self.seed ^ 0x6A11_0000_0000_000A);
                check_finite("the final samples", &x)?;
                let p = points(&x);
                let c = modes.coverage(&p);
                s.insert("modes_covered".into(), json!(c.covered));
                s.insert("modes".into(), json!(modes.count()));
                s.insert("on_data".into(), json!(c.on_data()));
                s.insert(
                    "mmd".into(),
                    finite("mmd", mmd(&p, held_out, MMD_BANDWIDTH))?,
                );
                let other = toy
                    .sample(SUMMARY_POINTS, self.seed ^ 0x6A11_0000_0000_000B)
                    .0;
                s.insert(
                    "mmd_data_floor".into(),
                    json!(mmd(&other, held_out, MMD_BANDWIDTH)),
                );
                s.insert("mmd_bandwidth".into(), json!(MMD_BANDWIDTH));
                s.insert("mmd_points".into(), json!(SUMMARY_POINTS));
                s.insert("toy".into(), json!(toy.name()));
            }
            Data::Digits { .. } => {
                if let Some(scores) = self.score(self.spec.judge_samples, finish)? {
                    s.insert("judge_n".into(), json!(scores.n));
                    s.insert("judge_confident".into(), json!(scores.confident));
                    s.insert("judge_class_entropy".into(), json!(scores.class_entropy));
                    s.insert("judge_junk".into(), json!(scores.junk));
                    s.insert("fid_judge".into(), json!(scores.fid));
                    s.insert("class_histogram".into(), json!(scores.histogram));
                    if let Data::Digits {
                        train,
                        real,
                        judge: Some(judge),
                    } = &self.data
                    {
                        // The floor: real training digits against the held-out ones, same n.
                        let n = scores.n.min(real.len() / PIXELS).min(train.len() / PIXELS);
                        let t: Vec<f32> = train[..n * PIXELS]
                            .iter()
                            .map(|v| ((v + 1.0) * 0.5).clamp(0.0, 1.0))
                            .collect();
                        let floor = judge.score(&t, &real[..n * PIXELS]);
                        s.insert("fid_judge_real_floor".into(), json!(floor.fid));
                        s.insert("judge_confident_real".into(), json!(floor.confident));
                    }
                }
            }
        }
        s.insert("seed".into(), json!(self.seed));
        Ok(s)
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        crate::nn::to_bytes(&self.ps, None)
            .map(|b| vec![("weights.safetensors".to_string(), b)])
            .unwrap_or_default()
    }
}

impl Generator for Gan {
    fn draw(&mut self, n: usize, seed: u64) -> Result<Vec<f32>, ModelError> {
        let x = self.draw_seeded(n, seed);
        check_finite("the generated digits", &x)?;
        Ok(x)
    }

    /// A GAN defines no likelihood.
    fn likelihood(&mut self) -> Option<Result<(String, f64, String), ModelError>> {
        None
    }

    /// Both players' weights and biases (the discriminator is trained too).
    fn parameter_count(&self) -> usize {
        self.ps.num_scalars()
    }
}
