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
