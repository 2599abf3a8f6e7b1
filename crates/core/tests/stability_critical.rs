//! The critical learning rate: closed-form cases, the study's starts against a brute-force
//! scan, unfinished runs never counted as diverged, the no-divergence results, and errors.

#![allow(
    clippy::float_cmp,
    reason = "exact comparisons are intended where results are exactly representable"
)]

mod common;

use common::Quadratic;
use symstab_core::descent::GradientDescent;
use symstab_core::spectrum::StepBound;
use symstab_core::stability::{CriticalOptions, critical_learning_rate};
use symstab_core::toy::ProductChain;
use symstab_core::{Model, Outcome};

/// A model with a constant loss and zero gradient (`loss` chooses the constant).
struct Flat {
    loss: f64,
}

impl Model for Flat {
    fn n_params(&self) -> usize {
        2
    }
    fn input_dim(&self) -> usize {
        1
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn predict(&self, _: &[f64], _: &[f64], output: &mut [f64]) {
        output[0] = 0.0;
    }
    fn loss(&self, _: &[f64]) -> f64 {
        self.loss
    }
    fn loss_and_gradient(&self, _: &[f64], grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        self.loss
    }
    fn hessian_vector_product(&self, _: &[f64], _: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

fn diverges(model: &impl Model, start: &[f64], lr: f64, max_steps: usize) -> bool {
    let run = GradientDescent::new(lr, max_steps)
        .unwrap()
        .run(model, start)
        .unwrap();
    run.outcome == Outcome::Diverged
}

fn options(max_steps: usize) -> CriticalOptions {
    CriticalOptions {
        max_steps,
        ..CriticalOptions::default()
    }
}

#[test]
fn stability_quadratic_matches_closed_form_and_reports_unfinished_runs() {
    // L = hθ², θ_t = (1 − 2ηh)^t θ₀, L_t = L₀(2ηh − 1)^{2t}. At η = 1/h, θ flips sign forever
    // (unfinished, not diverged); just above, the loss passes 1e12 within S steps only when
    // (2ηh − 1)^{2S} > 1e12/L₀, so η* = (1 + (1e12/L₀)^{1/(2S)}) / (2h).
    let (h, theta0, max_steps) = (3.0, 2.0, 200);
    let model = Quadratic { scale: h };
    let loss0 = h * theta0 * theta0;
    let expected = (1.0 + (1e12 / loss0).powf(1.0 / (2.0 * max_steps as f64))) / (2.0 * h);

    let result = critical_learning_rate(&model, &[theta0], &options(max_steps)).unwrap();
    let (lower, critical) = (result.lower.unwrap(), result.critical_lr.unwrap());
    assert!(result.is_bracketed());
    assert!(critical - lower <= 1e-9 * critical);
    assert!(lower <= expected * (1.0 + 1e-12) && critical >= expected * (1.0 - 1e-12));
    assert!(
        (critical - expected).abs() < 2e-9 * expected,
        "{critical} vs {expected}"
    );

    // Prediction: λmax = 2h, 2/λmax = 1/h; the measured rate lies a budget-dependent bit above.
    assert_eq!(result.lambda_max_at_start, 2.0 * h);
    assert_eq!(result.stable_lr_at_start, StepBound::Bounded(1.0 / h));
    let ratio = result.ratio_to_stable_lr().unwrap();
    assert!(ratio > 1.0 && ratio < 1.1, "{ratio}");

    // Rates in (1/h, η*) end unfinished; they are reported, and none counted as diverged.
    assert!(result.unfinished_count > 0);
    assert_eq!(
        result.unfinished_count,
        result.unfinished_learning_rates.len()
    );
    assert!(
        result
            .unfinished_learning_rates
            .iter()
            .all(|&lr| lr <= lower)
    );
    for &lr in &result.unfinished_learning_rates {
        let run = GradientDescent::new(lr, max_steps)
            .unwrap()
            .run(&model, &[theta0])
            .unwrap();
        assert_eq!(run.outcome, Outcome::Unfinished, "lr {lr}");
    }
    assert!(result.evaluations > result.unfinished_count);
}

#[test]
fn stability_toy_start_3_3_is_one_seventh() {
    // On the diagonal a = b GD is a' = a − 2η(a² − 2)a; at η = 1/7, a = 3 maps to −3 and back
    // (a 2-cycle, unfinished); above 1/7 |a| grows without bound.
    let toy = ProductChain::toy();
    for max_steps in [50, 1000] {
        let result = critical_learning_rate(&toy, &[3.0, 3.0], &options(max_steps)).unwrap();
        let critical = result.critical_lr.unwrap();
        assert!((critical - 1.0 / 7.0).abs() < 2e-9 / 7.0, "{critical}");
        assert!(result.lower.unwrap() <= 1.0 / 7.0 + 1e-15);
        assert!((result.stable_lr_at_start.value().unwrap() - 0.04).abs() < 1e-15);
        assert!((result.ratio_to_stable_lr().unwrap() - 25.0 / 7.0).abs() < 1e-7);
    }
}

#[test]
fn stability_toy_start_1_9_is_about_twice_the_predicted_bound() {
    let toy = ProductChain::toy();
    let start = [1.0, 9.0];
    for max_steps in [50, 1000] {
        let result = critical_learning_rate(&toy, &start, &options(max_steps)).unwrap();
        let (lower, critical) = (result.lower.unwrap(), result.critical_lr.unwrap());
        assert!(critical - lower <= 1e-9 * critical);
        assert!(!diverges(&toy, &start, lower, max_steps));
        assert!(diverges(&toy, &start, critical, max_steps));
        assert!((critical - 0.0245968307).abs() < 1e-9, "{critical}");
        // 2/λmax with λmax = 82 + √7424.
        let stable = 2.0 / (82.0 + 7424f64.sqrt());
        assert!((result.stable_lr_at_start.value().unwrap() - stable).abs() < 1e-15);
        let ratio = result.ratio_to_stable_lr().unwrap();
        assert!(ratio > 2.0 && ratio < 2.1, "{ratio}");
        // The study's rates fall on the expected sides.
        assert!(lower > 0.02 && critical < 0.025);
    }

    // With 50 steps some rates just below the transition are still unfinished; with 1000 they
    // have settled. Either way the transition is the same.
    let short = critical_learning_rate(&toy, &start, &options(50)).unwrap();
    assert!(short.unfinished_count > 0);
    assert!(
        short
            .unfinished_learning_rates
            .iter()
            .all(|&lr| !diverges(&toy, &start, lr, 50))
    );

    // No diverging rate hides below `lower` on a fine scan (divergence is monotone here).
    let lower = short.lower.unwrap();
    let mut lr = 0.002;
    while lr < lower {
        assert!(
            !diverges(&toy, &start, lr, 50),
            "diverges at {lr} below {lower}"
        );
        lr += 1e-5;
    }
}

#[test]
fn stability_result_does_not_depend_on_the_initial_guess() {
    let toy = ProductChain::toy();
    let reference = critical_learning_rate(&toy, &[1.0, 9.0], &options(200)).unwrap();
    for guess in [1e-6, 0.0245, 0.03, 50.0] {
        let opts = CriticalOptions {
            initial_learning_rate: Some(guess),
            ..options(200)
        };
        let result = critical_learning_rate(&toy, &[1.0, 9.0], &opts).unwrap();
        let (a, b) = (result.critical_lr.unwrap(), reference.critical_lr.unwrap());
        assert!((a - b).abs() <= 2e-9 * b, "guess {guess}: {a} vs {b}");
    }
}

#[test]
fn stability_no_divergence_and_divergence_everywhere_are_explicit() {
    // A flat loss never converges nor diverges: no critical rate, every run unfinished.
    let opts = CriticalOptions {
        max_steps: 5,
        max_learning_rate: 10.0,
        ..CriticalOptions::default()
    };
    let result = critical_learning_rate(&Flat { loss: 1.0 }, &[0.0, 0.0], &opts).unwrap();
    assert_eq!(result.critical_lr, None);
    assert_eq!(result.lower, Some(10.0));
    assert_eq!(result.stable_lr_at_start, StepBound::Unbounded);
    assert_eq!(result.ratio_to_stable_lr(), None);
    assert!(!result.is_bracketed());
    assert_eq!(result.unfinished_count, result.evaluations);

    // A loss above the bound at the start diverges at every rate: no lower end.
    let opts = CriticalOptions {
        min_learning_rate: 1e-3,
        ..CriticalOptions::default()
    };
    let result = critical_learning_rate(&Flat { loss: 1e13 }, &[0.0, 0.0], &opts).unwrap();
    assert_eq!(result.lower, None);
    assert_eq!(result.critical_lr, Some(1e-3));
    assert_eq!(result.unfinished_count, 0);

    // Serialisable (the step bound as a number or "unbounded").
    let json = serde_json::to_string(&result).unwrap();
    assert!(
        json.contains("\"stable_lr_at_start\":\"unbounded\""),
        "{json}"
    );
    let back: symstab_core::stability::CriticalLearningRate = serde_json::from_str(&json).unwrap();
    assert_eq!(back, result);
}

#[test]
fn stability_option_errors_name_field_and_value() {
    let toy = ProductChain::toy();
    let base = CriticalOptions::default();
    for (opts, field) in [
        (
            CriticalOptions {
                relative_tolerance: 0.0,
                ..base.clone()
            },
            "relative_tolerance",
        ),
        (
            CriticalOptions {
                relative_tolerance: 1.0,
                ..base.clone()
            },
            "relative_tolerance",
        ),
        (
            CriticalOptions {
                relative_tolerance: f64::NAN,
                ..base.clone()
            },
            "relative_tolerance",
        ),
        (
            CriticalOptions {
                min_learning_rate: 0.0,
                ..base.clone()
            },
            "min_learning_rate",
        ),
        (
            CriticalOptions {
                max_learning_rate: 1e-13,
                ..base.clone()
            },
            "max_learning_rate",
        ),
        (
            CriticalOptions {
                growth_factor: 1.0,
                ..base.clone()
            },
            "growth_factor",
        ),
        (
            CriticalOptions {
                initial_learning_rate: Some(-1.0),
                ..base.clone()
            },
            "initial_learning_rate",
        ),
    ] {
        let err = critical_learning_rate(&toy, &[1.0, 9.0], &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{err}");
    }
    let err = critical_learning_rate(&toy, &[1.0], &base)
        .unwrap_err()
        .to_string();
    assert!(err.contains("start"), "{err}");
    assert!(critical_learning_rate(&toy, &[f64::NAN, 1.0], &base).is_err());
}
