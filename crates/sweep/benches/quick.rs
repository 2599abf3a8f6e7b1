use std::time::Instant;
use symstab_sweep::{grid::SweepSpec, runner::*};
fn main() {
    let spec = SweepSpec::peer_benchmark();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for _ in 0..3 {
            let t0 = Instant::now();
            let r = pool.install(|| run_toy_sweep(&spec, &RunOptions::default(), &NoProgress).unwrap());
            let dt = t0.elapsed().as_secs_f64();
            let steps: u64 = r.cells.iter().map(|c| c.steps as u64).sum();
            let w: u64 = r.cells.iter().enumerate().map(|(i, c)| ((i as u64 % 1000003) + 1) * (4 * c.steps as u64 + c.outcome.code() as u64)).sum();
            eprintln!("{threads} thr {dt:.4}s steps {steps} w {w} {:.3e}/s", steps as f64 / dt);
        }
    }
}
