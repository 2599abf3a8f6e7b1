//! Every figure the README (and figures/README.md, if present) links must exist, and every
//! committed figure stays small enough to show.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Link targets in Markdown text: `](target)` links and `src="target"` / `href="target"`
/// attributes, without any `#fragment` or `"title"`.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = vec![];
    let mut rest = markdown;
    while let Some(k) = rest.find("](") {
        rest = &rest[k + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(rest[..end].to_owned());
        }
    }
    for attribute in ["src=\"", "href=\""] {
        let mut rest = markdown;
        while let Some(k) = rest.find(attribute) {
            rest = &rest[k + attribute.len()..];
            if let Some(end) = rest.find('"') {
                targets.push(rest[..end].to_owned());
            }
        }
    }
    targets
        .into_iter()
        .map(|t| {
            t.split_whitespace()
                .next()
                .unwrap_or("")
                .split('#')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Links to figures that do not exist. In `README.md` a figure link is one into
/// `figures/`; in `figures/README.md` every relative link is one (resolved from there).
fn missing_figures(markdown: &str, base: &Path, all_relative: bool) -> Vec<String> {
    link_targets(markdown)
        .into_iter()
        .filter(|t| !t.contains("://") && !t.starts_with("mailto:"))
        .map(|t| t.trim_start_matches("./").to_owned())
        .filter(|t| all_relative || t.starts_with("figures/"))
        .filter(|t| !base.join(t).exists())
        .collect()
}

#[test]
fn every_linked_figure_exists() {
    let root = repo_root();
    let mut missing = vec![];
    if let Ok(text) = std::fs::read_to_string(root.join("README.md")) {
        missing.extend(
            missing_figures(&text, &root, false)
                .into_iter()
                .map(|t| format!("README.md: {t}")),
        );
    }
    let figures = root.join("figures");
    if let Ok(text) = std::fs::read_to_string(figures.join("README.md")) {
        missing.extend(
            missing_figures(&text, &figures, true)
                .into_iter()
                .map(|t| format!("figures/README.md: {t}")),
        );
    }
    assert!(
        missing.is_empty(),
        "linked figures missing (run `cargo xtask figures`): {missing:?}"
    );
}

#[test]
fn the_link_check_finds_missing_and_accepts_present_figures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("figures")).unwrap();
    std::fs::write(dir.path().join("figures/here.png"), b"x").unwrap();
    let markdown = "![a](figures/here.png) ![b](./figures/gone.gif \"title\")\n\
                    <img src=\"figures/also_gone.png\"> [site](https://example.org/figures/x.png) \
                    [doc](ARCHITECTURE.md)";
    assert_eq!(
        missing_figures(markdown, dir.path(), false),
        vec!["figures/gone.gif", "figures/also_gone.png"]
    );
    let inside = "![c](here.png) ![d](nope.png) [top](../README.md#x)";
    std::fs::write(dir.path().join("README.md"), "x").unwrap();
    assert_eq!(
        missing_figures(inside, &dir.path().join("figures"), true),
        vec!["nope.png"]
    );
}

/// Rendered figures are committed and shown in the README: each stays under 1 MiB.
#[test]
fn committed_figures_stay_under_a_megabyte() {
    let figures = repo_root().join("figures");
    let mut too_big = vec![];
    let mut seen = 0;
    for entry in std::fs::read_dir(&figures).expect("figures/ exists") {
        let path = entry.expect("directory entry").path();
        let is_image = path.extension().is_some_and(|e| e == "png" || e == "gif");
        if is_image {
            seen += 1;
            let bytes = std::fs::metadata(&path).expect("metadata").len();
            if bytes > 1 << 20 {
                too_big.push(format!("{}: {bytes} bytes", path.display()));
            }
        }
    }
    assert!(seen > 0, "no rendered figures in {}", figures.display());
    assert!(too_big.is_empty(), "figures above 1 MiB: {too_big:?}");
}
