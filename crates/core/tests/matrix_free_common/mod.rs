//! Test matrices with known spectra for the matrix-free solver tests.

#![allow(dead_code)]

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use symstab_core::matrix_free::SymmetricOperator;

/// A = Q·diag(λ)·Qᵀ with Q a product of three random Householder reflections, applied
/// in O(n) per product: a matrix-free operator whose spectrum is exactly `eigenvalues`.
pub struct Reflected {
    eigenvalues: Vec<f64>,
    reflectors: Vec<Vec<f64>>,
}

impl Reflected {
    pub fn new(eigenvalues: Vec<f64>, seed: u64) -> Self {
        let n = eigenvalues.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let reflectors = (0..3)
            .map(|_| {
                let mut u: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
                let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
                u.iter_mut().for_each(|x| *x /= norm);
                u
            })
            .collect();
        Reflected {
            eigenvalues,
            reflectors,
        }
    }

    /// The dense matrix (for small n only).
    pub fn dense(&self) -> DMatrix<f64> {
        let n = self.eigenvalues.len();
        let mut a = DMatrix::zeros(n, n);
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            self.apply(&e, &mut col);
            e[j] = 0.0;
            a.column_mut(j).copy_from_slice(&col);
        }
        symstab_core::model::symmetrize(&mut a);
        a
    }
}

fn reflect(u: &[f64], x: &mut [f64]) {
    let d: f64 = u.iter().zip(x.iter()).map(|(a, b)| a * b).sum();
    for (xi, ui) in x.iter_mut().zip(u) {
        *xi -= 2.0 * d * ui;
    }
}

impl SymmetricOperator for Reflected {
    fn dim(&self) -> usize {
        self.eigenvalues.len()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        y.copy_from_slice(x);
        // Qᵀx = H₃H₂H₁x, then diag(λ), then Q = H₁H₂H₃.
        for u in &self.reflectors {
            reflect(u, y);
        }
        for (yi, l) in y.iter_mut().zip(&self.eigenvalues) {
            *yi *= l;
        }
        for u in self.reflectors.iter().rev() {
            reflect(u, y);
        }
    }
}

/// Q·diag(λ)·Qᵀ with a dense random orthogonal Q (QR of a Gaussian matrix).
pub fn dense_with_spectrum(eigenvalues: &[f64], seed: u64) -> DMatrix<f64> {
    let n = eigenvalues.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = DMatrix::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let q = g.qr().q();
    let d = DMatrix::from_diagonal(&DVector::from_column_slice(eigenvalues));
    let mut a = &q * d * q.transpose();
    symstab_core::model::symmetrize(&mut a);
    a
}

/// (G + Gᵀ)/2 with standard normal G: a random symmetric matrix (GOE-like spectrum).
pub fn random_symmetric(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = DMatrix::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    (&g + g.transpose()) * 0.5
}

/// Dense eigenvalues in ascending order.
pub fn dense_eigenvalues(a: &DMatrix<f64>) -> Vec<f64> {
    let mut v: Vec<f64> = SymmetricEigen::new(a.clone())
        .eigenvalues
        .iter()
        .copied()
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// ‖A·y − θ·y‖ computed explicitly.
pub fn true_residual<O: SymmetricOperator>(op: &O, value: f64, vector: &[f64]) -> f64 {
    let mut ay = vec![0.0; vector.len()];
    op.apply(vector, &mut ay);
    ay.iter()
        .zip(vector)
        .map(|(a, y)| (a - value * y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Largest relative error between two equally long value lists.
pub fn max_relative_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}
