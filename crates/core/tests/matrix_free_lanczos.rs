//! Lanczos against the dense route (nalgebra SymmetricEigen) and known spectra, and every
//! special case: breakdown, repeated eigenvalues, dominant negative eigenvalue, ±λ pairs,
//! diagonal and 1×1 matrices, restarts in a small basis.

mod matrix_free_common;

use matrix_free_common::{
    Reflected, dense_eigenvalues, dense_with_spectrum, max_relative_error, random_symmetric,
    true_residual,
};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use symstab_core::Error;
use symstab_core::matrix_free::{
    Criterion, FnOperator, LanczosOptions, SymmetricOperator, lanczos,
};

fn options(n_top: usize, n_bottom: usize) -> LanczosOptions {
    LanczosOptions {
        n_top,
        n_bottom,
        ..LanczosOptions::default()
    }
}

fn top_k(ascending: &[f64], k: usize) -> Vec<f64> {
    ascending.iter().rev().take(k).copied().collect()
}

fn assert_finite(result: &symstab_core::matrix_free::LanczosResult) {
    for pairs in [&result.top, &result.bottom] {
        assert!(
            pairs
                .values
                .iter()
                .chain(&pairs.residuals)
                .all(|v| v.is_finite()),
            "{pairs:?}"
        );
        assert!(pairs.vectors.iter().flatten().all(|v| v.is_finite()));
    }
}

/// Checks the reported residuals against explicit ones and that the vectors are unit.
fn assert_pairs_consistent<O: SymmetricOperator>(
    op: &O,
    result: &symstab_core::matrix_free::LanczosResult,
) {
    let scale = result.norm_estimate.max(1e-300);
    for pairs in [&result.top, &result.bottom] {
        for ((value, vector), reported) in pairs
            .values
            .iter()
            .zip(&pairs.vectors)
            .zip(&pairs.residuals)
        {
            let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-10, "ritz vector norm {norm}");
            let actual = true_residual(op, *value, vector);
            assert!(
                actual <= reported + 1e-9 * scale,
                "residual {actual:e} vs reported {reported:e}"
            );
        }
    }
}

#[test]
fn random_dense_300_top5_bottom5_match_symmetric_eigen() {
    let a = random_symmetric(300, 1);
    let dense = dense_eigenvalues(&a);
    let result = lanczos(&a, &options(5, 5)).unwrap();
    assert!(
        result.converged && result.multiplicity_checked,
        "{result:?}"
    );
    let top_error = max_relative_error(&result.top.values, &top_k(&dense, 5));
    let bottom_error = max_relative_error(&result.bottom.values, &dense[..5]);
    assert!(
        top_error < 1e-8 && bottom_error < 1e-8,
        "top {top_error:e}, bottom {bottom_error:e}"
    );
    assert!(
        result.n_applications < 2 * 300,
        "{} applications",
        result.n_applications
    );
    assert_pairs_consistent(&a, &result);
}

#[test]
fn dense_600_with_outliers_matches_symmetric_eigen() {
    // Hessian-like: a bulk near zero plus a few outliers on both sides.
    let mut spectrum: Vec<f64> = (0..590).map(|i| -0.5 + i as f64 / 589.0).collect();
    spectrum.extend([25.0, 12.0, 9.0, 7.5, 6.0, -8.0, -4.0, -3.0, -2.5, -2.0]);
    let a = dense_with_spectrum(&spectrum, 2);
    let dense = dense_eigenvalues(&a);
    let result = lanczos(&a, &options(5, 5)).unwrap();
    assert!(result.converged);
    assert!(max_relative_error(&result.top.values, &[25.0, 12.0, 9.0, 7.5, 6.0]) < 1e-8);
    assert!(max_relative_error(&result.top.values, &top_k(&dense, 5)) < 1e-8);
    assert!(max_relative_error(&result.bottom.values, &[-8.0, -4.0, -3.0, -2.5, -2.0]) < 1e-8);
    assert_pairs_consistent(&a, &result);
}

#[test]
fn matrix_free_2000_known_spectrum_top5_bottom5() {
    let n = 2000;
    let mut spectrum: Vec<f64> = (0..n - 10)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 11) as f64)
        .collect();
    spectrum.extend([40.0, 20.0, 10.0, 5.0, 3.0, -30.0, -15.0, -6.0, -4.0, -2.0]);
    let op = Reflected::new(spectrum, 3);
    let result = lanczos(&op, &options(5, 5)).unwrap();
    assert!(
        result.converged && result.multiplicity_checked,
        "{result:?}"
    );
    let top_error = max_relative_error(&result.top.values, &[40.0, 20.0, 10.0, 5.0, 3.0]);
    let bottom_error = max_relative_error(&result.bottom.values, &[-30.0, -15.0, -6.0, -4.0, -2.0]);
    assert!(
        top_error < 1e-8 && bottom_error < 1e-8,
        "top {top_error:e}, bottom {bottom_error:e}"
    );
    assert_pairs_consistent(&op, &result);
}

#[test]
fn small_basis_restarts_and_still_converges() {
    let n = 1000;
    let spectrum: Vec<f64> = (0..n)
        .map(|i| (i as f64 / n as f64).powi(3) * 10.0)
        .collect();
    let op = Reflected::new(spectrum.clone(), 4);
    let opts = LanczosOptions {
        max_basis: Some(12),
        max_applications: 20_000,
        ..options(3, 0)
    };
    let result = lanczos(&op, &opts).unwrap();
    assert!(result.converged, "{result:?}");
    assert!(
        result.n_restarts > 0,
        "expected restarts with a 12-vector basis"
    );
    assert!(
        max_relative_error(&result.top.values, &top_k(&spectrum, 3)) < 1e-8,
        "{:?}",
        result.top.values
    );
    assert_pairs_consistent(&op, &result);
}

#[test]
fn more_wanted_than_dimension_returns_only_the_dimension() {
    let a = DMatrix::from_row_slice(3, 3, &[2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0]);
    let result = lanczos(&a, &options(5, 7)).unwrap();
    assert_finite(&result);
    assert!(result.converged && result.exhausted);
    let s = 2f64.sqrt();
    let want = [2.0 + s, 2.0, 2.0 - s];
    assert_eq!(result.top.values.len(), 3);
    assert_eq!(result.bottom.values.len(), 3);
    assert!(max_relative_error(&result.top.values, &want) < 1e-12);
    let ascending: Vec<f64> = want.iter().rev().copied().collect();
    assert!(max_relative_error(&result.bottom.values, &ascending) < 1e-12);
    assert!(result.n_applications <= 3);
}

#[test]
fn invariant_subspace_breakdown_restarts_and_finds_all_copies() {
    // Three distinct eigenvalues in dimension 30: every Krylov space breaks down after at
    // most 3 steps; the copies can only come from fresh start vectors.
    let mut spectrum = vec![5.0; 4];
    spectrum.extend(vec![1.0; 20]);
    spectrum.extend(vec![-2.0; 6]);
    let a = dense_with_spectrum(&spectrum, 5);
    let result = lanczos(&a, &options(6, 7)).unwrap();
    assert_finite(&result);
    assert!(
        result.converged && result.multiplicity_checked,
        "{result:?}"
    );
    let want_top = [5.0, 5.0, 5.0, 5.0, 1.0, 1.0];
    let want_bottom = [-2.0, -2.0, -2.0, -2.0, -2.0, -2.0, 1.0];
    assert!(
        max_relative_error(&result.top.values, &want_top) < 1e-10,
        "{:?}",
        result.top.values
    );
    assert!(
        max_relative_error(&result.bottom.values, &want_bottom) < 1e-10,
        "{:?}",
        result.bottom.values
    );
    assert_pairs_consistent(&a, &result);
}

#[test]
fn zero_matrix_breaks_down_without_nan() {
    let a = DMatrix::<f64>::zeros(6, 6);
    let result = lanczos(&a, &options(2, 2)).unwrap();
    assert_finite(&result);
    assert!(result.converged);
    assert!(
        result
            .top
            .values
            .iter()
            .chain(&result.bottom.values)
            .all(|v| *v == 0.0)
    );
}

#[test]
fn repeated_top_eigenvalue_reports_its_multiplicity() {
    // Many distinct eigenvalues (no breakdown) and λmax = 4 three times.
    let n = 400;
    let mut spectrum: Vec<f64> = (0..n - 4).map(|i| i as f64 / (n - 4) as f64).collect();
    spectrum.extend([4.0, 4.0, 4.0, 2.5]);
    let op = Reflected::new(spectrum, 6);
    let result = lanczos(&op, &options(5, 0)).unwrap();
    assert!(
        result.converged && result.multiplicity_checked,
        "{result:?}"
    );
    assert!(result.n_probes >= 1);
    let want = [4.0, 4.0, 4.0, 2.5, 1.0 - 1.0 / 396.0];
    assert!(
        max_relative_error(&result.top.values, &want) < 1e-8,
        "{:?}",
        result.top.values
    );
    assert_pairs_consistent(&op, &result);
    // The three vectors of the triple eigenvalue are orthonormal (distinct copies, no ghosts).
    let v = &result.top.vectors;
    for i in 0..3 {
        for j in 0..i {
            let d: f64 = v[i].iter().zip(&v[j]).map(|(a, b)| a * b).sum();
            assert!(d.abs() < 1e-8, "vectors {i},{j} overlap {d}");
        }
    }
}

#[test]
fn single_vector_lanczos_without_check_sees_one_copy() {
    // Documents why the multiplicity check exists: one Krylov space holds one copy.
    let n = 400;
    let mut spectrum: Vec<f64> = (0..n - 3).map(|i| i as f64 / (n - 3) as f64).collect();
    spectrum.extend([4.0, 4.0, 3.0]);
    let op = Reflected::new(spectrum, 7);
    let opts = LanczosOptions {
        check_multiplicity: false,
        ..options(2, 0)
    };
    let result = lanczos(&op, &opts).unwrap();
    assert!(result.converged && !result.multiplicity_checked);
    assert!(
        max_relative_error(&result.top.values, &[4.0, 3.0]) < 1e-8,
        "{:?}",
        result.top.values
    );
}

#[test]
fn no_ghost_copies_after_long_runs() {
    // λ₁ = 100 converges in a few steps; the bottom end then needs many more. Without full
    // reorthogonalisation, copies of 100 would reappear among the top values.
    let n = 500;
    let mut spectrum: Vec<f64> = (0..n - 1)
        .map(|i| (i as f64 / (n - 1) as f64).powi(2))
        .collect();
    spectrum.push(100.0);
    let op = Reflected::new(spectrum.clone(), 8);
    let opts = LanczosOptions {
        tolerance: 1e-10,
        ..options(3, 3)
    };
    let result = lanczos(&op, &opts).unwrap();
    assert!(result.converged, "{result:?}");
    assert!(
        max_relative_error(&result.top.values, &top_k(&spectrum, 3)) < 1e-8,
        "{:?}",
        result.top.values
    );
    let bottom_error: f64 = result
        .bottom
        .values
        .iter()
        .zip(&spectrum)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    assert!(bottom_error < 1e-8 * 100.0, "{:?}", result.bottom.values);
    assert_eq!(
        result
            .top
            .values
            .iter()
            .filter(|v| (**v - 100.0).abs() < 1e-3)
            .count(),
        1
    );
}

#[test]
fn dominant_negative_eigenvalue_does_not_become_lambda_max() {
    let mut spectrum: Vec<f64> = (0..200).map(|i| i as f64 / 100.0).collect(); // max 1.99
    spectrum.push(-50.0);
    let a = dense_with_spectrum(&spectrum, 9);
    let result = lanczos(&a, &options(1, 1)).unwrap();
    assert!(result.converged);
    assert!(
        (result.lambda_max().unwrap() - 1.99).abs() < 1e-8 * 50.0,
        "{:?}",
        result.top.values
    );
    assert!((result.lambda_min().unwrap() + 50.0).abs() < 1e-8 * 50.0);
    assert!(result.norm_estimate > 49.0);
}

#[test]
fn spectrum_symmetric_about_zero_gives_both_signs() {
    let k = 150;
    let spectrum: Vec<f64> = (1..=k)
        .flat_map(|i| [i as f64 / 10.0, -(i as f64) / 10.0])
        .collect();
    let op = Reflected::new(spectrum, 10);
    let result = lanczos(&op, &options(3, 3)).unwrap();
    assert!(result.converged, "{result:?}");
    assert!(
        max_relative_error(&result.top.values, &[15.0, 14.9, 14.8]) < 1e-8,
        "{:?}",
        result.top.values
    );
    assert!(max_relative_error(&result.bottom.values, &[-15.0, -14.9, -14.8]) < 1e-8);
    assert_pairs_consistent(&op, &result);
}

#[test]
fn diagonal_matrix_top_and_bottom() {
    let diagonal: Vec<f64> = (0..50).map(|i| ((i * 37) % 50) as f64 - 20.0).collect();
    let a = DMatrix::from_diagonal(&DVector::from_vec(diagonal));
    let result = lanczos(&a, &options(4, 4)).unwrap();
    assert!(result.converged);
    assert!(max_relative_error(&result.top.values, &[29.0, 28.0, 27.0, 26.0]) < 1e-10);
    assert!(max_relative_error(&result.bottom.values, &[-20.0, -19.0, -18.0, -17.0]) < 1e-10);
}

#[test]
fn one_by_one_matrix() {
    let a = DMatrix::from_element(1, 1, -3.0);
    let result = lanczos(&a, &options(2, 1)).unwrap();
    assert!(result.converged && result.exhausted);
    assert_eq!(result.top.values, vec![-3.0]);
    assert_eq!(result.bottom.values, vec![-3.0]);
    assert_eq!(result.n_applications, 1);
    assert_eq!(result.top.residuals, vec![0.0]);
}

#[test]
fn closure_operator_and_determinism() {
    let diagonal: Vec<f64> = (0..80).map(|i| (i as f64).sin() * 3.0).collect();
    let d = diagonal.clone();
    let op = FnOperator::new(80, move |x: &[f64], y: &mut [f64]| {
        for i in 0..x.len() {
            y[i] = d[i] * x[i];
        }
    });
    let first = lanczos(&op, &options(2, 2)).unwrap();
    let second = lanczos(&op, &options(2, 2)).unwrap();
    assert_eq!(first, second, "same seed must give bit-identical results");
    let mut sorted = diagonal;
    sorted.sort_by(f64::total_cmp);
    assert!(max_relative_error(&first.top.values, &top_k(&sorted, 2)) < 1e-8);
    assert!(max_relative_error(&first.bottom.values, &sorted[..2]) < 1e-8);
}

#[test]
fn budget_exhaustion_is_reported_not_an_error() {
    let a = random_symmetric(200, 11);
    let opts = LanczosOptions {
        max_applications: 5,
        ..options(3, 0)
    };
    let result = lanczos(&a, &opts).unwrap();
    assert!(!result.converged);
    assert_eq!(result.n_applications, 5);
    assert_eq!(result.top.values.len(), 3);
    assert_finite(&result);
}

#[test]
fn invalid_options_are_typed_errors() {
    let a = DMatrix::<f64>::identity(4, 4);
    let bad = |o: LanczosOptions| matches!(lanczos(&a, &o), Err(Error::InvalidValue { .. }));
    assert!(bad(options(0, 0)));
    assert!(bad(LanczosOptions {
        tolerance: 0.0,
        ..options(1, 0)
    }));
    assert!(bad(LanczosOptions {
        tolerance: f64::NAN,
        ..options(1, 0)
    }));
    assert!(bad(LanczosOptions {
        max_basis: Some(5),
        ..options(1, 1)
    }));
    assert!(bad(LanczosOptions {
        max_applications: 0,
        ..options(1, 0)
    }));
    let empty = DMatrix::<f64>::zeros(0, 0);
    assert!(lanczos(&empty, &options(1, 0)).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Full Lanczos (k = n) reproduces every dense eigenvalue.
    #[test]
    fn full_lanczos_reproduces_dense_eigenvalues(
        n in 1usize..14,
        entries in proptest::collection::vec(-10.0f64..10.0, 14 * 14),
        seed in 0u64..1000,
    ) {
        let a = DMatrix::from_fn(n, n, |i, j| entries[i.min(j) * 14 + i.max(j)]);
        let dense = dense_eigenvalues(&a);
        let opts = LanczosOptions { n_top: n, seed, ..LanczosOptions::default() };
        let result = lanczos(&a, &opts).unwrap();
        prop_assert!(result.converged);
        prop_assert_eq!(result.top.values.len(), n);
        let scale = dense.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
        for (got, want) in result.top.values.iter().zip(dense.iter().rev()) {
            prop_assert!((got - want).abs() <= 1e-10 * scale, "{} vs {}", got, want);
        }
    }

    /// With a small basis (restarts) the extremes still match the dense route, including
    /// integer-valued matrices with repeated eigenvalues.
    #[test]
    fn restarted_extremes_match_dense(
        n in 12usize..40,
        entries in proptest::collection::vec(-3i32..=3, 40 * 40),
        seed in 0u64..1000,
        (n_top, n_bottom) in (0usize..=3, 0usize..=3).prop_filter("one wanted", |(t, b)| t + b > 0),
    ) {
        let a = DMatrix::from_fn(n, n, |i, j| f64::from(entries[i.min(j) * 40 + i.max(j)]));
        let dense = dense_eigenvalues(&a);
        let opts = LanczosOptions { n_top, n_bottom, max_basis: Some(10), seed, ..LanczosOptions::default() };
        let result = lanczos(&a, &opts).unwrap();
        prop_assert!(result.converged);
        prop_assert_eq!((result.top.values.len(), result.bottom.values.len()), (n_top, n_bottom));
        let scale = dense.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
        for (got, want) in result.top.values.iter().zip(dense.iter().rev()) {
            prop_assert!((got - want).abs() <= 1e-7 * scale, "top {:?} vs {:?}", result.top.values, dense);
        }
        for (got, want) in result.bottom.values.iter().zip(dense.iter()) {
            prop_assert!((got - want).abs() <= 1e-7 * scale, "bottom {:?} vs {:?}", result.bottom.values, dense);
        }
    }
}

#[test]
fn repeated_far_outlier_is_found_twice() {
    // A double outlier far above a large bulk, and a single one below it. After phase 1
    // finds [40, 30], the probe's very first Rayleigh quotient (near the bulk) has a
    // residual far below its gap to 30, yet the hidden second 40 must still be found.
    let n = 2000;
    let mut spectrum: Vec<f64> = (0..n - 3)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 4) as f64)
        .collect();
    spectrum.extend([40.0, 40.0, 30.0]);
    let op = Reflected::new(spectrum, 12);
    for n_top in [1, 2, 3] {
        let result = lanczos(&op, &options(n_top, 0)).unwrap();
        assert!(
            result.converged && result.multiplicity_checked,
            "{result:?}"
        );
        let want = [40.0, 40.0, 30.0];
        assert!(
            max_relative_error(&result.top.values, &want[..n_top]) < 1e-8,
            "{:?}",
            result.top.values
        );
    }
}

#[test]
fn very_sparse_matrix_with_large_null_space() {
    // Eigenvalues ±3, ±2, ±1 and 0 (27 times): Krylov spaces break down after a few steps.
    let mut a = DMatrix::zeros(33, 33);
    for (i, j, v) in [(4, 29, 3.0), (5, 23, 2.0), (6, 26, 1.0)] {
        a[(i, j)] = v;
        a[(j, i)] = v;
    }
    let result = lanczos(&a, &options(4, 2)).unwrap();
    assert!(
        result.converged && result.multiplicity_checked,
        "{result:?}"
    );
    assert!(
        max_relative_error(&result.top.values[..3], &[3.0, 2.0, 1.0]) < 1e-12,
        "{:?}",
        result.top.values
    );
    assert!(result.top.values[3].abs() < 1e-12);
    assert!(max_relative_error(&result.bottom.values, &[-3.0, -2.0]) < 1e-12);
}

/// The spectra of the dense-validation tests above, with their exact eigenvalues
/// (ascending): a random 300×300, a Hessian-like 600×600 with outliers on both sides,
/// a matrix-free 2000 with a known spectrum, and a triple top eigenvalue.
fn validation_cases() -> Vec<(Box<dyn SymmetricOperator>, Vec<f64>, &'static str)> {
    let random = random_symmetric(300, 1);
    let random_spectrum = dense_eigenvalues(&random);
    let mut outliers: Vec<f64> = (0..590).map(|i| -0.5 + i as f64 / 589.0).collect();
    outliers.extend([25.0, 12.0, 9.0, 7.5, 6.0, -8.0, -4.0, -3.0, -2.5, -2.0]);
    let with_outliers = dense_with_spectrum(&outliers, 2);
    let n = 2000;
    let mut known: Vec<f64> = (0..n - 10)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 11) as f64)
        .collect();
    known.extend([40.0, 20.0, 10.0, 5.0, 3.0, -30.0, -15.0, -6.0, -4.0, -2.0]);
    let mut triple: Vec<f64> = (0..396).map(|i| i as f64 / 396.0).collect();
    triple.extend([4.0, 4.0, 4.0, 2.5]);
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    vec![
        (Box::new(random), random_spectrum, "random 300"),
        (Box::new(with_outliers), sorted(outliers), "outliers 600"),
        (
            Box::new(Reflected::new(known.clone(), 3)),
            sorted(known),
            "known 2000",
        ),
        (
            Box::new(Reflected::new(triple.clone(), 6)),
            sorted(triple),
            "triple 400",
        ),
    ]
}

#[test]
fn eigenvalue_criterion_meets_its_tolerance_with_fewer_applications() {
    for (op, exact, name) in validation_cases() {
        let residual = lanczos(op.as_ref(), &options(5, 5)).unwrap();
        let eigen = lanczos(
            op.as_ref(),
            &LanczosOptions {
                criterion: Criterion::Eigenvalue,
                ..options(5, 5)
            },
        )
        .unwrap();
        assert!(
            eigen.converged && eigen.multiplicity_checked,
            "{name}: converged {} checked {} applications {} probes {} top {:?} errors {:?}",
            eigen.converged,
            eigen.multiplicity_checked,
            eigen.n_applications,
            eigen.n_probes,
            eigen.top.values,
            eigen.top.error_bounds
        );
        let scale = exact[0].abs().max(exact[exact.len() - 1].abs());
        let top = top_k(&exact, 5);
        for (got, want) in eigen
            .top
            .values
            .iter()
            .zip(&top)
            .chain(eigen.bottom.values.iter().zip(&exact[..5]))
        {
            assert!(
                (got - want).abs() <= 1e-8 * scale,
                "{name}: {got} vs {want} (error {:e})",
                (got - want).abs() / scale
            );
        }
        assert!(
            eigen.n_applications < residual.n_applications,
            "{name}: {} applications vs {} on residuals",
            eigen.n_applications,
            residual.n_applications
        );
    }
}

#[test]
fn error_bounds_bound_the_true_errors() {
    for (op, exact, name) in validation_cases() {
        for criterion in [Criterion::Residual, Criterion::Eigenvalue] {
            // Converged runs, and runs cut short by the budget (larger residuals).
            for budget in [12, 30, 10_000] {
                let result = lanczos(
                    op.as_ref(),
                    &LanczosOptions {
                        criterion,
                        max_applications: budget,
                        ..options(5, 5)
                    },
                )
                .unwrap();
                let scale = result.norm_estimate;
                // A converged run's k-th value belongs to the k-th exact eigenvalue from its
                // end; a run cut short is only near some eigenvalue.
                let descending: Vec<f64> = exact.iter().rev().copied().collect();
                for (pairs, targets) in [(&result.top, &descending), (&result.bottom, &exact)] {
                    assert_eq!(pairs.error_bounds.len(), pairs.values.len());
                    for (k, ((value, bound), residual)) in pairs
                        .values
                        .iter()
                        .zip(&pairs.error_bounds)
                        .zip(&pairs.residuals)
                        .enumerate()
                    {
                        let nearest = if result.converged {
                            (targets[k] - value).abs()
                        } else {
                            exact
                                .iter()
                                .map(|l| (l - value).abs())
                                .fold(f64::INFINITY, f64::min)
                        };
                        assert!(
                            nearest <= bound + 1e-13 * scale,
                            "{name} {criterion:?} budget {budget}: θ = {value}, error \
                             {nearest:e} > bound {bound:e}"
                        );
                        let floor = 16.0 * f64::EPSILON * scale;
                        assert!(
                            *bound <= residual.max(floor) * (1.0 + 1e-12),
                            "{name}: bound {bound:e} above the residual {residual:e}"
                        );
                        assert!(*bound >= floor * (1.0 - 1e-12), "{name}: below the floor");
                    }
                }
            }
        }
    }
}

#[test]
fn error_bound_falls_back_to_the_residual_without_a_gap() {
    // A 1×1 Krylov space (budget 1) has no neighbour: the bound is the residual itself.
    let op = Reflected::new((0..50).map(f64::from).collect(), 9);
    let result = lanczos(
        &op,
        &LanczosOptions {
            max_applications: 1,
            ..options(1, 0)
        },
    )
    .unwrap();
    assert!(!result.converged);
    assert_eq!(result.top.error_bounds, result.top.residuals);
}

#[test]
fn eigenvalue_criterion_rejects_a_tolerance_below_the_rounding_floor() {
    let op = Reflected::new((0..50).map(f64::from).collect(), 9);
    let options = |tolerance| LanczosOptions {
        criterion: Criterion::Eigenvalue,
        tolerance,
        ..options(1, 0)
    };
    let e = lanczos(&op, &options(1e-15)).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidValue { field, .. } if field == "tolerance"),
        "{e}"
    );
    assert!(e.to_string().contains("rounding floor"), "{e}");
    let ok = lanczos(&op, &options(1e-14)).unwrap();
    assert!(ok.converged);
    assert!((ok.top.values[0] - 49.0).abs() <= ok.top.error_bounds[0]);
}
