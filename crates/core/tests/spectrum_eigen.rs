//! The dense symmetric eigen-decomposition and the step bound: sorting, residuals,
//! closed forms, rejection of bad matrices, and the "unbounded" contract.

#![allow(
    clippy::float_cmp,
    reason = "exact comparisons are intended where results are exactly representable"
)]

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::Error;
use symstab_core::spectrum::{
    StepBound, SymmetricEigen, hessian_spectrum, stable_learning_rate, symmetric_2x2_eigenvalues,
};
use symstab_core::toy::ProductChain;

fn symmetric_matrix() -> impl Strategy<Value = DMatrix<f64>> {
    (1usize..=8).prop_flat_map(|n| {
        prop::collection::vec(-10.0f64..10.0, n * n).prop_map(move |entries| {
            let a = DMatrix::from_vec(n, n, entries);
            (&a + a.transpose()) * 0.5
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn spectrum_sorted_descending_with_small_residuals(a in symmetric_matrix()) {
        let n = a.nrows();
        let eig = SymmetricEigen::new(a.clone()).unwrap();
        let values = eig.eigenvalues();
        prop_assert_eq!(values.len(), n);
        prop_assert!(values.windows(2).all(|w| w[0] >= w[1]), "{:?}", values);
        prop_assert_eq!(eig.lambda_max(), values[0]);
        prop_assert_eq!(eig.lambda_min(), values[n - 1]);

        let norm = a.norm().max(1.0);
        let vectors = eig.eigenvectors();
        for (k, &lambda) in values.iter().enumerate() {
            let v = vectors.column(k);
            prop_assert!((v.norm() - 1.0).abs() < 1e-14);
            let residual = (&a * v - v * lambda).norm();
            prop_assert!(residual < 1e-14 * norm, "k={} residual {}", k, residual);
        }
        // Orthonormal columns, and V Λ Vᵀ reconstructs A.
        let gram = vectors.transpose() * vectors;
        prop_assert!((gram - DMatrix::identity(n, n)).abs().max() < 1e-14);
        let rebuilt = vectors * DMatrix::from_diagonal(&DVector::from_column_slice(values))
            * vectors.transpose();
        prop_assert!((rebuilt - &a).abs().max() < 1e-14 * norm);

        prop_assert!((eig.trace() - a.trace()).abs() < 1e-12 * norm);
        prop_assert!((values.iter().sum::<f64>() - a.trace()).abs() < 1e-11 * norm);
        prop_assert_eq!(eig.negative_count(), values.iter().filter(|&&l| l < 0.0).count());
    }

    #[test]
    fn spectrum_2x2_matches_closed_form(a11 in -50.0f64..50.0, a12 in -50.0f64..50.0, a22 in -50.0f64..50.0) {
        let eig = SymmetricEigen::new(DMatrix::from_row_slice(2, 2, &[a11, a12, a12, a22])).unwrap();
        // Roots of λ² − (a11 + a22)λ + (a11·a22 − a12²), written independently of the library.
        let (trace, det) = (a11 + a22, a11 * a22 - a12 * a12);
        let disc = (trace * trace - 4.0 * det).max(0.0).sqrt();
        let expected = [(trace + disc) / 2.0, (trace - disc) / 2.0];
        let closed = symmetric_2x2_eigenvalues(a11, a12, a22);
        for k in 0..2 {
            prop_assert!((eig.eigenvalues()[k] - expected[k]).abs() < 1e-9 * (1.0 + trace.abs() + disc));
            prop_assert!((closed[k] - eig.eigenvalues()[k]).abs() < 1e-12 * (1.0 + trace.abs() + disc));
        }
    }
}

#[test]
fn spectrum_toy_starts_exact_values() {
    let toy = ProductChain::toy();
    // (3,3): H = [[18, 32], [32, 18]], λ = 50, −14, 2/λmax = 0.04.
    let eig = hessian_spectrum(&toy, &[3.0, 3.0]).unwrap();
    assert!((eig.eigenvalues()[0] - 50.0).abs() < 1e-12);
    assert!((eig.eigenvalues()[1] + 14.0).abs() < 1e-12);
    assert_eq!(eig.negative_count(), 1);
    let bound = eig.stable_learning_rate().value().unwrap();
    assert!((bound - 0.04).abs() < 1e-15);
    // (1,9): H = [[162, 32], [32, 2]], λ = 82 ± √7424.
    let eig = hessian_spectrum(&toy, &[1.0, 9.0]).unwrap();
    let root = 7424.0f64.sqrt();
    assert!((eig.lambda_max() - (82.0 + root)).abs() < 1e-12);
    assert!((eig.lambda_min() - (82.0 - root)).abs() < 1e-12);
    assert!((eig.trace() - 164.0).abs() < 1e-12);
    // Eigenvectors were permuted along: the first column belongs to λmax.
    let v = eig.eigenvectors().column(0);
    let h = DMatrix::from_row_slice(2, 2, &[162.0, 32.0, 32.0, 2.0]);
    assert!((&h * v - v * eig.lambda_max()).norm() < 1e-12);
    assert!(hessian_spectrum(&toy, &[1.0]).is_err());
    assert!(hessian_spectrum(&toy, &[1.0, f64::NAN]).is_err());
}

#[test]
fn spectrum_lambda_max_is_algebraic_not_magnitude() {
    let eig = SymmetricEigen::new(DMatrix::from_diagonal(&DVector::from_vec(vec![
        -5.0, 1.0, -0.5,
    ])))
    .unwrap();
    assert_eq!(eig.eigenvalues(), &[1.0, -0.5, -5.0]);
    assert_eq!(eig.lambda_max(), 1.0);
    assert_eq!(eig.stable_learning_rate(), StepBound::Bounded(2.0));
    assert_eq!(
        eig.eigenvectors()
            .column(0)
            .iter()
            .map(|x| x.abs())
            .collect::<Vec<_>>(),
        [0.0, 1.0, 0.0]
    );
    assert_eq!(eig.count_below(-1.0), 1);

    // Negative definite: unbounded.
    let eig = SymmetricEigen::new(DMatrix::from_row_slice(2, 2, &[-3.0, 1.0, 1.0, -2.0])).unwrap();
    assert!(eig.lambda_max() < 0.0);
    assert_eq!(eig.stable_learning_rate(), StepBound::Unbounded);
}

#[test]
fn spectrum_zero_hessian_of_chain_at_origin_is_unbounded() {
    let chain = ProductChain::new(3, vec![(1.0, 2.0)]).unwrap();
    let eig = hessian_spectrum(&chain, &[0.0, 0.0, 0.0]).unwrap();
    assert_eq!(eig.eigenvalues(), &[0.0, 0.0, 0.0]);
    assert_eq!(eig.negative_count(), 0);
    assert_eq!(eig.stable_learning_rate(), StepBound::Unbounded);
    assert_eq!(eig.stable_learning_rate().to_string(), "unbounded");
    assert_eq!(eig.stable_learning_rate().as_f64(), f64::INFINITY);
}

#[test]
fn spectrum_rejects_bad_matrices() {
    // Asymmetric [[2, 1], [3, 2]]: rejected, never read from one triangle.
    let err =
        SymmetricEigen::new(DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 3.0, 2.0])).unwrap_err();
    match err {
        Error::NotSymmetric {
            asymmetry,
            tolerance,
        } => {
            assert_eq!(asymmetry, 2.0);
            assert!((tolerance - 3e-8).abs() < 1e-20);
        }
        other => panic!("expected NotSymmetric, got {other:?}"),
    }
    // A generous tolerance symmetrises instead: the mean of the triangles, λ = 2 ± 2.
    let eig =
        SymmetricEigen::with_tolerance(DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 3.0, 2.0]), 1.0)
            .unwrap();
    assert!((eig.eigenvalues()[0] - 4.0).abs() < 1e-14 && eig.eigenvalues()[1].abs() < 1e-14);
    // Rounding-level asymmetry passes.
    let eig = SymmetricEigen::new(DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.5 + 1e-12, 1.0]));
    assert!(eig.is_ok());

    // NaN and ∞, with the row-major index.
    let err =
        SymmetricEigen::new(DMatrix::from_row_slice(2, 2, &[1.0, 0.0, f64::NAN, 1.0])).unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("NaN") && err.to_string().contains("index 2"));
    let err = SymmetricEigen::new(DMatrix::from_row_slice(
        2,
        2,
        &[1.0, f64::INFINITY, 0.0, 1.0],
    ))
    .unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 1, .. }), "{err:?}");

    // Shape.
    let err = SymmetricEigen::new(DMatrix::zeros(2, 3)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DimensionMismatch {
                expected: 2,
                got: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(SymmetricEigen::new(DMatrix::zeros(0, 0)).is_err());
    // Tolerance.
    let err = SymmetricEigen::with_tolerance(DMatrix::identity(2, 2), f64::NAN).unwrap_err();
    assert!(err.to_string().contains("tolerance"));
}

#[test]
fn spectrum_step_bound_values_and_edge_cases() {
    assert_eq!(stable_learning_rate(50.0), StepBound::Bounded(0.04));
    assert_eq!(stable_learning_rate(0.0), StepBound::Unbounded);
    assert_eq!(stable_learning_rate(-0.0), StepBound::Unbounded);
    assert_eq!(stable_learning_rate(-3.0), StepBound::Unbounded);
    assert_eq!(
        stable_learning_rate(f64::NEG_INFINITY),
        StepBound::Unbounded
    );
    assert_eq!(stable_learning_rate(f64::INFINITY), StepBound::Bounded(0.0));
    assert_eq!(stable_learning_rate(f64::NAN), StepBound::Bounded(0.0));
    // 2/λ overflows for a subnormal λ: reported as unbounded, never +∞ inside Bounded.
    assert_eq!(stable_learning_rate(1e-310), StepBound::Unbounded);
    for lambda in [1e-300, 1e-3, 1.0, 1e300, f64::MAX] {
        let v = stable_learning_rate(lambda).value().unwrap();
        assert!(v.is_finite() && v >= 0.0);
    }

    let bounded = StepBound::Bounded(0.04);
    assert_eq!(bounded.value(), Some(0.04));
    assert_eq!(bounded.as_f64(), 0.04);
    assert_eq!(bounded.to_string(), "0.04");
    assert!(bounded.admits(0.03) && !bounded.admits(0.04));
    assert!(StepBound::Unbounded.admits(1e300));
    assert_eq!(StepBound::Unbounded.value(), None);
}

#[test]
fn spectrum_step_bound_serde() {
    assert_eq!(
        serde_json::to_string(&StepBound::Bounded(0.04)).unwrap(),
        "0.04"
    );
    assert_eq!(
        serde_json::to_string(&StepBound::Unbounded).unwrap(),
        "\"unbounded\""
    );
    let list = vec![
        StepBound::Bounded(0.011893248326148754),
        StepBound::Unbounded,
    ];
    let text = serde_json::to_string(&list).unwrap();
    assert_eq!(text, "[0.011893248326148754,\"unbounded\"]");
    assert_eq!(serde_json::from_str::<Vec<StepBound>>(&text).unwrap(), list);
    assert_eq!(
        serde_json::from_str::<StepBound>("2").unwrap(),
        StepBound::Bounded(2.0)
    );
    assert!(serde_json::from_str::<StepBound>("-1.0").is_err());
    assert!(serde_json::from_str::<StepBound>("\"infinite\"").is_err());
    assert!(serde_json::from_str::<StepBound>("null").is_err());
}

/// Worst ‖Av − λv‖ / ‖A‖ over the eigenpairs, and worst |VᵀV − I|.
fn accuracy(a: &DMatrix<f64>, eig: &SymmetricEigen) -> (f64, f64) {
    let n = a.nrows();
    let v = eig.eigenvectors();
    let residual = (0..n)
        .map(|k| (a * v.column(k) - v.column(k) * eig.eigenvalues()[k]).norm())
        .fold(0.0, f64::max);
    let orthogonality = (v.transpose() * v - DMatrix::identity(n, n)).abs().max();
    (residual / a.norm().max(1.0), orthogonality)
}

#[test]
fn spectrum_regressions_where_plain_nalgebra_is_inaccurate() {
    // nalgebra's SymmetricEigen alone leaves residuals of ~1.2e-11 on this matrix (found by
    // the property test above); LAPACK gets ~2e-15.
    let a = DMatrix::from_row_slice(
        3,
        3,
        &[
            1.501667173995148,
            -0.3666560898125928,
            -2.3458698043083435,
            -0.3666560898125928,
            1.3381971183575174,
            1.9242572839929326,
            -2.3458698043083435,
            1.9242572839929326,
            -7.943175733797681,
        ],
    );
    let (residual, orthogonality) = accuracy(&a, &SymmetricEigen::new(a.clone()).unwrap());
    assert!(
        residual < 1e-15 && orthogonality < 1e-15,
        "{residual:e} {orthogonality:e}"
    );

    // The matrix of nalgebra issue #1109 (eigenvalues paired with the wrong vectors).
    #[rustfmt::skip]
    let a = DMatrix::from_row_slice(4, 4, &[
        -19884.07, -10.07188, 11.277279, -188560.63,
        -10.07188, 12.518197, 1.3770627, -102.97504,
        11.277279, 1.3770627, 14.587362, 113.26099,
        -188560.63, -102.97504, 113.26099, -1788112.3,
    ]);
    let eig = SymmetricEigen::new(a.clone()).unwrap();
    let (residual, orthogonality) = accuracy(&a, &eig);
    assert!(
        residual < 1e-15 && orthogonality < 1e-15,
        "{residual:e} {orthogonality:e}"
    );
    let rebuilt = eig.eigenvectors()
        * DMatrix::from_diagonal(&DVector::from_column_slice(eig.eigenvalues()))
        * eig.eigenvectors().transpose();
    assert!((rebuilt - &a).abs().max() < 1e-14 * a.norm());
}

#[test]
fn spectrum_repeated_eigenvalues_and_a_larger_matrix() {
    // [[2,1,1],[1,2,1],[1,1,2]]: eigenvalues 4, 1, 1.
    let a = DMatrix::from_row_slice(3, 3, &[2.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 2.0]);
    let eig = SymmetricEigen::new(a.clone()).unwrap();
    for (got, want) in eig.eigenvalues().iter().zip([4.0, 1.0, 1.0]) {
        assert!((got - want).abs() < 1e-14, "{got} vs {want}");
    }
    let (residual, orthogonality) = accuracy(&a, &eig);
    assert!(residual < 1e-15 && orthogonality < 1e-15);

    let eig = SymmetricEigen::new(DMatrix::identity(5, 5) * 3.0).unwrap();
    assert_eq!(eig.eigenvalues(), &[3.0; 5]);

    // 60×60 with a wide spread of scales.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = 60;
    let g = DMatrix::from_fn(n, n, |i, _| {
        rng.random_range(-1.0..1.0) * 10f64.powi((i % 7) as i32 - 3)
    });
    let a = &g * g.transpose() - DMatrix::identity(n, n) * 0.5;
    let eig = SymmetricEigen::new(a.clone()).unwrap();
    let (residual, orthogonality) = accuracy(&a, &eig);
    assert!(
        residual < 1e-15 * n as f64 && orthogonality < 1e-14,
        "{residual:e} {orthogonality:e}"
    );
    assert!(eig.eigenvalues().windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(eig.negative_count(), eig.count_below(0.0));
}
