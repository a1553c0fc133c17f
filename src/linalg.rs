//! Small dense linear algebra in f64, for the closed forms the lessons compare against:
//! least squares and ridge (normal equations), and 2×2 covariance algebra.
//!
//! Sizes here are tiny (a few dozen unknowns), so plain Gaussian elimination with partial
//! pivoting is exact enough and easy to read. Neural models use `tensor`, not this.

/// Solves `a · x = b` for square `a`; `None` when `a` is singular.
pub fn solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    if a.len() != n || a.iter().any(|row| row.len() != n) {
        return None;
    }
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .zip(b)
        .map(|(row, &bi)| row.iter().copied().chain([bi]).collect())
        .collect();
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |s, v| s.max(v.abs()))
        .max(1e-300);
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() <= 1e-13 * scale {
            return None;
        }
        m.swap(col, pivot);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            for k in col..=n {
                m[row][k] -= f * m[col][k];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][n] - s) / m[row][row];
    }
    Some(x)
}

/// Minimises Σᵢ (yᵢ − xᵢ·w)² + Σⱼ ridgeⱼ·wⱼ², i.e. solves (XᵀX + diag(ridge)) w = Xᵀy.
pub fn least_squares(x: &[Vec<f64>], y: &[f64], ridge: &[f64]) -> Option<Vec<f64>> {
    let d = ridge.len();
    let mut xtx = vec![vec![0.0; d]; d];
    let mut xty = vec![0.0; d];
    for (row, &yi) in x.iter().zip(y) {
        for i in 0..d {
            xty[i] += row[i] * yi;
            for j in 0..d {
                xtx[i][j] += row[i] * row[j];
            }
        }
    }
    for (j, r) in ridge.iter().enumerate() {
        xtx[j][j] += r;
    }
    solve(&xtx, &xty)
}

/// A 2×2 matrix, row major.
pub type Mat2 = [[f64; 2]; 2];

pub fn det2(m: &Mat2) -> f64 {
    m[0][0] * m[1][1] - m[0][1] * m[1][0]
}

/// The inverse, or `None` when the matrix is (numerically) singular.
pub fn inv2(m: &Mat2) -> Option<Mat2> {
    let d = det2(m);
    let scale = m.iter().flatten().fold(0.0f64, |s, v| s.max(v.abs()));
    if d.abs() <= 1e-12 * scale * scale || !d.is_finite() {
        return None;
    }
    Some([[m[1][1] / d, -m[0][1] / d], [-m[1][0] / d, m[0][0] / d]])
}

pub fn mul2v(m: &Mat2, v: [f64; 2]) -> [f64; 2] {
    [
        m[0][0] * v[0] + m[0][1] * v[1],
        m[1][0] * v[0] + m[1][1] * v[1],
    ]
}

pub fn dot2(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

/// Eigen-decomposition of a symmetric 2×2 matrix: (values, unit eigenvectors), largest first.
pub fn sym_eigen2(m: &Mat2) -> ([f64; 2], [[f64; 2]; 2]) {
    let (a, b, d) = (m[0][0], m[0][1], m[1][1]);
    let mean = 0.5 * (a + d);
    let r = (0.25 * (a - d) * (a - d) + b * b).sqrt();
    let (l1, l2) = (mean + r, mean - r);
    let v1 = if b.abs() > 1e-300 {
        let v = [l1 - d, b];
        let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
        [v[0] / n, v[1] / n]
    } else if a >= d {
        [1.0, 0.0]
    } else {
        [0.0, 1.0]
    };
    ([l1, l2], [v1, [-v1[1], v1[0]]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solving_a_small_system_gives_its_exact_solution() {
        let a = vec![
            vec![2.0, 1.0, -1.0],
            vec![-3.0, -1.0, 2.0],
            vec![-2.0, 1.0, 2.0],
        ];
        let x = solve(&a, &[8.0, -11.0, -3.0]).unwrap();
        for (got, want) in x.iter().zip([2.0, 3.0, -1.0]) {
            assert!((got - want).abs() < 1e-12, "{x:?}");
        }
    }

    #[test]
    fn a_singular_system_has_no_solution() {
        assert!(solve(&[vec![1.0, 2.0], vec![2.0, 4.0]], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn ridge_shrinks_the_weights_towards_zero() {
        let x: Vec<Vec<f64>> = (0..20).map(|i| vec![1.0, i as f64 / 10.0]).collect();
        let y: Vec<f64> = (0..20).map(|i| 1.0 + 3.0 * i as f64 / 10.0).collect();
        let plain = least_squares(&x, &y, &[0.0, 0.0]).unwrap();
        let ridge = least_squares(&x, &y, &[0.0, 10.0]).unwrap();
        assert!((plain[1] - 3.0).abs() < 1e-9);
        assert!(ridge[1].abs() < plain[1].abs());
    }

    #[test]
    fn the_inverse_times_the_matrix_is_the_identity() {
        let m = [[4.0, 1.5], [1.5, 2.0]];
        let inv = inv2(&m).unwrap();
        let p = [
            mul2v(&m, [inv[0][0], inv[1][0]]),
            mul2v(&m, [inv[0][1], inv[1][1]]),
        ];
        assert!(
            (p[0][0] - 1.0).abs() < 1e-12 && p[0][1].abs() < 1e-12 && (p[1][1] - 1.0).abs() < 1e-12
        );
    }

    #[test]
    fn eigenvectors_of_a_symmetric_matrix_satisfy_the_definition() {
        let m = [[3.0, 1.2], [1.2, 1.0]];
        let (vals, vecs) = sym_eigen2(&m);
        for k in 0..2 {
            let mv = mul2v(&m, vecs[k]);
            assert!(
                (mv[0] - vals[k] * vecs[k][0]).abs() < 1e-12
                    && (mv[1] - vals[k] * vecs[k][1]).abs() < 1e-12
            );
        }
        assert!(vals[0] >= vals[1]);
    }
}
