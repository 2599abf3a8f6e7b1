//! Sweeps over learning rate × start point for the toy loss L(a, b) = (a·b − 2)² and for
//! any [`symstab_core::Model`].
//!
//! - [`grid`]: axes, learning-rate lists, start sets (a 2-D plane over (a, b) or the
//!   rescale orbit a·b = c by log α) and the canonical cell order.
//! - [`kernel`]: the vectorised toy kernel (structure-of-arrays lanes with refilling;
//!   on AVX-512 a register-resident kernel of 5 × 8 lanes, else AVX2 / portable builds,
//!   chosen at run time), bitwise equal to a plain scalar loop.
//! - [`network`]: learning rate × orbit position sweeps of any model along a symmetry path
//!   (`Fn(log α) -> start point`), with λmax, 2/λmax and the bisected critical rate.
//! - [`runner`]: deterministic parallel runners with a progress callback (the generic one
//!   on the core's gradient descent).
//! - [`disk`]: a lower bound on the bytes a run into a directory writes.
//! - [`record`]: per-cell records, tidy CSV and JSON with explicit non-finite values.
//! - [`store`]: atomic files, resumable output directories, shards and their merge.
//!
//! The crate prints nothing; [`store`] is its only file I/O.
//!
//! ```
//! use symstab_sweep::grid::{Axis, LearningRates, StartSet, SweepSpec};
//! use symstab_sweep::runner::{NoProgress, RunOptions, run_toy_sweep};
//!
//! let axis = Axis::new(-2.0, 2.0, 5)?;
//! let spec = SweepSpec::new(
//!     StartSet::Plane { a: axis, b: axis },
//!     LearningRates::new(vec![0.01, 0.02])?,
//!     1000,
//! );
//! let result = run_toy_sweep(&spec, &RunOptions::default(), &NoProgress)?;
//! assert_eq!(result.cells.len(), 50);
//! # Ok::<(), symstab_core::Error>(())
//! ```

pub mod disk;
pub mod error;
pub mod grid;
pub mod kernel;
#[cfg(target_arch = "x86_64")]
mod kernel_avx512;
pub mod memory;
pub mod network;
pub mod record;
pub mod runner;
pub mod store;

pub use error::SweepError;
