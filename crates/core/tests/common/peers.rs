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
