//! `generators-compared` (lesson 10): the four families of image generators — VAE, flow, GAN,
//! diffusion — trained one after the other on the same digits, each for the same time, then
//! judged the same way. Each family is its own lesson's model, built through the registry with
//! its own defaults; this model only takes turns, keeps time and fills the table.
//!
//! The table has, per family: FID(judge), confident share and class entropy of the same number
//! of samples; the likelihood where the family defines one (the VAE's bound, the flow's exact
//! value; "—" for the GAN and DDPM); training time and steps; the time to draw 100 digits; the
//! parameter count. Each family's weights are kept in the save under its name, so `mllab
//! sample SAVE --part vae` draws from it.

pub mod family;
pub mod spec;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

pub use spec::ComparedSpec;

use crate::metrics::judge::{Judge, JudgeScores};
use crate::models::{Finals, Finish, Metrics, Model, ModelError, finite};
use crate::visual::{Image, PanelUpdate, Table, Visual};

const PIXELS: usize = 784;
const SIDE: usize = 28;

/// One family's turn.
pub struct Part {
    pub name: String,
    pub model: Box<dyn Model>,
    /// Its own default learning rate (the learner's lr changes scale it).
    pub lr: f64,
    pub steps: u64,
    /// Seconds spent in its training steps.
    pub seconds: f64,
    pub result: Option<Row>,
}

/// A finished family's line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub scores: Option<JudgeScores>,
    /// (what, value, unit) where the family defines a likelihood.
    pub likelihood: Option<(String, f64, String)>,
    pub sample_100_seconds: f64,
    pub parameters: usize,
    pub grid: Vec<f32>,
    /// Scored before its budget was spent (the run was stopped).
    pub cut_short: bool,
}

/// The comparison as it runs.
pub struct Compared {
    spec: ComparedSpec,
    parts: Vec<Part>,
    current: usize,
    judge: Option<Judge>,
    /// Held-out real digits in [0, 1].
    real: Vec<f32>,
    /// The lesson's own learning rate: the trainer's lr over this is the learner's scale.
    base_lr: f64,
    seed: u64,
}

impl Compared {
    pub fn new(
        spec: ComparedSpec,
        parts: Vec<Part>,
        judge: Option<Judge>,
        real: Vec<f32>,
        base_lr: f64,
        seed: u64,
    ) -> Compared {
        Compared {
            spec,
            parts,
            current: 0,
            judge,
            real,
            base_lr,
            seed,
        }
    }

    fn budget_spent(&self, p: &Part) -> bool {
        p.seconds >= self.spec.budget_seconds
            || (self.spec.budget_steps > 0 && p.steps >= self.spec.budget_steps)
    }

    /// Draws, times and scores the family at `i`; `cut_short` when its budget was not spent.
    fn judge_part(&mut self, i: usize, cut_short: bool) -> Result<(), ModelError> {
        let n = self.spec.judge_samples;
        let grid_n = self.spec.grid;
        let seed = self.seed ^ 0x6E4_C0A9 ^ (i as u64) << 32;
        let part = &mut self.parts[i];
        let name = part.name.clone();
        let in_family = |e| of_family(&name, e);
        let Some(generator) = part.model.generator() else {
            return Err(ModelError::Failed(format!(
                "`{name}` cannot draw digits, so it cannot be compared"
            )));
        };
        let t0 = Instant::now();
        let first = generator.draw(100, seed).map_err(in_family)?;
        let sample_100_seconds = t0.elapsed().as_secs_f64();
        let mut samples = first;
        if n > 100 {
            samples.extend(generator.draw(n - 100, seed ^ 1).map_err(in_family)?);
        }
        samples.truncate(n * PIXELS);
        let likelihood = generator.likelihood().transpose().map_err(in_family)?;
        let parameters = generator.parameter_count();
        let real_n = (self.real.len() / PIXELS).min(n);
        let scores = self
            .judge
            .as_ref()
            .map(|j| j.score(&samples, &self.real[..real_n * PIXELS]));
        let grid = samples[..grid_n.min(samples.len() / PIXELS) * PIXELS].to_vec();
        self.parts[i].result = Some(Row {
            scores,
            likelihood,
            sample_100_seconds,
            parameters,
            grid,
            cut_short,
        });
        Ok(())
    }

    fn table(&self) -> Table {
        let header = [
            "family",
            "FID(judge)",
            "confident",
            "class entropy",
            "likelihood",
            "train s",
            "steps",
            "100 samples s",
            "parameters",
        ]
        .map(String::from)
        .to_vec();
        let rows = self
            .parts
            .iter()
            .map(|p| match &p.result {
                None => vec![
                    p.name.clone(),
                    if self.parts[self.current.min(self.parts.len() - 1)].name == p.name
                        && p.steps > 0
                    {
                        "training…".into()
                    } else {
                        "waiting".into()
                    },
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{:.0}", p.seconds),
                    p.steps.to_string(),
                    String::new(),
                    String::new(),
                ],
                Some(r) => {
                    let (fid, conf, ent) = match &r.scores {
                        Some(s) => (
                            format!("{:.1}", s.fid),
                            format!("{:.0}%", s.confident * 100.0),
                            format!("{:.2}", s.class_entropy),
                        ),
                        None => ("—".into(), "—".into(), "—".into()),
                    };
                    let like = match &r.likelihood {
                        Some((_, v, unit)) => format!("{v:.3} {unit}"),
                        None => "—".into(),
                    };
                    vec![
                        format!(
                            "{}{}",
                            p.name,
                            if r.cut_short { " (cut short)" } else { "" }
                        ),
                        fid,
                        conf,
                        ent,
                        like,
                        format!("{:.1}", p.seconds),
                        p.steps.to_string(),
                        format!("{:.2}", r.sample_100_seconds),
                        r.parameters.to_string(),
                    ]
                }
            })
            .collect();
        Table { header, rows }
    }

    fn panels(&self) -> Vec<PanelUpdate> {
        let mut out = vec![PanelUpdate {
            panel: "table".into(),
            part: "main".into(),
            visual: Visual::Table(self.table()),
        }];
        for p in &self.parts {
            if let Some(r) = &p.result {
                let labels: Vec<String> = match &self.judge {
                    Some(j) => j.label_each(&r.grid),
                    None => vec![String::new(); r.grid.len() / PIXELS],
                };
                let images = r
                    .grid
                    .chunks(PIXELS)
                    .zip(labels)
                    .enumerate()
                    .map(|(k, (px, l))| {
                        let caption = if k == 0 {
                            format!("{}: {l}", p.name)
                        } else {
                            l
                        };
                        Image::from_f32(SIDE, SIDE, px, caption)
                    })
                    .collect();
                out.push(PanelUpdate {
                    panel: "samples".into(),
                    part: p.name.clone(),
                    visual: Visual::Images {
                        images,
                        strip: false,
                    },
                });
            }
        }
        out
    }
}

/// A family's error, said as that family's.
fn of_family(name: &str, e: ModelError) -> ModelError {
    match e {
        ModelError::Diverged(m) => ModelError::Diverged(format!("{name}: {m}")),
        ModelError::Failed(m) => ModelError::Failed(format!("{name}: {m}")),
    }
}

impl Model for Compared {
    fn charts(&self) -> Vec<String> {
        vec!["loss".into()]
    }

    fn finished(&self) -> bool {
        self.current >= self.parts.len()
    }

    fn train_step(&mut self, _step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let scale = lr / self.base_lr;
        let i = self.current;
        let Some(part) = self.parts.get_mut(i) else {
            return Err(ModelError::Failed(
                "every family has trained already".into(),
            ));
        };
        let t0 = Instant::now();
        let m = part
            .model
            .train_step(part.steps + 1, part.lr * scale)
            .map_err(|e| of_family(&part.name, e))?;
        part.seconds += t0.elapsed().as_secs_f64();
        part.steps += 1;
        let mut out = Metrics::new();
        // The family's own training loss: the first series its chart draws.
        let first = part.model.charts().into_iter().next();
        let loss = first
            .and_then(|c| m.get(&c).copied())
            .or_else(|| m.get("loss").copied())
            .unwrap_or(f64::NAN);
        out.insert("loss".into(), loss);
        out.insert(format!("{}.loss", part.name), loss);
        out.insert("family".into(), i as f64);
        if self.budget_spent(&self.parts[i]) {
            self.judge_part(i, false)?;
            self.current += 1;
        }
        Ok(out)
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        let p = self.parts.get(self.current)?;
        p.model
            .nonfinite_parameter()
            .map(|n| format!("{}: {n}", p.name))
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let Some(p) = self.parts.get_mut(self.current) else {
            return Ok(Metrics::new());
        };
        let m = p.model.evaluate().map_err(|e| of_family(&p.name, e))?;
        Ok(m.into_iter()
            .map(|(k, v)| (format!("{}.{k}", p.name), v))
            .collect())
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        Ok(self.panels())
    }

    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        // A run stopped early: the family that was training is judged as it stands.
        if let Some(i) = (self.current < self.parts.len()).then_some(self.current)
            && self.parts[i].steps > 0
            && self.parts[i].result.is_none()
        {
            self.judge_part(i, true)?;
        }
        let mut s = Finals::new();
        let mut families = serde_json::Map::new();
        for p in &self.parts {
            let mut f = BTreeMap::new();
            f.insert(
                "train_seconds".to_string(),
                finite("train_seconds", p.seconds)?,
            );
            f.insert("steps".to_string(), json!(p.steps));
            if let Some(r) = &p.result {
                if let Some(sc) = &r.scores {
                    f.insert("fid_judge".into(), finite("fid_judge", sc.fid)?);
                    f.insert("judge_confident".into(), json!(sc.confident));
                    f.insert("judge_class_entropy".into(), json!(sc.class_entropy));
                    f.insert("judge_n".into(), json!(sc.n));
                }
                if let Some((what, v, unit)) = &r.likelihood {
                    f.insert("likelihood".into(), finite("likelihood", *v)?);
                    f.insert("likelihood_unit".into(), json!(unit));
                    f.insert("likelihood_is".into(), json!(what));
                }
                f.insert("sample_100_seconds".into(), json!(r.sample_100_seconds));
                f.insert("parameters".into(), json!(r.parameters));
                if r.cut_short {
                    f.insert("cut_short".into(), json!(true));
                }
            }
            families.insert(p.name.clone(), json!(f));
        }
        s.insert("families".into(), serde_json::Value::Object(families));
        s.insert("budget_seconds".into(), json!(self.spec.budget_seconds));
        s.insert("seed".into(), json!(self.seed));
        Ok(s)
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for p in self.parts.iter_mut().filter(|p| p.steps > 0) {
            for (file, bytes) in p.model.artifacts() {
                out.push((format!("{}.{file}", p.name), bytes));
            }
        }
        out
    }
}
