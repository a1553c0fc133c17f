//! The affine coupling of RealNVP and a stack of them: the one implementation the lesson trains
//! and `mllab bench`'s reference RealNVP times (`bench::models::RealNvp` is a stack of these).
//!
//! ```text
//! mask m (1 = passed through, 0 = transformed), x (B, D)
//! s = (1 − m) ⊙ tanh(S(m ⊙ x)) ⊙ exp(scale)       scale: a learned (1, D) row, 0 at the start
//! t = (1 − m) ⊙ T(m ⊙ x)
//! forward   y = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s) + t)     log |det ∂y/∂x| = Σ s
//! inverse   x = m ⊙ y + (1 − m) ⊙ (y − t) ⊙ exp(−s)    (s and t read m ⊙ y = m ⊙ x)
//! ```
//!
//! The Jacobian is triangular once the passed-through coordinates are listed first: they copy
//! themselves (an identity block) and do not depend on the transformed ones, and each
//! transformed coordinate is its own value times exp(sᵢ) plus something that does not depend
//! on it. So the determinant is the product of the diagonal, exp(Σ s), with no D × D matrix
//! ever formed, and S and T can be any networks at all.

use rand::Rng;

use crate::nn::{Activation, Mlp};
use crate::tensor::{Graph, ParamId, ParamStore, Tensor, Var, tensor, zeros};

/// One affine coupling: its mask, its scale and shift networks and its learned scale row.
pub struct Coupling {
    /// (1, D): 1 where a coordinate passes through unchanged and conditions the others.
    pub mask: Tensor,
    /// S: (B, D) → (B, D), the raw log-scale before tanh.
    pub s: Mlp,
    /// T: (B, D) → (B, D), the shift.
    pub t: Mlp,
    /// (1, D): exp(scale) bounds the log-scale of each coordinate.
    pub scale: ParamId,
}

impl Coupling {
    /// A coupling on D = `widths[0]` coordinates whose networks have the given widths (input,
    /// hidden…, output, with input = output = D); its parameters are named `{name}.s.l*`,
    /// `{name}.t.l*` and `{name}.scale`.
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        mask: Tensor,
        widths: &[usize],
        activation: Activation,
        rng: &mut impl Rng,
    ) -> Coupling {
        let d = widths[0];
        debug_assert_eq!(mask.len(), d);
        Coupling {
            mask,
            s: Mlp::new(ps, &format!("{name}.s"), widths, activation, rng),
            t: Mlp::new(ps, &format!("{name}.t"), widths, activation, rng),
            scale: ps.add(format!("{name}.scale"), zeros(&[1, d])),
        }
    }

    /// Sets the last layer of S and T to zero: the coupling starts as the identity (s = 0,
    /// t = 0), so a fresh flow is the prior itself and its first steps are tame.
    pub fn start_as_identity(&self, ps: &mut ParamStore) {
        for net in [&self.s, &self.t] {
            let last = net.layers.last().expect("an MLP has a layer");
            for id in last.params() {
                let shape = ps.get(id).shape().to_vec();
                ps.set(id, zeros(&shape));
            }
        }
    }

    fn masks(&self, g: &Graph) -> (Var, Var) {
        (
            g.input(self.mask.clone()),
            g.input(self.mask.mapv(|m| 1.0 - m)),
        )
    }

    /// s and t for the passed-through part `xm` = m ⊙ x.
    fn scale_and_shift(&self, g: &Graph, xm: &Var, inv: &Var) -> (Var, Var) {
        let s = g.mul(
            &g.mul(
                &g.tanh(&self.s.forward(g, xm)),
                &g.exp(&g.param(self.scale)),
            ),
            inv,
        );
        let t = g.mul(&self.t.forward(g, xm), inv);
        (s, t)
    }

    /// x → y, with log |det ∂y/∂x| per row (B).
    pub fn forward(&self, g: &Graph, x: &Var) -> (Var, Var) {
        let (mask, inv) = self.masks(g);
        let xm = g.mul(x, &mask);
        let (s, t) = self.scale_and_shift(g, &xm, &inv);
        let y = g.add(&xm, &g.mul(&inv, &g.add(&g.mul(x, &g.exp(&s)), &t)));
        (y, g.sum_axis(&s, 1, false))
    }

    /// y → x, the exact inverse of [`forward`](Self::forward).
    pub fn inverse(&self, g: &Graph, y: &Var) -> Var {
        let (mask, inv) = self.masks(g);
        let ym = g.mul(y, &mask);
        let (s, t) = self.scale_and_shift(g, &ym, &inv);
        let back = g.mul(&g.sub(y, &t), &g.exp(&g.neg(&s)));
        g.add(&ym, &g.mul(&inv, &back))
    }

    pub fn params(&self) -> Vec<ParamId> {
        let mut p = self.s.params();
        p.extend(self.t.params());
        p.push(self.scale);
        p
    }
}

/// Data to latent through every coupling in order: z (B, D) and Σ log |det| per row (B).
pub fn forward(g: &Graph, layers: &[Coupling], x: &Var) -> (Var, Var) {
    let mut x = x.clone();
    let mut logdet: Option<Var> = None;
    for c in layers {
        let (y, ld) = c.forward(g, &x);
        x = y;
        logdet = Some(match logdet {
            Some(l) => g.add(&l, &ld),
            None => ld,
        });
    }
    let logdet = logdet.unwrap_or_else(|| g.input(zeros(&[x.shape()[0]])));
    (x, logdet)
}

/// Latent to data through the couplings in reverse order; with `frames`, also the state after
/// each of them (the last is x itself).
pub fn inverse(g: &Graph, layers: &[Coupling], z: &Var, frames: bool) -> (Var, Vec<Tensor>) {
    let mut x = z.clone();
    let mut kept = Vec::new();
    for c in layers.iter().rev() {
        x = c.inverse(g, &x);
        if frames {
            kept.push(x.value().clone());
        }
    }
    (x, kept)
}

/// −log N(z; 0, I) per row (B): ½‖z‖² + (D/2)·ln 2π.
pub fn prior_nll(g: &Graph, z: &Var) -> Var {
    let d = z.shape()[1] as f32;
    let sq = g.sum_axis(&g.square(z), 1, false);
    g.mul_scalar(
        &g.add_scalar(&sq, d * (2.0 * std::f32::consts::PI).ln()),
        0.5,
    )
}

/// Mean −log p(x) in nats per example: the prior's NLL of z minus the log-determinant.
pub fn mean_nll(g: &Graph, layers: &[Coupling], x: &Var) -> Var {
    let (z, logdet) = forward(g, layers, x);
    g.mean_all(&g.sub(&prior_nll(g, &z), &logdet))
}

/// The checkerboard mask on 28×28 pixels, (1, 784): 1 where (row + column) % 2 == parity.
pub fn checkerboard(parity: usize) -> Tensor {
    let v: Vec<f32> = (0..784)
        .map(|k| f32::from(u8::from((k / 28 + k % 28) % 2 == parity)))
        .collect();
    tensor(&[1, 784], &v)
}

/// The mask on `d` coordinates that passes through coordinates i with i % 2 == parity: in the
/// plane, layer after layer alternates which coordinate is transformed.
pub fn alternating(d: usize, parity: usize) -> Tensor {
    let v: Vec<f32> = (0..d)
        .map(|i| f32::from(u8::from(i % 2 == parity)))
        .collect();
    tensor(&[1, d], &v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{GradCheckConfig, grad_check, randn};
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// A stack on `d` coordinates with alternating masks, random (not identity) networks and
    /// scale rows, so every term of the log-determinant is exercised.
    fn stack(d: usize, layers: usize, seed: u64) -> (ParamStore, Vec<Coupling>) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut ps = ParamStore::new();
        let cs: Vec<Coupling> = (0..layers)
            .map(|k| {
                Coupling::new(
                    &mut ps,
                    &format!("c{k}"),
                    alternating(d, k % 2),
                    &[d, 16, d],
                    Activation::Tanh,
                    &mut rng,
                )
            })
            .collect();
        for c in &cs {
            ps.set(c.scale, randn(&[1, d], &mut rng).mapv(|v| 0.3 * v));
        }
        (ps, cs)
    }

    /// det A by Gaussian elimination with partial pivoting.
    fn determinant(mut a: Vec<Vec<f64>>) -> f64 {
        let n = a.len();
        let mut det = 1.0;
        for c in 0..n {
            let p = (c..n)
                .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
                .expect("rows left");
            if p != c {
                a.swap(p, c);
                det = -det;
            }
            det *= a[c][c];
            for r in c + 1..n {
                let f = a[r][c] / a[c][c];
                for k in c..n {
                    a[r][k] -= f * a[c][k];
                }
            }
        }
        det
    }

    fn run_forward(ps: &ParamStore, cs: &[Coupling], x: &Tensor) -> (Tensor, Tensor) {
        let g = Graph::no_grad(ps);
        let (z, ld) = forward(&g, cs, &g.input(x.clone()));
        (z.into_tensor(), ld.into_tensor())
    }

    #[test]
    fn the_log_determinant_is_that_of_the_finite_difference_jacobian() {
        let d = 5;
        let (ps, cs) = stack(d, 4, 1);
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let x = randn(&[3, d], &mut rng);
        let (_, logdet) = run_forward(&ps, &cs, &x);
        let h = 1e-2f32;
        for row in 0..3 {
            // Column j of the Jacobian by central differences, in f64 from f32 forward passes.
            let mut jac = vec![vec![0.0f64; d]; d];
            for j in 0..d {
                let mut plus = x.clone();
                let mut minus = x.clone();
                plus[[row, j]] += h;
                minus[[row, j]] -= h;
                let (zp, _) = run_forward(&ps, &cs, &plus);
                let (zm, _) = run_forward(&ps, &cs, &minus);
                for (i, r) in jac.iter_mut().enumerate() {
                    r[j] = (zp[[row, i]] as f64 - zm[[row, i]] as f64) / (2.0 * h as f64);
                }
            }
            let det = determinant(jac);
            let brute = det.abs().ln();
            let exact = logdet[[row]] as f64;
            assert!(
                (brute - exact).abs() < 2e-3,
                "row {row}: log|det J| by differences {brute}, by the flow {exact}"
            );
        }
    }

    #[test]
    fn the_inverse_undoes_the_forward_to_within_1e_4() {
        let (ps, cs) = stack(6, 6, 3);
        let x = randn(&[64, 6], &mut Pcg64Mcg::seed_from_u64(4)).mapv(|v| 2.0 * v);
        let g = Graph::no_grad(&ps);
        let (z, _) = forward(&g, &cs, &g.input(x.clone()));
        let (back, frames) = inverse(&g, &cs, &z, true);
        assert_eq!(frames.len(), 6);
        assert_eq!(&frames[5], back.value());
        let err = x
            .iter()
            .zip(back.value().iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "max |x − f⁻¹(f(x))| = {err}");
        // And it is not the identity by accident.
        let moved = x
            .iter()
            .zip(z.value().iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(moved > 0.1, "the flow barely moves x ({moved})");
    }

    #[test]
    fn a_coupling_started_as_the_identity_is_the_identity() {
        let (mut ps, cs) = stack(4, 2, 5);
        for c in &cs {
            c.start_as_identity(&mut ps);
        }
        let x = randn(&[8, 4], &mut Pcg64Mcg::seed_from_u64(6));
        let (z, ld) = run_forward(&ps, &cs, &x);
        assert_eq!(z, x);
        assert!(ld.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn the_likelihood_and_the_flow_pass_the_gradient_check() {
        let (mut ps, cs) = stack(4, 2, 7);
        let x = randn(&[3, 4], &mut Pcg64Mcg::seed_from_u64(8));
        let cfg = GradCheckConfig::default();
        let report = grad_check(&mut ps, |g| mean_nll(g, &cs, &g.input(x.clone())), &cfg);
        assert!(report.passed(), "{report}");
        let report = grad_check(
            &mut ps,
            |g| {
                let (z, _) = forward(g, &cs, &g.input(x.clone()));
                inverse(g, &cs, &g.mul_scalar(&z, 0.9), false).0
            },
            &cfg,
        );
        assert!(report.passed(), "{report}");
    }

    #[test]
    fn the_masks_alternate() {
        assert_eq!(
            alternating(2, 0).iter().copied().collect::<Vec<_>>(),
            [1.0, 0.0]
        );
        assert_eq!(
            alternating(2, 1).iter().copied().collect::<Vec<_>>(),
            [0.0, 1.0]
        );
        let (a, b) = (checkerboard(0), checkerboard(1));
        assert_eq!(a.sum() + b.sum(), 784.0);
        assert_eq!(
            (a[[0, 0]], a[[0, 1]], a[[0, 28]], a[[0, 29]]),
            (1.0, 0.0, 0.0, 1.0)
        );
    }
}
