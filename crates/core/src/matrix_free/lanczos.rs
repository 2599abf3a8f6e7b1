//! Thick-restarted Lanczos with full reorthogonalisation for the extreme eigenvalues of
//! a symmetric operator.
//!
//! # Method
//!
//! The solver builds an orthonormal basis V = [v₁ … v_m] of a Krylov space of A. Each
//! step applies A to the newest basis vector and orthogonalises the product against the
//! whole basis (Gram–Schmidt, repeated when a pass cancels much of the vector: "twice is
//! enough"), so the basis stays orthogonal to working precision and no spurious "ghost"
//! copies of converged eigenvalues appear. The Gram–Schmidt coefficients form the newest
//! column of the projected matrix T = VᵀAV (tridiagonal for plain Lanczos, arrowhead plus
//! tridiagonal after a restart). The eigenpairs (θ, s) of the small T (Householder
//! tridiagonalisation and implicit QL) give Ritz pairs (θ, y = V·s) with the residual
//!
//! ‖A·y − θ·y‖ = β·|s_m|,
//!
//! where β is the norm of the newest product after orthogonalisation and s_m the last
//! entry of s (Golub & Van Loan, *Matrix Computations*, 4th ed., §10.1); residual
//! directions dropped at breakdowns and probes (below) are added to this bound. By
//! default a wanted pair is converged when its residual is at most `tolerance · ‖A‖`,
//! with ‖A‖ estimated by the largest |θ|. Since |λ − θ| ≤ ‖r‖ and, away from other
//! eigenvalues, |λ − θ| ≤ ‖r‖²/gap (the Kato–Temple inequality), the eigenvalue itself
//! is then usually far more accurate than the tolerance. When only the values matter,
//! [`Criterion::Eigenvalue`] stops on that second bound instead, with the gap taken from
//! the neighbouring Ritz values and their residuals ([`EigenPairs::error_bounds`]).
//!
//! When the basis reaches `max_basis` vectors the solver restarts thickly (Wu & Simon,
//! SIAM J. Matrix Anal. Appl. 22 (2000) 602–616): it keeps the wanted Ritz vectors and
//! some of their neighbours plus the pending residual direction and continues from there.
//! When β ≈ 0 the basis spans an invariant subspace (always the case once m equals the
//! dimension): its Ritz values are exact eigenvalues, and if more are wanted the solver
//! continues from a random vector orthogonal to the basis. Nothing is extrapolated: if
//! the dimension n is smaller than the number of wanted eigenvalues, n are returned.
//!
//! # Repeated eigenvalues
//!
//! A Krylov space from one start vector holds only one eigenvector of each distinct
//! eigenvalue, so single-vector Lanczos finds each multiple eigenvalue once. With
//! [`LanczosOptions::check_multiplicity`] (the default) the solver, after convergence,
//! locks the wanted Ritz vectors and probes the orthogonal complement from a fresh random
//! vector, for at least 10 steps and until the next Ritz value on each wanted side has
//! settled (its residual at most 5% of its distance to the wanted values, or within the
//! tolerance). If the wanted values changed (a further copy showed up) it probes again.
//! Like every Krylov method this is a strong heuristic, not a proof: a copy whose
//! component along the random probe vector is tiny can stay hidden. Turning the check off
//! saves the probe's applications (at least 10, often as many as the first phase) at the
//! price of possibly reporting a multiple eigenvalue once.
//!
//! # Memory and cost
//!
//! Memory: the basis of `max_basis` vectors of length n, allocated once
//! (8·n·`max_basis` bytes: with the default 40 vectors, used for up to 8 wanted
//! eigenvalues, 8.4 MB for n = 26,122 and 32 MB for n = 100,000), one work vector of
//! length n, a restart scratch of 512·`max_basis` numbers, a `max_basis`² projected
//! matrix, and the returned Ritz vectors (8·n bytes each). Nothing of size n×n.
//! Cost per step: one operator application, 4·n·(m + 2) flops of reorthogonalisation
//! (8·n·(m + 2) when the second pass is needed), and an m×m eigen-decomposition; the loop
//! allocates nothing of size n. A thick restart costs 2·n·m·k flops (k kept vectors).

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::symmetric_eigen;
use super::{
    SymmetricOperator, axpy, check_dim, check_tolerance, fill_gaussian, norm, orthogonalize, scale,
};
use crate::error::{Error, Result};

/// A probe's extra Ritz pair counts as settled when its residual is at most this fraction
/// of its distance to the nearest wanted Ritz value.
const PROBE_SETTLE: f64 = 0.05;

/// With the multiplicity check, the fraction of the residual bound a wanted pair must meet
/// before it is locked for a probe (and at the end).
const LOCK_FRACTION: f64 = 0.5;

/// Eigenvalue error bounds are never reported below this multiple of ε·‖A‖: the Ritz
/// values carry rounding errors of that size (from the products, the orthogonalisation
/// and the small eigen-solve) whatever the exact-arithmetic bound says.
const ROUNDING_FLOOR: f64 = 16.0 * f64::EPSILON;

/// Smallest tolerance [`Criterion::Eigenvalue`] accepts, 32ε: wanted pairs are driven to
/// half the bound, which must stay above the rounding floor 16ε·‖A‖ of the error bounds.
pub const MIN_EIGENVALUE_TOLERANCE: f64 = ROUNDING_FLOOR / LOCK_FRACTION;

/// Smallest number of operator applications in a multiplicity probe (fewer only when the
/// complement of the locked vectors has a smaller dimension).
const PROBE_MIN_STEPS: usize = 10;

/// What [`LanczosOptions::tolerance`] bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Criterion {
    /// The residual: ‖A·y − θ·y‖ ≤ tolerance·‖A‖ for every wanted pair, so the vectors are
    /// accurate as well as the values.
    #[default]
    Residual,
    /// The eigenvalue error bound of each wanted pair (see
    /// [`EigenPairs::error_bounds`]): min(‖r‖, ‖r‖²/gap) ≤ tolerance·‖A‖. Values come out
    /// to the tolerance with fewer applications; vectors only to about its square root.
    Eigenvalue,
}

/// Settings of [`lanczos`].
#[derive(Debug, Clone, PartialEq)]
pub struct LanczosOptions {
    /// Number of largest (algebraic) eigenvalues wanted.
    pub n_top: usize,
    /// Number of smallest (algebraic) eigenvalues wanted.
    pub n_bottom: usize,
    /// Relative tolerance: a pair (θ, y) is converged when its residual
    /// ‖A·y − θ·y‖ (or, with [`Criterion::Eigenvalue`], its eigenvalue error bound) is at
    /// most `tolerance` · ‖A‖ (‖A‖ estimated by the largest |Ritz value|). With
    /// `check_multiplicity`, wanted pairs are driven to half of it before they are locked,
    /// leaving room for the residual direction a probe drops.
    pub tolerance: f64,
    /// Whether `tolerance` bounds residuals (the default) or eigenvalue errors.
    pub criterion: Criterion,
    /// Largest number of basis vectors kept before a thick restart; `None` picks
    /// max(40, 2·(`n_top` + `n_bottom`) + 24). Must be at least `n_top` + `n_bottom` + 4.
    pub max_basis: Option<usize>,
    /// Budget of operator applications (for a Hessian: Hessian-vector products).
    pub max_applications: usize,
    /// After convergence, probe the complement of the wanted eigenvectors for further
    /// copies of repeated eigenvalues (see the module documentation).
    pub check_multiplicity: bool,
    /// Seed of the random start vector (ChaCha8).
    pub seed: u64,
}

impl Default for LanczosOptions {
    fn default() -> Self {
        LanczosOptions {
            n_top: 1,
            n_bottom: 0,
            tolerance: 1e-8,
            criterion: Criterion::Residual,
            max_basis: None,
            max_applications: 10_000,
            check_multiplicity: true,
            seed: 0,
        }
    }
}

/// Eigenvalue estimates with their vectors and residual norms, in the order documented
/// on the field of [`LanczosResult`] that holds them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EigenPairs {
    /// Ritz values.
    pub values: Vec<f64>,
    /// Unit Ritz vectors, one per value (length n each).
    pub vectors: Vec<Vec<f64>>,
    /// Residual norms ‖A·y − θ·y‖ from the Lanczos relation (β·|s_m|), one per value.
    pub residuals: Vec<f64>,
    /// Bounds on |λ − θ|, one per value: min(‖r‖, ‖r‖²/gap) (Kato–Temple), where gap is
    /// the distance from θ to the nearest neighbouring Ritz value moved towards θ by that
    /// value's own residual (so that it bounds the distance to the neighbouring
    /// eigenvalue), or ‖r‖ where no neighbour gives a positive gap; never below
    /// 16ε·‖A‖, the rounding error the values carry (an operator whose own products are
    /// less accurate than that adds its error on top). Like every Krylov estimate it
    /// assumes no eigenvalue is hidden between θ and its neighbours.
    pub error_bounds: Vec<f64>,
}

/// Result of [`lanczos`].
#[derive(Debug, Clone, PartialEq)]
pub struct LanczosResult {
    /// The largest eigenvalues, in descending order (`top.values[0]` is λmax).
    pub top: EigenPairs,
    /// The smallest eigenvalues, in ascending order (`bottom.values[0]` is λmin).
    pub bottom: EigenPairs,
    /// Number of operator applications used.
    pub n_applications: usize,
    /// Number of thick restarts (basis full) performed.
    pub n_restarts: usize,
    /// Number of multiplicity probes started (see [`LanczosOptions::check_multiplicity`]).
    pub n_probes: usize,
    /// Estimate of ‖A‖: the largest |Ritz value| seen last.
    pub norm_estimate: f64,
    /// Every wanted pair met the residual tolerance.
    pub converged: bool,
    /// The multiplicity probe confirmed the wanted values (or the whole space was spanned).
    pub multiplicity_checked: bool,
    /// The basis spanned the whole space: the values are all eigenvalues of A, with their
    /// multiplicities, up to rounding.
    pub exhausted: bool,
}

impl LanczosResult {
    /// The largest eigenvalue λmax, if the top end was requested.
    pub fn lambda_max(&self) -> Option<f64> {
        self.top.values.first().copied()
    }

    /// The smallest eigenvalue λmin, if the bottom end was requested.
    pub fn lambda_min(&self) -> Option<f64> {
        self.bottom.values.first().copied()
    }
}

/// Ritz pairs of the projected matrix, in ascending order of value.
struct Ritz {
    values: Vec<f64>,
    /// Column j is the eigenvector of T for `values[j]`.
    vectors: DMatrix<f64>,
    residuals: Vec<f64>,
    /// The part of each residual bound from dropped directions (it cannot shrink).
    dropped: Vec<f64>,
    /// Gap of each pair to its neighbours for the eigenvalue error bound (0: none).
    gaps: Vec<f64>,
    /// The same gaps from the neighbouring Ritz values alone (their residuals ignored):
    /// the largest the gaps can become unless the neighbours move away.
    open_gaps: Vec<f64>,
    /// The rounding floor of the error bounds: `ROUNDING_FLOOR` · max |θ|.
    floor: f64,
}

impl Ritz {
    /// Eigenvalue error bound of pair `c` from a residual bound `r` (see
    /// [`EigenPairs::error_bounds`]).
    fn error_bound(&self, c: usize, r: f64) -> f64 {
        kato_temple(r, self.gaps[c]).max(self.floor)
    }

    /// What the criterion compares with its bound for pair `c`.
    fn measure(&self, criterion: Criterion, c: usize) -> f64 {
        match criterion {
            Criterion::Residual => self.residuals[c],
            Criterion::Eigenvalue => self.error_bound(c, self.residuals[c]),
        }
    }
}

/// min(r, r²/gap), the eigenvalue error bound of a residual r; r itself without a gap.
fn kato_temple(r: f64, gap: f64) -> f64 {
    if gap > 0.0 { r.min(r * r / gap) } else { r }
}

/// Kato–Temple gaps of ascending Ritz values with residual bounds: for pair c, the
/// distance to θ_{c−1} + r_{c−1} below and to θ_{c+1} − r_{c+1} above (the nearest
/// values the neighbouring eigenvalues can take), whichever is smaller; the top pair has
/// no eigenvalue above it and the bottom pair none below. 0 when a needed neighbour is
/// missing (m = 1) or a neighbour's interval reaches θ_c.
fn kato_temple_gaps(values: &[f64], residuals: &[f64]) -> Vec<f64> {
    let m = values.len();
    (0..m)
        .map(|c| {
            if m < 2 {
                return 0.0;
            }
            let below = (c > 0).then(|| values[c] - (values[c - 1] + residuals[c - 1]));
            let above = (c + 1 < m).then(|| (values[c + 1] - residuals[c + 1]) - values[c]);
            let gap = match (below, above) {
                (Some(b), Some(a)) => b.min(a),
                (Some(b), None) => b,
                (None, Some(a)) => a,
                (None, None) => 0.0,
            };
            gap.max(0.0)
        })
        .collect()
}

/// Ritz pairs of the leading m×m block of T. The residual bound of pair j is
/// β·|s_{m,j}| + Σ_p |c_pᵀ s_j|: the first term is the Lanczos relation's residual, the
/// others are the residual directions dropped at earlier breakdowns and probes
/// (`defects`, coefficients over the basis columns), bounded by the triangle inequality.
fn ritz_pairs(t: &DMatrix<f64>, m: usize, beta: f64, defects: &[Vec<f64>]) -> Ritz {
    let (values, vectors) = symmetric_eigen(t.view((0, 0), (m, m)).clone_owned());
    let dropped: Vec<f64> = (0..m)
        .map(|c| {
            defects
                .iter()
                .map(|defect| {
                    (0..m)
                        .map(|i| defect[i] * vectors[(i, c)])
                        .sum::<f64>()
                        .abs()
                })
                .sum()
        })
        .collect();
    let residuals: Vec<f64> = (0..m)
        .map(|c| beta * vectors[(m - 1, c)].abs() + dropped[c])
        .collect();
    let gaps = kato_temple_gaps(&values, &residuals);
    let open_gaps = kato_temple_gaps(&values, &vec![0.0; m]);
    let floor = ROUNDING_FLOOR * values[0].abs().max(values[m - 1].abs());
    Ritz {
        values,
        vectors,
        residuals,
        dropped,
        gaps,
        open_gaps,
        floor,
    }
}

/// Records that the residual direction β·f̂ of basis column `last` is dropped.
fn drop_residual(defects: &mut Vec<Vec<f64>>, max_basis: usize, last: usize, beta: f64) {
    if beta != 0.0 {
        let mut defect = vec![0.0; max_basis];
        defect[last] = beta;
        defects.push(defect);
    }
}

/// Expresses the dropped residual directions in the rotated basis V·S (S = the Ritz
/// vectors at `indices`): c ← Sᵀc.
fn rotate_defects(defects: &mut [Vec<f64>], m: usize, ritz: &Ritz, indices: &[usize]) {
    for defect in defects.iter_mut() {
        let rotated: Vec<f64> = indices
            .iter()
            .map(|&idx| (0..m).map(|i| ritz.vectors[(i, idx)] * defect[i]).sum())
            .collect();
        defect.fill(0.0);
        defect[..rotated.len()].copy_from_slice(&rotated);
    }
}

/// Replaces the first k = `indices.len()` basis columns by V·S, S = the Ritz vectors of
/// T at `indices`, in place by row blocks (the scratch holds k·BLOCK numbers).
fn rotate_basis(
    basis: &mut [f64],
    n: usize,
    m: usize,
    ritz: &Ritz,
    indices: &[usize],
    scratch: &mut Vec<f64>,
) {
    const BLOCK: usize = 512;
    let k = indices.len();
    scratch.resize(k * BLOCK, 0.0);
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        scratch[..k * len].fill(0.0);
        for i in 0..m {
            let vi = &basis[i * n + start..i * n + start + len];
            for (j, &idx) in indices.iter().enumerate() {
                let c = ritz.vectors[(i, idx)];
                if c != 0.0 {
                    axpy(c, vi, &mut scratch[j * len..(j + 1) * len]);
                }
            }
        }
        for j in 0..k {
            basis[j * n + start..j * n + start + len]
                .copy_from_slice(&scratch[j * len..(j + 1) * len]);
        }
        start += len;
    }
}

/// Sets T to diag(θ at `indices`) and returns the number of kept columns.
fn reset_projection(t: &mut DMatrix<f64>, ritz: &Ritz, indices: &[usize]) -> usize {
    t.fill(0.0);
    for (j, &idx) in indices.iter().enumerate() {
        t[(j, j)] = ritz.values[idx];
    }
    indices.len()
}

/// Fills `w` with a random unit vector orthogonal to the first `m` basis columns;
/// returns false if nothing is left after orthogonalisation (the basis spans ℝⁿ).
fn random_orthogonal(
    rng: &mut ChaCha8Rng,
    basis: &[f64],
    n: usize,
    m: usize,
    w: &mut [f64],
    coeffs: &mut [f64],
) -> bool {
    fill_gaussian(rng, w);
    let before = norm(w);
    orthogonalize(basis, n, m, w, coeffs);
    let after = norm(w);
    if after <= 1e-8 * before || after == 0.0 {
        return false;
    }
    scale(1.0 / after, w);
    true
}

/// Largest and smallest eigenvalues of a symmetric operator, with vectors and residuals,
/// by thick-restarted Lanczos with full reorthogonalisation (see the module docs).
///
/// Errors: dimension 0, no eigenvalue wanted, a non-positive or non-finite tolerance,
/// `max_basis` below `n_top + n_bottom + 4`, or a zero application budget. Running out of
/// budget is not an error: the result then has `converged == false` and holds the current
/// estimates. An operator that returns a non-finite product stops the iteration at once
/// with `converged == false` and non-finite values.
pub fn lanczos<O: SymmetricOperator + ?Sized>(
    op: &O,
    options: &LanczosOptions,
) -> Result<LanczosResult> {
    let n = op.dim();
    check_dim(n)?;
    check_tolerance("tolerance", options.tolerance)?;
    let least = MIN_EIGENVALUE_TOLERANCE;
    if options.criterion == Criterion::Eigenvalue && options.tolerance < least {
        return Err(Error::invalid_value(
            "tolerance",
            options.tolerance,
            &format!(
                "with the eigenvalue criterion it must be at least {least:.1e} (32ε): \
                 eigenvalue error bounds do not go below the rounding floor 16ε·‖A‖"
            ),
        ));
    }
    let n_wanted = options.n_top + options.n_bottom;
    if n_wanted == 0 {
        return Err(Error::invalid_value(
            "n_top + n_bottom",
            0,
            "at least one eigenvalue must be wanted",
        ));
    }
    if options.max_applications == 0 {
        return Err(Error::invalid_value(
            "max_applications",
            0,
            "must be at least 1",
        ));
    }
    let requested_basis = options.max_basis.unwrap_or((2 * n_wanted + 24).max(40));
    if requested_basis < n_wanted + 4 {
        return Err(Error::invalid_value(
            "max_basis",
            requested_basis,
            "must be at least n_top + n_bottom + 4",
        ));
    }
    let max_basis = requested_basis.min(n);
    let tolerance = options.tolerance;
    let wanted_top = options.n_top.min(n);
    let wanted_bottom = options.n_bottom.min(n);
    // β at or below this fraction of the largest ‖A·v‖ seen means an invariant subspace.
    let breakdown_ratio = 1e-12f64.min(0.01 * tolerance);

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut basis = vec![0.0; n * max_basis];
    let mut w = vec![0.0; n];
    let mut coeffs = vec![0.0; max_basis];
    let mut scratch = Vec::new();
    let mut t = DMatrix::<f64>::zeros(max_basis, max_basis);

    fill_gaussian(&mut rng, &mut basis[..n]);
    let start_norm = norm(&basis[..n]);
    scale(1.0 / start_norm, &mut basis[..n]);
    let mut m = 1;

    let mut n_applications = 0;
    let mut n_restarts = 0;
    let mut n_probes = 0;
    let mut op_scale = 0.0f64;
    let mut probing = false;
    let mut reference: Option<(Vec<f64>, Vec<f64>)> = None;
    let mut converged = false;
    let mut multiplicity_checked = false;
    let mut exhausted = false;
    let mut defects: Vec<Vec<f64>> = Vec::new();
    let mut probe_start = 0;

    let ritz = loop {
        // Expand: apply A to the newest basis vector, orthogonalise, record T's column.
        let last = m - 1;
        op.apply(&basis[last * n..m * n], &mut w);
        n_applications += 1;
        op_scale = op_scale.max(norm(&w));
        orthogonalize(&basis[..m * n], n, m, &mut w, &mut coeffs);
        for i in 0..m {
            t[(i, last)] = coeffs[i];
            t[(last, i)] = coeffs[i];
        }
        let beta = norm(&w);
        if !beta.is_finite() {
            // The operator returned NaN or ±∞: stop and report it (the values are not finite).
            break ritz_pairs(&t, m, beta, &defects);
        }

        let ritz = ritz_pairs(&t, m, beta, &defects);
        let full = m == n;
        let breakdown = full || beta <= breakdown_ratio * op_scale;
        let norm_estimate = ritz.values[0].abs().max(ritz.values[m - 1].abs());

        // While probing, one more pair on each wanted side must settle.
        let extra = usize::from(probing);
        let need_top = if wanted_top > 0 {
            (wanted_top + extra).min(n)
        } else {
            0
        };
        let need_bottom = if wanted_bottom > 0 {
            (wanted_bottom + extra).min(n)
        } else {
            0
        };
        let enough = m >= (need_top + need_bottom).min(n);
        let bound = tolerance * norm_estimate;
        // With the multiplicity check, wanted pairs are only locked at half the tolerance:
        // the residual dropped at a probe then leaves room for the rest of the bound.
        let wanted_bound = if options.check_multiplicity {
            LOCK_FRACTION * bound
        } else {
            bound
        };
        // The probe's extra pair on each side only has to be settled: its residual small
        // against its distance to the nearest wanted value, so that it is not a copy of one.
        let settled = |index: usize, wanted_neighbour: usize| {
            let gap = (ritz.values[wanted_neighbour] - ritz.values[index]).abs();
            ritz.residuals[index] <= bound.max(PROBE_SETTLE * gap)
        };
        let top_extra = (need_top > wanted_top && m >= need_top).then(|| m - need_top);
        let bottom_extra =
            (need_bottom > wanted_bottom && m >= need_bottom).then(|| need_bottom - 1);
        // A probe runs some steps first, so that a hidden copy far from the rest of the
        // spectrum has been amplified before "settled" can be judged.
        let probe_long_enough = !probing
            || n_applications - probe_start
                >= PROBE_MIN_STEPS.min(n.saturating_sub(wanted_top + wanted_bottom));
        let criterion = options.criterion;
        let top_ok = (m - need_top.min(m)..m).all(|i| match top_extra {
            Some(extra_index) if i == extra_index => settled(i, i + 1),
            _ => ritz.measure(criterion, i) <= wanted_bound,
        });
        let bottom_ok = (0..need_bottom.min(m)).all(|i| match bottom_extra {
            Some(extra_index) if i == extra_index => settled(i, i - 1),
            _ => ritz.measure(criterion, i) <= wanted_bound,
        });

        if full {
            converged = true;
            exhausted = true;
            multiplicity_checked = true;
            break ritz;
        }
        if enough && probe_long_enough && top_ok && bottom_ok {
            if !options.check_multiplicity {
                converged = true;
                break ritz;
            }
            let top_values: Vec<f64> = ritz.values[m - wanted_top..]
                .iter()
                .rev()
                .copied()
                .collect();
            let bottom_values: Vec<f64> = ritz.values[..wanted_bottom].to_vec();
            if let Some((ref_top, ref_bottom)) = &reference {
                let same = |a: &[f64], b: &[f64]| {
                    a.iter()
                        .zip(b)
                        .all(|(x, y)| (x - y).abs() <= 10.0 * bound + 1e-14 * norm_estimate)
                };
                if same(ref_top, &top_values) && same(ref_bottom, &bottom_values) {
                    converged = true;
                    multiplicity_checked = true;
                    break ritz;
                }
            }
            if n_applications >= options.max_applications {
                converged = true;
                break ritz;
            }
            // Probe: lock the wanted Ritz vectors, continue from a fresh random direction.
            reference = Some((top_values, bottom_values));
            probing = true;
            n_probes += 1;
            probe_start = n_applications;
            let locked: Vec<usize> = (0..wanted_bottom).chain(m - wanted_top..m).collect();
            drop_residual(&mut defects, max_basis, last, beta);
            rotate_defects(&mut defects, m, &ritz, &locked);
            rotate_basis(&mut basis, n, m, &ritz, &locked, &mut scratch);
            m = reset_projection(&mut t, &ritz, &locked);
            if !random_orthogonal(&mut rng, &basis, n, m, &mut w, &mut coeffs) {
                converged = true;
                exhausted = true;
                multiplicity_checked = true;
                let kept = ritz_pairs(&t, m, 0.0, &defects);
                break kept;
            }
            basis[m * n..(m + 1) * n].copy_from_slice(&w);
            m += 1;
            continue;
        }
        // A wanted pair whose dropped residual alone exceeds its bound can never meet it
        // (rare: it takes copies mixing locked vectors); stop rather than spend the budget.
        // For eigenvalue errors the gap can still widen as the neighbours converge, so the
        // dropped part is judged with the widest gap the neighbours allow.
        let wanted_range = (0..wanted_bottom.min(m)).chain(m - wanted_top.min(m)..m);
        let dropped_measure = |i: usize| match criterion {
            Criterion::Residual => ritz.dropped[i],
            Criterion::Eigenvalue => kato_temple(ritz.dropped[i], ritz.open_gaps[i]),
        };
        let stuck = probing
            && wanted_range
                .clone()
                .any(|i| dropped_measure(i) > wanted_bound);
        if stuck {
            converged = wanted_range
                .clone()
                .all(|i| ritz.measure(criterion, i) <= bound);
            break ritz;
        }
        if n_applications >= options.max_applications {
            break ritz;
        }

        // Next direction: the residual, or after breakdown a fresh random one.
        if breakdown {
            if !random_orthogonal(&mut rng, &basis, n, m, &mut w, &mut coeffs) {
                converged = top_ok && bottom_ok;
                exhausted = true;
                break ritz;
            }
            drop_residual(&mut defects, max_basis, last, beta);
        } else {
            scale(1.0 / beta, &mut w);
        }

        if m == max_basis {
            // Thick restart: keep the wanted pairs and about half the free room around them.
            let free = max_basis - 1 - (need_top + need_bottom);
            let spare = free / 2;
            let (spare_top, spare_bottom) = match (need_top > 0, need_bottom > 0) {
                (true, true) => (spare - spare / 2, spare / 2),
                (true, false) => (spare, 0),
                _ => (0, spare),
            };
            let keep_top = need_top + spare_top;
            let keep_bottom = need_bottom + spare_bottom;
            let kept: Vec<usize> = (0..keep_bottom).chain(m - keep_top..m).collect();
            rotate_defects(&mut defects, m, &ritz, &kept);
            rotate_basis(&mut basis, n, m, &ritz, &kept, &mut scratch);
            m = reset_projection(&mut t, &ritz, &kept);
            n_restarts += 1;
        }
        basis[m * n..(m + 1) * n].copy_from_slice(&w);
        m += 1;
    };

    // Ritz vectors of the basis the final Ritz pairs belong to (its first `size` columns).
    let size = ritz.values.len();
    let ritz_vector = |idx: usize| {
        let mut y = vec![0.0; n];
        for i in 0..size {
            axpy(ritz.vectors[(i, idx)], &basis[i * n..(i + 1) * n], &mut y);
        }
        y
    };
    let pairs = |indices: Vec<usize>| EigenPairs {
        values: indices.iter().map(|&i| ritz.values[i]).collect(),
        vectors: indices.iter().map(|&i| ritz_vector(i)).collect(),
        residuals: indices.iter().map(|&i| ritz.residuals[i]).collect(),
        error_bounds: indices
            .iter()
            .map(|&i| ritz.error_bound(i, ritz.residuals[i]))
            .collect(),
    };
    let top = pairs((size - wanted_top.min(size)..size).rev().collect());
    let bottom = pairs((0..wanted_bottom.min(size)).collect());
    let norm_estimate = ritz.values[0].abs().max(ritz.values[size - 1].abs());
    Ok(LanczosResult {
        top,
        bottom,
        n_applications,
        n_restarts,
        n_probes,
        norm_estimate,
        converged,
        multiplicity_checked,
        exhausted,
    })
}
