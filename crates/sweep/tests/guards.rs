//! Guards of runs into a directory: the disk lower bound against real output, exact
//! counts of oversized grids, spec differences on resume and merge, shards without work,
//! stale temporary files of dead, zombie and reused process ids, damaged chunk advice.

use std::path::Path;
use std::time::{Duration, SystemTime};

use symstab_sweep::SweepError;
use symstab_sweep::disk::output_bytes_lower_bound;
use symstab_sweep::grid::{Axis, LearningRates, StartSet, SweepSpec};
use symstab_sweep::runner::{NoProgress, RunOptions};
use symstab_sweep::store::{self, Shard, run_toy_sweep_in_dir};

fn plane(n_a: usize, n_b: usize, lrs: Vec<f64>) -> SweepSpec {
    SweepSpec::new(
        StartSet::Plane {
            a: Axis::new(-10.0, 10.0, n_a).unwrap(),
            b: Axis::new(-10.0, 10.0, n_b).unwrap(),
        },
        LearningRates::new(lrs).unwrap(),
        300,
    )
}

fn options(chunk_cells: usize) -> RunOptions {
    RunOptions {
        chunk_cells,
        ..RunOptions::default()
    }
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u128 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            bytes_under(&entry.path())
        } else if entry.file_name() == store::MANIFEST {
            0
        } else {
            u128::from(meta.len())
        };
    }
    total
}

#[test]
fn disk_lower_bound_never_exceeds_the_bytes_written() {
    let orbit = SweepSpec::new(
        StartSet::Orbit {
            product: 9.0,
            log_alpha: Axis::new(-2.3, 2.3, 101).unwrap(),
        },
        LearningRates::new(vec![0.01, 0.02, 0.123456789]).unwrap(),
        200,
    );
    // Huge learning rates diverge at once (inf/NaN finals, few steps): the shortest rows.
    let cases = [
        (plane(40, 30, vec![0.005, 0.01, 0.025]), 97),
        (plane(7, 300, vec![1e3, 5e2]), 1000),
        (plane(1, 1, vec![0.01]), 1),
        (orbit, 50),
    ];
    for (spec, chunk_cells) in cases {
        let dir = tempfile::tempdir().unwrap();
        let bound = output_bytes_lower_bound(&spec, chunk_cells, Shard::ALL, |_| false);
        run_toy_sweep_in_dir(
            dir.path(),
            &spec,
            &options(chunk_cells),
            Shard::ALL,
            &NoProgress,
        )
        .unwrap();
        let written = bytes_under(dir.path());
        let finals = bytes_under(dir.path()) - bytes_under(&dir.path().join("chunks"));
        assert!(bound.total() <= written, "{} > {written}", bound.total());
        assert!(bound.final_files <= finals && bound.chunks <= written - finals);
        // Tight enough to mean something: at least a third of the real size.
        assert!(
            bound.total() * 3 >= written,
            "{} vs {written}",
            bound.total()
        );

        // A shard's own chunks only, and finished chunks are not counted again.
        let shard = Shard::new(1, 3).unwrap();
        let part = output_bytes_lower_bound(&spec, chunk_cells, shard, |_| false);
        assert_eq!(part.final_files, 0);
        assert!(part.chunks <= bound.chunks);
        let resumed = output_bytes_lower_bound(&spec, chunk_cells, Shard::ALL, |c| c == 0);
        assert!(resumed.chunks < bound.chunks || spec.len() <= chunk_cells);
    }
}

#[test]
fn disk_lower_bound_of_the_benchmark_is_large_and_exact_in_u128() {
    let spec = SweepSpec::peer_benchmark();
    let bound = output_bytes_lower_bound(&spec, 8192, Shard::ALL, |_| false).total();
    // The real run writes 549.5 MB (137.0 MB of chunks, 137.0 MB CSV, 275.5 MB JSON).
    assert!(bound <= 549_518_276 && bound > 280_000_000, "{bound}");
    // 10^10 cells: terabytes, computed without wrapping.
    let big = plane(100_000, 100_000, vec![0.01]);
    let bound = output_bytes_lower_bound(&big, 1 << 20, Shard::ALL, |_| false).total();
    assert!(bound > 2_000_000_000_000, "{bound}");
}

#[test]
fn oversized_counts_are_exact_not_wrapped() {
    let spec = plane(1_000_000_000_000, 1_000_000_000_000, vec![0.01]);
    assert_eq!(spec.cell_count(), Some(10u128.pow(24)));
    assert!(spec.n_cells().is_none() && spec.starts.checked_len().is_none());
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.contains("1000000000000000000000000"), "{e}");
    assert!(!e.contains("2003764205206896640"), "{e}");
    let e = symstab_sweep::memory::check_in_dir(&spec, 8192, 2)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1000000000000 start points") || e.contains("1000000000000000000000000"),
        "{e}"
    );
    assert_eq!(
        symstab_sweep::grid::count_text(None),
        format!("more than {}", u128::MAX)
    );
}

#[test]
fn spec_mismatch_names_the_fields_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    let spec = plane(4, 4, vec![0.01, 0.02]);
    run_toy_sweep_in_dir(dir.path(), &spec, &options(8), Shard::ALL, &NoProgress).unwrap();
    let other = plane(4, 5, vec![0.01]);
    let err =
        run_toy_sweep_in_dir(dir.path(), &other, &options(8), Shard::ALL, &NoProgress).unwrap_err();
    let SweepError::SpecMismatch { differences, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        differences,
        &[
            "learning_rates: [0.01,0.02] vs [0.01]",
            "starts.b.n: 4 vs 5"
        ]
    );
    assert!(
        err.to_string()
            .contains("learning_rates: [0.01,0.02] vs [0.01]")
    );
    let orbit = SweepSpec::new(
        StartSet::Orbit {
            product: 9.0,
            log_alpha: Axis::new(0.0, 1.0, 3).unwrap(),
        },
        LearningRates::new(vec![0.01, 0.02]).unwrap(),
        300,
    );
    let d = store::spec_differences(&spec, &orbit);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("starts: {") && d[0].contains("\"orbit\""),
        "{d:?}"
    );
}

#[test]
fn merge_errors_name_inputs_as_inputs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let spec = plane(4, 4, vec![0.01]);
    run_toy_sweep_in_dir(a.path(), &spec, &options(8), Shard::ALL, &NoProgress).unwrap();
    run_toy_sweep_in_dir(
        b.path(),
        &plane(4, 4, vec![0.02]),
        &options(8),
        Shard::ALL,
        &NoProgress,
    )
    .unwrap();
    let target = out.path().join("m");
    let err = store::merge_shards(&[a.path(), b.path()], &target).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, SweepError::MergeInputMismatch { input, .. } if input == b.path()),
        "{text}"
    );
    assert!(
        text.starts_with(&format!("merge input {}", b.path().display())),
        "{text}"
    );
    assert!(
        text.contains("learning_rates: [0.02] vs [0.01]") && !text.contains("output"),
        "{text}"
    );
    // Another chunking of the same spec.
    let c = tempfile::tempdir().unwrap();
    run_toy_sweep_in_dir(c.path(), &spec, &options(5), Shard::ALL, &NoProgress).unwrap();
    let text = store::merge_shards(&[a.path(), c.path()], &target)
        .unwrap_err()
        .to_string();
    assert!(text.contains("chunk_cells: 5 vs 8"), "{text}");

    let missing = out.path().join("nonexist");
    let text = store::merge_shards(&[missing.as_path()], &target)
        .unwrap_err()
        .to_string();
    assert_eq!(
        text,
        format!("merge input {} does not exist", missing.display())
    );
    let text = store::merge_shards(&[a.path(), out.path()], &target)
        .unwrap_err()
        .to_string();
    assert!(text.contains("holds no manifest.json"), "{text}");
    assert!(!target.exists());
}

#[test]
fn a_shard_without_chunks_is_an_error_before_anything_is_created() {
    let spec = plane(3, 3, vec![0.1]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("s");
    let shard = Shard::new(5, 10).unwrap();
    let err = run_toy_sweep_in_dir(&target, &spec, &options(8192), shard, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shard") && err.contains("5/10") && err.contains("1 chunk "),
        "{err}"
    );
    assert!(!target.exists());
    // Shard 1 of 2 owns chunk 1 of 2 and runs.
    let summary = run_toy_sweep_in_dir(
        &target,
        &spec,
        &options(5),
        Shard::new(1, 2).unwrap(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(summary.chunks_in_shard, 1);
    assert!(Shard::new(2, 3).unwrap().check_owns_some(2).is_err());
    assert!(Shard::new(1, 3).unwrap().check_owns_some(2).is_ok());
}

fn plant(dir: &Path, pid: u32) -> std::path::PathBuf {
    let path = dir.join(format!(".chunk-00000001.csv.tmp-{pid}-0"));
    std::fs::write(&path, "index,lr").unwrap();
    path
}

#[cfg(target_os = "linux")]
#[test]
fn temp_files_of_dead_zombie_and_reused_pids_are_removed() {
    let spec = plane(4, 4, vec![0.01]);
    let dir = tempfile::tempdir().unwrap();
    run_toy_sweep_in_dir(dir.path(), &spec, &options(8), Shard::ALL, &NoProgress).unwrap();
    let chunks = dir.path().join("chunks");

    // A process that ran and was reaped.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let dead_file = plant(&chunks, dead_pid);
    assert_eq!(store::remove_stale_temp_files(&chunks).unwrap(), 1);
    assert!(!dead_file.exists());

    // A killed process its parent has not reaped yet: /proc/PID still exists.
    let mut zombie = std::process::Command::new("true").spawn().unwrap();
    let stat = format!("/proc/{}/stat", zombie.id());
    let deadline = SystemTime::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z ")) {
        assert!(SystemTime::now() < deadline, "the child did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
    let zombie_file = plant(&chunks, zombie.id());
    // A resume cleans it (the bug: it survived a successful resume).
    run_toy_sweep_in_dir(dir.path(), &spec, &options(8), Shard::ALL, &NoProgress).unwrap();
    assert!(!zombie_file.exists());
    zombie.wait().unwrap();

    // This process's id on a file older than this process: a reused id.
    let reused = plant(&chunks, std::process::id());
    let old = SystemTime::now() - Duration::from_secs(400 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&reused)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // A file this process may be writing now stays.
    let live = chunks.join(format!(".chunk-00000000.csv.tmp-{}-1", std::process::id()));
    std::fs::write(&live, "index").unwrap();
    assert_eq!(store::remove_stale_temp_files(&chunks).unwrap(), 1);
    assert!(!reused.exists() && live.exists());
}

#[test]
fn a_truncated_chunk_says_to_delete_it() {
    let spec = plane(10, 10, vec![0.1]);
    let dir = tempfile::tempdir().unwrap();
    run_toy_sweep_in_dir(dir.path(), &spec, &options(30), Shard::ALL, &NoProgress).unwrap();
    let chunk = dir.path().join("chunks").join("chunk-00000001.csv");
    let text = std::fs::read_to_string(&chunk).unwrap();
    for cut in [text.len() / 2, text.trim_end().rfind('\n').unwrap() + 1] {
        std::fs::write(&chunk, &text[..cut]).unwrap();
        for f in [store::CELLS_CSV, store::CELLS_JSON] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        let err = run_toy_sweep_in_dir(dir.path(), &spec, &options(30), Shard::ALL, &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("chunk-00000001.csv") && err.contains("damaged"),
            "{err}"
        );
        assert!(err.contains("delete it and run the same sweep"), "{err}");
    }
    std::fs::remove_file(&chunk).unwrap();
    let summary =
        run_toy_sweep_in_dir(dir.path(), &spec, &options(30), Shard::ALL, &NoProgress).unwrap();
    assert_eq!(summary.computed_chunks, [1]);
}
