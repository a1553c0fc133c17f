//! The bigram counted from the text: how often each character follows each other one, with
//! add-one smoothing, as probabilities. It is what a bigram trained by gradient descent should
//! arrive at, and the lesson measures how close it gets.

/// Row `a` is p(next | a), add-one smoothed counts from the training text.
#[derive(Clone, Debug, PartialEq)]
pub struct CountedBigram {
    pub probs: Vec<f64>,
    /// How often each character starts a pair (to weigh the rows).
    pub row_weight: Vec<f64>,
    pub vocab: usize,
}

impl CountedBigram {
    pub fn count(text: &[u32], vocab: usize) -> CountedBigram {
        let mut counts = vec![1.0f64; vocab * vocab];
        let mut rows = vec![0.0f64; vocab];
        for pair in text.windows(2) {
            counts[pair[0] as usize * vocab + pair[1] as usize] += 1.0;
            rows[pair[0] as usize] += 1.0;
        }
        for r in counts.chunks_mut(vocab) {
            let z: f64 = r.iter().sum();
            r.iter_mut().for_each(|c| *c /= z);
        }
        let total: f64 = rows.iter().sum::<f64>().max(1.0);
        CountedBigram {
            probs: counts,
            row_weight: rows.into_iter().map(|r| r / total).collect(),
            vocab,
        }
    }

    /// Mean −ln p(next | this) over the pairs of `text`, nats per character.
    pub fn loss(&self, text: &[u32]) -> f64 {
        let n = text.len().saturating_sub(1).max(1);
        text.windows(2)
            .map(|p| -self.probs[p[0] as usize * self.vocab + p[1] as usize].ln())
            .sum::<f64>()
            / n as f64
    }

    /// KL(counted ‖ learned) in nats, each row weighted by how often its character occurs:
    /// how far the learned logits `table` (V × V) are from the counts.
    pub fn gap(&self, table: &[f32]) -> f64 {
        let v = self.vocab;
        let mut total = 0.0;
        for a in 0..v {
            if self.row_weight[a] == 0.0 {
                continue;
            }
            let row = &table[a * v..(a + 1) * v];
            let max = row
                .iter()
                .map(|&l| l as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let log_z = max
                + row
                    .iter()
                    .map(|&l| (l as f64 - max).exp())
                    .sum::<f64>()
                    .ln();
            let kl: f64 = (0..v)
                .map(|b| {
                    let p = self.probs[a * v + b];
                    p * (p.ln() - (row[b] as f64 - log_z))
                })
                .sum();
            total += self.row_weight[a] * kl;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rows_are_smoothed_probabilities() {
        let c = CountedBigram::count(&[0, 1, 0, 1, 0], 2);
        // 0→1 twice, 1→0 twice, plus one of each pair.
        assert!((c.probs[1] - 3.0 / 4.0).abs() < 1e-12);
        assert!((c.probs[0] + c.probs[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_gap_is_zero_for_logits_that_are_the_counts_logarithms() {
        let c = CountedBigram::count(&[0, 1, 2, 0, 2, 1, 1, 0], 3);
        let logits: Vec<f32> = c.probs.iter().map(|p| p.ln() as f32 + 0.5).collect();
        assert!(c.gap(&logits).abs() < 1e-6);
        assert!(
            c.gap(&[0.0; 9]) > 0.01,
            "uniform logits are away from the counts"
        );
    }
}
