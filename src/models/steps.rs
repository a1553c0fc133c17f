//! The two pieces every hand-written lesson model shares: which examples the next step uses,
//! and how a gradient moves a handful of f64 parameters.
//!
//! The classic lessons (regression, model selection, logistic regression) derive their
//! gradients by hand, as the lectures do, and need nothing heavier than this. Neural models
//! use `nn`'s optimisers on tensors instead.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;

use crate::config::spec::Optimizer;

/// Mini-batches over `n` examples: a fresh shuffle every epoch, or everything at once when the
/// batch is at least the data set (plain gradient descent).
pub struct Batches {
    n: usize,
    size: usize,
    order: Vec<usize>,
    cursor: usize,
    rng: Pcg64Mcg,
}

impl Batches {
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Batches {
        Batches {
            n,
            size: batch_size.min(n),
            order: (0..n).collect(),
            cursor: n,
            rng: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    /// Indices of the next batch.
    pub fn next_batch(&mut self) -> Vec<usize> {
        if self.size >= self.n {
            return (0..self.n).collect();
        }
        let mut batch = Vec::with_capacity(self.size);
        while batch.len() < self.size {
            if self.cursor >= self.n {
                self.order.shuffle(&mut self.rng);
                self.cursor = 0;
            }
            batch.push(self.order[self.cursor]);
            self.cursor += 1;
        }
        batch
    }
}

/// An optimiser for a small vector of parameters, with its state.
///
/// ```text
/// sgd       θ ← θ − η·g
/// momentum  v ← 0.9·v + g;            θ ← θ − η·v
/// adagrad   s ← s + g²;               θ ← θ − η·g/√s
/// adam      m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − η·m̂/(√v̂ + ε)   (β₁ 0.9, β₂ 0.999)
/// ```
pub struct SmallOptimizer {
    kind: Optimizer,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl SmallOptimizer {
    pub fn new(kind: Optimizer, params: usize) -> SmallOptimizer {
        SmallOptimizer {
            kind,
            m: vec![0.0; params],
            v: vec![0.0; params],
            t: 0,
        }
    }

    /// Moves `theta` against the gradient `g` at learning rate `lr`.
    pub fn step(&mut self, theta: &mut [f64], g: &[f64], lr: f64) {
        self.t += 1;
        match self.kind {
            Optimizer::Sgd => {
                for (p, gi) in theta.iter_mut().zip(g) {
                    *p -= lr * gi;
                }
            }
            Optimizer::Momentum => {
                for ((p, gi), v) in theta.iter_mut().zip(g).zip(&mut self.m) {
                    *v = 0.9 * *v + gi;
                    *p -= lr * *v;
                }
            }
            Optimizer::Adagrad => {
                for ((p, gi), s) in theta.iter_mut().zip(g).zip(&mut self.v) {
                    *s += gi * gi;
                    *p -= lr * gi / (s.sqrt() + 1e-12);
                }
            }
            Optimizer::Adam | Optimizer::Adamw => {
                let (b1, b2) = (0.9f64, 0.999f64);
                let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
                for (((p, gi), m), v) in theta.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
                    *m = b1 * *m + (1.0 - b1) * gi;
                    *v = b2 * *v + (1.0 - b2) * gi * gi;
                    *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-12);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises (θ − 3)² from 0 and returns where it ends.
    fn minimise(kind: Optimizer, lr: f64, steps: usize) -> f64 {
        let mut opt = SmallOptimizer::new(kind, 1);
        let mut theta = [0.0];
        for _ in 0..steps {
            let g = [2.0 * (theta[0] - 3.0)];
            opt.step(&mut theta, &g, lr);
        }
        theta[0]
    }

    #[test]
    fn every_optimiser_finds_the_minimum_of_a_parabola() {
        for (kind, lr) in [
            (Optimizer::Sgd, 0.1),
            (Optimizer::Momentum, 0.05),
            (Optimizer::Adagrad, 1.0),
            (Optimizer::Adam, 0.1),
        ] {
            let end = minimise(kind, lr, 2000);
            assert!((end - 3.0).abs() < 1e-3, "{kind:?} ended at {end}");
        }
    }

    #[test]
    fn one_sgd_step_moves_by_the_rate_times_the_gradient() {
        let mut opt = SmallOptimizer::new(Optimizer::Sgd, 2);
        let mut theta = [1.0, 2.0];
        opt.step(&mut theta, &[0.5, -1.0], 0.1);
        assert_eq!(theta, [0.95, 2.1]);
    }

    #[test]
    fn batches_cover_every_example_once_per_epoch() {
        let mut b = Batches::new(10, 3, 7);
        let mut seen: Vec<usize> = (0..3).flat_map(|_| b.next_batch()).collect();
        seen.extend(b.next_batch().into_iter().take(1));
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_batch_as_large_as_the_data_is_the_whole_data_in_order() {
        assert_eq!(Batches::new(4, 100, 0).next_batch(), vec![0, 1, 2, 3]);
    }
}
