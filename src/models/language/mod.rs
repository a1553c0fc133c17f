//! Next-character prediction, the idea under ChatGPT: a model reads some text and gives a
//! probability to every character that could come next; generating is drawing one, appending
//! it and asking again. Three rungs of the makemore ladder share one loop (`model.arch`): a
//! bigram table, an MLP over a window of character embeddings, and a small GPT.
//!
//! Each step draws `batch_size` windows of `context + 1` characters from the training text and
//! minimises the mean cross-entropy of the next character (nats per character) with Adam;
//! the held-out last part of the text gives the validation loss on fixed windows. A bigram run
//! also counts the table from the text, so that the learner sees gradient descent arrive at
//! the counts. Snapshots draw a sample from the prompt and the next-character distribution
//! after it, with the temperature and top-k that the run view's keys change.
//!
//! Here: the run (`NextToken`) and its `Model` impl. The `model:` section is in `spec`, the
//! networks in `nets`, generation and `mllab sample` in `sample`, the counted bigram in
//! `counts`, the panels in `panels`.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::json;

mod counts;
mod family;
mod nets;
mod panels;
mod sample;
mod spec;

pub use counts::CountedBigram;
pub use nets::{Bigram, CharMlp, CharNet, CharTransformer};
pub use sample::{Sampling, TOP_K_LADDER, Writer, sample_weights};
pub use spec::{Arch, NextTokenSpec};

use crate::config::spec::TrainSpec;
use crate::data::text::TextSet;
use crate::models::contract::Knob;
use crate::models::{Finals, Finish, Metrics, Model, ModelError, finite};
use crate::nn::{Adam, AdamConfig, Optimizer};
use crate::tensor::{Graph, ParamStore};
use crate::visual::PanelUpdate;

/// Held-out windows the validation loss averages over, at most (each predicts `context`
/// characters for the bigram and the transformer, one for the MLP, which gets more windows).
const VAL_WINDOWS: usize = 64;
const VAL_WINDOWS_MLP: usize = 2048;
/// Held-out windows measured at once.
pub(crate) const VAL_CHUNK: usize = 64;
/// Samples the `samples` panel keeps, newest first.
const SHOWN_SAMPLES: usize = 3;
/// The seed of the summary's sample.
const SUMMARY_SAMPLE_SEED: u64 = 0x005A_3E1E;

/// Everything a next-token run holds.
pub struct NextToken {
    spec: NextTokenSpec,
    ps: ParamStore,
    net: CharNet,
    opt: Adam,
    text: TextSet,
    batch_size: usize,
    rng: Pcg64Mcg,
    sampling: Sampling,
    prompt: Vec<u32>,
    pad: u32,
    /// The bigram counted from the training text (bigram runs only).
    counted: Option<CountedBigram>,
    /// Starts of the held-out windows.
    val_starts: Vec<usize>,
    /// (step, text) of the latest samples, newest last.
    samples: Vec<(u64, String)>,
    step: u64,
    last_loss: Option<f64>,
    last_val: Option<f64>,
    seed: u64,
}

/// Evenly spread starts of at most `n` windows of `w` characters in a text of `len`.
fn spread(len: usize, w: usize, n: usize) -> Vec<usize> {
    if len < w {
        return Vec::new();
    }
    let room = len - w;
    let n = n.min(room + 1);
    (0..n).map(|i| i * room / n.max(1)).collect()
}

impl NextToken {
    /// A run on `text`; errors when the text is too short for the context, or the prompt
    /// has a character the text lacks.
    pub fn new(
        spec: &NextTokenSpec,
        text: TextSet,
        train: &TrainSpec,
        seed: u64,
    ) -> Result<NextToken, String> {
        text.require(spec.context, 2)?;
        let prompt = text
            .vocab
            .encode(&spec.prompt, "model.prompt")
            .map_err(|e| format!("{e} (the vocabulary is that of {})", text.name))?;
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x0E47_0000_0000_0001);
        let mut ps = ParamStore::new();
        let net = CharNet::for_spec(spec, text.vocab.len(), &mut ps, &mut rng);
        let w = spec.context + 1;
        let n_val = match spec.arch {
            Arch::Mlp => VAL_WINDOWS_MLP,
            _ => VAL_WINDOWS,
        };
        let counted = (spec.arch == Arch::Bigram)
            .then(|| CountedBigram::count(&text.train, text.vocab.len()));
        Ok(NextToken {
            opt: Adam::new(AdamConfig::adam(train.lr as f32)),
            batch_size: train.batch_size,
            sampling: Sampling {
                temperature: spec.temperature,
                top_k: spec.top_k,
            },
            pad: sample::pad_id(&text.vocab),
            val_starts: spread(text.val.len(), w, n_val),
            counted,
            prompt,
            text,
            spec: spec.clone(),
            ps,
            net,
            rng,
            samples: Vec::new(),
            step: 0,
            last_loss: None,
            last_val: None,
            seed,
        })
    }

    /// Mean held-out cross-entropy, nats per character.
    fn val_loss(&self) -> f64 {
        let w = self.spec.context + 1;
        let mut total = 0.0;
        let mut count = 0usize;
        for chunk in self.val_starts.chunks(VAL_CHUNK) {
            let windows: Vec<u32> = chunk
                .iter()
                .flat_map(|&s| self.text.val[s..s + w].iter().copied())
                .collect();
            let g = Graph::no_grad(&self.ps);
            let l = self.net.loss(&g, &windows, chunk.len(), self.spec.context);
            let predicted = chunk.len() * self.net.predicted(self.spec.context);
            total += l.item() as f64 * predicted as f64;
            count += predicted;
        }
        total / count.max(1) as f64
    }

    /// A sample of `sample_chars` characters after the prompt, drawn with `rng`.
    fn sample_text(&self, rng: &mut Pcg64Mcg) -> String {
        let ids = self
            .writer()
            .generate(&self.prompt, self.spec.sample_chars, self.sampling, rng);
        format!("{}{}", self.spec.prompt, self.text.vocab.decode(&ids))
    }

    fn writer(&self) -> Writer<'_> {
        Writer {
            net: &self.net,
            ps: &self.ps,
            context: self.spec.context,
            pad: self.pad,
        }
    }

    /// The learned bigram's rows as probabilities (bigram runs).
    fn learned_table(&self) -> Option<Vec<f32>> {
        match &self.net {
            CharNet::Bigram(b) => Some(self.ps.get(b.table).iter().copied().collect()),
            _ => None,
        }
    }
}

impl Model for NextToken {
    fn charts(&self) -> Vec<String> {
        let mut c = vec!["loss".to_string(), "val_loss".to_string()];
        if self.counted.is_some() {
            c.push("count_val_loss".into());
            c.push("count_gap".into());
        }
        c
    }

    fn train_step(&mut self, step: u64, lr: f64) -> Result<Metrics, ModelError> {
        let w = self.spec.context + 1;
        let b = self.batch_size;
        let hi = self.text.train.len() - w + 1;
        let mut windows = Vec::with_capacity(b * w);
        for _ in 0..b {
            let s = self.rng.random_range(0..hi);
            windows.extend_from_slice(&self.text.train[s..s + w]);
        }
        let (loss, grads) = {
            let g = Graph::new(&self.ps);
            let l = self.net.loss(&g, &windows, b, self.spec.context);
            (l.item() as f64, g.backward(&l))
        };
        self.opt.set_lr(lr as f32);
        self.opt.step(&mut self.ps, &grads);
        self.step = step;
        self.last_loss = Some(loss);
        Ok(Metrics::from([("loss".to_string(), loss)]))
    }

    fn nonfinite_parameter(&self) -> Option<String> {
        self.ps.first_nonfinite().map(str::to_string)
    }

    fn evaluate(&mut self) -> Result<Metrics, ModelError> {
        let v = self.val_loss();
        finite("val_loss", v)?;
        self.last_val = Some(v);
        let mut m = Metrics::from([
            ("val_loss".to_string(), v),
            ("val_bits".to_string(), v / std::f64::consts::LN_2),
        ]);
        if let (Some(c), Some(t)) = (&self.counted, self.learned_table()) {
            m.insert("count_val_loss".into(), c.loss(&self.text.val));
            m.insert("count_gap".into(), c.gap(&t));
        }
        Ok(m)
    }

    fn snapshot(&mut self) -> Result<Vec<PanelUpdate>, ModelError> {
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed ^ self.step.wrapping_mul(0x9E37_79B9));
        let text = self.sample_text(&mut rng);
        self.samples.push((self.step, text));
        if self.samples.len() > SHOWN_SAMPLES {
            self.samples.remove(0);
        }
        let logits = self.writer().next_logits(&self.prompt);
        if logits.iter().any(|l| !l.is_finite()) {
            return Err(ModelError::diverged(
                "the next-character logits are not finite",
            ));
        }
        Ok(self.panels(&logits))
    }

    fn knobs(&self) -> &'static [Knob] {
        &[Knob::Temperature, Knob::TopK]
    }

    fn turn(&mut self, knob: Knob, up: bool) -> Option<String> {
        match knob {
            Knob::Temperature => self.sampling.turn_temperature(up),
            Knob::TopK => self.sampling.turn_top_k(up, self.text.vocab.len()),
        }
        Some(format!("sampling: {}", self.sampling.describe()))
    }

    fn summary(&mut self, _finish: &mut Finish) -> Result<Finals, ModelError> {
        let mut s = BTreeMap::new();
        s.insert("arch".into(), json!(self.spec.arch.name()));
        s.insert("parameters".into(), json!(self.ps.num_scalars()));
        s.insert("vocab".into(), json!(self.text.vocab.len()));
        s.insert("train_chars".into(), json!(self.text.train.len()));
        s.insert("val_chars".into(), json!(self.text.val.len()));
        if let Some(loss) = self.last_loss {
            s.insert("loss".into(), finite("loss", loss)?);
        }
        let v = self.val_loss();
        s.insert("val_loss".into(), finite("val_loss", v)?);
        s.insert("val_bits".into(), json!(v / std::f64::consts::LN_2));
        if let (Some(c), Some(t)) = (&self.counted, self.learned_table()) {
            s.insert("count_val_loss".into(), json!(c.loss(&self.text.val)));
            s.insert("count_gap".into(), json!(c.gap(&t)));
        }
        s.insert("temperature".into(), json!(self.sampling.temperature));
        s.insert("top_k".into(), json!(self.sampling.top_k));
        s.insert("prompt".into(), json!(self.spec.prompt));
        let text = self.sample_text(&mut Pcg64Mcg::seed_from_u64(SUMMARY_SAMPLE_SEED));
        s.insert("sample".into(), json!(text));
        s.insert("seed".into(), json!(self.seed));
        Ok(s)
    }

    fn artifacts(&mut self) -> Vec<(String, Vec<u8>)> {
        crate::nn::to_bytes(&self.ps, Some(sample::metadata(&self.text.vocab)))
            .map(|b| vec![(crate::models::WEIGHTS_FILE.to_string(), b)])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
