//! Training dynamics around the weight-space symmetries: the optimisers beyond plain
//! full-batch descent, the study's "teleport when stalled" training, and the experiments
//! that put the known theory beside measured curves.
//!
//! - [`optim`]: one update of gradient descent with heavy-ball momentum, weight decay and
//!   gradient-norm clipping ([`Optimizer`], the same rule as [`crate::descent`]), the
//!   momentum step bound (2 + 2β)/λmax, seeded minibatches and minibatch SGD on an
//!   [`MlpProblem`](crate::mlp::MlpProblem).
//! - [`stall`]: the stall/revert state machine of teleport training, separate from any
//!   model so that it can be driven by a scripted loss sequence.
//! - [`teleport`]: moves along the per-neuron rescale orbit (random balanced rescale,
//!   gradient-norm ascent, sharpness descent) and training with teleports.
//! - [`sharpness`]: λmax by Lanczos and λmax every k steps of full-batch descent.
//! - [`experiments`]: the one-step curve, the drift of the conserved neuron balances
//!   against η, and the catapult runs and critical-rate ratios of the toy.
//!
//! Like the rest of the crate this module does no I/O and prints nothing; divergence is a
//! recorded outcome.

pub mod experiments;
pub mod optim;
pub mod sharpness;
pub mod stall;
pub mod teleport;

pub use optim::{
    MinibatchSchedule, Optimizer, OptimizerState, SgdRun, momentum_stable_learning_rate,
    subset_problem, train_sgd,
};
pub use sharpness::{SharpnessRecord, SharpnessRun, lambda_max, sharpness_during_training};
pub use stall::{StallDecision, StallMonitor, StallRule};
pub use teleport::{
    TeleportEvent, TeleportKind, TeleportPolicy, TeleportRun, TeleportTraining, teleport,
    train_with_teleports,
};
