//! Eigen-decomposition of the small dense symmetric matrices the Krylov solvers project
//! onto: Householder reduction to tridiagonal form (nalgebra's `SymmetricTridiagonal`)
//! followed by the implicit QL algorithm with Wilkinson shifts on the tridiagonal
//! (Golub & Van Loan, *Matrix Computations*, 4th ed., §8.3; Bowdler, Martin, Reinsch &
//! Wilkinson, Numer. Math. 11 (1968) 293–306), accumulating the eigenvectors.
//!
//! nalgebra's `SymmetricEigen` is not used here: on the arrowhead matrices produced by
//! thick restarts it was seen to return eigenpairs with residuals ‖T·s − θ·s‖ of order
//! 1e-7·‖T‖, far above rounding, which would spoil the 1e-8 accuracy the solvers promise,
//! and on some very sparse matrices it returned NaN.

use nalgebra::{DMatrix, SymmetricTridiagonal};

/// Eigenvalues (ascending) and orthonormal eigenvectors (column j for value j) of a
/// dense symmetric matrix (only its lower triangle is read).
///
/// Meant for the small projected matrices of the Krylov solvers and as a dense
/// cross-check; it costs about 10·n³ flops, so it is slow beyond a few thousand rows.
/// Unlike nalgebra 0.33's `SymmetricEigen`, it returns finite, accurate results on very
/// sparse inputs such as a 33×33 matrix with three off-diagonal pairs (where that one was
/// seen to return NaN) and on the arrowhead matrices of thick restarts.
pub fn symmetric_eigen(matrix: DMatrix<f64>) -> (Vec<f64>, DMatrix<f64>) {
    let m = matrix.nrows();
    if m == 0 {
        return (Vec::new(), DMatrix::zeros(0, 0));
    }
    if m == 1 {
        return (vec![matrix[(0, 0)]], DMatrix::identity(1, 1));
    }
    let (q, diagonal, off_diagonal) = SymmetricTridiagonal::new(matrix).unpack();
    let mut d: Vec<f64> = diagonal.iter().copied().collect();
    let mut e: Vec<f64> = off_diagonal.iter().copied().collect();
    e.push(0.0);
    let mut z = q;
    tridiagonal_ql(&mut d, &mut e, &mut z);

    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| d[a].total_cmp(&d[b]));
    let values = order.iter().map(|&i| d[i]).collect();
    let vectors = DMatrix::from_fn(m, m, |r, c| z[(r, order[c])]);
    (values, vectors)
}

/// Implicit QL with Wilkinson shifts on the symmetric tridiagonal matrix with diagonal
/// `d` and off-diagonal `e` (`e[i]` couples rows i and i+1; `e[m-1]` is ignored). On
/// return `d` holds the eigenvalues (unsorted) and the columns of `z` have been rotated
/// by the accumulated Givens rotations (start with Q to get eigenvectors of Q·T·Qᵀ).
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64], z: &mut DMatrix<f64>) {
    let m = d.len();
    let rows = z.nrows();
    e[m - 1] = 0.0;
    for l in 0..m {
        let mut iterations = 0;
        loop {
            // Find the first negligible off-diagonal entry at or after l.
            let mut end = l;
            while end + 1 < m {
                let size = d[end].abs() + d[end + 1].abs();
                if e[end].abs() <= f64::EPSILON * size {
                    break;
                }
                end += 1;
            }
            if end == l {
                break;
            }
            iterations += 1;
            if iterations > 100 {
                // Not seen in practice (QL converges cubically); keep what we have.
                break;
            }

            // Wilkinson shift from the leading 2×2 block, then chase the bulge upwards.
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[end] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..end).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[end] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                for k in 0..rows {
                    let upper = z[(k, i + 1)];
                    let lower = z[(k, i)];
                    z[(k, i + 1)] = s * lower + c * upper;
                    z[(k, i)] = c * lower - s * upper;
                }
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[end] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrowhead_eigenpairs_have_rounding_level_residuals() {
        // An arrowhead matrix like those after a thick restart, with clustered values.
        let m = 30;
        let mut t = DMatrix::zeros(m, m);
        for i in 0..m - 1 {
            t[(i, i)] = 1.0 + 1e-6 * (i as f64) + if i % 3 == 0 { 5.0 } else { 0.0 };
            t[(i, m - 1)] = 1e-3 * ((i * 7 % 11) as f64 - 5.0);
            t[(m - 1, i)] = t[(i, m - 1)];
        }
        t[(m - 1, m - 1)] = 2.0;
        let (values, vectors) = symmetric_eigen(t.clone());
        let diag = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(values.clone()));
        let residual = (&t * &vectors - &vectors * diag).amax();
        let orthogonality = (vectors.transpose() * &vectors - DMatrix::identity(m, m)).amax();
        assert!(residual < 1e-13 * t.amax(), "residual {residual:e}");
        assert!(orthogonality < 1e-13, "orthogonality {orthogonality:e}");
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
        let trace: f64 = (0..m).map(|i| t[(i, i)]).sum();
        assert!((values.iter().sum::<f64>() - trace).abs() < 1e-12 * trace);
    }

    #[test]
    fn very_sparse_matrix_gets_finite_exact_eigenvalues() {
        // nalgebra 0.33's SymmetricEigen returned NaN here.
        let mut a = DMatrix::zeros(33, 33);
        for (i, j, v) in [(4, 29, 3.0), (5, 23, 2.0), (6, 26, 1.0)] {
            a[(i, j)] = v;
            a[(j, i)] = v;
        }
        let (values, vectors) = symmetric_eigen(a.clone());
        let mut want = vec![0.0; 27];
        want.extend([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]);
        want.sort_by(f64::total_cmp);
        for (got, want) in values.iter().zip(&want) {
            assert!((got - want).abs() < 1e-14, "{values:?}");
        }
        let diag = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(values));
        assert!((&a * &vectors - &vectors * diag).amax() < 1e-14);
        assert!((vectors.transpose() * &vectors - DMatrix::identity(33, 33)).amax() < 1e-14);
    }

    #[test]
    fn tiny_cases() {
        let (values, vectors) = symmetric_eigen(DMatrix::from_element(1, 1, -2.0));
        assert_eq!(values, vec![-2.0]);
        assert!((vectors[(0, 0)] - 1.0).abs() < 1e-15);
        let (values, _) = symmetric_eigen(DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]));
        assert!((values[0] + 1.0).abs() < 1e-15 && (values[1] - 1.0).abs() < 1e-15);
        let (values, _) = symmetric_eigen(DMatrix::zeros(3, 3));
        assert!(values.iter().all(|v| *v == 0.0));
    }
}
