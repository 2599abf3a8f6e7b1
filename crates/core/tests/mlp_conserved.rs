//! The one-step identity for the per-neuron balance C = ‖θ_in‖² − ‖θ_out‖².

// Exact comparisons are intended where a value is exact by construction.
#![allow(clippy::float_cmp)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::Model;
use symstab_core::data::Dataset;
use symstab_core::mlp::conserved::{
    balance_trajectory, neuron_balances, predicted_balances_after_step,
};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};

fn setup(activation: Activation, classify: bool) -> (MlpProblem, Vec<f64>) {
    let net = Mlp::uniform(&[4, 6, 5, 3], activation).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x: Vec<f64> = (0..40 * 4).map(|_| rng.random_range(-1.0..1.0)).collect();
    let data = if classify {
        Dataset::classification(x, 4, (0..40).map(|i| i % 3).collect(), 3).unwrap()
    } else {
        Dataset::regression(
            x,
            4,
            (0..120).map(|_| rng.random_range(-1.0..1.0)).collect(),
            3,
        )
        .unwrap()
    };
    let params = net.init_he(3, 0.1).unwrap();
    (MlpProblem::new(net, data).unwrap(), params)
}

fn step(params: &[f64], grad: &[f64], lr: f64, wd: f64) -> Vec<f64> {
    params
        .iter()
        .zip(grad)
        .map(|(t, g)| t - lr * (g + wd * t))
        .collect()
}

#[test]
fn one_step_identity_holds_to_rounding() {
    let acts = [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Identity,
    ];
    for activation in acts {
        for classify in [false, true] {
            for (lr, wd) in [(0.1, 0.0), (0.5, 0.0), (0.3, 0.01), (1.7, 0.2)] {
                let (problem, params) = setup(activation, classify);
                let net = problem.network();
                let grad = problem.gradient(&params);
                let next = step(&params, &grad, lr, wd);
                let actual = neuron_balances(net, &next).unwrap().concat();
                let predicted = predicted_balances_after_step(net, &params, &grad, lr, wd)
                    .unwrap()
                    .concat();
                let before = neuron_balances(net, &params).unwrap().concat();
                let scale = params.iter().chain(&next).map(|x| x * x).sum::<f64>();
                for (a, p) in actual.iter().zip(&predicted) {
                    assert!((a - p).abs() <= 1e-13 * scale, "{activation}: {a} vs {p}");
                }
                // And the change is not trivially zero, so the identity has content.
                let change = actual
                    .iter()
                    .zip(&before)
                    .fold(0.0, |m, (a, b)| f64::max(m, (a - b).abs()));
                assert!(change > 1e-8, "{activation}: balance did not move");
            }
        }
    }
}

#[test]
fn balances_along_a_run_follow_the_identity() {
    let (problem, params) = setup(Activation::Relu, false);
    let records = balance_trajectory(&problem, &params, 0.2, 0.0, 30).unwrap();
    assert_eq!(records.len(), 31);
    let first = &records[0].balances;
    let last = &records[30].balances;
    let drift = first
        .iter()
        .zip(last)
        .fold(0.0, |m, (a, b)| f64::max(m, (a - b).abs()));
    assert!(drift > 0.0, "finite steps break conservation");
    assert!(
        records.iter().all(|r| r.identity_error < 1e-12),
        "identity error"
    );
    assert!(records[30].loss < records[0].loss);
}

#[test]
fn tanh_has_no_conserved_balance() {
    let (problem, params) = setup(Activation::Tanh, false);
    let grad = problem.gradient(&params);
    let err = predicted_balances_after_step(problem.network(), &params, &grad, 0.1, 0.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tanh"), "{err}");
}
