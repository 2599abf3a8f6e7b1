//! Exact derivatives of the product chain against independent oracles: the toy's
//! hand-derived closed form, central finite differences, forward-mode automatic
//! differentiation (num-dual) and the trait's default Hessian from Hessian-vector products.

#![allow(
    clippy::float_cmp,
    reason = "exact comparisons are intended where results are exactly representable"
)]

use nalgebra::{DMatrix, DVector};
use num_dual::{Dual2DVec64, DualNum, hessian};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::Model;
use symstab_core::toy::ProductChain;

/// A model that forwards everything but `hessian`, so the trait's default (columns of
/// Hessian-vector products, symmetrised) is used.
struct ViaHvp<'a>(&'a ProductChain);

impl Model for ViaHvp<'_> {
    fn n_params(&self) -> usize {
        self.0.n_params()
    }
    fn input_dim(&self) -> usize {
        1
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn predict(&self, params: &[f64], input: &[f64], output: &mut [f64]) {
        self.0.predict(params, input, output)
    }
    fn loss(&self, params: &[f64]) -> f64 {
        self.0.loss(params)
    }
    fn loss_and_gradient(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        self.0.loss_and_gradient(params, grad)
    }
    fn hessian_vector_product(&self, params: &[f64], v: &[f64], out: &mut [f64]) {
        self.0.hessian_vector_product(params, v, out)
    }
}

fn random_samples(rng: &mut ChaCha8Rng, count: usize) -> Vec<(f64, f64)> {
    (0..count)
        .map(|_| (rng.random_range(-2.0..2.0), rng.random_range(-3.0..3.0)))
        .collect()
}

fn random_point(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-2.5..2.5)).collect()
}

/// Largest |a − b| relative to max(1, max|b|).
fn max_rel_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let scale = b.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Loss, gradient and Hessian by forward-mode second-order dual numbers.
fn autodiff(chain: &ProductChain, params: &[f64]) -> (f64, DVector<f64>, DMatrix<f64>) {
    let samples = chain.samples().to_vec();
    let f = move |w: DVector<Dual2DVec64>| {
        let mut product = w[0].clone();
        for factor in w.iter().skip(1) {
            product *= factor.clone();
        }
        let mut loss = Dual2DVec64::from_re(0.0);
        for &(x, y) in &samples {
            let r = product.clone() * x - y;
            loss += r.powi(2);
        }
        loss
    };
    hessian(f, DVector::from_column_slice(params))
}

#[test]
fn toy_closed_form_matches_hand_derived_formulas() {
    // L = (ab − 2)², ∇L = 2(ab − 2)(b, a), H = [[2b², 4ab − 4], [4ab − 4, 2a²]].
    let toy = ProductChain::toy();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..200 {
        let (a, b) = (rng.random_range(-10.0..10.0), rng.random_range(-10.0..10.0));
        let r = a * b - 2.0;
        assert!((toy.loss(&[a, b]) - r * r).abs() <= 1e-12 * (1.0 + r * r));
        let g = toy.gradient(&[a, b]);
        let expected = [2.0 * r * b, 2.0 * r * a];
        for k in 0..2 {
            assert!((g[k] - expected[k]).abs() <= 1e-12 * (1.0 + expected[k].abs()));
        }
        let h = toy.hessian(&[a, b]);
        let closed = DMatrix::from_row_slice(
            2,
            2,
            &[
                2.0 * b * b,
                4.0 * a * b - 4.0,
                4.0 * a * b - 4.0,
                2.0 * a * a,
            ],
        );
        assert!(
            max_rel_diff(&h, &closed) < 1e-13,
            "at ({a}, {b}): {h} vs {closed}"
        );
    }
    // Exact at the study's starts: (3,3) and (1,9).
    assert_eq!(
        toy.hessian(&[3.0, 3.0]),
        DMatrix::from_row_slice(2, 2, &[18.0, 32.0, 32.0, 18.0])
    );
    assert_eq!(
        toy.hessian(&[1.0, 9.0]),
        DMatrix::from_row_slice(2, 2, &[162.0, 32.0, 32.0, 2.0])
    );
    assert_eq!(toy.gradient(&[1.0, 9.0]), vec![126.0, 14.0]);
}

#[test]
fn toy_derivatives_match_autodiff_and_hvp_default() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for n in [2, 3, 5] {
        for n_samples in [1, 2, 4] {
            let chain = ProductChain::new(n, random_samples(&mut rng, n_samples)).unwrap();
            for _ in 0..20 {
                let theta = random_point(&mut rng, n);
                let (loss, grad, hess) = autodiff(&chain, &theta);
                let mut g = vec![0.0; n];
                let l = chain.loss_and_gradient(&theta, &mut g);
                assert!((l - loss).abs() <= 1e-12 * (1.0 + loss.abs()));
                assert!((l - chain.loss(&theta)).abs() <= 1e-12 * (1.0 + loss.abs()));
                let gscale = grad.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
                for k in 0..n {
                    assert!((g[k] - grad[k]).abs() <= 1e-12 * gscale, "n={n} k={k}");
                }
                let h = chain.hessian(&theta);
                assert!(max_rel_diff(&h, &hess) < 1e-12, "n={n}: {h} vs {hess}");
                let h_from_hvp = ViaHvp(&chain).hessian(&theta);
                assert!(
                    max_rel_diff(&h_from_hvp, &hess) < 1e-12,
                    "n={n}: {h_from_hvp} vs {hess}"
                );
                // The closed form is exactly symmetric.
                assert_eq!(h, h.transpose());
            }
        }
    }
}

#[test]
fn toy_hessian_matches_central_differences_of_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in [2, 3] {
        for n_samples in [1, 3] {
            let chain = ProductChain::new(n, random_samples(&mut rng, n_samples)).unwrap();
            for _ in 0..25 {
                let theta = random_point(&mut rng, n);
                let h = chain.hessian(&theta);
                let mut fd = DMatrix::zeros(n, n);
                for j in 0..n {
                    let step = 1e-5 * theta[j].abs().max(1.0);
                    let (mut plus, mut minus) = (theta.clone(), theta.clone());
                    plus[j] += step;
                    minus[j] -= step;
                    let (gp, gm) = (chain.gradient(&plus), chain.gradient(&minus));
                    for i in 0..n {
                        fd[(i, j)] = (gp[i] - gm[i]) / (2.0 * step);
                    }
                }
                assert!(max_rel_diff(&fd, &h) < 1e-7, "n={n}: fd {fd} vs {h}");

                // And the gradient against central differences of the loss.
                let g = chain.gradient(&theta);
                let gscale = g.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
                for j in 0..n {
                    let step = 1e-5 * theta[j].abs().max(1.0);
                    let (mut plus, mut minus) = (theta.clone(), theta.clone());
                    plus[j] += step;
                    minus[j] -= step;
                    let d = (chain.loss(&plus) - chain.loss(&minus)) / (2.0 * step);
                    assert!(
                        (d - g[j]).abs() < 1e-7 * gscale,
                        "n={n} j={j}: {d} vs {}",
                        g[j]
                    );
                }
            }
        }
    }
}

#[test]
fn toy_hvp_is_linear_and_matches_hessian_times_vector() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let chain = ProductChain::new(4, random_samples(&mut rng, 3)).unwrap();
    for _ in 0..20 {
        let theta = random_point(&mut rng, 4);
        let v = random_point(&mut rng, 4);
        let mut hv = vec![0.0; 4];
        chain.hessian_vector_product(&theta, &v, &mut hv);
        let expected = chain.hessian(&theta) * DVector::from_column_slice(&v);
        let scale = expected.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
        for k in 0..4 {
            assert!((hv[k] - expected[k]).abs() < 1e-12 * scale);
        }
    }
}

#[test]
fn toy_zero_factors_give_finite_exact_values() {
    let chain = ProductChain::new(3, vec![(1.0, 2.0), (2.0, -1.0)]).unwrap();
    let chain_one = ProductChain::new(3, vec![(1.0, 2.0)]).unwrap();
    let theta = [0.0, 2.0, 3.0];
    // p = 0, G = 2·(0 − 2)·1 = −4, S = 2. P = (6, 0, 0), P₀₁ = 3, P₀₂ = 2, P₁₂ = 0.
    assert_eq!(chain_one.products_but_one(&theta), vec![6.0, 0.0, 0.0]);
    assert_eq!(chain_one.gradient(&theta), vec![-24.0, 0.0, 0.0]);
    let h = chain_one.hessian(&theta);
    let expected =
        DMatrix::from_row_slice(3, 3, &[72.0, -12.0, -8.0, -12.0, 0.0, 0.0, -8.0, 0.0, 0.0]);
    assert_eq!(h, expected);
    let mut hv = [0.0; 3];
    chain_one.hessian_vector_product(&theta, &[1.0, 1.0, 1.0], &mut hv);
    assert_eq!(hv, [52.0, -12.0, -8.0]);

    // All-zero and two-zero points: everything finite.
    for theta in [[0.0, 0.0, 0.0], [0.0, 0.0, 5.0], [-0.0, 1e-300, 0.0]] {
        let mut g = [0.0; 3];
        assert!(chain.loss_and_gradient(&theta, &mut g).is_finite());
        assert!(g.iter().all(|v| v.is_finite()));
        assert!(chain.hessian(&theta).iter().all(|v| v.is_finite()));
        let mut hv = [0.0; 3];
        chain.hessian_vector_product(&theta, &[1.0, -2.0, 3.0], &mut hv);
        assert!(hv.iter().all(|v| v.is_finite()));
    }
    // n = 3 at the origin: the Hessian is exactly zero.
    assert_eq!(chain.hessian(&[0.0, 0.0, 0.0]), DMatrix::zeros(3, 3));
}

#[test]
fn toy_predict_and_constructor_errors() {
    let chain = ProductChain::new(3, vec![(1.0, 2.0)]).unwrap();
    let mut out = [0.0];
    chain.predict(&[2.0, 3.0, 4.0], &[0.5], &mut out);
    assert_eq!(out, [12.0]);
    assert_eq!(
        (chain.n_params(), chain.input_dim(), chain.output_dim()),
        (3, 1, 1)
    );

    let toy = ProductChain::toy();
    assert_eq!((toy.n_factors(), toy.samples()), (2, &[(1.0, 2.0)][..]));

    let err = ProductChain::new(1, vec![(1.0, 2.0)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("n_factors") && err.contains('1'), "{err}");
    let err = ProductChain::new(2, vec![]).unwrap_err().to_string();
    assert!(err.contains("samples"), "{err}");
    let err = ProductChain::new(2, vec![(1.0, 2.0), (f64::NAN, 1.0)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("samples") && err.contains("NaN") && err.contains("index 2"),
        "{err}"
    );
    assert!(ProductChain::new(2, vec![(1.0, f64::INFINITY)]).is_err());
}
