//! The assembly of `cells.csv` and `cells.json` in an output directory: the exact bytes of
//! small sweeps with converged, diverged, unfinished and non-finite cells are pinned to
//! files in `tests/data/`, and equal what the in-memory writers give for the same records.
//!
//! `SYMSTAB_BLESS=1 cargo test -p symstab-sweep --test assembly` rewrites the pinned files;
//! do that only for a deliberate format change (and bump `record::FORMAT_VERSION`).

use std::path::{Path, PathBuf};

use symstab_core::Outcome;
use symstab_sweep::grid::{Axis, LearningRates, StartSet, SweepSpec};
use symstab_sweep::record::{self, FORMAT_VERSION, SweepDocument, toy_records};
use symstab_sweep::runner::{NoProgress, RunOptions, run_toy_sweep};
use symstab_sweep::store::{self, Shard, run_toy_sweep_in_dir};

/// The orbit a·b = 9 out to |log α| = 360: the ends have |a| or |b| near 1e157, so their
/// Hessian overflows (λmax NaN) and their runs overflow to an infinite loss; the middle
/// converges, stays unfinished or diverges depending on the rate.
fn orbit_spec() -> SweepSpec {
    SweepSpec::new(
        StartSet::Orbit {
            product: 9.0,
            log_alpha: Axis::new(-360.0, 360.0, 9).unwrap(),
        },
        LearningRates::new(vec![0.01, 0.03, 0.2]).unwrap(),
        50,
    )
}

/// A small plane through the origin (λmax = 4 at (0, 0)); the larger rate diverges.
fn plane_spec() -> SweepSpec {
    let axis = Axis::new(-2.0, 2.0, 5).unwrap();
    SweepSpec::new(
        StartSet::Plane { a: axis, b: axis },
        LearningRates::new(vec![0.01, 0.3]).unwrap(),
        100,
    )
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// Compares `bytes` with the pinned file `name` (or rewrites it under `SYMSTAB_BLESS`).
fn check_pinned(name: &str, bytes: &[u8]) {
    let path = golden_path(name);
    if std::env::var_os("SYMSTAB_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if want != bytes {
        let (w, g) = (
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(bytes),
        );
        let line = w
            .lines()
            .zip(g.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(w.lines().count().min(g.lines().count()));
        panic!(
            "{name} differs from the pinned file (first at line {}): pinned {:?}, got {:?}",
            line + 1,
            w.lines().nth(line),
            g.lines().nth(line)
        );
    }
}

#[test]
fn assembled_files_are_pinned_byte_for_byte() {
    for (name, spec) in [("orbit", orbit_spec()), ("plane", plane_spec())] {
        // Chunks of 4 cells: many chunk files, the last one partial.
        let options = RunOptions {
            chunk_cells: 4,
            ..RunOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let summary =
            run_toy_sweep_in_dir(dir.path(), &spec, &options, Shard::ALL, &NoProgress).unwrap();
        assert!(summary.shard_complete);
        let csv = std::fs::read(dir.path().join(store::CELLS_CSV)).unwrap();
        let json = std::fs::read(dir.path().join(store::CELLS_JSON)).unwrap();

        // The sweep exercises every outcome the test is about.
        let records = toy_records(
            &spec,
            &run_toy_sweep(&spec, &RunOptions::default(), &NoProgress)
                .unwrap()
                .cells,
        );
        let has = |o: Outcome| records.iter().any(|r| r.outcome == o);
        assert!(has(Outcome::Converged) && has(Outcome::Diverged), "{name}");
        if name == "orbit" {
            assert!(has(Outcome::Unfinished));
            assert!(records.iter().any(|r| r.final_loss == f64::INFINITY));
            assert!(records.iter().any(|r| r.lambda_max_start.is_nan()));
            let text = String::from_utf8(csv.clone()).unwrap();
            assert!(text.contains(",inf,") && text.contains(",NaN,"), "{text}");
            let text = String::from_utf8(json.clone()).unwrap();
            assert!(
                text.contains("\"inf\"") && text.contains("\"NaN\""),
                "{text}"
            );
        }

        check_pinned(&format!("{name}-cells.csv"), &csv);
        check_pinned(&format!("{name}-cells.json"), &json);

        // The in-memory writers give the same bytes for the same records.
        let mut mem_csv = Vec::new();
        record::write_csv(&mut mem_csv, &records).unwrap();
        assert!(mem_csv == csv, "{name}: cells.csv differs from write_csv");
        let doc = SweepDocument {
            format_version: FORMAT_VERSION,
            spec: spec.clone(),
            cells: records,
        };
        let mut mem_json = Vec::new();
        record::write_json(&mut mem_json, &doc).unwrap();
        assert!(
            mem_json == json,
            "{name}: cells.json differs from write_json"
        );
    }
}

/// Records of the orbit sweep edited to hold every special value a file can carry: a NaN
/// and an infinite loss, ±inf, −0 and the smallest subnormal in the final point, an
/// unbounded step, a missing log α.
fn edited_records() -> Vec<record::CellRecord> {
    let spec = orbit_spec();
    let mut recs = toy_records(
        &spec,
        &run_toy_sweep(&spec, &RunOptions::default(), &NoProgress)
            .unwrap()
            .cells,
    );
    recs[4].final_loss = f64::NAN;
    recs[4].final_point = [f64::NEG_INFINITY, -0.0];
    recs[5].final_point = [f64::INFINITY, 5e-324];
    recs[5].stable_lr_start = symstab_core::spectrum::StepBound::Unbounded;
    recs[6].start.log_alpha = None;
    recs[6].lambda_max_start = f64::NEG_INFINITY;
    recs
}

#[test]
fn written_results_with_every_special_value_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    store::write_results(dir.path(), &orbit_spec(), &edited_records()).unwrap();
    let csv = std::fs::read(dir.path().join(store::CELLS_CSV)).unwrap();
    let json = std::fs::read(dir.path().join(store::CELLS_JSON)).unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    for token in [
        ",NaN,",
        ",-inf,",
        ",inf,",
        ",-0.0,",
        ",unbounded",
        ",5e-324,",
    ] {
        assert!(text.contains(token), "{token} missing: {text}");
    }
    check_pinned("edited-cells.csv", &csv);
    check_pinned("edited-cells.json", &json);
}

fn plane(n: usize, lrs: Vec<f64>, steps: u32) -> SweepSpec {
    let axis = Axis::new(-4.0, 4.0, n).unwrap();
    SweepSpec::new(
        StartSet::Plane { a: axis, b: axis },
        LearningRates::new(lrs).unwrap(),
        steps,
    )
}

fn in_memory_records(spec: &SweepSpec) -> Vec<record::CellRecord> {
    toy_records(
        spec,
        &run_toy_sweep(spec, &RunOptions::default(), &NoProgress)
            .unwrap()
            .cells,
    )
}

fn assert_same_bits(got: &[record::CellRecord], want: &[record::CellRecord], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.same_bits(w), "{what}: {g:?} != {w:?}");
    }
}

/// Reads `cells.csv` and `cells.json` of `dir` back and checks both against `want`.
fn assert_files_hold(dir: &Path, spec: &SweepSpec, want: &[record::CellRecord], what: &str) {
    let csv = store::read_results_csv(&dir.join(store::CELLS_CSV)).unwrap();
    assert_same_bits(&csv, want, &format!("{what}: cells.csv"));
    let doc = store::read_results_json(&dir.join(store::CELLS_JSON)).unwrap();
    assert_eq!(doc.format_version, FORMAT_VERSION);
    assert_eq!(&doc.spec, spec, "{what}");
    assert_same_bits(&doc.cells, want, &format!("{what}: cells.json"));
}

#[test]
fn streamed_files_read_back_as_the_in_memory_run() {
    let spec = plane(40, vec![0.005, 0.02, 0.06], 300);
    let want = in_memory_records(&spec);
    let tally = store::CellTally::of(&want);
    assert!(tally.converged > 0 && tally.diverged > 0 && tally.unfinished > 0);
    let mut reference: Option<(Vec<u8>, Vec<u8>)> = None;
    // Small and uneven chunks, one chunk for everything; one and two threads.
    for (chunk_cells, threads) in [(97, 1), (333, 2), (1000, 1), (10_000, 2)] {
        let what = format!("chunk_cells {chunk_cells}, {threads} threads");
        let options = RunOptions {
            chunk_cells,
            ..RunOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let summary = pool
            .install(|| run_toy_sweep_in_dir(dir.path(), &spec, &options, Shard::ALL, &NoProgress))
            .unwrap();
        // Everything was computed by this run, and the counts are those of the records.
        let assembled = summary.assembled.unwrap();
        assert_eq!(assembled.computed, tally, "{what}");
        assert_eq!(assembled.reused, store::CellTally::default(), "{what}");
        assert_files_hold(dir.path(), &spec, &want, &what);
        let bytes = (
            std::fs::read(dir.path().join(store::CELLS_CSV)).unwrap(),
            std::fs::read(dir.path().join(store::CELLS_JSON)).unwrap(),
        );
        match &reference {
            None => reference = Some(bytes),
            Some(r) => assert!(*r == bytes, "{what}: bytes depend on the chunking"),
        }
        // No temporary file is left behind.
        let hidden: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "{what}: {hidden:?}");
    }

    // Shards merged into a fresh directory stream the same files.
    let options = RunOptions {
        chunk_cells: 250,
        ..RunOptions::default()
    };
    let shards: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, d) in shards.iter().enumerate() {
        let s = run_toy_sweep_in_dir(
            d.path(),
            &spec,
            &options,
            Shard::new(i, 2).unwrap(),
            &NoProgress,
        )
        .unwrap();
        assert!(s.shard_complete && s.assembled.is_none());
        assert!(!d.path().join(store::CELLS_CSV).exists());
    }
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("merged");
    let paths: Vec<&Path> = shards.iter().map(|d| d.path()).collect();
    let merged = store::merge_shards(&paths, &out).unwrap();
    assert_eq!(merged, tally);
    assert_files_hold(&out, &spec, &want, "merge");
    let (csv, json) = reference.unwrap();
    assert!(std::fs::read(out.join(store::CELLS_CSV)).unwrap() == csv);
    assert!(std::fs::read(out.join(store::CELLS_JSON)).unwrap() == json);
}

/// Names of the files directly in `dir`.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_assembly_leaves_neither_file_and_resumes_cleanly() {
    let spec = plane(20, vec![0.01, 0.05], 200);
    let want = in_memory_records(&spec);
    let options = RunOptions {
        chunk_cells: 64,
        ..RunOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    run_toy_sweep_in_dir(dir.path(), &spec, &options, Shard::ALL, &NoProgress).unwrap();
    let csv = std::fs::read(dir.path().join(store::CELLS_CSV)).unwrap();
    let json = std::fs::read(dir.path().join(store::CELLS_JSON)).unwrap();
    let chunks = dir.path().join("chunks");
    let last = chunks.join("chunk-00000012.csv");
    let middle = chunks.join("chunk-00000005.csv");
    let good_middle = std::fs::read_to_string(&middle).unwrap();

    // A chunk whose rows are out of order (found half-way through the files), then a chunk
    // that lost its last row (found at the end, after every other record was written).
    let mut lines: Vec<&str> = good_middle.lines().collect();
    lines.swap(3, 4);
    let swapped = lines.join("\n") + "\n";
    let mut short = std::fs::read_to_string(&last).unwrap();
    short.truncate(short.trim_end().rfind('\n').unwrap() + 1);
    for (path, text, bad) in [(&middle, swapped, &middle), (&last, short, &last)] {
        std::fs::remove_file(dir.path().join(store::CELLS_CSV)).unwrap();
        std::fs::remove_file(dir.path().join(store::CELLS_JSON)).unwrap();
        std::fs::write(path, text).unwrap();
        let err =
            run_toy_sweep_in_dir(dir.path(), &spec, &options, Shard::ALL, &NoProgress).unwrap_err();
        assert!(
            matches!(&err, symstab_sweep::SweepError::Corrupt { path, .. } if path == bad),
            "{err}"
        );
        // Neither final file, and no temporary file either.
        assert_eq!(file_names(dir.path()), ["chunks", "manifest.json"]);
        // Removing the bad chunk recomputes it alone and assembles the same bytes.
        std::fs::remove_file(bad).unwrap();
        let summary =
            run_toy_sweep_in_dir(dir.path(), &spec, &options, Shard::ALL, &NoProgress).unwrap();
        assert_eq!((summary.chunks_computed, summary.chunks_reused), (1, 12));
        assert!(std::fs::read(dir.path().join(store::CELLS_CSV)).unwrap() == csv);
        assert!(std::fs::read(dir.path().join(store::CELLS_JSON)).unwrap() == json);
        assert_files_hold(dir.path(), &spec, &want, "after the repair");
    }
}

#[test]
fn directories_take_sweeps_beyond_the_old_assembly_cap() {
    use symstab_sweep::memory::{check_in_dir, check_in_memory};
    // Assembling once held every record twice (2 × 120 bytes), capping a directory near
    // 4 GiB / 240 bytes = 17.9 million cells. 4300 × 4300 × 1 = 18.49 million cells.
    let just_above = plane(4300, vec![0.01], 10);
    assert!(just_above.len() > (4u64 << 30) as usize / 240);
    let huge = plane(100_000, vec![0.01, 0.02], 10); // 2 × 10^10 cells
    for spec in [&just_above, &huge] {
        for threads in [1, 2, 64] {
            check_in_dir(spec, symstab_sweep::runner::DEFAULT_CHUNK_CELLS, threads)
                .unwrap_or_else(|e| panic!("{} cells, {threads} threads: {e}", spec.len()));
        }
    }
    // In memory the cell results are still capped, and the chunk list of a directory is.
    let e = check_in_memory(&huge).unwrap_err();
    assert!(e.to_string().contains("above the cap"), "{e}");
    let e = check_in_dir(&huge, 1, 2).unwrap_err();
    assert!(e.to_string().contains("chunk list"), "{e}");
    let e = check_in_dir(&just_above, 40_000_000, 2).unwrap_err();
    assert!(e.to_string().contains("chunks in flight"), "{e}");
}
