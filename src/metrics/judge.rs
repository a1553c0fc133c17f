//! The judge: a small MLP digit classifier that mllab trains itself, on the digits a lesson
//! uses, to score generated digits.
//!
//! Architecture 784 → 256 → 64 → 11 with ReLU; the 64 penultimate activations are the features
//! for the Fréchet distance. The eleventh class is "not a digit": a classifier trained on
//! digits alone calls almost anything a digit with high confidence — even static — so the
//! judge also sees noise, blurred noise and two digits blended together, labelled as junk.
//! It is trained once per data source and seed and cached under `saves/.cache/` as
//! safetensors, so later runs start at once.
//!
//! Scores of a batch of samples:
//! - `confident`: the fraction the judge classifies as one digit with probability ≥ 0.9 (a
//!   blob is not confidently any digit);
//! - `junk`: the fraction it calls "not a digit";
//! - `class_entropy`: the entropy of the predicted classes' histogram divided by ln 10 — 1 when
//!   all ten digits appear equally often, 0 when the model draws only one (mode collapse);
//! - `fid`: the Fréchet distance between the samples' features and real held-out digits'
//!   features, at the same n.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;

use super::frechet::frechet_of;
use crate::nn::{Adam, AdamConfig, Linear, Optimizer};
use crate::tensor::{Graph, ParamStore, Tensor, Var};

/// Penultimate features per image.
pub const FEATURES: usize = 64;
/// Ten digits and "not a digit".
const CLASSES: usize = 11;
const JUNK: usize = 10;
const PIXELS: usize = 784;

/// The trained classifier.
pub struct Judge {
    ps: ParamStore,
    l1: Linear,
    l2: Linear,
    l3: Linear,
}

/// What the judge says about a set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeScores {
    pub n: usize,
    pub confident: f64,
    pub junk: f64,
    pub class_entropy: f64,
    pub fid: f64,
    /// How many samples it put in each class.
    pub histogram: [usize; 10],
}

impl JudgeScores {
    /// Writes the scores into a run's summary under the names every digit lesson uses; with
    /// `floor`, the same judge's reading of real training digits against the held-out ones.
    pub fn insert_into(
        &self,
        floor: Option<&JudgeScores>,
        summary: &mut std::collections::BTreeMap<String, serde_json::Value>,
    ) {
        use serde_json::json;
        summary.insert("judge_n".into(), json!(self.n));
        summary.insert("judge_confident".into(), json!(self.confident));
        summary.insert("judge_class_entropy".into(), json!(self.class_entropy));
        summary.insert("judge_junk".into(), json!(self.junk));
        summary.insert("fid_judge".into(), json!(self.fid));
        summary.insert("class_histogram".into(), json!(self.histogram));
        if let Some(floor) = floor {
            summary.insert("fid_judge_real_floor".into(), json!(floor.fid));
            summary.insert("judge_confident_real".into(), json!(floor.confident));
        }
    }
}

impl Judge {
    fn build(seed: u64) -> Judge {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x10D6_E000_0000_0006);
        let mut ps = ParamStore::new();
        let l1 = Linear::new(&mut ps, "judge.l1", PIXELS, 256, &mut rng);
        let l2 = Linear::new(&mut ps, "judge.l2", 256, FEATURES, &mut rng);
        let l3 = Linear::new(&mut ps, "judge.l3", FEATURES, CLASSES, &mut rng);
        Judge { ps, l1, l2, l3 }
    }

    fn features(&self, g: &Graph, x: &Var) -> Var {
        g.relu(&self.l2.forward(g, &g.relu(&self.l1.forward(g, x))))
    }

    /// Trains on `images` (n × 784 in [0, 1]) with `labels`, for `epochs` passes at batch 128.
    pub fn train(images: &[f32], labels: &[u8], epochs: usize, seed: u64) -> Judge {
        let judge = Judge::build(seed);
        let mut judge = judge;
        let n = labels.len();
        let mut opt = Adam::new(AdamConfig::adam(1e-3));
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x7A1E);
        let mut order: Vec<usize> = (0..n).collect();
        for _ in 0..epochs {
            order.shuffle(&mut rng);
            for batch in order.chunks(112) {
                let mut x = Vec::with_capacity((batch.len() + 16) * PIXELS);
                for &i in batch {
                    x.extend_from_slice(&images[i * PIXELS..(i + 1) * PIXELS]);
                }
                let mut y: Vec<usize> = batch.iter().map(|&i| labels[i] as usize).collect();
                for k in 0..16 {
                    x.extend(junk(k % 4, images, labels, &mut rng));
                    y.push(JUNK);
                }
                let grads = {
                    let g = Graph::new(&judge.ps);
                    let xv = g.input(to_tensor(x, y.len()));
                    let logits = judge.l3.forward(&g, &judge.features(&g, &xv));
                    let loss = g.cross_entropy(&logits, &y);
                    g.backward(&loss)
                };
                opt.step(&mut judge.ps, &grads);
            }
        }
        judge
    }

    /// Class probabilities (n × 11, the last is "not a digit") and features (n × 64) of
    /// `images`, without a graph.
    pub fn probs_and_features(&self, images: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = images.len() / PIXELS;
        let mut probs = Vec::with_capacity(n * 10);
        let mut feats = Vec::with_capacity(n * FEATURES);
        for chunk in images.chunks(512 * PIXELS) {
            let m = chunk.len() / PIXELS;
            let g = Graph::no_grad(&self.ps);
            let x = g.input(to_tensor(chunk.to_vec(), m));
            let f = self.features(&g, &x);
            let p = g.softmax(&self.l3.forward(&g, &f));
            feats.extend(f.value().iter().copied());
            probs.extend(p.value().iter().copied());
        }
        (probs, feats)
    }

    /// A caption per image: the digit the judge sees and its confidence, or "?" for junk.
    pub fn label_each(&self, images: &[f32]) -> Vec<String> {
        let (probs, _) = self.probs_and_features(images);
        probs
            .chunks(CLASSES)
            .map(|p| {
                let k = argmax(p);
                if k == JUNK {
                    format!("? {:.0}%", p[k] * 100.0)
                } else {
                    format!("{k} {:.0}%", p[k] * 100.0)
                }
            })
            .collect()
    }

    /// Accuracy on labelled images.
    pub fn accuracy(&self, images: &[f32], labels: &[u8]) -> f64 {
        let (probs, _) = self.probs_and_features(images);
        let right = probs
            .chunks(CLASSES)
            .zip(labels)
            .filter(|(p, l)| argmax(p) == **l as usize)
            .count();
        right as f64 / labels.len().max(1) as f64
    }

    /// Scores `samples` against `real` held-out digits (use as many real as samples).
    pub fn score(&self, samples: &[f32], real: &[f32]) -> JudgeScores {
        let n = samples.len() / PIXELS;
        let (probs, feats) = self.probs_and_features(samples);
        let (_, real_feats) = self.probs_and_features(real);
        let mut histogram = [0usize; 10];
        let (mut confident, mut junk) = (0, 0);
        for p in probs.chunks(CLASSES) {
            let k = argmax(p);
            if k == JUNK {
                junk += 1;
                continue;
            }
            histogram[k] += 1;
            if p[k] >= 0.9 {
                confident += 1;
            }
        }
        let digits: usize = histogram.iter().sum();
        // + 0.0: a sum of no terms, or of the single term −1·ln 1, is −0.0, which a summary
        // would print as "-0.0".
        let entropy: f64 = histogram
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let q = c as f64 / digits.max(1) as f64;
                -q * q.ln()
            })
            .sum::<f64>()
            + 0.0;
        JudgeScores {
            n,
            confident: confident as f64 / n.max(1) as f64,
            junk: junk as f64 / n.max(1) as f64,
            class_entropy: entropy / 10f64.ln(),
            fid: frechet_of(&feats, &real_feats, FEATURES),
            histogram,
        }
    }

    /// The judge of a digit data set: loaded from `cache_dir` when a run has trained it before,
    /// else trained on up to 60,000 of `images` for 6 epochs (a few seconds) and cached there.
    /// `key` names the data set and the seed it was drawn with.
    pub fn for_digits(
        cache_dir: &Path,
        key: &str,
        seed: u64,
        images: &[f32],
        labels: &[u8],
    ) -> Judge {
        let path = cache_path(cache_dir, key);
        Judge::cached(&path, seed, || {
            let n = (images.len() / PIXELS).min(60_000).min(labels.len());
            Judge::train(&images[..n * PIXELS], &labels[..n], 6, seed)
        })
    }

    /// Loads the judge cached at `path`, or trains one with `train` and caches it there.
    pub fn cached(path: &Path, seed: u64, train: impl FnOnce() -> Judge) -> Judge {
        let mut judge = Judge::build(seed);
        if crate::nn::load_into(&mut judge.ps, path).is_ok() {
            return judge;
        }
        let judge = train();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // A cache that cannot be written only costs the next run the training time.
        let tmp = path.with_extension("tmp");
        if crate::nn::save(&judge.ps, &tmp, None).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
        judge
    }
}

/// Where the judge for a data source is cached in `cache_dir` (the TUI and headless runs pass
/// `saves/.cache/`): `judge12-<key>.safetensors`.
pub fn cache_path(cache_dir: &Path, key: &str) -> PathBuf {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // "judge12": the 11-class judge (ten digits and junk) on the digits drawn since the
    // strain limit; older caches are not reused.
    cache_dir.join(format!("judge12-{safe}.safetensors"))
}

/// A "not a digit" example: uniform noise, blurred noise, Gaussian static, or two digits
/// blended — the failure modes of a young generator.
fn junk(kind: usize, images: &[f32], labels: &[u8], rng: &mut Pcg64Mcg) -> Vec<f32> {
    use rand::RngExt;
    let n = images.len() / PIXELS;
    match kind {
        0 => (0..PIXELS).map(|_| rng.random::<f32>()).collect(),
        1 => {
            let noise: Vec<f32> = (0..PIXELS).map(|_| rng.random::<f32>()).collect();
            // A 3×3 box blur: blobs rather than static.
            (0..PIXELS)
                .map(|i| {
                    let (r, c) = ((i / 28) as i32, (i % 28) as i32);
                    let mut s = 0.0;
                    let mut k = 0.0;
                    for dr in -1..=1 {
                        for dc in -1..=1 {
                            let (rr, cc) = (r + dr, c + dc);
                            if (0..28).contains(&rr) && (0..28).contains(&cc) {
                                s += noise[(rr * 28 + cc) as usize];
                                k += 1.0;
                            }
                        }
                    }
                    (s / k * 1.5 - 0.25).clamp(0.0, 1.0)
                })
                .collect()
        }
        2 => (0..PIXELS)
            .map(|_| {
                (0.5 + 0.5
                    * rand_distr::Distribution::<f32>::sample(&rand_distr::StandardNormal, rng))
                .clamp(0.0, 1.0)
            })
            .collect(),
        _ => {
            // Two different digits: two 1s (or two 0s) laid over each other still read as one.
            let a = rng.random_range(0..n.max(1));
            let mut b = rng.random_range(0..n.max(1));
            for _ in 0..8 {
                if labels.get(a) != labels.get(b) {
                    break;
                }
                b = rng.random_range(0..n.max(1));
            }
            (0..PIXELS)
                .map(|i| 0.5 * (images[a * PIXELS + i] + images[b * PIXELS + i]))
                .collect()
        }
    }
}

fn to_tensor(x: Vec<f32>, n: usize) -> Tensor {
    Tensor::from_shape_vec(ndarray::IxDyn(&[n, PIXELS]), x).expect("n × 784 values")
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten easy "digits": class k lights row band k.
    fn bands(n: usize) -> (Vec<f32>, Vec<u8>) {
        let mut x = vec![0.0f32; n * PIXELS];
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        for (i, &l) in labels.iter().enumerate() {
            for r in (l as usize * 2 + 4)..(l as usize * 2 + 6) {
                for c in 4..24 {
                    x[i * PIXELS + r * 28 + c] = 1.0;
                }
            }
        }
        (x, labels)
    }

    #[test]
    fn the_judge_learns_an_easy_task_and_scores_real_digits_as_real() {
        let (x, y) = bands(600);
        let judge = Judge::train(&x, &y, 20, 1);
        assert!(judge.accuracy(&x, &y) > 0.99);
        let s = judge.score(&x[..300 * PIXELS], &x[300 * PIXELS..]);
        assert!(s.confident > 0.95, "{s:?}");
        assert!(s.class_entropy > 0.99, "balanced classes: {s:?}");
        assert!(s.fid < 1.0, "the same distribution: {s:?}");
    }

    #[test]
    fn collapse_and_noise_score_badly() {
        let (x, y) = bands(600);
        let judge = Judge::train(&x, &y, 3, 1);
        let one_class: Vec<f32> = x[..PIXELS].repeat(100);
        let s = judge.score(&one_class, &x[..100 * PIXELS]);
        assert!(s.class_entropy < 0.01, "{s:?}");
        assert!(
            s.class_entropy.is_sign_positive(),
            "no −0.0 in summaries: {s:?}"
        );
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let noise: Vec<f32> = (0..100 * PIXELS)
            .map(|_| rand::RngExt::random::<f32>(&mut rng))
            .collect();
        let t = judge.score(&noise, &x[..100 * PIXELS]);
        assert!(t.fid > 10.0 * s.fid.clamp(0.1, 1.0), "noise {t:?} vs real");
        assert!(
            t.junk > 0.9 && t.confident < 0.05,
            "static is not a confident digit: {t:?}"
        );
        assert!(t.class_entropy.is_sign_positive(), "{t:?}");
    }

    #[test]
    fn a_cached_judge_is_loaded_instead_of_retrained() {
        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(dir.path(), "bands/s1");
        let (x, y) = bands(200);
        let a = Judge::cached(&path, 1, || Judge::train(&x, &y, 2, 1));
        assert!(path.is_file());
        let b = Judge::cached(&path, 1, || panic!("the cache is used"));
        assert_eq!(
            a.probs_and_features(&x[..PIXELS]).0,
            b.probs_and_features(&x[..PIXELS]).0
        );
    }
}
