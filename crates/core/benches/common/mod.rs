//! Helpers shared by the core benches (the peers lookup is the tests' own).

#![allow(dead_code, reason = "each bench uses a different subset")]

#[path = "../../tests/common/peers.rs"]
pub mod peers;

use symstab_core::mlp::{MlpProblem, ProblemFile};

/// The 1-minute load average from /proc/loadavg ("?" when unreadable).
pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().next().unwrap_or("?").to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// The number after `"key": ` in one line of JSON.
pub fn json_number(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!("\"{key}\": "))? + key.len() + 4;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// The peers' exported case `name` as a problem, or `None` when it cannot be exported
/// or read (the bench then falls back to its own problem).
pub fn peer_case(name: &str) -> Option<(MlpProblem, Vec<f64>)> {
    let dir = tempfile::tempdir().ok()?;
    let path = peers::export_peer_case(name, dir.path()).ok()?;
    let file = ProblemFile::read(&path).ok()?;
    Some(file.into_problem().expect("exported case is valid"))
}
