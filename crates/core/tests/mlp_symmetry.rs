//! Property tests of the weight-space symmetries: the function, the loss, the gradient and the
//! Hessian transform as the theory says, the group laws hold, and a move that the activation
//! does not admit is refused (and really would change the function).

// Exact comparisons are intended where a value is exact by construction.
#![allow(clippy::float_cmp)]

use nalgebra::DMatrix;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::Model;
use symstab_core::data::Dataset;
use symstab_core::mlp::symmetry::{Action, Symmetry, SymmetryKind};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};

#[derive(Debug, Clone)]
struct Case {
    widths: Vec<usize>,
    activation: Activation,
    classify: bool,
    n: usize,
    seed: u64,
}

fn activations_for(kind: SymmetryKind) -> Vec<Activation> {
    match kind {
        SymmetryKind::Rescale | SymmetryKind::LayerScale => {
            vec![
                Activation::Relu,
                Activation::LeakyRelu { slope: 0.2 },
                Activation::Identity,
            ]
        }
        SymmetryKind::Permute => vec![
            Activation::Relu,
            Activation::LeakyRelu { slope: 0.2 },
            Activation::Tanh,
            Activation::Identity,
        ],
        SymmetryKind::SignFlip => vec![Activation::Tanh, Activation::Identity],
        SymmetryKind::Mixing => vec![Activation::Identity],
    }
}

/// Small networks (shrinking towards one narrow hidden layer and one sample).
fn case(kind: SymmetryKind) -> impl Strategy<Value = Case> {
    let acts = activations_for(kind);
    (
        1usize..4,
        prop::collection::vec(1usize..6, 1..4),
        1usize..4,
        prop::sample::select(acts),
        any::<bool>(),
        1usize..7,
        any::<u64>(),
    )
        .prop_map(|(d0, hidden, out, activation, classify, n, seed)| {
            let mut widths = vec![d0];
            widths.extend(hidden);
            widths.push(out);
            Case {
                widths,
                activation,
                classify,
                n,
                seed,
            }
        })
}

fn build(case: &Case) -> (MlpProblem, Vec<f64>) {
    let net = Mlp::uniform(&case.widths, case.activation).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
    let (d, m) = (case.widths[0], *case.widths.last().unwrap());
    let x: Vec<f64> = (0..case.n * d)
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    let data = if case.classify {
        let labels = (0..case.n).map(|_| rng.random_range(0..m)).collect();
        Dataset::classification(x, d, labels, m).unwrap()
    } else {
        let y = (0..case.n * m)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Dataset::regression(x, d, y, m).unwrap()
    };
    let params = (0..net.n_params())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    (MlpProblem::new(net, data).unwrap(), params)
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, b| a.max(b.abs()))
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn check_all(kind: SymmetryKind, case: &Case) -> Result<(), TestCaseError> {
    let (problem, params) = build(case);
    let net = problem.network().clone();
    let g = Symmetry::random(&net, kind, case.seed ^ 0xABCD).unwrap();
    let moved = g.apply(&net, &params).unwrap();

    // Same function and loss.
    let (f0, f1) = (
        problem.outputs(&params).unwrap(),
        problem.outputs(&moved).unwrap(),
    );
    prop_assert!(
        max_diff(&f0, &f1) <= 1e-10 * max_abs(&f0).max(1.0),
        "outputs differ"
    );
    let (l0, l1) = (problem.loss(&params), problem.loss(&moved));
    prop_assert!(
        (l0 - l1).abs() <= 1e-10 * l0.abs().max(1e-300),
        "loss {l0} vs {l1}"
    );

    // ∇L(gθ) = M^{−T} ∇L(θ).
    let carried = g
        .apply_to_gradient(&net, &problem.gradient(&params))
        .unwrap();
    let direct = problem.gradient(&moved);
    prop_assert!(
        max_diff(&carried, &direct) <= 1e-9 * max_abs(&direct).max(1e-12),
        "gradient"
    );

    // H(gθ) = M^{−T} H(θ) M^{−1}.
    let carried = g.apply_to_hessian(&net, &problem.hessian(&params)).unwrap();
    let direct = problem.hessian(&moved);
    let scale = direct.abs().max().max(1e-12);
    prop_assert!((carried - &direct).abs().max() <= 1e-9 * scale, "hessian");

    // The dense matrix agrees with the gradient map: M^{−T} = (M^{−1})ᵀ.
    let m = g.matrix(&net).unwrap();
    let m_inv_t = m.clone().try_inverse().unwrap().transpose();
    let v: Vec<f64> = (0..net.n_params())
        .map(|i| (i as f64 * 0.37).sin())
        .collect();
    let via_matrix = &m_inv_t * nalgebra::DVector::from_vec(v.clone());
    let via_map = g.apply_to_gradient(&net, &v).unwrap();
    prop_assert!(max_diff(via_matrix.as_slice(), &via_map) <= 1e-9 * max_abs(&via_map).max(1.0));

    // Group laws: g⁻¹ ∘ g = g ∘ g⁻¹ = identity.
    let back = g.inverse().compose(&g).apply(&net, &params).unwrap();
    prop_assert!(max_diff(&back, &params) <= 1e-12 * max_abs(&params).max(1.0));
    let id = g.compose(&g.inverse()).matrix(&net).unwrap();
    let p = net.n_params();
    prop_assert!((id - DMatrix::<f64>::identity(p, p)).abs().max() <= 1e-12);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn neuron_rescale_properties(c in case(SymmetryKind::Rescale)) {
        check_all(SymmetryKind::Rescale, &c)?;
    }

    #[test]
    fn layer_scale_properties(c in case(SymmetryKind::LayerScale)) {
        check_all(SymmetryKind::LayerScale, &c)?;
    }

    #[test]
    fn permutation_properties(c in case(SymmetryKind::Permute)) {
        check_all(SymmetryKind::Permute, &c)?;
    }

    #[test]
    fn sign_flip_properties(c in case(SymmetryKind::SignFlip)) {
        check_all(SymmetryKind::SignFlip, &c)?;
    }

    #[test]
    fn mixing_properties(c in case(SymmetryKind::Mixing)) {
        check_all(SymmetryKind::Mixing, &c)?;
    }

    #[test]
    fn balanced_rescale_preserves_the_function(c in case(SymmetryKind::Rescale), factor in 1.0f64..50.0) {
        let (problem, params) = build(&c);
        let net = problem.network();
        let g = Symmetry::random_balanced_rescale(net, 0, factor, c.seed).unwrap();
        let moved = g.apply(net, &params).unwrap();
        let (f0, f1) = (problem.outputs(&params).unwrap(), problem.outputs(&moved).unwrap());
        prop_assert!(max_diff(&f0, &f1) <= 1e-10 * max_abs(&f0).max(1.0));
    }

    #[test]
    fn composing_different_kinds_preserves_the_function(c in case(SymmetryKind::Rescale)) {
        let (problem, params) = build(&c);
        let net = problem.network();
        let g = Symmetry::random(net, SymmetryKind::Permute, 1).unwrap()
            .compose(&Symmetry::random(net, SymmetryKind::Rescale, 2).unwrap())
            .compose(&Symmetry::random(net, SymmetryKind::LayerScale, 3).unwrap());
        let moved = g.apply(net, &params).unwrap();
        let (f0, f1) = (problem.outputs(&params).unwrap(), problem.outputs(&moved).unwrap());
        prop_assert!(max_diff(&f0, &f1) <= 1e-10 * max_abs(&f0).max(1.0));
        let back = g.inverse().apply(net, &moved).unwrap();
        prop_assert!(max_diff(&back, &params) <= 1e-12 * max_abs(&params).max(1.0));
    }
}

#[test]
fn rescaling_a_tanh_neuron_changes_the_output_and_is_refused() {
    let net = Mlp::uniform(&[2, 3, 1], Activation::Tanh).unwrap();
    let params: Vec<f64> = (0..net.n_params())
        .map(|i| ((i + 1) as f64 * 0.7).sin())
        .collect();
    let x = vec![0.9, -1.3, 0.4, 2.0];
    // Done by hand (the library refuses): neuron 1, α = 2.
    let mut moved = params.clone();
    let (l0, l1) = (net.layer(0), net.layer(1));
    for i in 0..2 {
        moved[l0.weight_index(i, 1)] *= 2.0;
    }
    moved[l0.bias_index(1)] *= 2.0;
    moved[l1.weight_index(1, 0)] /= 2.0;
    let f0 = net.forward(&params, &x, 2).unwrap();
    let f1 = net.forward(&moved, &x, 2).unwrap();
    assert!(
        max_diff(&f0, &f1) > 1e-3,
        "tanh is not positively homogeneous: {f0:?} vs {f1:?}"
    );

    let err = Symmetry::random_rescale(&net, 0, 2.0, 2.0, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rescale") && err.contains("tanh"), "{err}");
    let action = Symmetry::from(Action::NeuronRescale {
        layer: 0,
        factors: vec![2.0; 3],
    });
    assert!(action.apply(&net, &params).is_err());
    let err = Symmetry::random(&net, SymmetryKind::LayerScale, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer scale") && err.contains("tanh"), "{err}");
}

#[test]
fn refused_moves_name_action_and_activation() {
    let relu = Mlp::uniform(&[2, 3, 1], Activation::Relu).unwrap();
    let err = Symmetry::random_sign_flip(&relu, 0, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sign flip") && err.contains("relu"), "{err}");
    let err = Symmetry::random_mixing(&relu, 0, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mixing") && err.contains("relu"), "{err}");
    let tanh = Mlp::uniform(&[2, 3, 1], Activation::Tanh).unwrap();
    let err = Symmetry::random_mixing(&tanh, 0, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mixing") && err.contains("tanh"), "{err}");
    assert!(
        Symmetry::random_permutation(&tanh, 1, 0).is_err(),
        "hidden layer 1 does not exist"
    );
}

#[test]
fn sign_flip_is_refused_for_relu() {
    let net = Mlp::uniform(&[2, 3, 1], Activation::Relu).unwrap();
    let params: Vec<f64> = (0..net.n_params())
        .map(|i| ((i + 1) as f64 * 0.9).cos())
        .collect();
    let bypass = Symmetry::from(Action::SignFlip {
        layer: 0,
        signs: vec![-1.0, 1.0, 1.0],
    });
    assert!(bypass.apply(&net, &params).is_err());
}

#[test]
fn layer_scale_checks_the_product_and_follows_the_study() {
    let net = Mlp::uniform(&[3, 4, 4, 1], Activation::Relu).unwrap();
    assert!(Symmetry::layer_scale(&net, &[0.1, 2.5, 3.0]).is_err());
    let g = Symmetry::layer_scale(&net, &[0.1, 2.5, 4.0]).unwrap();
    let params: Vec<f64> = (0..net.n_params())
        .map(|i| (i as f64 * 0.3).sin())
        .collect();
    let moved = g.apply(&net, &params).unwrap();
    // Bias of layer 1 is scaled by c_0·c_1 = 0.25, weights of layer 2 by 4.
    let (l1, l2) = (net.layer(1), net.layer(2));
    assert!((moved[l1.bias_index(2)] - 0.25 * params[l1.bias_index(2)]).abs() < 1e-15);
    assert!((moved[l2.weight_index(1, 0)] - 4.0 * params[l2.weight_index(1, 0)]).abs() < 1e-15);
}

#[test]
fn balanced_rescale_scales_half_up_and_half_down() {
    let net = Mlp::uniform(&[3, 10, 1], Activation::Relu).unwrap();
    let g = Symmetry::random_balanced_rescale(&net, 0, 100.0, 5).unwrap();
    let Action::NeuronRescale { factors, .. } = &g.actions()[0] else {
        panic!("rescale")
    };
    assert_eq!(factors.iter().filter(|&&f| f == 100.0).count(), 5);
    assert_eq!(factors.iter().filter(|&&f| f == 0.01).count(), 5);
    let again = Symmetry::random_balanced_rescale(&net, 0, 100.0, 5).unwrap();
    assert_eq!(g, again, "seeded");
}
