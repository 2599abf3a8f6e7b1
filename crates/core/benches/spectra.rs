//! Benchmark of matrix-free spectra on networks too large for a dense Hessian.
//!
//! 1. The large peer problem ([64, 128, 128, 10], n = 2000, 26,122 parameters): λmax to
//!    relative 1e-8 by Lanczos on exact Hessian-vector products, stopping on the
//!    eigenvalue error bound (`Criterion::Eigenvalue`), timed from building the Hessian
//!    operator (which runs the forward pass and backpropagation at θ once) to the answer
//!    (median of repeats), beside `mlp_hessian_jax.py --models large` run in the same
//!    process tree, whose scipy `eigsh` (ARPACK Lanczos, tol 1e-6) time gives the ratio.
//!    The error actually reached is measured against a reference λmax from a residual of
//!    1e-13·‖H‖ (not timed). The residual criterion (1e-8·‖H‖) is timed too, for
//!    comparison. The exact peer data come from `export_mlp_case.py` when numpy is
//!    installed, else symstab's teacher-student data of the same shapes is used.
//! 2. A ~90k-parameter network (784-100-100-10, n = 2000, Gaussian inputs, teacher targets,
//!    mean squared error): the top 5 eigenvalues by Lanczos to 1e-8·‖H‖, with the peak
//!    resident memory (VmHWM from /proc/self/status) before and after: no P×P storage
//!    (that matrix alone would take 64 GB).
//!
//! The machine may be shared, so the 1-minute load average is printed at each stage and
//! symstab runs both before and after the peer. Options (env): `SYMSTAB_BENCH_REPEATS`
//! (default 5), `SYMSTAB_BENCH_SKIP_JAX=1`, `SYMSTAB_PEERS_DIR`.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod common;

use std::process::Command;
use std::time::Instant;

use common::peers::peers_dir;
use common::{json_number, load_avg, peer_case};
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::matrix_free::{
    Criterion, HessianOperator, LanczosOptions, LanczosResult, lanczos,
};
use symstab_core::mlp::{Activation, MlpProblem};

/// A `Vm…` line of /proc/self/status in MB.
fn vm_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut ts: Vec<f64>) -> f64 {
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

/// The large peer problem: exact peer data when numpy can export it.
fn large_problem() -> (MlpProblem, Vec<f64>, &'static str) {
    if let Some((problem, params)) = peer_case("large") {
        return (problem, params, "peer case (numpy export)");
    }
    let ts = teacher_student(&[64, 128, 128, 10], Activation::Relu, 2000, 0).expect("valid");
    (
        ts.problem,
        ts.student_params,
        "symstab teacher-student (no numpy)",
    )
}

/// Top `n_top` eigenvalues to `tolerance` under `criterion`, timed from building the
/// operator; returns the result, the HVP count and the seconds.
fn top_eigen(
    problem: &MlpProblem,
    params: &[f64],
    n_top: usize,
    tolerance: f64,
    criterion: Criterion,
) -> (LanczosResult, usize, f64) {
    let t = Instant::now();
    let op = HessianOperator::new(problem, params).expect("valid parameters");
    let options = LanczosOptions {
        n_top,
        tolerance,
        criterion,
        check_multiplicity: false,
        seed: 3,
        ..LanczosOptions::default()
    };
    let result = lanczos(&op, &options).expect("valid options");
    (result, op.hvp_count(), t.elapsed().as_secs_f64())
}

/// Times λmax of the large problem `repeats` times under `criterion` at 1e-8; prints the
/// error against `reference` and returns the median seconds.
fn bench_large(
    problem: &MlpProblem,
    params: &[f64],
    repeats: usize,
    criterion: Criterion,
    reference: f64,
) -> f64 {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        let (result, hvps, seconds) = top_eigen(problem, params, 1, 1e-8, criterion);
        times.push(seconds);
        last = Some((result, hvps));
    }
    let (result, hvps) = last.expect("at least one repeat");
    let t = median(times.clone());
    let lambda = result.top.values[0];
    println!(
        "  {criterion:?} criterion: λmax = {lambda:.15}, relative error {:.1e} (bound {:.1e}), \
         residual {:.1e}, converged {}, {hvps} HVPs; median {:.3} s of {:?}",
        (lambda - reference).abs() / reference.abs(),
        result.top.error_bounds[0] / lambda.abs(),
        result.top.residuals[0] / result.norm_estimate,
        result.converged,
        t,
        times
            .iter()
            .map(|x| (x * 1e3).round() / 1e3)
            .collect::<Vec<_>>()
    );
    t
}

fn main() {
    let repeats: usize = std::env::var("SYMSTAB_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    println!(
        "threads {}, load average (1 min) {}",
        rayon::current_num_threads(),
        load_avg()
    );

    // 1. The large peer problem.
    let (problem, params, source) = large_problem();
    println!(
        "large [64, 128, 128, 10], n = {}, P = {}: {source}, loss {:.16}",
        problem.dataset().n_samples(),
        problem.n_params(),
        problem.loss(&params)
    );
    let (reference, ref_hvps, _) = top_eigen(&problem, &params, 1, 1e-13, Criterion::Residual);
    let reference = reference.top.values[0];
    println!("  reference λmax = {reference:.15} (residual 1e-13·‖H‖, {ref_hvps} HVPs)");
    let timed = |label: &str| {
        println!("  symstab, {label}:");
        let ours = bench_large(&problem, &params, repeats, Criterion::Eigenvalue, reference);
        bench_large(&problem, &params, repeats, Criterion::Residual, reference);
        ours
    };
    let ours_before = timed("before the peer");

    let skip = std::env::var("SYMSTAB_BENCH_SKIP_JAX").is_ok_and(|v| v == "1");
    let has_jax = !skip
        && Command::new("python3")
            .args(["-c", "import jax, scipy"])
            .status()
            .is_ok_and(|s| s.success());
    if has_jax {
        println!("load average (1 min) before JAX: {}", load_avg());
        let out = Command::new("python3")
            .arg(peers_dir().join("mlp_hessian_jax.py"))
            .args(["--models", "large", "--repeats", "5"])
            .args(["--power-repeats", &repeats.to_string()])
            .output()
            .expect("run the JAX peer");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        match text.lines().find(|l| l.starts_with('{')) {
            Some(line) if out.status.success() => {
                println!("load average (1 min) after JAX: {}", load_avg());
                let ours_after = timed("after the peer");
                let ours = 0.5 * (ours_before + ours_after);
                let eigsh = json_number(line, "lanczos_eigsh").unwrap_or(f64::NAN);
                let power = json_number(line, "power").unwrap_or(f64::NAN);
                let lam = json_number(line, "lambda_max_lanczos").unwrap_or(f64::NAN);
                let calls = json_number(line, "lanczos_hvp_calls").unwrap_or(f64::NAN);
                let hvp = json_number(line, "hvp").unwrap_or(f64::NAN);
                println!(
                    "JAX peer: HVP {:.2} ms, scipy eigsh (tol 1e-6) {:.3} s with {calls} HVPs → λmax {lam:.15}; power iteration {:.3} s",
                    hvp * 1e3,
                    eigsh,
                    power
                );
                println!(
                    "ratio symstab Lanczos (λmax to 1e-8, mean of the medians before and after) ÷ scipy eigsh (1e-6) = {:.3} (target ≤ 0.5), vs power iteration {:.3}",
                    ours / eigsh,
                    ours / power
                );
            }
            _ => println!(
                "JAX peer failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ),
        }
    } else {
        println!(
            "JAX peer skipped (python3 -c 'import jax, scipy' failed or SYMSTAB_BENCH_SKIP_JAX=1)"
        );
    }

    // 2. A ~90k-parameter network: top 5 in bounded memory.
    let before_mb = vm_mb("VmHWM:");
    let ts = teacher_student(&[784, 100, 100, 10], Activation::Relu, 2000, 7).expect("valid");
    let (problem, params) = (ts.problem, ts.student_params);
    let p = problem.n_params();
    println!(
        "mnist-sized [784, 100, 100, 10], n = 2000 (Gaussian inputs, teacher targets), P = {p}; a dense Hessian would take {:.1} GB",
        (p * p * 8) as f64 / 1e9
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats.min(3) {
        let (result, hvps, seconds) = top_eigen(&problem, &params, 5, 1e-8, Criterion::Residual);
        times.push(seconds);
        last = Some((result, hvps));
    }
    let (result, hvps) = last.expect("at least one repeat");
    println!(
        "  top 5 = {:?}\n  residuals {:?} (tolerance 1e-8·‖H‖ = {:.2e}, converged {}), {} HVPs; median {:.2} s of {:?}",
        result.top.values,
        result
            .top
            .residuals
            .iter()
            .map(|r| format!("{r:.1e}"))
            .collect::<Vec<_>>(),
        1e-8 * result.norm_estimate,
        result.converged,
        hvps,
        median(times.clone()),
        times
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    println!(
        "  peak resident memory (VmHWM) {:.0} MB (before building this network {before_mb:.0} MB); data {:.1} MB, Lanczos basis {:.1} MB",
        vm_mb("VmHWM:"),
        (2000 * 784 * 8) as f64 / 1e6,
        (p * 40 * 8) as f64 / 1e6
    );
    println!("load average (1 min) at the end: {}", load_avg());
}
