//! Orbit scans: how sharpness and the stable step change along a network's symmetry orbit.
//!
//! Every point g·θ of the orbit of θ under the rescale symmetries computes the same function,
//! so the loss is constant along it, but the Hessian is transported as
//! H(g·θ) = M^{−T} H(θ) M^{−1} (see [`crate::mlp::symmetry`]) and its largest eigenvalue
//! λmax, the step bound 2/λmax and the learning rate at which gradient descent diverges all
//! change. This module measures them.
//!
//! - [`OrbitPath`]: one-parameter paths α ↦ g(α)·θ in the rescale group (a hidden layer
//!   scaled by α, the study's per-layer scale (…, α, 1/α, …), a seeded balanced rescale
//!   raised to a power), parsed from `rescale:K`, `layer-scale:K`, `balanced:K:SEED`.
//! - [`point_spectrum`] and [`scan_orbit`]: loss, λmax, λmin, trace, 2/λmax, the top
//!   Gauss-Newton eigenvalue, the gradient norm and the neuron balances at log-spaced α,
//!   by the dense route for small networks and by Lanczos (see [`crate::matrix_free`])
//!   above a threshold; every record says which route produced it.
//! - [`path_minimum`] (golden-section search in log α on a bracket from a scan) and
//!   [`minimize_neuron_scales`] (descent on log λmax over one log-scale per hidden neuron,
//!   with the exact derivative below) find the flattest equivalent point.
//! - [`loss_decrease_boundary`] reads a learning-rate × α grid of full-batch runs from the
//!   rescaled points (run by symstab-sweep's network runner with [`OrbitPath::apply`] as
//!   the path): the largest rate up to which every run lowered the loss, per α.
//!
//! # The derivative of λmax along the group
//!
//! Let θ' = Dθ with D = diag(exp(Σ_j c_ij v_j)), where v_j is the log-scale of hidden neuron
//! j and c_ij = +1 when parameter i is an incoming weight or bias of neuron j, −1 when it is
//! an outgoing weight, 0 otherwise. Then H(θ') = D^{−1} H(θ) D^{−1}, and for a simple
//! eigenvalue λ with unit eigenvector u of H(θ'), first-order perturbation theory
//! (dλ = uᵀ dH u) gives ∂λ/∂(log d_i) = −2 λ u_i², hence
//!
//! ∂ log λmax / ∂v_j = −2 (‖u_in,j‖² − ‖u_out,j‖²),
//!
//! minus twice the neuron balance of the eigenvector (the same quantity
//! [`crate::mlp::conserved::neuron_balances`] computes for parameters). At the flattest
//! point every neuron's top eigenvector is balanced. Along a path, d log λmax / d log α is
//! the same sum weighted by the path's exponents.
//!
//! Nothing here prints or does I/O; grids and searches run on rayon's pool, in a fixed
//! order, so results do not depend on the number of threads.

mod path;
mod scan;
mod search;
mod sweep;

pub use path::{OrbitPath, log_spaced, neuron_scale_symmetry};
pub use scan::{
    OrbitRecord, OrbitScan, PointSpectrum, SpectrumOptions, SpectrumRoute, point_spectrum,
    scan_orbit,
};
pub use search::{
    GoldenSection, NeuronScaleMinimum, NeuronScaleOptions, PathMinimum, SearchOptions,
    golden_section_minimum, log_lambda_max_gradient, minimize_neuron_scales, minimum_from_scan,
    path_minimum,
};
pub use sweep::loss_decrease_boundary;
