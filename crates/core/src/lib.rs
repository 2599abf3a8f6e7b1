//! Core numerics of symstab: models over a flat `f64` parameter vector, their exact
//! gradients, Hessian-vector products and Hessians, the weight-space symmetries that
//! leave a model's function unchanged, Hessian spectra, and the stability of gradient
//! descent (the step bound 2/λmax and the measured critical learning rate).
//!
//! This crate prints nothing and does no I/O except the `data` loaders reading a file the
//! caller names. Network derivatives and scans parallelise over fixed blocks on rayon's
//! pool, so their results do not depend on the number of threads.
//!
//! ```
//! use symstab_core::{Model, toy::ProductChain};
//!
//! // The toy f(x) = a·b·x with the single sample (1, 2): L(a, b) = (a·b − 2)².
//! let toy = ProductChain::toy();
//! let loss = toy.loss(&[3.0, 3.0]);
//! assert_eq!(loss, 49.0);
//! ```

pub mod descent;
pub mod dynamics;
pub mod error;
pub mod matrix_free;
pub mod model;
pub mod outcome;
pub mod spectrum;
pub mod stability;
pub mod toy;

pub use error::{Error, Result};
pub use model::{HessianAt, Model};
pub use outcome::{Outcome, StopRule};
pub mod data;
pub mod mlp;
pub mod orbit;
