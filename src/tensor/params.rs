//! Parameters and their gradients: `ParamStore` owns every trainable tensor of a model under a
//! hierarchical name (`enc.l1.weight`); `Grads` holds one gradient per parameter, keyed by the
//! same `ParamId`. Neither knows anything about the graph that produced the gradients.

use std::collections::HashMap;
use std::sync::Arc;

use super::Tensor;

/// Index of a parameter in its `ParamStore`. Cheap to copy; layers keep these, not tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub(crate) usize);

impl ParamId {
    /// The position of this parameter in its store (insertion order).
    pub fn index(self) -> usize {
        self.0
    }
}

/// One named trainable tensor. The value sits behind an `Arc` so that a graph can read it
/// without copying; the optimizer writes through `Arc::make_mut`, which does not copy either
/// once the graph is gone.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub value: Arc<Tensor>,
    /// Kept as the transpose of its saved form (Linear weights: (in, out) here, PyTorch's
    /// (out, in) in a file). Saves and loads transpose it.
    pub saved_transposed: bool,
}

/// Every parameter of a model, in insertion order, addressable by id or by name.
#[derive(Clone, Debug, Default)]
pub struct ParamStore {
    params: Vec<Param>,
    by_name: HashMap<String, ParamId>,
}

impl ParamStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter. Panics if the name is already taken: two layers built with the same
    /// name are a bug in the model code, and a silent overwrite would corrupt saves.
    pub fn add(&mut self, name: impl Into<String>, value: Tensor) -> ParamId {
        self.insert(name.into(), value, false)
    }

    /// Adds a 2-D parameter that is saved transposed (see `Param::saved_transposed`).
    pub fn add_transposed(&mut self, name: impl Into<String>, value: Tensor) -> ParamId {
        assert_eq!(value.ndim(), 2, "only matrices are saved transposed");
        self.insert(name.into(), value, true)
    }

    fn insert(&mut self, name: String, value: Tensor, saved_transposed: bool) -> ParamId {
        assert!(
            !self.by_name.contains_key(&name),
            "parameter name `{name}` is used twice"
        );
        let id = ParamId(self.params.len());
        self.by_name.insert(name.clone(), id);
        let value = Arc::new(value.as_standard_layout().into_owned());
        self.params.push(Param {
            name,
            value,
            saved_transposed,
        });
        id
    }

    /// Whether a parameter is kept transposed relative to its saved form.
    pub fn saved_transposed(&self, id: ParamId) -> bool {
        self.params[id.0].saved_transposed
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// All ids, in insertion order.
    pub fn ids(&self) -> Vec<ParamId> {
        (0..self.params.len()).map(ParamId).collect()
    }

    /// Ids of the parameters whose name starts with `prefix` (e.g. `"gen."`).
    pub fn ids_with_prefix(&self, prefix: &str) -> Vec<ParamId> {
        self.ids()
            .into_iter()
            .filter(|id| self.name(*id).starts_with(prefix))
            .collect()
    }

    pub fn id(&self, name: &str) -> Option<ParamId> {
        self.by_name.get(name).copied()
    }

    pub fn name(&self, id: ParamId) -> &str {
        &self.params[id.0].name
    }

    pub fn get(&self, id: ParamId) -> &Tensor {
        &self.params[id.0].value
    }

    pub(crate) fn get_arc(&self, id: ParamId) -> Arc<Tensor> {
        Arc::clone(&self.params[id.0].value)
    }

    /// Mutable access to a parameter's value (copies it first only if a graph still reads it).
    pub fn get_mut(&mut self, id: ParamId) -> &mut Tensor {
        Arc::make_mut(&mut self.params[id.0].value)
    }

    /// Replaces a value; panics if the shape differs.
    pub fn set(&mut self, id: ParamId, value: Tensor) {
        assert_eq!(
            self.get(id).shape(),
            value.shape(),
            "new value of `{}` has the wrong shape",
            self.name(id)
        );
        self.params[id.0].value = Arc::new(value.as_standard_layout().into_owned());
    }

    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Param)> {
        self.params.iter().enumerate().map(|(i, p)| (ParamId(i), p))
    }

    /// The name of the first parameter holding a NaN or an infinity, if any (a diverged run).
    pub fn first_nonfinite(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.value.iter().any(|v| !v.is_finite()))
            .map(|p| p.name.as_str())
    }

    /// Total number of scalar parameters.
    pub fn num_scalars(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }
}

/// Gradients of one backward pass, one slot per parameter of the store the graph read.
#[derive(Clone, Debug, Default)]
pub struct Grads {
    pub(crate) slots: Vec<Option<Tensor>>,
}

impl Grads {
    pub(crate) fn with_len(n: usize) -> Self {
        Self {
            slots: vec![None; n],
        }
    }

    /// The gradient of a parameter, or `None` if the loss does not depend on it.
    pub fn get(&self, id: ParamId) -> Option<&Tensor> {
        self.slots.get(id.0).and_then(|g| g.as_ref())
    }

    pub fn get_mut(&mut self, id: ParamId) -> Option<&mut Tensor> {
        self.slots.get_mut(id.0).and_then(|g| g.as_mut())
    }

    pub(crate) fn accumulate(&mut self, id: ParamId, g: Tensor) {
        match &mut self.slots[id.0] {
            Some(acc) => *acc += &g,
            slot @ None => *slot = Some(g),
        }
    }

    /// Adds another pass's gradients into these (gradient accumulation over micro-batches).
    pub fn merge(&mut self, other: Grads) {
        if self.slots.len() < other.slots.len() {
            self.slots.resize(other.slots.len(), None);
        }
        for (i, g) in other.slots.into_iter().enumerate() {
            if let Some(g) = g {
                self.accumulate(ParamId(i), g);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Tensor)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.as_ref().map(|g| (ParamId(i), g)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Tensor)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, g)| g.as_mut().map(|g| (ParamId(i), g)))
    }

    /// The global L2 norm over all gradients (accumulated in f64).
    pub fn norm(&self) -> f32 {
        let s: f64 = self
            .iter()
            .map(|(_, g)| g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
            .sum();
        s.sqrt() as f32
    }

    /// Scales every gradient so that the global norm is at most `max_norm`; returns the norm
    /// before clipping (as PyTorch's `clip_grad_norm_` does).
    pub fn clip_norm(&mut self, max_norm: f32) -> f32 {
        let norm = self.norm();
        if norm > max_norm && norm > 0.0 {
            let scale = max_norm / (norm + 1e-6);
            for (_, g) in self.iter_mut() {
                g.mapv_inplace(|x| x * scale);
            }
        }
        norm
    }
}
