//! Where the peer scripts (numpy/JAX reference implementations) live. Shared by the
//! `mlp_peer` test and the benches (which include this file by path).

use std::path::PathBuf;

/// `$SYMSTAB_PEERS_DIR`, else `shared/peers` beside the main checkout, else one level
/// further up (for a git worktree).
pub fn peers_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SYMSTAB_PEERS_DIR") {
        return PathBuf::from(dir);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let beside = workspace.join("../shared/peers");
    if beside.exists() {
        beside
    } else {
        workspace.join("../../shared/peers")
    }
}

/// Runs the peers' `export_mlp_case.py` for case `name` (`small`, `large`) into a JSON
/// file in `dir` and returns its path; the error says why it could not (no script, no
/// python3, or the exporter failed). The caller parses the file.
pub fn export_peer_case(name: &str, dir: &std::path::Path) -> Result<PathBuf, String> {
    let script = peers_dir().join("export_mlp_case.py");
    if !script.exists() {
        return Err(format!(
            "{} not found (set SYMSTAB_PEERS_DIR)",
            script.display()
        ));
    }
    let path = dir.join(format!("{name}.json"));
    match std::process::Command::new("python3")
        .arg(&script)
        .arg(name)
        .arg(&path)
        .output()
    {
        Ok(out) if out.status.success() => Ok(path),
        Ok(out) => Err(format!(
            "exporter failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("cannot run python3: {e}")),
    }
}
