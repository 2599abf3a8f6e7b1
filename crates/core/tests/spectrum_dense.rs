//! The dense solver behind `SymmetricEigen` and `symmetric_eigenvalues` on the matrices
//! that broke nalgebra 0.33's `SymmetricEigen` (a very sparse 33×33, arrowheads, issue
//! #1109), on random matrices up to 400×400 (residuals, orthogonality, eigenvalues
//! against nalgebra's as a second method and against invariants), on closed forms, and
//! the eigenvalues-only path against the full one.

#![allow(
    clippy::float_cmp,
    reason = "the eigenvalues-only path is meant to equal the full one exactly"
)]

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::Error;
use symstab_core::spectrum::{
    SymmetricEigen, hessian_eigenvalues, hessian_spectrum, symmetric_eigenvalues,
    symmetric_eigenvalues_with_tolerance,
};
use symstab_core::toy::ProductChain;

/// Worst ‖Av − λv‖ over the eigenpairs and worst |VᵀV − I| entry.
fn accuracy(a: &DMatrix<f64>, eig: &SymmetricEigen) -> (f64, f64) {
    let n = a.nrows();
    let v = eig.eigenvectors();
    let r = a * v - v * DMatrix::from_diagonal(&DVector::from_column_slice(eig.eigenvalues()));
    let residual = (0..n).map(|k| r.column(k).norm()).fold(0.0, f64::max);
    let orthogonality = (v.transpose() * v - DMatrix::identity(n, n)).amax();
    (residual, orthogonality)
}

/// Asserts the backward-stability bounds residual ≤ c·max(n, 4)·ε·‖A‖_F, orthogonality
/// ≤ c·max(n, 4)·ε,
/// descending order, and that the eigenvalues-only path gives the same values.
fn check_decomposition(a: &DMatrix<f64>, c: f64) -> SymmetricEigen {
    let n = a.nrows();
    let eig = SymmetricEigen::new(a.clone()).unwrap();
    let (residual, orthogonality) = accuracy(a, &eig);
    let bound = c * n.max(4) as f64 * f64::EPSILON;
    assert!(
        residual <= bound * a.norm().max(f64::MIN_POSITIVE),
        "n = {n}: residual {residual:e} vs ‖A‖ {:e}",
        a.norm()
    );
    assert!(
        orthogonality <= bound,
        "n = {n}: orthogonality {orthogonality:e}"
    );
    assert!(eig.eigenvalues().iter().all(|x| x.is_finite()));
    assert!(eig.eigenvalues().windows(2).all(|w| w[0] >= w[1]));
    let values = symmetric_eigenvalues(a.clone()).unwrap();
    assert_eq!(values.as_slice(), eig.eigenvalues(), "values-only differs");
    eig
}

fn random_symmetric(n: usize, rng: &mut ChaCha8Rng) -> DMatrix<f64> {
    let g = DMatrix::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
    (&g + g.transpose()) * 0.5
}

/// A random orthogonal matrix (QR of a Gaussian-ish matrix by nalgebra).
fn random_orthogonal(n: usize, rng: &mut ChaCha8Rng) -> DMatrix<f64> {
    let g = DMatrix::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
    g.qr().q()
}

#[test]
fn sparse_33_that_made_nalgebra_return_nan() {
    let mut a = DMatrix::zeros(33, 33);
    for (i, j, v) in [(4, 29, 3.0), (5, 23, 2.0), (6, 26, 1.0)] {
        a[(i, j)] = v;
        a[(j, i)] = v;
    }
    let eig = check_decomposition(&a, 1.0);
    let mut want = vec![3.0, 2.0, 1.0];
    want.extend([0.0; 27]);
    want.extend([-1.0, -2.0, -3.0]);
    for (got, want) in eig.eigenvalues().iter().zip(&want) {
        assert!((got - want).abs() < 1e-14, "{:?}", eig.eigenvalues());
    }
    let (residual, orthogonality) = accuracy(&a, &eig);
    assert!(residual < 1e-14 && orthogonality < 1e-14);
}

#[test]
fn arrowheads_like_thick_restarts() {
    // Clustered diagonal (values 1e-6 apart) plus a last row/column coupling.
    let m = 30;
    let mut t = DMatrix::zeros(m, m);
    for i in 0..m - 1 {
        t[(i, i)] = 1.0 + 1e-6 * (i as f64) + if i % 3 == 0 { 5.0 } else { 0.0 };
        t[(i, m - 1)] = 1e-3 * ((i * 7 % 11) as f64 - 5.0);
        t[(m - 1, i)] = t[(i, m - 1)];
    }
    t[(m - 1, m - 1)] = 2.0;
    let eig = check_decomposition(&t, 1.0);
    assert!((eig.eigenvalues().iter().sum::<f64>() - t.trace()).abs() < 1e-13 * t.trace());

    // Larger random arrowheads with widely spread couplings.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for m in [5, 64, 200] {
        let mut t = DMatrix::zeros(m, m);
        for i in 0..m - 1 {
            t[(i, i)] = rng.random_range(-1.0..1.0) * 10f64.powi(rng.random_range(-3..3));
            let coupling = rng.random_range(-1.0..1.0) * 10f64.powi(rng.random_range(-8..1));
            t[(i, m - 1)] = coupling;
            t[(m - 1, i)] = coupling;
        }
        t[(m - 1, m - 1)] = 0.5;
        check_decomposition(&t, 1.0);
    }
}

#[test]
fn nalgebra_issue_1109_matrix() {
    #[rustfmt::skip]
    let a = DMatrix::from_row_slice(4, 4, &[
        -19884.07, -10.07188, 11.277279, -188560.63,
        -10.07188, 12.518197, 1.3770627, -102.97504,
        11.277279, 1.3770627, 14.587362, 113.26099,
        -188560.63, -102.97504, 113.26099, -1788112.3,
    ]);
    let eig = check_decomposition(&a, 1.0);
    // Invariants independent of any solver: Σλ = tr A and Σλ² = ‖A‖_F².
    let sum: f64 = eig.eigenvalues().iter().sum();
    let squares: f64 = eig.eigenvalues().iter().map(|x| x * x).sum();
    assert!((sum - a.trace()).abs() < 1e-15 * 4.0 * a.norm());
    assert!((squares - a.norm_squared()).abs() < 1e-14 * a.norm_squared());
}

#[test]
fn random_matrices_up_to_400() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for n in [1, 2, 3, 7, 31, 100, 257, 400] {
        let a = random_symmetric(n, &mut rng);
        let eig = check_decomposition(&a, 1.0);
        // Second method: nalgebra's eigenvalues (reliable on dense random matrices).
        let mut oracle: Vec<f64> = a.symmetric_eigenvalues().iter().copied().collect();
        oracle.sort_by(|p, q| q.total_cmp(p));
        let worst = eig
            .eigenvalues()
            .iter()
            .zip(&oracle)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 4.0 * n as f64 * f64::EPSILON * a.norm(),
            "n = {n}: {worst:e}"
        );
        let squares: f64 = eig.eigenvalues().iter().map(|x| x * x).sum();
        assert!((squares - a.norm_squared()).abs() < 1e-13 * a.norm_squared());
    }
}

#[test]
fn wide_scales_and_extreme_magnitudes() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 50;
    // Graded rows and columns over twelve orders of magnitude.
    let g = random_symmetric(n, &mut rng);
    let a = DMatrix::from_fn(n, n, |i, j| g[(i, j)] * 10f64.powi((i + j) as i32 % 13 - 6));
    check_decomposition(&a, 1.0);
    // Whole matrix near the ends of the floating-point range.
    for scale in [1e-300, 1e-150, 1e150, 1e300] {
        let base = random_symmetric(20, &mut rng);
        let scaled = &base * scale;
        let eig = check_decomposition(&scaled, 1.0);
        let unscaled = SymmetricEigen::new(base).unwrap();
        for (x, y) in eig.eigenvalues().iter().zip(unscaled.eigenvalues()) {
            assert!((x / scale - y).abs() < 1e-14, "{scale:e}: {x:e} vs {y:e}");
        }
    }
    // Tiny couplings that must deflate instead of looping.
    let mut t = DMatrix::zeros(6, 6);
    for i in 0..5 {
        t[(i, i + 1)] = 1e-300;
        t[(i + 1, i)] = 1e-300;
    }
    let eig = check_decomposition(&t, 1.0);
    assert!(eig.eigenvalues().iter().all(|x| x.abs() <= 2e-300));
}

#[test]
fn closed_forms() {
    // 1×1.
    let eig = check_decomposition(&DMatrix::from_element(1, 1, -2.5), 1.0);
    assert_eq!(eig.eigenvalues(), &[-2.5]);
    assert_eq!(eig.eigenvectors()[(0, 0)].abs(), 1.0);
    // 2×2 [[a, b], [b, a]]: a ± b with vectors (1, ±1)/√2.
    let eig = check_decomposition(&DMatrix::from_row_slice(2, 2, &[3.0, 4.0, 4.0, 3.0]), 1.0);
    assert!(
        (eig.eigenvalues()[0] - 7.0).abs() < 1e-15 && (eig.eigenvalues()[1] + 1.0).abs() < 1e-15
    );
    let v = eig.eigenvectors().column(0);
    assert!((v[0] - v[1]).abs() < 1e-15 && (v[0].abs() - 0.5f64.sqrt()).abs() < 1e-15);
    // Zero matrix: zeros and the identity.
    let eig = check_decomposition(&DMatrix::zeros(4, 4), 1.0);
    assert_eq!(eig.eigenvalues(), &[0.0; 4]);
    assert_eq!(eig.eigenvectors(), &DMatrix::identity(4, 4));
    // Diagonal: exactly its entries, sorted, with permuted unit vectors.
    let diagonal = [0.5, -7.0, 3.0, 3.0, 1e-9, -1e9];
    let eig = check_decomposition(
        &DMatrix::from_diagonal(&DVector::from_column_slice(&diagonal)),
        1.0,
    );
    assert_eq!(eig.eigenvalues(), &[3.0, 3.0, 0.5, 1e-9, -7.0, -1e9]);
    assert!(
        eig.eigenvectors()
            .iter()
            .all(|x| *x == 0.0 || x.abs() == 1.0)
    );
    // Repeated eigenvalues in a rotated basis: Q·diag(3, 3, 3, −1, −1, 0)·Qᵀ.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let q = random_orthogonal(6, &mut rng);
    let lambda = DVector::from_vec(vec![3.0, 3.0, 3.0, -1.0, -1.0, 0.0]);
    let a = &q * DMatrix::from_diagonal(&lambda) * q.transpose();
    let a = (&a + a.transpose()) * 0.5;
    let eig = check_decomposition(&a, 1.0);
    for (got, want) in eig
        .eigenvalues()
        .iter()
        .zip([3.0, 3.0, 3.0, 0.0, -1.0, -1.0])
    {
        assert!((got - want).abs() < 1e-14, "{:?}", eig.eigenvalues());
    }
    // Wilkinson's W21+ has pairs of eigenvalues agreeing to 1e-14 and more.
    let m = 21;
    let w = DMatrix::from_fn(m, m, |i, j| {
        if i == j {
            (10.0 - i as f64).abs()
        } else if i.abs_diff(j) == 1 {
            1.0
        } else {
            0.0
        }
    });
    let eig = check_decomposition(&w, 1.0);
    assert!((eig.lambda_max() - 10.746194182903393).abs() < 1e-13);
    assert!((eig.eigenvalues()[0] - eig.eigenvalues()[1]).abs() < 1e-13);
}

#[test]
fn values_only_validates_like_the_full_decomposition() {
    let asymmetric = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 3.0, 2.0]);
    assert!(matches!(
        symmetric_eigenvalues(asymmetric.clone()),
        Err(Error::NotSymmetric { .. })
    ));
    let values = symmetric_eigenvalues_with_tolerance(asymmetric, 1.0).unwrap();
    assert!((values[0] - 4.0).abs() < 1e-14 && values[1].abs() < 1e-14);
    let err = symmetric_eigenvalues(DMatrix::from_row_slice(2, 2, &[1.0, 0.0, f64::NAN, 1.0]))
        .unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 2, .. }), "{err:?}");
    assert!(matches!(
        symmetric_eigenvalues(DMatrix::zeros(2, 3)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(symmetric_eigenvalues(DMatrix::zeros(0, 0)).is_err());
    assert!(symmetric_eigenvalues_with_tolerance(DMatrix::identity(2, 2), -1.0).is_err());

    // Asymmetry anywhere in a large matrix is found (the check runs in tiles), and a
    // non-finite entry is reported by its first row-major index.
    for (i, j) in [(3, 140), (130, 131), (149, 0), (64, 63)] {
        let mut a = DMatrix::identity(150, 150);
        a[(i, j)] = 0.25;
        match SymmetricEigen::new(a).unwrap_err() {
            Error::NotSymmetric { asymmetry, .. } => assert_eq!(asymmetry, 0.25),
            other => panic!("({i}, {j}): {other:?}"),
        }
    }
    let mut a = DMatrix::identity(150, 150);
    a[(100, 2)] = f64::INFINITY;
    a[(7, 120)] = f64::NAN;
    let err = symmetric_eigenvalues(a).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { index: 1170, .. }),
        "{err:?}"
    );

    // The Hessian helpers agree: the toy at (3, 3) has eigenvalues 50 and −14.
    let toy = ProductChain::toy();
    let values = hessian_eigenvalues(&toy, &[3.0, 3.0]).unwrap();
    assert_eq!(
        values.as_slice(),
        hessian_spectrum(&toy, &[3.0, 3.0]).unwrap().eigenvalues()
    );
    assert!((values[0] - 50.0).abs() < 1e-12 && (values[1] + 14.0).abs() < 1e-12);
    assert!(hessian_eigenvalues(&toy, &[1.0]).is_err());
}

fn symmetric_matrix() -> impl Strategy<Value = DMatrix<f64>> {
    (1usize..=12).prop_flat_map(|n| {
        (
            prop::collection::vec(-10.0f64..10.0, n * n),
            prop::collection::vec(prop::bool::weighted(0.6), n * n),
        )
            .prop_map(move |(entries, zero)| {
                // Many exact zeros: sparse patterns are where solvers have failed.
                let a = DMatrix::from_fn(n, n, |i, j| {
                    if zero[i * n + j] {
                        0.0
                    } else {
                        entries[i * n + j]
                    }
                });
                (&a + a.transpose()) * 0.5
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sparse_random_matrices_are_accurate_and_values_only_agrees(a in symmetric_matrix()) {
        check_decomposition(&a, 2.0);
    }
}

/// A·diag·Aᵀ-style test matrices of n = 500 with hard spectra, each checked for the
/// backward-stability bounds and (where known) against its exact eigenvalues.
#[test]
fn hard_spectra_at_500() {
    let n = 500;
    let mut rng = ChaCha8Rng::seed_from_u64(500);
    let q = random_orthogonal(n, &mut rng);
    let with_spectrum = |values: &[f64]| {
        let a = &q * DMatrix::from_diagonal(&DVector::from_column_slice(values)) * q.transpose();
        (&a + a.transpose()) * 0.5
    };
    let check_values = |a: &DMatrix<f64>, eig: &SymmetricEigen, values: &[f64]| {
        let mut want = values.to_vec();
        want.sort_by(|p, q| q.total_cmp(p));
        let worst = eig
            .eigenvalues()
            .iter()
            .zip(&want)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 4.0 * n as f64 * f64::EPSILON * a.norm(),
            "eigenvalues off by {worst:e}"
        );
    };

    // Repeated eigenvalues (1 two hundred times, −3 a hundred times) and a tight cluster
    // (2 + i·1e-12), the rest spread.
    let values: Vec<f64> = (0..n)
        .map(|i| match i {
            0..200 => 1.0,
            200..300 => -3.0,
            300..400 => 2.0 + 1e-12 * i as f64,
            _ => 10.0 * (i as f64 / n as f64 - 0.5),
        })
        .collect();
    let a = with_spectrum(&values);
    let eig = check_decomposition(&a, 1.0);
    check_values(&a, &eig, &values);

    // Eigenvalues graded from 1 down to 1e-15 (a geometric spectrum).
    let values: Vec<f64> = (0..n)
        .map(|i| 10f64.powf(-15.0 * i as f64 / (n - 1) as f64))
        .collect();
    let a = with_spectrum(&values);
    let eig = check_decomposition(&a, 1.0);
    check_values(&a, &eig, &values);

    // A graded matrix: entries of a random symmetric matrix scaled by d_i·d_j with
    // d_i = 10^(−6i/n), twelve orders of magnitude from corner to corner.
    let g = random_symmetric(n, &mut rng);
    let d: Vec<f64> = (0..n)
        .map(|i| 10f64.powf(-6.0 * i as f64 / n as f64))
        .collect();
    let a = DMatrix::from_fn(n, n, |i, j| g[(i, j)] * d[i] * d[j]);
    check_decomposition(&a, 1.0);

    // An arrowhead: a clustered diagonal (steps of 1e-9, blocks of equal entries) plus a
    // full last row and column.
    let mut a = DMatrix::zeros(n, n);
    for i in 0..n {
        a[(i, i)] = (i / 50) as f64 + 1e-9 * (i % 3) as f64;
        if i + 1 < n {
            let x = rng.random_range(-1.0..1.0);
            a[(i, n - 1)] = x;
            a[(n - 1, i)] = x;
        }
    }
    let eig = check_decomposition(&a, 1.0);
    assert!((eig.trace() - a.trace()).abs() < 1e-12 * a.norm());
}

/// The decomposition is the same, bit for bit, on one thread and on two: n = 301 has a
/// partial row band, several batches of rotations, blocks of reflectors and column chunks.
#[test]
fn thread_count_does_not_change_a_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(301);
    let a = random_symmetric(301, &mut rng);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| SymmetricEigen::new(a.clone()).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.eigenvalues(), two.eigenvalues());
    assert_eq!(one.eigenvectors(), two.eigenvectors());
    check_decomposition(&a, 1.0);
}
