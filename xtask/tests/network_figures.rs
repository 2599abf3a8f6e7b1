//! The network orbit figures in `--quick` mode: every PNG decodes at its size and is not
//! blank, every CSV has a header and rows, and the scans report a loss that stayed constant.

use std::fs::File;
use std::path::Path;
use std::process::Command;

const IMAGES: &[(&str, u32, u32)] = &[
    ("network_orbit_spectrum.png", 1560, 1240),
    ("network_lr_map.png", 1400, 880),
    ("network_density.png", 1200, 1000),
];

const TABLES: &[&str] = &[
    "network_orbit_spectrum.csv",
    "network_orbit_summary.csv",
    "network_training.csv",
    "network_lr_map.csv",
    "network_lr_map_curves.csv",
    "network_density.csv",
    "network_density_nodes.csv",
];

fn check_png(path: &Path, width: u32, height: u32) {
    let decoder = png::Decoder::new(File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(
        (info.width, info.height),
        (width, height),
        "{}",
        path.display()
    );
    let distinct: std::collections::HashSet<&[u8]> =
        buffer[..info.buffer_size()].chunks(3).collect();
    assert!(distinct.len() > 50, "{} looks blank", path.display());
}

#[test]
fn quick_network_figures_write_images_and_tables() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["figures", "--quick", "--out"])
        .arg(out.path())
        .args(["--only", "network-orbit-spectrum"])
        .args(["--only", "network-lr-map"])
        .args(["--only", "network-density"])
        .output()
        .expect("run xtask");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for &(name, w, h) in IMAGES {
        check_png(&out.path().join(name), w, h);
    }
    for name in TABLES {
        let text = std::fs::read_to_string(out.path().join(name)).unwrap();
        assert!(text.lines().count() > 2, "{name} has no rows");
    }
    // The loss stays constant along every scanned orbit.
    let mut reader = csv::Reader::from_path(out.path().join("network_orbit_spectrum.csv")).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "loss_relative_deviation")
        .unwrap();
    let mut rows = 0;
    for record in reader.records() {
        let deviation: f64 = record.unwrap()[column].parse().unwrap();
        assert!(
            deviation <= 1e-10,
            "loss changed by {deviation} along an orbit"
        );
        rows += 1;
    }
    assert_eq!(rows, 2 * 2 * 2 * 9);
}
