//! Network sweeps: learning rate × orbit position for the toy along a·b = 9 and for a
//! small ReLU MLP along its per-layer scale and per-neuron rescale paths.
// Exact comparisons are the point: the sweep must reproduce the core's runs bit for bit.
#![allow(clippy::float_cmp)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use symstab_core::data::Dataset;
use symstab_core::mlp::symmetry::{Action, Symmetry};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};
use symstab_core::spectrum::{StepBound, hessian_spectrum};
use symstab_core::stability::CriticalOptions;
use symstab_core::toy::ProductChain;
use symstab_core::{Model, Outcome};
use symstab_sweep::grid::{Axis, LearningRates};
use symstab_sweep::network::{
    self, NetworkCellRecord, NetworkSweepResult, NetworkSweepSpec, PositionRecord,
    run_network_sweep,
};
use symstab_sweep::record;
use symstab_sweep::runner::{NoProgress, descend};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn json(result: &NetworkSweepResult) -> String {
    let mut bytes = Vec::new();
    network::write_json(&mut bytes, result).unwrap();
    String::from_utf8(bytes).unwrap()
}

/// Every cell is the core's gradient descent from the path point, bit for bit.
fn cells_match_core<M: Model>(model: &M, path: &dyn Fn(f64) -> Vec<f64>, res: &NetworkSweepResult) {
    let spec = &res.spec;
    for c in &res.cells {
        let want = descend(
            model,
            &path(c.log_alpha),
            c.learning_rate,
            spec.max_steps,
            &spec.stop_rule,
        )
        .unwrap();
        assert_eq!(
            (c.outcome, c.steps),
            (want.outcome, want.steps),
            "cell {}",
            c.index
        );
        assert_eq!(
            c.final_loss.to_bits(),
            want.final_loss.to_bits(),
            "cell {}",
            c.index
        );
    }
}

/// The bisected bracket is tight and its ends behave as claimed.
fn bracket_is_consistent<M: Model>(
    model: &M,
    path: &dyn Fn(f64) -> Vec<f64>,
    options: &CriticalOptions,
    p: &PositionRecord,
) {
    let (hi, lo) = (p.critical_lr.unwrap(), p.critical_lower.unwrap());
    assert!(
        lo < hi && hi - lo <= options.relative_tolerance * hi,
        "{p:?}"
    );
    let start = path(p.log_alpha);
    let run = |lr| {
        descend(model, &start, lr, options.max_steps as u32, &options.stop)
            .unwrap()
            .outcome
    };
    assert_eq!(run(hi), Outcome::Diverged, "{p:?}");
    assert_ne!(run(lo), Outcome::Diverged, "{p:?}");
}

#[test]
fn toy_orbit_sweep_matches_core_runs_and_spectra() {
    let toy = ProductChain::toy();
    let path = |la: f64| ProductChain::orbit_point(9.0, la).unwrap().to_vec();
    let options = CriticalOptions {
        max_steps: 2000,
        relative_tolerance: 1e-7,
        ..CriticalOptions::default()
    };
    let spec = NetworkSweepSpec::new(
        Axis::new(-1.5, 1.5, 7).unwrap(),
        LearningRates::new(vec![0.005, 0.01, 0.02, 0.025]).unwrap(),
        2000,
    )
    .with_critical(options.clone());
    let seen = std::sync::Mutex::new(0usize);
    let progress = |done: usize, total: usize| {
        assert_eq!(total, 28 + 7);
        let mut s = seen.lock().unwrap();
        *s = (*s).max(done);
    };
    let one = in_pool(1, || {
        run_network_sweep(&toy, &path, &spec, &progress).unwrap()
    });
    assert_eq!(seen.into_inner().unwrap(), 35);
    let two = in_pool(2, || {
        run_network_sweep(&toy, &path, &spec, &NoProgress).unwrap()
    });
    assert_eq!(json(&one), json(&two), "same bits on 1 and 2 threads");
    assert_eq!(one.cells.len(), 28);
    cells_match_core(&toy, &path, &one);
    let outcomes: Vec<_> = one.cells.iter().map(|c| c.outcome).collect();
    assert!(outcomes.contains(&Outcome::Converged) && outcomes.contains(&Outcome::Diverged));
    for p in &one.positions {
        let [a, b] = ProductChain::orbit_point(9.0, p.log_alpha).unwrap();
        let (lm, bound) = record::toy_start_stability(a, b);
        assert_eq!(p.lambda_max_start.to_bits(), lm.to_bits());
        assert_eq!(p.stable_lr_start, bound);
        assert_eq!(p.loss_start, 49.0);
        bracket_is_consistent(&toy, &path, &options, p);
    }
    // The sharpest start is at the end of the orbit, the flattest at α = 1 (a = b = 3).
    let lm: Vec<f64> = one.positions.iter().map(|p| p.lambda_max_start).collect();
    assert!(lm[0] > lm[3] && lm[6] > lm[3]);
}

#[test]
fn records_round_trip_with_non_finite_values() {
    let toy = ProductChain::toy();
    let path = |la: f64| ProductChain::orbit_point(9.0, la).unwrap().to_vec();
    let spec = NetworkSweepSpec::new(
        Axis::new(-1.0, 1.0, 3).unwrap(),
        LearningRates::new(vec![0.01, 0.05]).unwrap(),
        200,
    );
    let mut res = run_network_sweep(&toy, &path, &spec, &NoProgress).unwrap();
    assert!(res.positions.iter().all(|p| p.critical_lr.is_none()));
    res.cells[0].final_loss = f64::NAN;
    res.cells[1].final_loss = f64::INFINITY;
    res.positions[0].stable_lr_start = StepBound::Unbounded;
    res.positions[1].lambda_max_start = f64::NEG_INFINITY;
    res.positions[2].critical_lr = Some(0.125);
    let text = json(&res);
    assert!(text.contains("\"final_loss\":\"NaN\"") && text.contains("\"final_loss\":\"inf\""));
    assert!(text.contains("\"stable_lr_start\":\"unbounded\""));
    assert!(text.contains("\"lambda_max_start\":\"-inf\""));
    let back = network::read_json(text.as_bytes()).unwrap();
    assert_eq!(json(&back), text);

    let mut csv_cells = Vec::new();
    network::write_csv(&mut csv_cells, &res.cells).unwrap();
    let cells: Vec<NetworkCellRecord> = network::read_csv(&csv_cells[..]).unwrap();
    let mut csv_pos = Vec::new();
    network::write_csv(&mut csv_pos, &res.positions).unwrap();
    let csv_text = String::from_utf8(csv_pos.clone()).unwrap();
    assert!(
        csv_text.contains(",unbounded,") && csv_text.contains(",-inf,"),
        "{csv_text}"
    );
    let positions: Vec<PositionRecord> = network::read_csv(&csv_pos[..]).unwrap();
    let via_csv = NetworkSweepResult {
        spec: res.spec.clone(),
        positions,
        cells,
    };
    assert_eq!(json(&via_csv), text, "CSV and JSON agree cell by cell");
}

#[test]
fn bad_paths_are_errors_naming_the_position() {
    let toy = ProductChain::toy();
    let spec = NetworkSweepSpec::new(
        Axis::new(-1.0, 1.0, 3).unwrap(),
        LearningRates::new(vec![0.01]).unwrap(),
        10,
    );
    let short = |_: f64| vec![1.0];
    let e = run_network_sweep(&toy, &short, &spec, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("log_alpha = -1"), "{e}");
    let nan = |la: f64| vec![if la > 0.5 { f64::NAN } else { 1.0 }, 2.0];
    let e = run_network_sweep(&toy, &nan, &spec, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("log_alpha = 1"), "{e}");
    // Not a symmetry: (α, 9) changes the loss.
    let off = |la: f64| vec![la.exp(), 9.0];
    let e = run_network_sweep(&toy, &off, &spec, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("path"), "{e}");
    let bad = NetworkSweepSpec {
        loss_tolerance: f64::NAN,
        ..spec
    };
    let ok = |la: f64| ProductChain::orbit_point(9.0, la).unwrap().to_vec();
    let e = run_network_sweep(&toy, &ok, &bad, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("loss_tolerance"), "{e}");
}

/// A [3, 6, 6, 1] ReLU network on 24 teacher-generated samples, and its He start.
fn small_mlp() -> (MlpProblem, Vec<f64>) {
    let net = Mlp::uniform(&[3, 6, 6, 1], Activation::Relu).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 24;
    let inputs: Vec<f64> = (0..n * 3)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let teacher = net.init_he(5, 0.1).unwrap();
    let targets = net.forward(&teacher, &inputs, n).unwrap();
    let data = Dataset::regression(inputs, 3, targets, 1).unwrap();
    let start = net.init_he(6, 0.1).unwrap();
    (MlpProblem::new(net, data).unwrap(), start)
}

#[test]
fn mlp_layer_scale_and_neuron_rescale_sweeps() {
    let (problem, theta) = small_mlp();
    let net = problem.network().clone();
    let layer_path = |la: f64| {
        let alpha = la.exp();
        Symmetry::layer_scale(&net, &[alpha, 1.0 / alpha, 1.0])
            .unwrap()
            .apply(&net, &theta)
            .unwrap()
    };
    // Hidden layer 0: neurons j scaled by α^{c_j} with mixed signs of c_j.
    let powers = [1.0, -1.0, 0.5, -0.5, 2.0, 0.0];
    let neuron_path = |la: f64| {
        let factors = powers.iter().map(|c| (c * la).exp()).collect();
        Symmetry::from(Action::NeuronRescale { layer: 0, factors })
            .apply(&net, &theta)
            .unwrap()
    };
    let options = CriticalOptions {
        max_steps: 300,
        relative_tolerance: 1e-6,
        ..CriticalOptions::default()
    };
    let base = hessian_spectrum(&problem, &theta)
        .unwrap()
        .stable_learning_rate();
    let eta = base.value().unwrap();
    let spec = NetworkSweepSpec::new(
        Axis::new(-1.2, 1.2, 5).unwrap(),
        LearningRates::new(vec![0.25 * eta, eta, 5.0 * eta]).unwrap(),
        300,
    )
    .with_critical(options.clone());

    for path in [
        &layer_path as &(dyn Fn(f64) -> Vec<f64> + Sync),
        &neuron_path,
    ] {
        let one = in_pool(1, || {
            run_network_sweep(&problem, path, &spec, &NoProgress).unwrap()
        });
        let two = in_pool(2, || {
            run_network_sweep(&problem, path, &spec, &NoProgress).unwrap()
        });
        assert_eq!(json(&one), json(&two), "same bits on 1 and 2 threads");
        cells_match_core(&problem, path, &one);
        let loss0 = one.positions[0].loss_start;
        for p in &one.positions {
            assert!((p.loss_start - loss0).abs() <= 1e-12 * loss0, "{p:?}");
            let spectrum = hessian_spectrum(&problem, &path(p.log_alpha)).unwrap();
            assert_eq!(
                p.lambda_max_start.to_bits(),
                spectrum.lambda_max().to_bits()
            );
            assert_eq!(p.stable_lr_start, spectrum.stable_learning_rate());
            bracket_is_consistent(&problem, path, &options, p);
        }
        // The function is fixed along the orbit, the sharpness is not.
        let lm: Vec<f64> = one.positions.iter().map(|p| p.lambda_max_start).collect();
        let (lo, hi) = lm
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
        assert!(hi > 1.5 * lo, "λmax along the orbit: {lm:?}");
        let outcomes: Vec<_> = one.cells.iter().map(|c| c.outcome).collect();
        // Measured: the critical rate is about 1.02 at every position, 3 to 15 times
        // 2/λmax (runs first move to flatter points), so 5·η diverges and η does not.
        assert!(outcomes.contains(&Outcome::Diverged), "{outcomes:?}");
        assert!(
            outcomes.iter().any(|o| *o != Outcome::Diverged),
            "{outcomes:?}"
        );
    }
}
