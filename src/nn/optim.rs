//! Optimizers: SGD with momentum, Adam and AdamW. Each keeps its state per `ParamId` and updates
//! only the parameters it was given (all of the store by default), so two optimizers can share
//! one store (GAN: one for G, one for D). Updates are fused loops over the raw slices; large
//! tensors are split across threads (elementwise, so results do not depend on the split).

use crate::tensor::{Grads, ParamId, ParamStore, Tensor};

/// Above this many elements a parameter's update is split across the threads.
const PARALLEL_MIN_LEN: usize = 1 << 18;

/// What every optimizer offers the training loop.
pub trait Optimizer: Send {
    /// Applies one update from `grads`. Parameters without a gradient are left alone.
    fn step(&mut self, ps: &mut ParamStore, grads: &Grads);
    fn lr(&self) -> f32;
    fn set_lr(&mut self, lr: f32);
}

fn selected(ps: &ParamStore, only: &Option<Vec<ParamId>>) -> Vec<ParamId> {
    only.clone().unwrap_or_else(|| ps.ids())
}

fn state_slot<'a>(
    state: &'a mut Vec<Option<Tensor>>,
    id: ParamId,
    like: &Tensor,
) -> &'a mut Tensor {
    if state.len() <= id.index() {
        state.resize(id.index() + 1, None);
    }
    state[id.index()].get_or_insert_with(|| Tensor::zeros(like.raw_dim()))
}

/// The constants of one Adam update.
#[derive(Clone, Copy)]
struct AdamStep {
    beta1: f32,
    beta2: f32,
    eps: f32,
    l2: f32,
    decay: f32,
    step: f32,
    inv_sqrt_bc2: f32,
}

crate::simd_fn! {
    fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamStep) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = g + c.l2 * *p;
            *m = c.beta1 * *m + (1.0 - c.beta1) * g;
            *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
            *p = *p * c.decay - c.step * *m / ((*v).sqrt() * c.inv_sqrt_bc2 + c.eps);
        }
    }
}

crate::simd_fn! {
    fn sgd_update(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, mu: f32, wd: f32) {
        for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
            *v = mu * *v + g + wd * *p;
            *p -= lr * *v;
        }
    }
}

/// Adam on matching halves of the slices, on two threads when they are long.
fn adam_par(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamStep) {
    if p.len() < PARALLEL_MIN_LEN || crate::tensor::num_threads() < 2 {
        adam_update(p, g, m, v, c);
        return;
    }
    let mid = p.len() / 2;
    let (p0, p1) = p.split_at_mut(mid);
    let (g0, g1) = g.split_at(mid);
    let (m0, m1) = m.split_at_mut(mid);
    let (v0, v1) = v.split_at_mut(mid);
    rayon::join(
        || adam_update(p0, g0, m0, v0, c),
        || adam_update(p1, g1, m1, v1, c),
    );
}

/// SGD: v ← μ·v + (g + λ·θ); θ ← θ − lr·v.
#[derive(Clone, Debug)]
pub struct Sgd {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub params: Option<Vec<ParamId>>,
    velocity: Vec<Option<Tensor>>,
}

impl Sgd {
    pub fn new(lr: f32, momentum: f32) -> Self {
        Self {
            lr,
            momentum,
            weight_decay: 0.0,
            params: None,
            velocity: Vec::new(),
        }
    }

    /// Updates only these parameters.
    pub fn with_params(mut self, ids: Vec<ParamId>) -> Self {
        self.params = Some(ids);
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, ps: &mut ParamStore, grads: &Grads) {
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        for id in selected(ps, &self.params) {
            let Some(gr) = grads.get(id) else { continue };
            let v = state_slot(&mut self.velocity, id, gr);
            let p = ps.get_mut(id);
            sgd_update(slice_mut(p), slice(gr), slice_mut(v), lr, mu, wd);
        }
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
}

/// Hyperparameters of Adam / AdamW (PyTorch's defaults).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// true: AdamW (decay applied to the weights directly); false: Adam (L2 added to the gradient).
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

impl AdamConfig {
    pub fn adam(lr: f32) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }
    pub fn adamw(lr: f32, weight_decay: f32) -> Self {
        Self {
            lr,
            weight_decay,
            decoupled: true,
            ..Self::default()
        }
    }
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
}

/// Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − lr·m̂/(√v̂ + ε), with bias-corrected
/// m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). AdamW first shrinks θ by lr·λ·θ.
#[derive(Clone, Debug)]
pub struct Adam {
    pub config: AdamConfig,
    pub params: Option<Vec<ParamId>>,
    t: u64,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            params: None,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Updates only these parameters.
    pub fn with_params(mut self, ids: Vec<ParamId>) -> Self {
        self.params = Some(ids);
        self
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl Optimizer for Adam {
    fn step(&mut self, ps: &mut ParamStore, grads: &Grads) {
        self.t += 1;
        let c = self.config.clone();
        let bc1 = 1.0 - c.beta1.powi(self.t.min(i32::MAX as u64) as i32);
        let bc2 = 1.0 - c.beta2.powi(self.t.min(i32::MAX as u64) as i32);
        let step = c.lr / bc1;
        let inv_sqrt_bc2 = 1.0 / bc2.sqrt();
        let (l2, decay) = if c.decoupled {
            (0.0, 1.0 - c.lr * c.weight_decay)
        } else {
            (c.weight_decay, 1.0)
        };
        let step = AdamStep {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            l2,
            decay,
            step,
            inv_sqrt_bc2,
        };
        for id in selected(ps, &self.params) {
            let Some(gr) = grads.get(id) else { continue };
            state_slot(&mut self.m, id, gr);
            state_slot(&mut self.v, id, gr);
            let m = self.m[id.index()].as_mut().expect("just created");
            let v = self.v[id.index()].as_mut().expect("just created");
            adam_par(
                slice_mut(ps.get_mut(id)),
                slice(gr),
                slice_mut(m),
                slice_mut(v),
                step,
            );
        }
    }
    fn lr(&self) -> f32 {
        self.config.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }
}

fn slice(t: &Tensor) -> &[f32] {
    t.as_slice()
        .expect("parameters and gradients are in standard layout")
}

fn slice_mut(t: &mut Tensor) -> &mut [f32] {
    t.as_slice_mut()
        .expect("parameters and optimizer state are in standard layout")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Graph, tensor};

    fn quadratic_step(opt: &mut dyn Optimizer, ps: &mut ParamStore, id: ParamId) -> f32 {
        let (loss, grads) = {
            let g = Graph::new(ps);
            let l = g.sum_all(&g.square(&g.param(id)));
            (l.item(), g.backward(&l))
        };
        opt.step(ps, &grads);
        loss
    }

    #[test]
    fn adam_and_sgd_minimize_a_quadratic() {
        for mut opt in [
            Box::new(Adam::new(AdamConfig::adam(0.1))) as Box<dyn Optimizer>,
            Box::new(Sgd::new(0.1, 0.9)),
        ] {
            let mut ps = ParamStore::new();
            let id = ps.add("x", tensor(&[3], &[1.0, -2.0, 3.0]));
            let first = quadratic_step(opt.as_mut(), &mut ps, id);
            let mut last = first;
            for _ in 0..200 {
                last = quadratic_step(opt.as_mut(), &mut ps, id);
            }
            assert!(last < first * 1e-3, "loss went from {first} to {last}");
        }
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_the_learning_rate() {
        let mut ps = ParamStore::new();
        let id = ps.add("x", tensor(&[2], &[1.0, -1.0]));
        let mut opt = Adam::new(AdamConfig::adam(0.01));
        quadratic_step(&mut opt, &mut ps, id);
        let x = ps.get(id);
        assert!((x[[0]] - 0.99).abs() < 1e-6 && (x[[1]] + 0.99).abs() < 1e-6);
    }

    #[test]
    fn an_optimizer_with_a_subset_leaves_other_parameters_alone() {
        let mut ps = ParamStore::new();
        let a = ps.add("a", tensor(&[1], &[1.0]));
        let b = ps.add("b", tensor(&[1], &[1.0]));
        let grads = {
            let g = Graph::new(&ps);
            let l = g.sum_all(&g.mul(&g.param(a), &g.param(b)));
            g.backward(&l)
        };
        Adam::new(AdamConfig::adam(0.1))
            .with_params(vec![a])
            .step(&mut ps, &grads);
        assert_ne!(ps.get(a)[[0]], 1.0);
        assert_eq!(ps.get(b)[[0]], 1.0);
    }
}
