//! Generating text: the next character's distribution with a temperature and top-k, a draw
//! from it, whole samples, and `mllab sample` on a save (the network rebuilt from its weights,
//! the vocabulary from the weights file's metadata).

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::nets::CharNet;
use super::spec::{MAX_TEMPERATURE, NextTokenSpec};
use crate::data::text::Vocab;
use crate::models::family::{SampleRequest, Samples};
use crate::tensor::ParamStore;

/// The metadata key under which a weights file keeps the vocabulary.
pub const VOCAB_KEY: &str = "vocab";

/// How a character is drawn: divide the logits by `temperature`, keep the `top_k` likeliest
/// (0 keeps all), softmax.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub temperature: f64,
    pub top_k: usize,
}

/// The top-k settings the run view steps through with `k` and `K`, 0 meaning all.
pub const TOP_K_LADDER: [usize; 8] = [1, 2, 3, 5, 10, 20, 50, 0];

impl Sampling {
    /// The probabilities the sampler draws from (zero outside the top k).
    pub fn distribution(&self, logits: &[f32]) -> Vec<f64> {
        let t = self.temperature.max(1e-6);
        let mut keep = vec![true; logits.len()];
        if self.top_k > 0 && self.top_k < logits.len() {
            let mut order: Vec<usize> = (0..logits.len()).collect();
            order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
            keep.iter_mut().for_each(|k| *k = false);
            for &i in &order[..self.top_k] {
                keep[i] = true;
            }
        }
        let max = logits
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| *l as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits
            .iter()
            .zip(&keep)
            .map(|(&l, &k)| if k { ((l as f64 - max) / t).exp() } else { 0.0 })
            .collect();
        let z: f64 = e.iter().sum();
        e.into_iter().map(|v| v / z).collect()
    }

    /// One draw from [`distribution`](Self::distribution).
    pub fn draw(&self, logits: &[f32], rng: &mut impl Rng) -> u32 {
        let p = self.distribution(logits);
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for (i, q) in p.iter().enumerate() {
            acc += q;
            if u < acc {
                return i as u32;
            }
        }
        p.iter().rposition(|&q| q > 0.0).unwrap_or(0) as u32
    }

    /// Makes the sampler hotter (`up`) or colder, by a quarter, within (0, 5].
    pub fn turn_temperature(&mut self, up: bool) {
        let t = if up {
            self.temperature * 1.25
        } else {
            self.temperature * 0.8
        };
        self.temperature = t.clamp(0.05, MAX_TEMPERATURE);
    }

    /// Keeps more characters (`up`, towards all) or fewer, along [`TOP_K_LADDER`].
    pub fn turn_top_k(&mut self, up: bool, vocab: usize) {
        let at = |k: usize| if k == 0 || k >= vocab { usize::MAX } else { k };
        let now = at(self.top_k);
        let rungs: Vec<usize> = TOP_K_LADDER.iter().map(|&k| at(k)).collect();
        let next = if up {
            rungs.iter().copied().find(|&k| k > now)
        } else {
            rungs.iter().rev().copied().find(|&k| k < now)
        };
        if let Some(k) = next {
            self.top_k = if k == usize::MAX { 0 } else { k };
        }
    }

    pub fn describe(&self) -> String {
        let k = if self.top_k == 0 {
            "all".to_string()
        } else {
            self.top_k.to_string()
        };
        format!("temperature {:.2}, top-k {k}", self.temperature)
    }
}

/// A network with its weights, ready to write: what generation needs of a run or a save.
pub struct Writer<'a> {
    pub net: &'a CharNet,
    pub ps: &'a ParamStore,
    pub context: usize,
    /// The id a history shorter than the context is padded with.
    pub pad: u32,
}

impl Writer<'_> {
    /// The logits of the character after `history`.
    pub fn next_logits(&self, history: &[u32]) -> Vec<f32> {
        self.net
            .next_logits(self.ps, history, self.context, self.pad)
    }

    /// `n` characters generated after `prompt` (ids), drawn one by one.
    pub fn generate(
        &self,
        prompt: &[u32],
        n: usize,
        sampling: Sampling,
        rng: &mut impl Rng,
    ) -> Vec<u32> {
        let mut history = prompt.to_vec();
        for _ in 0..n {
            let logits = self.next_logits(&history);
            history.push(sampling.draw(&logits, rng));
        }
        history.split_off(prompt.len())
    }
}

/// The id a short history is padded with: a newline if the text has one, else the first
/// character.
pub fn pad_id(vocab: &Vocab) -> u32 {
    vocab.id('\n').unwrap_or(0)
}

/// The weights file's metadata that lets `mllab sample` rebuild the vocabulary.
pub fn metadata(vocab: &Vocab) -> HashMap<String, String> {
    HashMap::from([(VOCAB_KEY.to_string(), vocab.to_text())])
}

/// `mllab sample`: `request.n` continuations of `--prompt` (the lesson's prompt without one),
/// `sample_chars` characters each, with `--temperature` and `--top-k` (default the lesson's).
pub fn sample_weights(
    spec: &NextTokenSpec,
    weights: &Path,
    request: &SampleRequest,
) -> Result<Samples, String> {
    for (flag, given) in [
        ("--sampler", request.sampler.is_some()),
        ("--steps", request.steps.is_some()),
        ("--eta", request.eta.is_some()),
        ("--part", request.part.is_some()),
    ] {
        if given {
            return Err(format!(
                "{flag}: a next-token model writes text one character at a time; its options are --prompt, --temperature, --top-k and --chars"
            ));
        }
    }
    let temperature = request.temperature.unwrap_or(spec.temperature);
    if !(temperature > 0.0 && temperature <= MAX_TEMPERATURE) {
        return Err(format!(
            "--temperature {temperature}: give a value greater than 0 and at most {MAX_TEMPERATURE} (1 samples the model as it is; lower is more predictable)"
        ));
    }
    let bytes =
        std::fs::read(weights).map_err(|e| format!("cannot read {}: {e}", weights.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{} is not a valid safetensors file: {e}", weights.display()))?;
    let Some(chars) = meta.metadata().as_ref().and_then(|m| m.get(VOCAB_KEY)) else {
        return Err(format!(
            "{} keeps no vocabulary (metadata `{VOCAB_KEY}`); it was not written by a next-token run",
            weights.display()
        ));
    };
    let vocab = Vocab::from_chars(chars.chars());
    let mut ps = ParamStore::new();
    let net = CharNet::for_spec(spec, vocab.len(), &mut ps, &mut Pcg64Mcg::seed_from_u64(0));
    crate::nn::load_into(&mut ps, weights).map_err(|e| e.to_string())?;
    if let Some(name) = ps.first_nonfinite() {
        return Err(format!(
            "{}: the weights of `{name}` hold NaN or infinite values (the run diverged, or the file is damaged); run the lesson again with a smaller train.lr",
            weights.display()
        ));
    }
    let prompt_text = request
        .prompt
        .clone()
        .unwrap_or_else(|| spec.prompt.clone());
    let prompt = vocab.encode(&prompt_text, "the prompt")?;
    let sampling = Sampling {
        temperature,
        top_k: request.top_k.unwrap_or(spec.top_k),
    };
    let chars = request.chars.unwrap_or(spec.sample_chars);
    let mut rng = Pcg64Mcg::seed_from_u64(request.seed);
    let writer = Writer {
        net: &net,
        ps: &ps,
        context: spec.context,
        pad: pad_id(&vocab),
    };
    let texts = (0..request.n)
        .map(|_| {
            let ids = writer.generate(&prompt, chars, sampling, &mut rng);
            format!("{prompt_text}{}", vocab.decode(&ids))
        })
        .collect();
    Ok(Samples::Text(texts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_temperature_sharpens_and_top_k_cuts_the_tail() {
        let logits = [2.0, 1.0, 0.0, -1.0];
        let base = Sampling {
            temperature: 1.0,
            top_k: 0,
        }
        .distribution(&logits);
        let cold = Sampling {
            temperature: 0.25,
            top_k: 0,
        }
        .distribution(&logits);
        assert!(cold[0] > base[0] && cold[3] < base[3]);
        let top2 = Sampling {
            temperature: 1.0,
            top_k: 2,
        }
        .distribution(&logits);
        assert_eq!((top2[2], top2[3]), (0.0, 0.0));
        assert!((top2[0] + top2[1] - 1.0).abs() < 1e-12);
        assert!(
            (top2[0] / top2[1] - std::f64::consts::E).abs() < 1e-9,
            "the kept ratio stays e¹"
        );
    }

    #[test]
    fn top_1_is_greedy() {
        let s = Sampling {
            temperature: 3.0,
            top_k: 1,
        };
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        assert!((0..50).all(|_| s.draw(&[0.1, 0.3, 0.2], &mut rng) == 1));
    }

    #[test]
    fn the_top_k_keys_walk_the_ladder_and_stop_at_its_ends() {
        let mut s = Sampling {
            temperature: 1.0,
            top_k: 0,
        };
        s.turn_top_k(true, 30);
        assert_eq!(s.top_k, 0, "all is the top");
        s.turn_top_k(false, 30);
        assert_eq!(s.top_k, 20);
        s.turn_top_k(false, 30);
        assert_eq!(s.top_k, 10);
        for _ in 0..10 {
            s.turn_top_k(false, 30);
        }
        assert_eq!(s.top_k, 1);
        s.turn_temperature(true);
        assert!((s.temperature - 1.25).abs() < 1e-12);
    }
}
