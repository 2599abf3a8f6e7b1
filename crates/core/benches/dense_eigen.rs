//! Dense symmetric eigen-decomposition: symstab's `SymmetricEigen` (full) and
//! `symmetric_eigenvalues` (values only) against nalgebra 0.33's `symmetric_eigen()` and
//! `symmetric_eigenvalues()`, on random symmetric matrices of the sizes of dense Hessians
//! (401 = the peer MLP, 1000, 2000). Prints the smallest thread CPU time (and, in
//! brackets, wall time) of a few repetitions, and the worst residual ‖Av − λv‖/‖A‖_F of each
//! full decomposition and ours' worst |VᵀV − I| entry. Everything runs inside a one-thread rayon pool (so the thread CPU
//! time is all the work), except the column `ours full 2t`: symstab's full decomposition
//! on a two-thread pool, wall time (and, in brackets, the CPU time of the whole process).
//!
//! Run with `cargo bench -p symstab-core --bench dense_eigen [-- n1 n2 ...]`.

#![allow(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]

use std::hint::black_box;
use std::time::Instant;

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use symstab_core::spectrum::{SymmetricEigen, symmetric_eigenvalues};

fn random_symmetric(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = DMatrix::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
    (&g + g.transpose()) * 0.5
}

/// CPU time of the calling thread in seconds (robust to other processes sharing the cores,
/// unlike wall time).
fn thread_cpu_seconds() -> f64 {
    cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of all threads of the process in seconds.
fn process_cpu_seconds() -> f64 {
    cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_seconds(clock: libc::clockid_t) -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is a constant of the platform.
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    assert_eq!(rc, 0, "clock_gettime failed");
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Smallest (thread CPU seconds, wall seconds) over `reps` runs of `f`.
fn time<T>(reps: usize, f: impl FnMut() -> T) -> (f64, f64) {
    time_with(reps, thread_cpu_seconds, f)
}

/// Smallest (CPU seconds by `clock`, wall seconds) over `reps` runs of `f`.
fn time_with<T>(reps: usize, clock: fn() -> f64, mut f: impl FnMut() -> T) -> (f64, f64) {
    (0..reps)
        .map(|_| {
            let (cpu, wall) = (clock(), Instant::now());
            black_box(f());
            (clock() - cpu, wall.elapsed().as_secs_f64())
        })
        .fold((f64::INFINITY, f64::INFINITY), |(c, w), (x, y)| {
            (c.min(x), w.min(y))
        })
}

fn worst_residual(a: &DMatrix<f64>, values: &[f64], vectors: &DMatrix<f64>) -> f64 {
    let r = a * vectors
        - vectors * DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(values));
    (0..a.nrows())
        .map(|k| r.column(k).norm())
        .fold(0.0, f64::max)
        / a.norm()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![401, 1000, 2000]
    } else {
        sizes
    };
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool")
    };
    let (one, two) = (pool(1), pool(2));
    println!(
        "{:>6} {:>18} {:>18} {:>18} {:>18} {:>18} {:>9} {:>9} {:>9}",
        "n",
        "ours full ms",
        "ours full 2t ms",
        "ours values ms",
        "nalg full ms",
        "nalg values ms",
        "res ours",
        "res nalg",
        "orth ours"
    );
    for n in sizes {
        let a = random_symmetric(n, n as u64);
        let reps = if n <= 500 {
            7
        } else if n <= 1000 {
            3
        } else {
            1
        };
        let (ours_full, ours_values, nalgebra_full, nalgebra_values) = one.install(|| {
            (
                time(reps, || SymmetricEigen::new(a.clone()).unwrap()),
                time(reps, || symmetric_eigenvalues(a.clone()).unwrap()),
                time(reps, || a.clone().symmetric_eigen()),
                time(reps, || a.symmetric_eigenvalues()),
            )
        });
        let ours_full_two = two.install(|| {
            time_with(reps, process_cpu_seconds, || {
                SymmetricEigen::new(a.clone()).unwrap()
            })
        });

        let ours = SymmetricEigen::new(a.clone()).unwrap();
        let theirs = a.clone().symmetric_eigen();
        let show = |(cpu, wall): (f64, f64)| format!("{:>8.1} ({:>7.1})", cpu * 1e3, wall * 1e3);
        println!(
            "{n:>6} {:>18} {:>18} {:>18} {:>18} {:>18} {:>9.1e} {:>9.1e} {:>9.1e}",
            show(ours_full),
            format!(
                "{:>8.1} ({:>7.1})",
                ours_full_two.1 * 1e3,
                ours_full_two.0 * 1e3
            ),
            show(ours_values),
            show(nalgebra_full),
            show(nalgebra_values),
            worst_residual(&a, ours.eigenvalues(), ours.eigenvectors()),
            worst_residual(&a, theirs.eigenvalues.as_slice(), &theirs.eigenvectors),
            (ours.eigenvectors().transpose() * ours.eigenvectors() - DMatrix::identity(n, n))
                .amax(),
        );
    }
}
