//! The Fréchet distance between two sets of feature vectors, each summarised as a Gaussian:
//!
//! ```text
//! d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½)
//! ```
//!
//! This is FID when the features come from an image classifier's penultimate layer; here they
//! come from mllab's own judge, so the number is "FID (judge)" and is comparable only with
//! itself, at the same number of samples (small samples bias it upwards).

/// Mean and covariance (divided by n − 1) of `n` rows of `d` features.
pub fn mean_cov(rows: &[f32], d: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = rows.len() / d.max(1);
    let mut mean = vec![0.0; d];
    for r in rows.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut cov = vec![vec![0.0; d]; d];
    for r in rows.chunks_exact(d) {
        for i in 0..d {
            let di = r[i] as f64 - mean[i];
            for j in i..d {
                cov[i][j] += di * (r[j] as f64 - mean[j]);
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            cov[i][j] /= denom;
            cov[j][i] = cov[i][j];
        }
    }
    (mean, cov)
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix, by cyclic Jacobi rotations.
pub fn sym_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut m: Vec<Vec<f64>> = a.to_vec();
    let mut v = vec![vec![0.0; n]; n];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j] * m[i][j])
            .sum();
        let scale: f64 = (0..n).map(|i| m[i][i] * m[i][i]).sum::<f64>().max(1e-300);
        if off <= 1e-22 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k][p], m[k][q]);
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p][k], m[q][k]);
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i][i]).collect(), v)
}

/// The symmetric square root of a symmetric positive semi-definite matrix.
fn sqrt_psd(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let (vals, vecs) = sym_eigen(a);
    let mut out = vec![vec![0.0; n]; n];
    for k in 0..n {
        let s = vals[k].max(0.0).sqrt();
        for i in 0..n {
            for j in 0..n {
                out[i][j] += vecs[i][k] * s * vecs[j][k];
            }
        }
    }
    out
}

fn matmul(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut out = vec![vec![0.0; n]; n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i][k];
            for j in 0..n {
                out[i][j] += aik * b[k][j];
            }
        }
    }
    out
}

/// The Fréchet distance (squared, as FID reports it) between two Gaussians.
pub fn frechet(mu1: &[f64], s1: &[Vec<f64>], mu2: &[f64], s2: &[Vec<f64>]) -> f64 {
    let mean_term: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    let r = sqrt_psd(s1);
    let inner = matmul(&matmul(&r, s2), &r);
    let (vals, _) = sym_eigen(&inner);
    let cross: f64 = vals.iter().map(|v| v.max(0.0).sqrt()).sum();
    let trace: f64 = (0..mu1.len()).map(|i| s1[i][i] + s2[i][i]).sum();
    (mean_term + trace - 2.0 * cross).max(0.0)
}

/// The Fréchet distance between two sets of feature rows.
pub fn frechet_of(a: &[f32], b: &[f32], d: usize) -> f64 {
    let (m1, s1) = mean_cov(a, d);
    let (m2, s2) = mean_cov(b, d);
    frechet(&m1, &s1, &m2, &s2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_the_eigenvalues_of_a_known_matrix() {
        let a = vec![
            vec![2.0, 1.0, 0.0],
            vec![1.0, 2.0, 0.0],
            vec![0.0, 0.0, 5.0],
        ];
        let (mut vals, _) = sym_eigen(&a);
        vals.sort_by(f64::total_cmp);
        for (got, want) in vals.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-10, "{vals:?}");
        }
    }

    #[test]
    fn the_distance_of_a_gaussian_to_itself_is_zero() {
        let s = vec![vec![2.0, 0.3], vec![0.3, 1.0]];
        assert!(frechet(&[1.0, 2.0], &s, &[1.0, 2.0], &s).abs() < 1e-9);
    }

    #[test]
    fn for_diagonal_covariances_it_has_the_closed_form() {
        // d² = Σ (μ₁ᵢ − μ₂ᵢ)² + Σ (σ₁ᵢ − σ₂ᵢ)² when both covariances are diagonal.
        let s1 = vec![vec![4.0, 0.0], vec![0.0, 1.0]];
        let s2 = vec![vec![1.0, 0.0], vec![0.0, 9.0]];
        let d = frechet(&[0.0, 0.0], &s1, &[3.0, 0.0], &s2);
        let want = 9.0 + (2.0f64 - 1.0).powi(2) + (1.0f64 - 3.0).powi(2);
        assert!((d - want).abs() < 1e-9, "{d} vs {want}");
    }

    #[test]
    fn sample_statistics_are_the_usual_ones() {
        let rows = [1.0f32, 2.0, 3.0, 4.0, 5.0, 9.0];
        let (m, c) = mean_cov(&rows, 2);
        assert_eq!(m, vec![3.0, 5.0]);
        assert!(
            (c[0][0] - 4.0).abs() < 1e-12
                && (c[0][1] - 7.0).abs() < 1e-12
                && (c[1][1] - 13.0).abs() < 1e-12
        );
    }
}
