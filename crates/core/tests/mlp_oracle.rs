//! Derivative oracles for the MLP: gradient, Hessian-vector product, dense Hessian and
//! Gauss-Newton product against central finite differences and against an independent
//! forward pass over num-dual's dual numbers, for every activation and both losses.

// Exact comparisons are intended where a value is exact by construction.
#![allow(clippy::float_cmp)]

use num_dual::{Dual64, DualNum, HyperDual64};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::Model;
use symstab_core::data::{Dataset, Targets};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};

const ACTIVATIONS: [Activation; 4] = [
    Activation::Relu,
    Activation::LeakyRelu { slope: 0.1 },
    Activation::Tanh,
    Activation::Identity,
];

fn act<T: DualNum<f64> + Copy>(a: Activation, z: T) -> T {
    match a {
        Activation::Relu => {
            if z.re() > 0.0 {
                z
            } else {
                T::zero()
            }
        }
        Activation::LeakyRelu { slope } => {
            if z.re() > 0.0 {
                z
            } else {
                z * slope
            }
        }
        Activation::Tanh => z.tanh(),
        Activation::Identity => z,
    }
}

/// Outputs of sample i, written independently of the library (plain loops, generic type).
fn outputs_generic<T: DualNum<f64> + Copy>(net: &Mlp, p: &[T], x: &[f64]) -> Vec<T> {
    let mut h: Vec<T> = x.iter().map(|&v| T::from(v)).collect();
    let widths = net.widths();
    let mut off = 0;
    for k in 0..widths.len() - 1 {
        let (fi, fo) = (widths[k], widths[k + 1]);
        let mut z = vec![T::zero(); fo];
        for j in 0..fo {
            let mut s = p[off + fi * fo + j];
            for i in 0..fi {
                s += h[i] * p[off + i * fo + j];
            }
            z[j] = s;
        }
        off += fi * fo + fo;
        if k + 2 < widths.len() {
            let a = net.activations()[k];
            h = z.into_iter().map(|v| act(a, v)).collect();
        } else {
            h = z;
        }
    }
    h
}

fn loss_generic<T: DualNum<f64> + Copy>(problem: &MlpProblem, p: &[T]) -> T {
    let net = problem.network();
    let data = problem.dataset();
    let (n, d) = (data.n_samples(), data.input_dim());
    let m = net.output_dim();
    let mut total = T::zero();
    for i in 0..n {
        let f = outputs_generic(net, p, &data.inputs()[i * d..(i + 1) * d]);
        match data.targets() {
            Targets::Values { values, .. } => {
                for j in 0..m {
                    let r = f[j] - values[i * m + j];
                    total += r * r;
                }
            }
            Targets::Labels { labels, .. } => {
                let max = f.iter().map(|v| v.re()).fold(f64::NEG_INFINITY, f64::max);
                let mut s = T::zero();
                for v in &f {
                    s += (*v - max).exp();
                }
                total += s.ln() + max - f[labels[i]];
            }
        }
    }
    match data.targets() {
        Targets::Values { .. } => total / (n * m) as f64,
        _ => total / n as f64,
    }
}

fn problem(widths: &[usize], a: Activation, classify: bool, n: usize, seed: u64) -> MlpProblem {
    let net = Mlp::uniform(widths, a).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = widths[0];
    let m = *widths.last().unwrap();
    let x: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.5..1.5)).collect();
    let data = if classify {
        let labels = (0..n).map(|_| rng.random_range(0..m)).collect();
        Dataset::classification(x, d, labels, m).unwrap()
    } else {
        let y = (0..n * m).map(|_| rng.random_range(-1.0..1.0)).collect();
        Dataset::regression(x, d, y, m).unwrap()
    };
    MlpProblem::new(net, data).unwrap()
}

fn random_vec(len: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    diff / norm.max(1e-300)
}

fn cases() -> Vec<(MlpProblem, Vec<f64>, String)> {
    let mut out = Vec::new();
    for (ai, &a) in ACTIVATIONS.iter().enumerate() {
        for classify in [false, true] {
            let widths: &[usize] = if classify {
                &[3, 5, 4, 3]
            } else {
                &[3, 4, 5, 2]
            };
            let pr = problem(widths, a, classify, 13, 10 + ai as u64);
            let params = random_vec(pr.n_params(), 100 + ai as u64, 0.9);
            out.push((pr, params, format!("{a} classify={classify}")));
        }
    }
    out
}

#[test]
fn gradient_matches_dual_numbers_and_finite_differences() {
    for (pr, params, name) in cases() {
        let grad = pr.gradient(&params);
        let p = params.len();
        let dual: Vec<f64> = (0..p)
            .map(|i| {
                let q: Vec<Dual64> = params
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| Dual64::new(v, if i == j { 1.0 } else { 0.0 }))
                    .collect();
                loss_generic(&pr, &q).eps
            })
            .collect();
        assert!(
            rel_err(&grad, &dual) < 1e-12,
            "{name}: dual {}",
            rel_err(&grad, &dual)
        );
        let eps = 1e-6;
        let fd: Vec<f64> = (0..p)
            .map(|i| {
                let mut plus = params.clone();
                let mut minus = params.clone();
                plus[i] += eps;
                minus[i] -= eps;
                (pr.loss(&plus) - pr.loss(&minus)) / (2.0 * eps)
            })
            .collect();
        assert!(
            rel_err(&grad, &fd) < 1e-8,
            "{name}: fd {}",
            rel_err(&grad, &fd)
        );
        let loss_dual = loss_generic(
            &pr,
            &params.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>(),
        )
        .re;
        assert!((pr.loss(&params) - loss_dual).abs() <= 1e-13 * loss_dual.abs());
    }
}

/// H·v by the hyper-dual oracle: entry i is ∂²L/∂θ_i∂v of the generic loss.
fn hyperdual_hvp(pr: &MlpProblem, params: &[f64], v: &[f64]) -> Vec<f64> {
    (0..params.len())
        .map(|i| {
            let q: Vec<HyperDual64> = params
                .iter()
                .enumerate()
                .map(|(j, &x)| HyperDual64::new(x, if i == j { 1.0 } else { 0.0 }, v[j], 0.0))
                .collect();
            loss_generic(pr, &q).eps1eps2
        })
        .collect()
}

#[test]
fn hvp_matches_hyperdual_numbers_and_finite_differences() {
    for (pr, params, name) in cases() {
        let p = params.len();
        let v = random_vec(p, 7, 1.0);
        let mut hv = vec![0.0; p];
        pr.hessian_vector_product(&params, &v, &mut hv);
        let dual = hyperdual_hvp(&pr, &params, &v);
        assert!(
            rel_err(&hv, &dual) < 1e-12,
            "{name}: dual {}",
            rel_err(&hv, &dual)
        );
        let eps = 1e-5;
        let plus: Vec<f64> = params.iter().zip(&v).map(|(a, b)| a + eps * b).collect();
        let minus: Vec<f64> = params.iter().zip(&v).map(|(a, b)| a - eps * b).collect();
        let (gp, gm) = (pr.gradient(&plus), pr.gradient(&minus));
        let fd: Vec<f64> = gp
            .iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * eps))
            .collect();
        assert!(rel_err(&hv, &fd) < 1e-8, "{name}: fd {}", rel_err(&hv, &fd));
        // The products at a fixed point reuse the forward pass and backpropagation.
        let mut cached = vec![0.0; p];
        pr.hessian_at(&params)(&v, &mut cached);
        assert!(
            rel_err(&cached, &dual) < 1e-12,
            "{name}: hessian_at vs dual {}",
            rel_err(&cached, &dual)
        );
    }
}

/// The products of `hessian_at` over several sample blocks, for every activation and both
/// losses, against the hyper-dual oracle; and against `hessian_vector_product` for several
/// tangents from one prepared point.
#[test]
fn products_at_a_fixed_point_match_the_oracle_over_many_blocks() {
    for (ai, &a) in ACTIVATIONS.iter().enumerate() {
        for classify in [false, true] {
            let pr = problem(&[3, 6, 4, 3], a, classify, 700, 40 + ai as u64);
            let params = random_vec(pr.n_params(), 50 + ai as u64, 0.9);
            let p = params.len();
            let at = pr.hessian_at(&params);
            for seed in 0..3 {
                let v = random_vec(p, 60 + seed, 1.0);
                let mut cached = vec![0.0; p];
                at(&v, &mut cached);
                let mut plain = vec![0.0; p];
                pr.hessian_vector_product(&params, &v, &mut plain);
                assert!(
                    rel_err(&cached, &plain) < 1e-13,
                    "{a} classify={classify}: {}",
                    rel_err(&cached, &plain)
                );
                if seed == 0 {
                    let dual = hyperdual_hvp(&pr, &params, &v);
                    assert!(
                        rel_err(&cached, &dual) < 1e-12,
                        "{a} classify={classify}: dual {}",
                        rel_err(&cached, &dual)
                    );
                }
            }
        }
    }
}

#[test]
fn dense_hessian_matches_hvp_columns_and_is_symmetric() {
    for (pr, params, name) in cases() {
        let p = params.len();
        let h = pr.hessian(&params);
        let mut e = vec![0.0; p];
        let mut col = vec![0.0; p];
        let scale = h.iter().map(|x| x.abs()).fold(0.0, f64::max);
        for j in 0..p {
            e[j] = 1.0;
            pr.hessian_vector_product(&params, &e, &mut col);
            e[j] = 0.0;
            for i in 0..p {
                assert!(
                    (h[(i, j)] - col[i]).abs() <= 1e-13 * scale,
                    "{name}: ({i},{j})"
                );
                assert_eq!(
                    h[(i, j)].to_bits(),
                    h[(j, i)].to_bits(),
                    "{name}: not symmetric"
                );
            }
        }
    }
}

#[test]
fn dense_hessian_handles_many_samples_and_wide_layers() {
    // More samples than one block and more tangents per layer than one tangent group.
    let pr = problem(&[6, 9, 7, 3], Activation::Tanh, true, 600, 3);
    let params = random_vec(pr.n_params(), 4, 0.6);
    let h = pr.hessian(&params);
    let v = random_vec(pr.n_params(), 5, 1.0);
    let mut hv = vec![0.0; v.len()];
    pr.hessian_vector_product(&params, &v, &mut hv);
    let dense: Vec<f64> = (&h * nalgebra::DVector::from_vec(v))
        .iter()
        .copied()
        .collect();
    assert!(rel_err(&dense, &hv) < 1e-13);
}

#[test]
fn gauss_newton_matches_jacobian_oracle() {
    for (pr, params, name) in cases() {
        let p = params.len();
        let net = pr.network();
        let data = pr.dataset();
        let (n, d, m) = (data.n_samples(), data.input_dim(), net.output_dim());
        let v = random_vec(p, 9, 1.0);
        let mut gv = vec![0.0; p];
        pr.ggn_vector_product(&params, &v, &mut gv);
        // G v = Σ_i J_iᵀ ∇²ℓ_i J_i v with J_i from dual numbers (one column per parameter).
        let mut expected = vec![0.0; p];
        for i in 0..n {
            let x = &data.inputs()[i * d..(i + 1) * d];
            let jac: Vec<Vec<f64>> = (0..p)
                .map(|c| {
                    let q: Vec<Dual64> = params
                        .iter()
                        .enumerate()
                        .map(|(j, &val)| Dual64::new(val, if c == j { 1.0 } else { 0.0 }))
                        .collect();
                    outputs_generic(net, &q, x).iter().map(|o| o.eps).collect()
                })
                .collect();
            let f: Vec<f64> = outputs_generic(
                net,
                &params.iter().map(|&t| Dual64::from(t)).collect::<Vec<_>>(),
                x,
            )
            .iter()
            .map(|o| o.re)
            .collect();
            let jv: Vec<f64> = (0..m)
                .map(|o| (0..p).map(|c| jac[c][o] * v[c]).sum())
                .collect();
            let u: Vec<f64> = match data.targets() {
                Targets::Values { .. } => jv.iter().map(|x| 2.0 * x / (n * m) as f64).collect(),
                _ => {
                    let max = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = f.iter().map(|z| (z - max).exp()).sum();
                    let pr: Vec<f64> = f.iter().map(|z| (z - max).exp() / s).collect();
                    let dot: f64 = pr.iter().zip(&jv).map(|(a, b)| a * b).sum();
                    pr.iter()
                        .zip(&jv)
                        .map(|(a, b)| a * (b - dot) / n as f64)
                        .collect()
                }
            };
            for c in 0..p {
                expected[c] += (0..m).map(|o| jac[c][o] * u[o]).sum::<f64>();
            }
        }
        assert!(
            rel_err(&gv, &expected) < 1e-12,
            "{name}: {}",
            rel_err(&gv, &expected)
        );
        // Positive semi-definite: vᵀ G v ≥ 0.
        let quad: f64 = v.iter().zip(&gv).map(|(a, b)| a * b).sum();
        assert!(quad >= -1e-14, "{name}: vᵀGv = {quad}");
    }
}

#[test]
fn identity_network_gauss_newton_equals_hessian_for_one_layer() {
    // With a single affine layer and MSE, the loss is quadratic and G = H exactly.
    let pr = problem(&[4, 3], Activation::Identity, false, 20, 1);
    let params = random_vec(pr.n_params(), 2, 1.0);
    let v = random_vec(pr.n_params(), 3, 1.0);
    let (mut hv, mut gv) = (vec![0.0; v.len()], vec![0.0; v.len()]);
    pr.hessian_vector_product(&params, &v, &mut hv);
    pr.ggn_vector_product(&params, &v, &mut gv);
    assert!(rel_err(&gv, &hv) < 1e-14);
}

#[test]
fn relu_kink_has_zero_derivative_and_stays_finite() {
    // Zero inputs and zero first-layer bias put every hidden pre-activation exactly at 0.
    let net = Mlp::uniform(&[2, 3, 1], Activation::Relu).unwrap();
    let data = Dataset::regression(vec![0.0; 8], 2, vec![1.0, -1.0, 0.5, 2.0], 1).unwrap();
    let pr = MlpProblem::new(net.clone(), data).unwrap();
    let mut params = random_vec(net.n_params(), 11, 1.0);
    let l0 = net.layer(0);
    for j in 0..l0.fan_out {
        params[l0.bias_index(j)] = 0.0;
    }
    let g = pr.gradient(&params);
    assert!(g.iter().all(|x| x.is_finite()));
    // σ'(0) = 0: no gradient reaches the first layer or the hidden-to-output weights' inputs.
    for i in l0.range() {
        assert_eq!(g[i], 0.0, "first-layer gradient at the kink");
    }
    let h = pr.hessian(&params);
    assert!(h.iter().all(|x| x.is_finite()));
    let v = random_vec(net.n_params(), 12, 1.0);
    let mut hv = vec![0.0; v.len()];
    pr.hessian_vector_product(&params, &v, &mut hv);
    assert!(hv.iter().all(|x| x.is_finite()));
    assert_eq!(Activation::Relu.derivative(0.0), 0.0);
    assert_eq!(Activation::Relu.second_derivative(0.0), 0.0);
    assert_eq!(Activation::LeakyRelu { slope: 0.2 }.derivative(0.0), 0.2);
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let net = Mlp::uniform(&[1, 3], Activation::Relu).unwrap();
    let data = Dataset::classification(vec![1.0, -1.0], 1, vec![0, 2], 3).unwrap();
    let pr = MlpProblem::new(net, data).unwrap();
    // Logits ±1000·x: naive exp overflows.
    let params = vec![1000.0, 0.0, -1000.0, 0.0, 0.0, 0.0];
    let loss = pr.loss(&params);
    // Sample 1: logits (1000, 0, −1000), label 0 → ≈ 0. Sample 2: (−1000, 0, 1000), label 2 → ≈ 0.
    assert!(loss.is_finite() && loss.abs() < 1e-12);
    let g = pr.gradient(&params);
    assert!(g.iter().all(|x| x.is_finite()));
    let wrong = vec![-1000.0, 0.0, 1000.0, 0.0, 0.0, 0.0];
    assert!((pr.loss(&wrong) - 2000.0).abs() < 1e-9);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // 2000 samples × 138 parameters: enough work for the sample blocks to run in parallel.
    let pr = problem(&[5, 8, 8, 2], Activation::Tanh, false, 2000, 21);
    let params = random_vec(pr.n_params(), 22, 0.7);
    let v = random_vec(pr.n_params(), 23, 1.0);
    let run = || {
        let mut hv = vec![0.0; v.len()];
        pr.hessian_vector_product(&params, &v, &mut hv);
        let mut cached = vec![0.0; v.len()];
        pr.hessian_at(&params)(&v, &mut cached);
        (pr.gradient(&params), hv, pr.hessian(&params), cached)
    };
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(run);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(run);
    assert_eq!(two.0, one.0);
    assert_eq!(two.1, one.1);
    assert_eq!(two.2, one.2);
    assert_eq!(two.3, one.3);
}
