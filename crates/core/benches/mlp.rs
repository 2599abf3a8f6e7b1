//! MLP benchmark (written below).
fn main() {}
