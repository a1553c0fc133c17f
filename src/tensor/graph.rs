//! The tape of reverse-mode autodiff. A `Graph` records, for every value computed from a
//! tracked input, its parents and a closure that turns the output's gradient into the parents'
//! gradients. `backward` walks the records newest-first (the order of recording is already a
//! topological order) and accumulates. The ops themselves live in `ops/`; this file knows none
//! of them.
//!
//! A `Var` owns its value (`Arc<Tensor>`), so a graph in no-grad mode records nothing and keeps
//! no intermediates: a value dies when its last `Var` does.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use super::Tensor;
use super::params::{Grads, ParamId, ParamStore};

/// Turns the gradient of an op's output into the gradients of its parents. The rule owns the
/// output's gradient (so a pass-through op can hand it on without a copy); the second argument
/// says which parents need one (the others get `None`, so no work is wasted on them).
pub type BackwardFn = Box<dyn FnOnce(Tensor, &[bool]) -> Vec<Option<Tensor>> + Send>;

struct Node {
    name: &'static str,
    parents: Vec<Option<usize>>,
    backward: Option<BackwardFn>,
    param: Option<ParamId>,
}

/// A value in a computation: a tensor plus, when gradients flow through it, its place on the tape.
#[derive(Clone, Debug)]
pub struct Var {
    node: Option<usize>,
    value: Arc<Tensor>,
}

impl Var {
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    pub fn ndim(&self) -> usize {
        self.value.ndim()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The single value of a one-element tensor (a loss). Panics otherwise.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.value.len(),
            1,
            "item() needs a one-element tensor, got shape {:?}",
            self.shape()
        );
        self.value.iter().copied().next().unwrap_or(f32::NAN)
    }

    /// Whether gradients flow through this value.
    pub fn is_tracked(&self) -> bool {
        self.node.is_some()
    }

    /// A copy of the value.
    pub fn to_tensor(&self) -> Tensor {
        (*self.value).clone()
    }

    /// The value, without copying when this is the last handle.
    pub fn into_tensor(self) -> Tensor {
        Arc::try_unwrap(self.value).unwrap_or_else(|a| (*a).clone())
    }

    pub(crate) fn arc(&self) -> Arc<Tensor> {
        Arc::clone(&self.value)
    }
}

/// The tape. Borrows the `ParamStore` whose parameters it reads, so the optimizer can only
/// change them once the graph is gone.
pub struct Graph<'p> {
    params: &'p ParamStore,
    nodes: RefCell<Vec<Node>>,
    grad_enabled: bool,
    frozen: RefCell<HashSet<ParamId>>,
}

impl<'p> Graph<'p> {
    /// A graph that records operations for `backward`.
    pub fn new(params: &'p ParamStore) -> Self {
        super::profile::start();
        Self {
            params,
            nodes: RefCell::new(Vec::new()),
            grad_enabled: true,
            frozen: RefCell::default(),
        }
    }

    /// A graph for evaluation and sampling: records nothing, keeps no intermediates.
    pub fn no_grad(params: &'p ParamStore) -> Self {
        Self {
            grad_enabled: false,
            ..Self::new(params)
        }
    }

    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled
    }

    pub fn params(&self) -> &'p ParamStore {
        self.params
    }

    /// Number of recorded nodes (for tests and curiosity).
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A constant: data, targets, noise. No gradient flows into it.
    pub fn input(&self, t: Tensor) -> Var {
        Var {
            node: None,
            value: Arc::new(t.as_standard_layout().into_owned()),
        }
    }

    /// A constant scalar (shape `[]`).
    pub fn scalar(&self, x: f32) -> Var {
        self.input(Tensor::from_elem(ndarray::IxDyn(&[]), x))
    }

    /// A parameter of the store. Tracked unless the graph is no-grad or the parameter is frozen.
    pub fn param(&self, id: ParamId) -> Var {
        let value = self.params.get_arc(id);
        if !self.grad_enabled || self.frozen.borrow().contains(&id) {
            return Var { node: None, value };
        }
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            name: "param",
            parents: Vec::new(),
            backward: None,
            param: Some(id),
        });
        Var {
            node: Some(nodes.len() - 1),
            value,
        }
    }

    /// Reads the parameter named `name`; panics with the name if it does not exist.
    pub fn param_named(&self, name: &str) -> Var {
        let id = self
            .params
            .id(name)
            .unwrap_or_else(|| panic!("no parameter named `{name}`"));
        self.param(id)
    }

    /// From now on, `param` returns these parameters as constants (e.g. D during the G step).
    pub fn freeze(&self, ids: &[ParamId]) {
        self.frozen.borrow_mut().extend(ids.iter().copied());
    }

    pub fn unfreeze_all(&self) {
        self.frozen.borrow_mut().clear();
    }

    /// The same value, cut off from the tape (PyTorch's `detach`).
    pub fn detach(&self, v: &Var) -> Var {
        Var {
            node: None,
            value: v.arc(),
        }
    }

    /// Whether an op on these parents must be recorded.
    pub fn tracks(&self, parents: &[&Var]) -> bool {
        self.grad_enabled && parents.iter().any(|p| p.node.is_some())
    }

    /// Records an op: its output value, its parents and its backward rule. This is how every op
    /// in `ops/` is built, and how a lesson can add its own. If nothing needs a gradient, the
    /// rule is dropped unused and nothing is recorded.
    pub fn record(
        &self,
        value: Tensor,
        parents: &[&Var],
        backward: impl FnOnce(Tensor, &[bool]) -> Vec<Option<Tensor>> + Send + 'static,
    ) -> Var {
        self.record_shared(Arc::new(value), parents, backward)
    }

    /// `record` for an output already behind an `Arc` (when the rule needs the output too).
    pub fn record_shared(
        &self,
        value: Arc<Tensor>,
        parents: &[&Var],
        backward: impl FnOnce(Tensor, &[bool]) -> Vec<Option<Tensor>> + Send + 'static,
    ) -> Var {
        debug_assert!(
            value.is_standard_layout(),
            "op outputs must be in standard layout"
        );
        if !self.tracks(parents) {
            return Var { node: None, value };
        }
        let name = super::profile::op_name(&backward);
        if super::profile::enabled() {
            super::profile::forward(name);
        }
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            name,
            parents: parents.iter().map(|p| p.node).collect(),
            backward: Some(Box::new(backward)),
            param: None,
        });
        Var {
            node: Some(nodes.len() - 1),
            value,
        }
    }

    /// Backpropagates from a one-element `loss` (seed gradient 1).
    pub fn backward(&self, loss: &Var) -> Grads {
        assert_eq!(
            loss.len(),
            1,
            "backward() needs a one-element loss; use backward_with for others"
        );
        let seed = Tensor::ones(loss.value.raw_dim());
        self.backward_with(loss, seed)
    }

    /// Backpropagates from `out` with an arbitrary upstream gradient `seed` of the same shape.
    /// Each record's rule runs at most once: backpropagating twice through the same part of a
    /// graph panics, as in PyTorch. Parts not reached stay usable (GAN: D loss, then G loss).
    pub fn backward_with(&self, out: &Var, seed: Tensor) -> Grads {
        assert_eq!(
            seed.shape(),
            out.shape(),
            "seed gradient shape must match the output"
        );
        let mut grads = Grads::with_len(self.params.len());
        let Some(root) = out.node else { return grads };
        let mut nodes = self.nodes.borrow_mut();
        let mut pending: Vec<Option<Tensor>> = Vec::new();
        pending.resize_with(root + 1, || None);
        pending[root] = Some(super::shape::standard(seed));
        for i in (0..=root).rev() {
            let Some(g) = pending[i].take() else { continue };
            let node = &mut nodes[i];
            if let Some(id) = node.param {
                grads.accumulate(id, g);
                continue;
            }
            let rule = node
                .backward
                .take()
                .expect("backward through the same graph twice (the rule was already used)");
            let need: Vec<bool> = node.parents.iter().map(|p| p.is_some()).collect();
            let t0 = super::profile::enabled().then(std::time::Instant::now);
            let parent_grads = rule(g, &need);
            if let Some(t0) = t0 {
                super::profile::backward(node.name, t0.elapsed().as_secs_f64());
            }
            debug_assert_eq!(
                parent_grads.len(),
                node.parents.len(),
                "a rule returned the wrong number of gradients"
            );
            for (p, pg) in node.parents.iter().zip(parent_grads) {
                if let (Some(p), Some(pg)) = (p, pg) {
                    debug_assert!(
                        pg.is_standard_layout(),
                        "gradients must be in standard layout"
                    );
                    match &mut pending[*p] {
                        Some(acc) => *acc += &pg,
                        slot @ None => *slot = Some(pg),
                    }
                }
            }
        }
        grads
    }
}
