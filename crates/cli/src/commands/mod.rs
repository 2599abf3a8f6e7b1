//! One module per command: each parses nothing itself (clap did), builds the model, calls
//! the libraries, and formats the result.

pub mod critical;
pub mod hessian;
pub mod orbit;
pub mod sweep;
pub mod symmetry;
pub mod train;
