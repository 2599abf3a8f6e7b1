//! Runs `xtask figures --quick` into a temporary folder, with no font configuration at
//! all, and checks every expected file: present, non-empty, PNGs decode at their size,
//! GIFs decode with one frame per step plus the start, each shown for 6 cs.

use std::fs::File;
use std::path::Path;
use std::process::Command;

const STEPS: usize = 50;

/// (file, width, height) of every image the pipeline writes.
const IMAGES: &[(&str, u32, u32)] = &[
    ("study_lr_0.01.png", 990, 910),
    ("study_lr_0.02.png", 990, 910),
    ("study_lr_0.025.png", 990, 910),
    ("divergence_map.png", 1260, 900),
    ("orbit_lr_map.png", 1340, 860),
    ("orbit_spectrum.png", 1100, 1080),
    ("dynamics_one_step.png", 1100, 760),
    ("dynamics_teleport.png", 1200, 1200),
    ("dynamics_sharpness.png", 1200, 1100),
    ("dynamics_conservation.png", 1400, 1050),
    ("dynamics_catapult.png", 1200, 1100),
];

const ANIMATIONS: &[(&str, u32, u32)] = &[
    ("study_lr_0.01.gif", 990, 910),
    ("study_lr_0.02.gif", 990, 910),
    ("study_lr_0.025.gif", 990, 910),
];

const TABLES: &[&str] = &[
    "study_loss_grid.csv",
    "study_lr_0.01.csv",
    "study_lr_0.02.csv",
    "study_lr_0.025.csv",
    "divergence_map.csv",
    "orbit_lr_map.csv",
    "orbit_lr_map_curves.csv",
    "orbit_spectrum.csv",
    "orbit_spectrum_starts.csv",
    "dynamics_one_step.csv",
    "dynamics_one_step_marks.csv",
    "dynamics_teleport_loss.csv",
    "dynamics_teleport_summary.csv",
    "dynamics_sharpness.csv",
    "dynamics_sharpness_loss.csv",
    "dynamics_conservation.csv",
    "dynamics_conservation_drift.csv",
    "dynamics_catapult_loss.csv",
    "dynamics_catapult_orbit.csv",
];

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(File::open(path).unwrap());
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buffer)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // A rendered figure is not blank: it has many distinct colours.
    let distinct: std::collections::HashSet<&[u8]> =
        buffer[..info.buffer_size()].chunks(3).collect();
    assert!(
        distinct.len() > 50,
        "{} has only {} colours",
        path.display(),
        distinct.len()
    );
    (info.width, info.height)
}

fn run_quick(out: &Path) {
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["figures", "--quick", "--out"])
        .arg(out)
        // No fonts anywhere: the bundled font must be the only one needed.
        .env("FONTCONFIG_FILE", empty.path().join("fonts.conf"))
        .env("FONTCONFIG_PATH", empty.path())
        .env("XDG_DATA_DIRS", empty.path())
        .env("HOME", empty.path())
        .output()
        .expect("run xtask");
    assert!(
        output.status.success(),
        "xtask figures --quick failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn quick_pipeline_writes_every_figure_and_table() {
    let out = tempfile::tempdir().unwrap();
    run_quick(out.path());

    for &(name, width, height) in IMAGES {
        let path = out.path().join(name);
        assert!(
            path.metadata().map(|m| m.len() > 0).unwrap_or(false),
            "{name} missing or empty"
        );
        assert_eq!(png_size(&path), (width, height), "{name}");
    }

    for &(name, width, height) in ANIMATIONS {
        let path = out.path().join(name);
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::Indexed);
        let mut decoder = options.read_info(File::open(&path).unwrap()).unwrap();
        assert_eq!(
            (decoder.width() as u32, decoder.height() as u32),
            (width, height),
            "{name}"
        );
        let mut frames = 0;
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!(
                frame.delay, 6,
                "{name} frame {frames}: delay in centiseconds"
            );
            assert!(
                frame.left + frame.width <= width as u16
                    && frame.top + frame.height <= height as u16
            );
            frames += 1;
        }
        assert_eq!(
            frames,
            STEPS + 1,
            "{name}: one frame for the start and one per step"
        );
    }

    for name in TABLES {
        let path = out.path().join(name);
        let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!reader.headers().unwrap().is_empty(), "{name}: header");
        assert!(reader.records().count() > 0, "{name}: no rows");
    }

    // The data beside the animation says what the figure shows: at 0.025 the run from
    // (1, 9) diverges, the run from (3, 3) does not.
    let mut reader = csv::Reader::from_path(out.path().join("study_lr_0.025.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (start_b, outcome) = (column("start_b"), column("run_outcome"));
    for record in reader.records() {
        let record = record.unwrap();
        let expected = if &record[start_b] == "9.0" {
            "diverged"
        } else {
            "unfinished"
        };
        assert_eq!(&record[outcome], expected);
    }
}

#[test]
fn only_renders_the_named_figure_and_rejects_unknown_names() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["figures", "--quick", "--only", "orbit-spectrum", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(out.path().join("orbit_spectrum.png").exists());
    assert!(!out.path().join("divergence_map.png").exists());

    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["figures", "--only", "no-such-figure", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-figure"));
}

#[test]
fn quick_without_out_is_refused_and_writes_nothing() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["figures", "--quick", "--only", "orbit-spectrum"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--quick needs an explicit --out"),
        "{stderr}"
    );
    // The refusal happens while parsing, before any figure starts.
    assert!(!stderr.contains("orbit-spectrum:"), "{stderr}");
}
