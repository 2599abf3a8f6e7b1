//! Benchmark of the toy sweep on the peers' spec (400×400 starts × 5 learning rates ×
//! 1000 steps = 800,000 cells), strict on 1 and 2 threads and fused on 2 threads, with the
//! numpy and JAX peers run in the same process tree when Python has them.
//!
//! `cargo bench -p symstab-sweep --bench toy_sweep`. Environment: `SYMSTAB_PEERS_DIR`
//! (default `../shared/peers` from the workspace root), `SYMSTAB_BENCH_REPEATS` (default 15).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use symstab_sweep::grid::{Rounding, SweepSpec};
use symstab_sweep::kernel::{Backend, ToyCellResult};
use symstab_sweep::runner::{NoProgress, RunOptions, run_toy_sweep};

const PEER_SPEC: &str =
    r#"{"a":[-10,10,400],"b":[-10,10,400],"lrs":[0.005,0.01,0.015,0.02,0.025],"max_steps":1000}"#;

struct Summary {
    counts: [u64; 3],
    steps: u64,
    weighted: u64,
}

fn summarize(cells: &[ToyCellResult]) -> Summary {
    let mut s = Summary {
        counts: [0; 3],
        steps: 0,
        weighted: 0,
    };
    for (idx, c) in cells.iter().enumerate() {
        let code = u64::from(c.outcome.code());
        s.counts[code as usize - 1] += 1;
        s.steps += u64::from(c.steps);
        s.weighted += (idx as u64 % 1_000_003 + 1) * (4 * u64::from(c.steps) + code);
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Nanoseconds this process's threads have spent on a CPU (sum of
/// `/proc/self/task/*/schedstat`), or `None` where that is not available. Unlike wall
/// time it hardly depends on how many other processes share the machine.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let text = std::fs::read_to_string(entry.ok()?.path().join("schedstat")).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Runs the sweep `repeats` times on a pool of `threads`; returns median seconds.
fn measure(
    spec: &SweepSpec,
    threads: usize,
    repeats: usize,
    want: (&[u64; 3], u64, u64),
) -> (f64, Vec<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let opts = RunOptions::default();
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut last = None;
    for _ in 0..repeats + 1 {
        let c0 = process_cpu_ns();
        let t0 = Instant::now();
        let res = pool
            .install(|| run_toy_sweep(spec, &opts, &NoProgress))
            .expect("valid spec");
        times.push(t0.elapsed().as_secs_f64());
        if let (Some(c0), Some(c1)) = (c0, process_cpu_ns()) {
            cpu.push((c1 - c0) as f64 * 1e-9);
        }
        last = Some(res);
    }
    times.remove(0); // warm-up
    if !cpu.is_empty() {
        cpu.remove(0);
    }
    let s = summarize(&last.expect("ran").cells);
    let ok = (&s.counts, s.steps, s.weighted) == want;
    println!(
        "  {:?} {} thread(s): converged/diverged/unfinished {}/{}/{}, steps {}, checksum {} -> {}",
        spec.rounding,
        threads,
        s.counts[0],
        s.counts[1],
        s.counts[2],
        s.steps,
        s.weighted,
        if ok {
            "MATCHES README"
        } else {
            "MISMATCH with README"
        }
    );
    assert!(ok, "results differ from the README row");
    let med = median(times.clone());
    println!(
        "    median {:.2} ms of {} runs (min {:.2}, max {:.2}), {:.3e} useful steps/s",
        med * 1e3,
        times.len(),
        times.iter().cloned().fold(f64::INFINITY, f64::min) * 1e3,
        times.iter().cloned().fold(0.0, f64::max) * 1e3,
        s.steps as f64 / med
    );
    if !cpu.is_empty() {
        let cpu_min = cpu.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "    cpu time per run (all threads): median {:.2} ms, min {:.2} ms \
             (wall time on an idle machine is about this / {threads})",
            median(cpu.clone()) * 1e3,
            cpu_min * 1e3,
        );
    }
    (med, times)
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a peer script; returns (seconds, steps/s, summary line).
fn run_peer(dir: &PathBuf, script: &str, extra: &[&str]) -> Option<(f64, f64, String)> {
    let out = Command::new("python3")
        .current_dir(dir)
        .arg(dir.join(script))
        .arg(PEER_SPEC)
        .args(extra)
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "  {script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    let secs = v["seconds"].as_f64()?;
    let sps = v["steps_per_second"].as_f64()?;
    let line = format!(
        "{}/{}/{}, steps {}, checksum {}",
        v["converged"],
        v["diverged"],
        v["unfinished"],
        v["total_steps_executed"],
        v["weighted_checksum"]
    );
    Some((secs, sps, line))
}

fn main() {
    let repeats: usize = std::env::var("SYMSTAB_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let strict = SweepSpec::peer_benchmark();
    let fused = SweepSpec {
        rounding: Rounding::Fused,
        ..strict.clone()
    };
    println!("toy sweep benchmark: 800,000 cells (400x400 starts x 5 lrs, 1000 steps)");
    println!(
        "  kernel backend {:?}, cpus {}, loadavg before: {}",
        Backend::detect(),
        num_cpus(),
        loadavg()
    );

    let strict_row = (&[691_602, 107_380, 1018], 45_711_340, 53_174_357_157_388);
    let fused_row = (&[691_600, 107_380, 1020], 45_711_130, 53_173_992_676_970);
    let (t1, _) = measure(&strict, 1, repeats, strict_row);
    let (t2, _) = measure(&strict, 2, repeats, strict_row);
    let (tf, _) = measure(&fused, 2, repeats, fused_row);
    let steps = 45_711_340.0;
    println!(
        "  speed-up 1 -> 2 threads (strict): {:.2}x (floor 1.8x)",
        t1 / t2
    );
    println!("  fused vs strict on 2 threads: {:.2}x", t2 / tf);
    println!("  loadavg after the symstab runs: {}", loadavg());

    // Default: ../shared/peers from the workspace root, else the nearest `shared/peers`
    // above it (a worktree sits deeper than the main checkout).
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let peers = std::env::var_os("SYMSTAB_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let root = root.canonicalize().unwrap_or(root);
            root.ancestors()
                .skip(1)
                .map(|d| d.join("shared/peers"))
                .find(|d| d.join("toy_sweep_numpy.py").is_file())
                .unwrap_or_else(|| root.join("../shared/peers"))
        });
    if !peers.join("toy_sweep_numpy.py").is_file() {
        println!(
            "  peers not found at {} (set SYMSTAB_PEERS_DIR); no ratios",
            peers.display()
        );
        return;
    }
    let mut best_peer: Option<(f64, &str)> = None;
    if python_has("numpy") {
        if let Some((secs, sps, line)) = run_peer(&peers, "toy_sweep_numpy.py", &["--repeats", "3"])
        {
            println!(
                "  numpy peer (1 core): {:.1} ms, {sps:.3e} steps/s, {line}",
                secs * 1e3
            );
            println!(
                "    ratio symstab strict 2 threads / numpy: {:.1}x",
                secs / t2
            );
            best_peer = Some((secs, "numpy"));
        }
    } else {
        println!("  numpy not installed: skipping the numpy peer");
    }
    if python_has("jax") {
        if let Some((secs, sps, line)) = run_peer(&peers, "toy_sweep_jax.py", &["--devices", "2"]) {
            println!(
                "  jax peer (--devices 2, FMA): {:.1} ms, {sps:.3e} steps/s, {line}",
                secs * 1e3
            );
            println!(
                "    ratio symstab strict 2 threads / jax: {:.1}x",
                secs / t2
            );
            println!("    ratio symstab fused 2 threads / jax: {:.1}x", secs / tf);
            if best_peer.is_none_or(|(s, _)| secs < s) {
                best_peer = Some((secs, "jax"));
            }
        }
    } else {
        println!("  jax not installed: skipping the jax peer");
    }
    if let Some((secs, name)) = best_peer {
        println!(
            "  vs the faster peer ({name}, {:.3e} steps/s): {:.1}x on 2 threads (floor 20x)",
            steps / secs,
            secs / t2
        );
    }
    println!("  loadavg at the end: {}", loadavg());
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
