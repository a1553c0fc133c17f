//! An exponential moving average of a model's weights (θ_ema ← d·θ_ema + (1 − d)·θ), the
//! weights DDPM samples with.

use crate::tensor::{ParamStore, Tensor};

#[derive(Clone, Debug)]
pub struct Ema {
    pub decay: f32,
    shadow: Vec<Tensor>,
}

impl Ema {
    /// Starts at the current weights.
    pub fn new(ps: &ParamStore, decay: f32) -> Self {
        Self {
            decay,
            shadow: ps.iter().map(|(_, p)| (*p.value).clone()).collect(),
        }
    }

    /// Moves the average toward the current weights.
    pub fn update(&mut self, ps: &ParamStore) {
        let d = self.decay;
        for ((_, p), s) in ps.iter().zip(self.shadow.iter_mut()) {
            ndarray::Zip::from(s)
                .and(&*p.value)
                .for_each(|s, &x| *s = d * *s + (1.0 - d) * x);
        }
    }

    /// A copy of the store holding the averaged weights (same names and ids).
    pub fn averaged(&self, ps: &ParamStore) -> ParamStore {
        let mut out = ps.clone();
        self.copy_to(&mut out);
        out
    }

    /// Writes the averaged weights into `ps`.
    pub fn copy_to(&self, ps: &mut ParamStore) {
        for (id, s) in ps.ids().into_iter().zip(&self.shadow) {
            ps.set(id, s.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::tensor;

    #[test]
    fn the_average_moves_a_fraction_toward_the_weights() {
        let mut ps = ParamStore::new();
        let id = ps.add("w", tensor(&[1], &[0.0]));
        let mut ema = Ema::new(&ps, 0.9);
        ps.set(id, tensor(&[1], &[1.0]));
        ema.update(&ps);
        assert!((ema.averaged(&ps).get(id)[[0]] - 0.1).abs() < 1e-6);
    }
}
