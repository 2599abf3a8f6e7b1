//! Benchmark of the MLP derivatives on the two peer problems, side by side with the JAX peer.
//!
//! small: widths [5, 10, 10, 10, 10, 1], n = 1000 (gradient, HVP, dense Hessian + eigenvalues)
//! large: widths [64, 128, 128, 10], n = 2000 (gradient, HVP; 1 and all threads)
//!
//! When python3 with numpy is available the exact peer problems are loaded from
//! `export_mlp_case.py`; otherwise symstab's own teacher-student data of the same shapes is
//! used. When `python3 -c 'import jax'` works, `mlp_hessian_jax.py` runs in the same process
//! tree afterwards and the ratios symstab / JAX are printed. Peers dir: `SYMSTAB_PEERS_DIR`
//! or `../shared/peers` beside the workspace (`../../shared/peers` for a worktree).
//! Times are medians; the machine may be shared, so the 1-minute load average is printed.
//! Options (env): `SYMSTAB_BENCH_REPEATS` (default 15), `SYMSTAB_BENCH_SKIP_JAX=1`.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod common;

use std::process::Command;
use std::time::Instant;

use common::peers::peers_dir;
use common::{json_number, load_avg, peer_case};
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::{Activation, MlpProblem};

fn median_time(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut ts: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

fn problem(name: &str, widths: &[usize], n: usize) -> (MlpProblem, Vec<f64>, &'static str) {
    if let Some((p, params)) = peer_case(name) {
        return (p, params, "peer case (numpy)");
    }
    let ts = teacher_student(widths, Activation::Relu, n, 0).expect("valid");
    (ts.problem, ts.student_params, "symstab teacher-student")
}

struct Ours {
    grad: f64,
    hvp: f64,
    hvp_1t: f64,
    hvp_at: f64,
    hessian: f64,
    eig: f64,
}

fn bench_problem(name: &str, widths: &[usize], n: usize, repeats: usize, dense: bool) -> Ours {
    let (pr, params, source) = problem(name, widths, n);
    let p = pr.n_params();
    let v: Vec<f64> = (0..p).map(|i| ((i as f64) * 0.618).sin()).collect();
    let mut g = vec![0.0; p];
    let mut hv = vec![0.0; p];
    let loss = pr.loss(&params);
    let pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
    };
    let (one, two) = (pool(1), pool(2));
    let grad_1t =
        one.install(|| median_time(repeats, || _ = pr.loss_and_gradient(&params, &mut g)));
    let grad = two.install(|| median_time(repeats, || _ = pr.loss_and_gradient(&params, &mut g)));
    let hvp_1t =
        one.install(|| median_time(repeats, || pr.hessian_vector_product(&params, &v, &mut hv)));
    let hvp =
        two.install(|| median_time(repeats, || pr.hessian_vector_product(&params, &v, &mut hv)));
    // Repeated products at one point (what Lanczos does), after preparing the point once.
    let mut prepare = f64::NAN;
    let hvp_at = two.install(|| {
        let t = std::time::Instant::now();
        let at = pr.hessian_at(&params);
        prepare = t.elapsed().as_secs_f64();
        median_time(repeats, || at(&v, &mut hv))
    });
    let (mut hessian, mut eig) = (f64::NAN, f64::NAN);
    let mut extra = String::new();
    if dense {
        let mut h = pr.hessian(&params);
        hessian = two.install(|| median_time(repeats.min(7), || h = pr.hessian(&params)));
        // symstab's eigenvalues-only path (nalgebra's returns NaN on some sparse matrices).
        let values = |h: &nalgebra::DMatrix<f64>| {
            symstab_core::spectrum::symmetric_eigenvalues(h.clone())
                .expect("finite symmetric Hessian")
        };
        let mut ev = values(&h);
        eig = median_time(repeats.min(7), || ev = values(&h));
        let max = ev.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = ev.iter().copied().fold(f64::INFINITY, f64::min);
        let neg = ev.iter().filter(|&&e| e < -1e-10 * max.abs()).count();
        extra = format!(" lambda_max={max:.15} lambda_min={min:.15} negative={neg}");
    }
    println!("symstab {name}: {source}, P={p}, n={n}, loss={loss:.16}{extra}");
    println!(
        "  gradient {:.3} ms (1 thread {:.3} ms) | HVP {:.3} ms (1 thread {:.3} ms) | HVP at a prepared point {:.3} ms (preparing it {:.3} ms) [2 threads unless noted]{}",
        grad * 1e3,
        grad_1t * 1e3,
        hvp * 1e3,
        hvp_1t * 1e3,
        hvp_at * 1e3,
        prepare * 1e3,
        if dense {
            format!(
                " | dense Hessian {:.2} ms + eigenvalues {:.2} ms",
                hessian * 1e3,
                eig * 1e3
            )
        } else {
            String::new()
        }
    );
    Ours {
        grad,
        hvp,
        hvp_1t,
        hvp_at,
        hessian,
        eig,
    }
}

fn main() {
    let repeats: usize = std::env::var("SYMSTAB_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    println!("load average (1 min) before: {}", load_avg());
    let small = bench_problem("small", &[5, 10, 10, 10, 10, 1], 1000, repeats, true);
    let large = bench_problem("large", &[64, 128, 128, 10], 2000, repeats, false);
    println!("load average (1 min) after symstab: {}", load_avg());

    let skip = std::env::var("SYMSTAB_BENCH_SKIP_JAX").is_ok_and(|v| v == "1");
    let has_jax = !skip
        && Command::new("python3")
            .args(["-c", "import jax"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !has_jax {
        println!("JAX peer skipped (python3 -c 'import jax' failed or SYMSTAB_BENCH_SKIP_JAX=1)");
        return;
    }
    let script = peers_dir().join("mlp_hessian_jax.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--models", "small,large", "--repeats", &repeats.to_string()])
        .output()
        .expect("run JAX peer");
    if !out.status.success() {
        println!("JAX peer failed: {}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    // symstab again after JAX, so that both runs bracket the peer under similar load; the
    // ratios use the mean of the two symstab medians.
    println!("load average (1 min) after JAX: {}", load_avg());
    let small2 = bench_problem("small", &[5, 10, 10, 10, 10, 1], 1000, repeats, true);
    let large2 = bench_problem("large", &[64, 128, 128, 10], 2000, repeats, false);
    let mean = |a: &Ours, b: &Ours| Ours {
        grad: 0.5 * (a.grad + b.grad),
        hvp: 0.5 * (a.hvp + b.hvp),
        hvp_1t: 0.5 * (a.hvp_1t + b.hvp_1t),
        hvp_at: 0.5 * (a.hvp_at + b.hvp_at),
        hessian: 0.5 * (a.hessian + b.hessian),
        eig: 0.5 * (a.eig + b.eig),
    };
    let (small, large) = (mean(&small, &small2), mean(&large, &large2));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    let get = |model: &str, key: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("\"model\": \"{model}\"")))
            .and_then(|l| json_number(l, key))
            .unwrap_or(f64::NAN)
    };
    println!("load average (1 min) at the end: {}", load_avg());
    let ms = |s: f64| s * 1e3;
    let (jg, jh) = (get("small", "grad"), get("small", "hvp"));
    let jdense = get("small", "hessian").min(get("small", "hessian_hvp_map"));
    let jeig = get("small", "eigvalsh_jax");
    println!(
        "JAX small: gradient {:.3} ms, HVP {:.3} ms, dense Hessian {:.2} ms + eigvalsh {:.2} ms",
        ms(jg),
        ms(jh),
        ms(jdense),
        ms(jeig)
    );
    let (lg, lh) = (get("large", "grad"), get("large", "hvp"));
    println!("JAX large: gradient {:.3} ms, HVP {:.3} ms", ms(lg), ms(lh));
    println!("ratios symstab / JAX (lower is faster; floors in brackets):");
    println!("  small gradient            {:.3}", small.grad / jg);
    println!(
        "  small HVP                 {:.3}  [<= 0.5]",
        small.hvp / jh
    );
    println!(
        "  small dense Hessian + eig {:.3}  [<= 0.5]",
        (small.hessian + small.eig) / (jdense + jeig)
    );
    println!("  large gradient            {:.3}", large.grad / lg);
    println!(
        "  large HVP                 {:.3}  [<= 1.0]",
        large.hvp / lh
    );
    println!(
        "  small / large HVP at a prepared point {:.3} / {:.3}",
        small.hvp_at / jh,
        large.hvp_at / lh
    );
    println!(
        "  large HVP, symstab 1 thread vs JAX all threads {:.3}",
        large.hvp_1t / lh
    );
}
