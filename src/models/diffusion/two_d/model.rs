//! The `Model` the trainer drives: Algorithm 1 (one training step on noised data and its ε
//! loss, also measured on a fixed held-out set), the live metrics, the panel updates of the
//! intro and each snapshot, the run's summary and the saved weights.

use std::collections::BTreeMap;

use rand::RngExt;
use serde_json::json;

use super::panels::round3;
use super::quality::{MMD_BANDWIDTH, SUMMARY_POINTS};
use super::{Diffusion2d, gauss};
use crate::models::{Finals, Finish, Metrics, Model, ModelError};
use crate::tensor::{Graph, tensor};
use crate::visual::{Color, Figure, Layer, PanelUpdate, Visual};

/// Gradient norm above which a step is scaled down.
const CLIP_NORM: f32 = 1.0;

impl Diffusion2d {
    /// Mean ε-MSE of the current weights on points `x0` noised to times `t` with noise `eps`.
    fn eps_loss(&self, x0: &[f32], t: &[usize], eps: &[f32]) -> f64 {
        let xt = self.noised(x0, t, eps);
        let g = Graph::no_grad(&self.ps);
        let out = self.net.forward(&g, &xt, t);
        let pred = out.value();
        pred.iter()
            .zip(eps)
            .map(|(p, e)| ((p - e) as f64).powi(2))
            .sum::<f64>()
            / eps.len().max(1) as f64
    }

    /// xₜ for each row.
    fn noised(&self, x0: &[f32], t: &[usize], eps: &[f32]) -> Vec<f32> {
        let mut xt = vec![0.0f32; x0.len()];
        for (i, &ti) in t.iter().enumerate() {
            let r = 2 * i..2 * i + 2;
            self.schedule
                .q_sample(&x0[r.clone()], &eps[r.clone()], ti, &mut xt[r]);
        }
        xt
    }

    pub fn eval_loss(&self) -> f64 {
        let (x0, t, eps) = &self.eval_set;
        self.eps_loss(x0, t, eps)
    }
}

impl Model for Diffusion2d {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into(), "eval_loss".into(), "mmd".into()]
    }

    fn intro(&mut self) -> Vec<PanelUpdate> {
        let (x_range, y_range) = self.plane();
        let n = self.spec.samples.min(self.held_out.len());
        let data = Figure {
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            x_range,
            y_range,
            layers: vec![Layer::Points {
                label: format!("data ({})", self.toy.name()),
                color: Color::Gray,
                points: self.held_out[..n]
                    .iter()
                    .map(|p| [round3(p[0] as f64), round3(p[1] as f64)])
                    .collect(),
            }],
        };
        vec![
            PanelUpdate {
                panel: "forward".into(),
                part: "frames".into(),
                visual: Visual::Figure(self.strip(
                    &self.forward_frames(),
                    Color::Yellow,
                    "x₀ → x_T",
                )),
            },
            PanelUpdate {
                panel: "samples".into(),
                part: "data".into(),
                visual: Visual::Figure(data),
            },
            PanelUpdate {
                panel: "schedule".into(),
                part: "main".into(),
                visual: Visual::Figure(self.schedule_figure()),
            },
        ]
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let batch = self.batches.next_batch();
        let b = batch.len();
        let big_t = self.schedule.steps();
        let x0: Vec<f32> = batch.iter().flat_map(|&i| self.data[i]).collect();
        let t: Vec<usize> = (0..b).map(|_| self.rng.random_range(1..=big_t)).collect();
        let eps: Vec<f32> = (0..2 * b).map(|_| gauss(&mut self.rng)).collect();
        let xt = self.noised(&x0, &t, &eps);
        let (loss, mut grads) = {
            let g = Graph::new(&self.ps);
            let pred = self.net.forward(&g, &xt, &t);
            let target = g.input(tensor(&[b, 2], &eps));
            let l = g.mse(&pred, &target);
            (l.item() as f64, g.backward(&l))
        };
        grads.clip_norm(CLIP_NORM);
        self.opt.set_lr(lr as f32);
        self.opt.step(&mut self.ps, &grads);
        if let Some(e) = self.ema.as_mut() {
            e.update(&self.ps);
        }
        self.steps += 1;
        self.last_loss = loss;
        Ok(Metrics::from([("loss".to_string(), loss)]))
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        self.ps.first_nonfinite().map(str::to_string)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let eval = self.eval_loss();
        let score = self.current()?.2;
        Ok(Metrics::from([
            ("eval_loss".to_string(), eval),
            ("mmd".to_string(), score),
        ]))
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        let (x_range, y_range) = self.plane();
        let (steps_now, score) = {
            let c = self.current()?;
            (c.0, c.2)
        };
        let rev = &self.cached.as_ref().expect("filled by current()").1;
        let mut updates = Vec::new();
        // x_T never changes (same seed), so it is sent once, before the first step; the other
        // frames are drawn over it in their own cells.
        if steps_now == 0 {
            updates.push(PanelUpdate {
                panel: "reverse".into(),
                part: "x_T".into(),
                visual: Visual::Figure(self.strip(&rev.frames[..1], Color::Cyan, "x_T → x₀")),
            });
        }
        let mut rest = self.strip(&rev.frames, Color::Cyan, "x_T → x₀");
        // Drop frame 0's three layers (x_T), already drawn.
        rest.layers.drain(..3);
        updates.push(PanelUpdate {
            panel: "reverse".into(),
            part: "frames".into(),
            visual: Visual::Figure(rest),
        });
        updates.push(PanelUpdate {
            panel: "samples".into(),
            part: "samples".into(),
            visual: Visual::Figure(Figure {
                x_label: "x₁".into(),
                y_label: "x₂".into(),
                x_range,
                y_range,
                layers: vec![Layer::Points {
                    label: format!("samples (MMD {score:.3})"),
                    color: Color::Cyan,
                    points: rev
                        .last()
                        .iter()
                        .map(|p| [round3(p[0] as f64), round3(p[1] as f64)])
                        .collect(),
                }],
            }),
        });
        Ok(updates)
    }

    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        let (floor, noise) = self.reference_mmds(SUMMARY_POINTS);
        let score = self.final_mmd()?;
        let mut out = BTreeMap::new();
        out.insert("mmd".to_string(), json!(score));
        out.insert("mmd_data_floor".to_string(), json!(floor));
        out.insert("mmd_noise".to_string(), json!(noise));
        out.insert("mmd_bandwidth".to_string(), json!(MMD_BANDWIDTH));
        out.insert("mmd_points".to_string(), json!(SUMMARY_POINTS));
        out.insert("loss".to_string(), json!(self.eval_loss()));
        out.insert("train_loss".to_string(), json!(self.last_loss));
        out.insert("toy".to_string(), json!(self.toy.name()));
        out.insert("sampler".to_string(), json!(self.spec.sampler.name()));
        out.insert(
            "sample_steps".to_string(),
            json!(self.spec.steps_to_sample()),
        );
        out.insert("timesteps".to_string(), json!(self.spec.timesteps));
        out.insert("schedule".to_string(), json!(self.spec.schedule));
        out.insert("params".to_string(), json!(self.ps.num_scalars()));
        Ok(out)
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        let ps = self.sampling_weights();
        crate::nn::to_bytes(&ps, None)
            .map(|b| vec![("weights.safetensors".to_string(), b)])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{model, small, train};
    use super::*;
    use crate::data::toys::Toy;

    #[test]
    fn the_noise_prediction_loss_falls() {
        let mut m = model(&small(), Toy::Moons, 1);
        let before = m.eval_loss();
        train(&mut m, 400);
        let after = m.eval_loss();
        // The zeroed output layer predicts no noise at first: the loss is E‖ε‖²/2 ≈ 1.
        assert!((before - 1.0).abs() < 0.1, "starts at {before}");
        assert!(after < 0.75 * before, "{before} → {after}");
    }

    #[test]
    fn snapshots_draw_every_panel_and_more_than_two_hundred_points_per_cloud() {
        let mut m = model(&small(), Toy::Checkerboard, 0);
        let mut updates = m.intro();
        updates.extend(m.snapshot().unwrap());
        let panels: Vec<&str> = updates.iter().map(|u| u.panel.as_str()).collect();
        for p in ["forward", "reverse", "samples", "schedule"] {
            assert!(panels.contains(&p), "{p} missing from {panels:?}");
        }
        let Some(Visual::Figure(f)) = updates
            .iter()
            .find(|u| u.panel == "samples" && u.part == "samples")
            .map(|u| &u.visual)
        else {
            panic!("no samples figure");
        };
        assert!(matches!(&f.layers[0], Layer::Points { points, .. } if points.len() > 200));
        // Once trained a step, x_T is not sent again.
        m.train_step(1, 0.003).unwrap();
        assert!(m.snapshot().unwrap().iter().all(|u| u.part != "x_T"));
    }
}
