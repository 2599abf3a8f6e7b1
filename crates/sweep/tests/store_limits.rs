//! Output directories: stale temporary files of interrupted runs are removed on resume and
//! merge, and oversized sweeps are rejected before any directory is created.

use std::path::{Path, PathBuf};

use symstab_sweep::grid::{Axis, LearningRates, StartSet, SweepSpec};
use symstab_sweep::runner::{NoProgress, RunOptions, run_toy_sweep};
use symstab_sweep::store::{self, Shard, run_toy_sweep_in_dir};

fn plane(n: usize) -> SweepSpec {
    let axis = Axis::new(-2.0, 2.0, n).unwrap();
    SweepSpec::new(
        StartSet::Plane { a: axis, b: axis },
        LearningRates::new(vec![0.01, 0.05]).unwrap(),
        200,
    )
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symstab-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A temporary file named like those of the atomic writer, of a process that cannot exist
/// (PIDs on Linux stay below 2^22).
fn plant_stale(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!(".{name}.tmp-4294967000-3"));
    std::fs::write(&path, "partial").unwrap();
    path
}

#[test]
fn resume_and_merge_remove_stale_temp_files() {
    let spec = plane(6);
    let options = RunOptions {
        chunk_cells: 10,
        ..RunOptions::default()
    };
    let dir = fresh_dir("resume");
    run_toy_sweep_in_dir(&dir, &spec, &options, Shard::ALL, &NoProgress).unwrap();
    let stale_chunk = plant_stale(&dir.join("chunks"), "chunk-00000002.csv");
    let stale_top = plant_stale(&dir, "cells.csv");
    // A temp file of a running process (this one) and an unrelated hidden file stay.
    let live = dir
        .join("chunks")
        .join(format!(".chunk-00000001.csv.tmp-{}-9", std::process::id()));
    std::fs::write(&live, "in progress").unwrap();
    let other = dir.join("chunks").join(".notes");
    std::fs::write(&other, "mine").unwrap();
    std::fs::remove_file(dir.join("chunks").join("chunk-00000002.csv")).unwrap();
    let summary = run_toy_sweep_in_dir(&dir, &spec, &options, Shard::ALL, &NoProgress).unwrap();
    assert_eq!(summary.chunks_computed, 1);
    assert!(!stale_chunk.exists() && !stale_top.exists());
    assert!(live.exists() && other.exists());

    // Merge cleans the output directory it writes into.
    let out = fresh_dir("merged");
    let stale_out = plant_stale(&out, "cells.json");
    let merged = store::merge_shards(&[dir.as_path()], &out).unwrap();
    assert_eq!(merged.cells, spec.len());
    assert!(!stale_out.exists());
    assert_eq!(store::remove_stale_temp_files(&out).unwrap(), 0);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn oversized_sweeps_fail_before_creating_anything() {
    // A plane keeps only its axes, so here the cell results and the chunk list are too big.
    let axis = Axis::new(0.0, 1.0, 100_000_000).unwrap();
    let plane = SweepSpec::new(
        StartSet::Plane { a: axis, b: axis },
        LearningRates::new(vec![0.01]).unwrap(),
        10,
    );
    // An orbit keeps two coordinates per point: 16 GB of start table.
    let orbit = SweepSpec::new(
        StartSet::Orbit {
            product: 9.0,
            log_alpha: Axis::new(-1.0, 1.0, 1_000_000_000).unwrap(),
        },
        LearningRates::new(vec![0.01]).unwrap(),
        10,
    );
    for (spec, in_dir_part) in [(&plane, "chunk list"), (&orbit, "start table")] {
        let e = run_toy_sweep(spec, &RunOptions::default(), &NoProgress).unwrap_err();
        assert!(e.to_string().contains("above the cap"), "{e}");
        let dir = fresh_dir("huge");
        let e = run_toy_sweep_in_dir(&dir, spec, &RunOptions::default(), Shard::ALL, &NoProgress)
            .unwrap_err();
        assert!(e.to_string().contains(in_dir_part), "{e}");
        assert!(!dir.exists());
    }
}
