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

    /// Both losses, G's gradient norm (which the minimax loss starves), and how much of the
    /// data the samples cover: modes on the plane, confident digits on digits.
    fn charts(&self) -> Vec<String> {
        let cover = match self.data {
            Data::Plane { .. } => "modes_covered",
            Data::Digits { .. } => "confident",
        };
        vec![
            "d_loss".into(),
            "g_loss".into(),
            "g_grad_norm".into(),
            cover.into(),
        ]
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
                    let floor = match &self.data {
                        Data::Digits {
                            train,
                            real,
                            judge: Some(judge),
                        } => {
                            // The floor: real training digits against the held-out ones, same n.
                            let n = scores.n.min(real.len() / PIXELS).min(train.len() / PIXELS);
                            let t: Vec<f32> = train[..n * PIXELS]
                                .iter()
                                .map(|v| ((v + 1.0) * 0.5).clamp(0.0, 1.0))
                                .collect();
                            Some(judge.score(&t, &real[..n * PIXELS]))
                        }
                        _ => None,
                    };
                    scores.insert_into(floor.as_ref(), &mut s);
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{digits, plane};
    use super::super::{GanLoss, GanSpec};
    use super::*;
    use crate::data::toys::Toy;
    use crate::models::summarize;
    use crate::tensor::ParamStore;

    fn small() -> GanSpec {
        GanSpec {
            generator: Some(vec![64, 64]),
            discriminator: Some(vec![64, 64]),
            samples: 400,
            ..GanSpec::default()
        }
    }

    /// Every parameter's values, by name.
    fn values(ps: &ParamStore) -> Vec<(String, Vec<f32>)> {
        ps.iter()
            .map(|(_, p)| (p.name.clone(), p.value.iter().copied().collect()))
            .collect()
    }

    /// Names of the parameters that differ between two snapshots.
    fn changed(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> Vec<String> {
        a.iter()
            .zip(b)
            .filter(|(x, y)| x.1 != y.1)
            .map(|(x, _)| x.0.clone())
            .collect()
    }

    #[test]
    fn stepping_one_player_alone_changes_only_that_players_weights() {
        let mut m = plane(Toy::EightGaussians, &small(), 1);
        m.train_step(1, 1e-3).unwrap();
        let before = values(&m.ps);
        let d = m.train_part(StepPart::Discriminator, 2, 1e-3).unwrap();
        let after_d = values(&m.ps);
        let moved = changed(&before, &after_d);
        assert!(
            !moved.is_empty() && moved.iter().all(|n| n.starts_with("disc.")),
            "{moved:?}"
        );
        assert!(
            d.contains_key("d_loss") && !d.contains_key("g_loss"),
            "{d:?}"
        );
        let g = m.train_part(StepPart::Generator, 3, 1e-3).unwrap();
        let moved = changed(&after_d, &values(&m.ps));
        assert!(
            !moved.is_empty() && moved.iter().all(|n| n.starts_with("gen.")),
            "{moved:?}"
        );
        assert!(
            g.contains_key("g_grad_norm") && !g.contains_key("d_loss"),
            "{g:?}"
        );
        // A whole step moves both.
        let before = values(&m.ps);
        m.train_step(4, 1e-3).unwrap();
        let moved = changed(&before, &values(&m.ps));
        assert!(moved.iter().any(|n| n.starts_with("gen.")));
        assert!(moved.iter().any(|n| n.starts_with("disc.")));
        assert_eq!(m.step_parts(), PARTS);
    }

    #[test]
    fn with_d_ahead_the_minimax_generator_gets_a_fraction_of_the_non_saturating_gradient() {
        let norm = |loss| {
            let spec = GanSpec { loss, ..small() };
            let mut m = plane(Toy::EightGaussians, &spec, 2);
            // D alone for a while: it learns to reject G's untrained points.
            for s in 1..=150 {
                m.train_part(StepPart::Discriminator, s, 2e-3).unwrap();
            }
            m.train_part(StepPart::Generator, 151, 2e-3).unwrap()["g_grad_norm"]
        };
        let (minimax, non_saturating) = (norm(GanLoss::Minimax), norm(GanLoss::NonSaturating));
        assert!(
            minimax < 0.2 * non_saturating,
            "minimax {minimax} vs non-saturating {non_saturating}"
        );
    }

    #[test]
    fn training_spreads_the_samples_over_the_eight_gaussians() {
        let mut m = plane(Toy::EightGaussians, &small(), 3);
        let before = m.evaluate().unwrap();
        for s in 1..=1500 {
            m.train_step(s, 1e-3).unwrap();
        }
        let after = m.evaluate().unwrap();
        assert!(
            after["mmd"] < 0.6 * before["mmd"],
            "mmd {} → {}",
            before["mmd"],
            after["mmd"]
        );
        assert!(
            after["modes_covered"] >= 6.0,
            "{} → {} modes",
            before["modes_covered"],
            after["modes_covered"]
        );
        let s = summarize(&mut m).unwrap();
        assert_eq!(s["modes"], json!(8));
        for key in ["d_loss", "g_loss", "mmd", "mmd_data_floor", "on_data"] {
            assert!(s[key].as_f64().is_some_and(f64::is_finite), "{key}: {s:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_game() {
        let run = |seed| {
            let mut m = plane(Toy::Moons, &small(), seed);
            (1..=5)
                .map(|s| m.train_step(s, 1e-3).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));
    }

    #[test]
    fn snapshots_draw_the_declared_panels_on_the_plane_and_on_digits() {
        let mut m = plane(Toy::Checkerboard, &small(), 0);
        let mut updates = m.intro();
        updates.extend(m.snapshot().unwrap());
        let panels: Vec<&str> = updates.iter().map(|u| u.panel.as_str()).collect();
        for p in ["samples", "critic", "modes"] {
            assert!(panels.contains(&p), "{p} missing from {panels:?}");
        }
        let bars = updates.iter().find(|u| u.panel == "modes").unwrap();
        assert!(
            matches!(&bars.visual, crate::visual::Visual::Bars(b) if b.bars.len() == 9),
            "8 squares and `off`"
        );
        assert!(m.generator().is_none(), "points are not digits");
        let spec = GanSpec {
            generator: Some(vec![32]),
            discriminator: Some(vec![32]),
            grid: 4,
            ..GanSpec::default()
        };
        let mut d = digits(&spec);
        d.train_step(1, 2e-4).unwrap();
        let shown = d.snapshot().unwrap();
        let panels: Vec<&str> = shown.iter().map(|u| u.panel.as_str()).collect();
        assert_eq!(
            panels,
            vec!["samples", "critic"],
            "no judge, no class histogram"
        );
        let g = d.generator().expect("a digit GAN is a generator");
        let x = g.draw(3, 7).unwrap();
        assert_eq!(x.len(), 3 * PIXELS);
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(g.draw(3, 7).unwrap(), x, "the same seed, the same digits");
        assert!(g.likelihood().is_none());
        assert_eq!(
            g.parameter_count() as u64,
            spec.widths(super::super::Space::Digits).parameters()
        );
    }
}
