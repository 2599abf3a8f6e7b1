//! Project tasks, run as `cargo xtask <task>`.
//!
//! `cargo xtask figures [--only NAME] [--quick] [--out DIR]` runs the study's experiments
//! through the library crates and renders every figure, with its data as CSV beside it.

mod render;

fn main() {}
