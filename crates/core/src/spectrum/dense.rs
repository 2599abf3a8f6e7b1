//! The dense symmetric eigen-solver behind [`SymmetricEigen`](super::SymmetricEigen) and
//! the Krylov solvers' projected matrices.
//!
//! 1. The matrix is scaled by a power of two (exact) when its largest entry is far from 1,
//!    so that no sum of squares below can overflow or underflow.
//! 2. Householder reduction to tridiagonal form, A = Q·T·Qᵀ (Golub & Van Loan, *Matrix
//!    Computations*, 4th ed., §8.3.1), on the lower triangle of the column-major array.
//!    Step k needs p = A₂₂·v for its reflector v and then the rank-two update
//!    A₂₂ ← A₂₂ − v·wᵀ − w·vᵀ with w = τp − ½τ²(pᵀv)·v. Both are memory-bound, so they are
//!    fused: the update of step k is applied column by column in the same pass that forms
//!    the product A₂₂·v of step k + 1, reading the trailing matrix once per step instead of
//!    twice.
//! 3. With eigenvectors, Q = H_0⋯H_{n−2} is formed explicitly from the reflectors in
//!    blocks of 64 in the compact WY form I − V·T·Vᵀ (Schreiber & Van Loan, SIAM J. Sci.
//!    Stat. Comput. 10 (1989) 53–57; Golub & Van Loan §5.1.7), applied by matrix products
//!    (`matrixmultiply`) to fixed chunks of Q's columns in parallel: ≈ 4n³/3 flops at
//!    matrix-product speed.
//! 4. The implicit QL algorithm with Wilkinson shifts on T (Bowdler, Martin, Reinsch &
//!    Wilkinson, Numer. Math. 11 (1968) 293–306; Golub & Van Loan §8.3.5). Without
//!    eigenvectors this step costs O(n²), so the eigenvalues-only path costs the ≈ 4n³/3
//!    flops of the reduction. With eigenvectors, QL's ≈ n²/2·(1–2) Givens rotations (3n³–6n³ flops)
//!    are applied to Q. They depend on T only, so they are recorded and applied in batches
//!    of sweeps (2¹⁵ rotations) to bands of 32 rows of Q, each band stored contiguously so
//!    that it stays in cache for the whole batch, with the column shared by consecutive
//!    rotations of a sweep held in registers, and the bands run in parallel. Every row sees
//!    the rotations in the order QL made them, so the result is that of applying them one
//!    at a time, bit for bit. Neither step's result depends on the thread count (Q's column
//!    chunks and the row bands are fixed by n).
//! 5. If QL has not converged after 30·n sweeps (never seen; it converges cubically), the
//!    cyclic Jacobi method (Golub & Van Loan §8.5.3), which always converges, is run on the
//!    matrix instead, so a result is never silently unconverged.
//!
//! Only the lower triangle of the input is read. The results are unsorted.
//!
//! Costs: with eigenvectors about 2.3 times the eigenvalues-only time at n = 1000–2000 on
//! one thread (the reduction and the rotations take most of it, forming Q about a tenth),
//! less on two threads since steps 3 and 4 run in parallel. The reduction itself is unblocked
//! (level-2, fused) and sequential, not the blocked level-3 form of LAPACK's `dsytrd`, so
//! it bounds both paths; the rotations still cost ≈ 6n³ flops where a divide-and-conquer
//! or MRRR tridiagonal eigensolver would need fewer.

use crate::matrix_free::dot;
use crate::mlp::linalg::{View, gemm};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// QL sweeps allowed per eigenvalue on average before falling back to Jacobi.
const QL_SWEEPS_PER_VALUE: usize = 30;

/// Largest number of cyclic Jacobi sweeps of the fallback (quadratic convergence needs
/// about ten).
const MAX_JACOBI_SWEEPS: usize = 100;

/// Reflectors per block of the compact WY form while Q is formed.
const REFLECTOR_BLOCK: usize = 64;

/// Columns of Q per parallel task while a block of reflectors is applied.
const Q_COLUMN_CHUNK: usize = 128;

/// Rows per band of Q while the QL rotations are applied (a band's carried column is
/// four AVX-512 or eight AVX2 registers; a band of n = 3000 columns is 750 KiB, in L2).
const BAND_ROWS: usize = 32;

/// Givens rotations recorded before they are applied to Q (16 bytes each: 512 KiB).
const ROTATION_BATCH: usize = 1 << 15;

/// From this dimension on, Q's columns (reduction) and row bands (QL) are processed on
/// rayon's pool.
const PARALLEL_MIN_DIMENSION: usize = 128;

/// Eigenvalues (unsorted) and, if `want_vectors`, orthonormal eigenvectors as columns of a
/// symmetric matrix given by its lower triangle. A non-finite entry gives NaN values (and
/// vectors); callers that must not see NaN validate first.
pub(crate) fn decompose(
    matrix: DMatrix<f64>,
    want_vectors: bool,
) -> (Vec<f64>, Option<DMatrix<f64>>) {
    let n = matrix.nrows();
    debug_assert_eq!(n, matrix.ncols());
    let mut a = matrix;
    if n == 0 {
        return (Vec::new(), want_vectors.then(|| DMatrix::zeros(0, 0)));
    }
    let mut max_abs = 0.0f64;
    for j in 0..n {
        for &x in &a.as_slice()[j * n + j..(j + 1) * n] {
            if !x.is_finite() {
                return (
                    vec![f64::NAN; n],
                    want_vectors.then(|| DMatrix::from_element(n, n, f64::NAN)),
                );
            }
            max_abs = max_abs.max(x.abs());
        }
    }
    if max_abs == 0.0 {
        return (vec![0.0; n], want_vectors.then(|| DMatrix::identity(n, n)));
    }
    let scaling = PowerOfTwoScaling::for_max(max_abs);
    scaling.apply(a.as_mut_slice());

    let (mut values, vectors) = match tridiagonal_eigen(&a, want_vectors) {
        Some(result) => result,
        None => jacobi_eigen(&a, want_vectors),
    };
    for value in &mut values {
        *value = scaling.undo(*value);
    }
    (values, vectors)
}

/// Multiplication by 2^−e in two exactly representable factors, and its inverse.
struct PowerOfTwoScaling {
    exponent: i32,
}

impl PowerOfTwoScaling {
    /// No scaling for entries within [2^−400, 2^400]; otherwise bring the largest near 1.
    fn for_max(max_abs: f64) -> Self {
        let exponent = if (2f64.powi(-400)..=2f64.powi(400)).contains(&max_abs) {
            0
        } else {
            max_abs.log2().floor() as i32
        };
        PowerOfTwoScaling { exponent }
    }

    fn factors(e: i32) -> (f64, f64) {
        (2f64.powi(e / 2), 2f64.powi(e - e / 2))
    }

    fn apply(&self, data: &mut [f64]) {
        if self.exponent != 0 {
            let (f, g) = Self::factors(-self.exponent);
            for x in data {
                *x = *x * f * g;
            }
        }
    }

    fn undo(&self, x: f64) -> f64 {
        let (f, g) = Self::factors(self.exponent);
        x * f * g
    }
}

/// Householder tridiagonalisation of the lower triangle of `a` (n×n, column-major).
/// Returns (diagonal, off-diagonal, reflectors) where the reflectors are stored as
/// (τ_k, v_k) with v_k of length n − k − 1 and v_k[0] = 1, H_k = I − τ_k·v_k·v_kᵀ acting on
/// rows k + 1.., and A = H_0⋯H_{n−2}·T·H_{n−2}⋯H_0.
struct Tridiagonal {
    diagonal: Vec<f64>,
    off_diagonal: Vec<f64>,
    taus: Vec<f64>,
    /// Reflector k occupies `reflectors[offsets[k]..offsets[k] + n − k − 1]`.
    reflectors: Vec<f64>,
    offsets: Vec<usize>,
}

/// Builds the reflector of `x` (dlarfg): returns (τ, β, v) with (I − τvvᵀ)x = β·e₁,
/// v[0] = 1. τ = 0 (identity) when x[1..] is zero.
fn reflector(x: &[f64]) -> (f64, f64, Vec<f64>) {
    let alpha = x[0];
    let tail_norm = x[1..].iter().map(|t| t * t).sum::<f64>().sqrt();
    let mut v = vec![0.0; x.len()];
    v[0] = 1.0;
    if tail_norm == 0.0 {
        return (0.0, alpha, v);
    }
    let beta = -alpha.hypot(tail_norm).copysign(alpha);
    let tau = (beta - alpha) / beta;
    let scale = 1.0 / (alpha - beta);
    for (vi, xi) in v[1..].iter_mut().zip(&x[1..]) {
        *vi = xi * scale;
    }
    (tau, beta, v)
}

fn tridiagonalise(a: &DMatrix<f64>) -> Tridiagonal {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2 (checked just above).
        return unsafe { tridiagonalise_avx2(a) };
    }
    tridiagonalise_body(a)
}

/// [`tridiagonalise`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tridiagonalise_avx2(a: &DMatrix<f64>) -> Tridiagonal {
    tridiagonalise_body(a)
}

#[inline(always)]
fn tridiagonalise_body(a: &DMatrix<f64>) -> Tridiagonal {
    let n = a.nrows();
    let mut a = a.as_slice().to_vec();
    let mut diagonal = vec![0.0; n];
    let mut off_diagonal = vec![0.0; n.saturating_sub(1)];
    let mut taus = Vec::with_capacity(n);
    let mut reflectors = Vec::with_capacity(n * (n.saturating_sub(1)) / 2);
    let mut offsets = Vec::with_capacity(n);
    // The pending rank-two update (v, w) of the previous step, on rows/columns `start..n`.
    let mut pending: Option<(usize, Vec<f64>, Vec<f64>)> = None;

    for k in 0..n {
        // Bring column k (rows k..n) up to date.
        if let Some((start, v, w)) = &pending {
            let (vk, wk) = (v[k - start], w[k - start]);
            let column = &mut a[k * n + k..(k + 1) * n];
            for ((x, vi), wi) in column.iter_mut().zip(&v[k - start..]).zip(&w[k - start..]) {
                *x -= vi * wk + wi * vk;
            }
        }
        diagonal[k] = a[k * n + k];
        if k + 1 == n {
            break;
        }
        let (tau, beta, u) = reflector(&a[k * n + k + 1..(k + 1) * n]);
        off_diagonal[k] = beta;

        // One pass over columns j > k: apply the pending update, then accumulate p = A₂₂·u
        // from the lower triangle (p_j += a_jj·u_j + Σ_{i>j} a_ij·u_i, p_i += a_ij·u_j).
        let start = k + 1;
        let m = n - start;
        let mut p = vec![0.0; m];
        if tau != 0.0 || pending.is_some() {
            for j in start..n {
                let column = &mut a[j * n + j..(j + 1) * n];
                if let Some((s, v, w)) = &pending {
                    let (vj, wj) = (v[j - s], w[j - s]);
                    for ((x, vi), wi) in column.iter_mut().zip(&v[j - s..]).zip(&w[j - s..]) {
                        *x -= vi * wj + wi * vj;
                    }
                }
                if tau != 0.0 {
                    let uj = u[j - start];
                    let (p_head, p_tail) = p[j - start..].split_at_mut(1);
                    let (x_tail, u_tail) = (&column[1..], &u[j - start + 1..]);
                    p_head[0] += column[0] * uj + dot(x_tail, u_tail);
                    for (pi, x) in p_tail.iter_mut().zip(x_tail) {
                        *pi += x * uj;
                    }
                }
            }
        }
        pending = if tau != 0.0 {
            for pi in &mut p {
                *pi *= tau;
            }
            let pv: f64 = p.iter().zip(&u).map(|(x, y)| x * y).sum();
            let half = 0.5 * tau * pv;
            let w: Vec<f64> = p.iter().zip(&u).map(|(pi, ui)| pi - half * ui).collect();
            Some((start, u.clone(), w))
        } else {
            None
        };
        taus.push(tau);
        offsets.push(reflectors.len());
        reflectors.extend_from_slice(&u);
    }
    Tridiagonal {
        diagonal,
        off_diagonal,
        taus,
        reflectors,
        offsets,
    }
}

impl Tridiagonal {
    /// Q = H_0⋯H_{n−2}, formed from the last reflector back in blocks of
    /// [`REFLECTOR_BLOCK`]: H_lo⋯H_{hi−1} = I − V·T·Vᵀ (the compact WY form, Schreiber &
    /// Van Loan, SIAM J. Sci. Stat. Comput. 10 (1989) 53–57; Golub & Van Loan §5.1.7) with
    /// V the block's reflectors as columns and T upper triangular, applied to the trailing
    /// rows and columns of Q as Q ← Q − V·(T·(Vᵀ·Q)) by matrix products. The columns of Q are
    /// independent here, so fixed chunks of them run in parallel.
    fn orthogonal_factor(&self) -> DMatrix<f64> {
        let n = self.diagonal.len();
        let mut q = DMatrix::<f64>::identity(n, n);
        let data = q.as_mut_slice();
        let mut high = self.taus.len();
        while high > 0 {
            let low = high.saturating_sub(REFLECTOR_BLOCK);
            let (v, t) = self.block_reflector(low, high);
            let width = high - low;
            // Rows and columns low + 1.. of Q; its columns ≤ low are still those of I.
            let rows = n - low - 1;
            let trailing = &mut data[(low + 1) * n..];
            let apply = |chunk: &mut [f64]| {
                let cols = chunk.len() / n;
                let block = chunk;
                // Wᵀ = Qᵀ·V (cols × width, row-major), then Wᵀ ← Wᵀ·Tᵀ, then Qᵀ ← Qᵀ − Wᵀ·Vᵀ,
                // all on the transposed (row-major) view of the column-major chunk.
                let mut w = vec![0.0; cols * width];
                let q_t = View {
                    data: &block[low + 1..],
                    row_stride: n,
                    col_stride: 1,
                };
                let v_view = View {
                    data: &v,
                    row_stride: 1,
                    col_stride: rows,
                };
                gemm(cols, rows, width, 1.0, q_t, v_view, 0.0, &mut w, width);
                let mut wt = vec![0.0; cols * width];
                let t_transposed = View::rows(&t, width);
                gemm(
                    cols,
                    width,
                    width,
                    1.0,
                    View::rows(&w, width),
                    t_transposed,
                    0.0,
                    &mut wt,
                    width,
                );
                let v_transposed = View {
                    data: &v,
                    row_stride: rows,
                    col_stride: 1,
                };
                gemm(
                    cols,
                    width,
                    rows,
                    -1.0,
                    View::rows(&wt, width),
                    v_transposed,
                    1.0,
                    &mut block[low + 1..],
                    n,
                );
            };
            let chunk_len = Q_COLUMN_CHUNK * n;
            if n >= PARALLEL_MIN_DIMENSION {
                trailing.par_chunks_mut(chunk_len).for_each(apply);
            } else {
                trailing.chunks_mut(chunk_len).for_each(apply);
            }
            high = low;
        }
        q
    }

    /// The compact WY factors of H_low⋯H_{high−1} on rows low + 1..n: V (column-major,
    /// (n − low − 1) × b, b = high − low, column i is reflector low + i below its i zeros)
    /// and T (column-major b × b, upper triangular) with T_ii = τ_i and
    /// T[..i, i] = −τ_i·T[..i, ..i]·(V[:, ..i]ᵀ·v_i) (LAPACK's `dlarft`, forward, columnwise).
    fn block_reflector(&self, low: usize, high: usize) -> (Vec<f64>, Vec<f64>) {
        let n = self.diagonal.len();
        let rows = n - low - 1;
        let width = high - low;
        let mut v = vec![0.0; rows * width];
        for i in 0..width {
            let k = low + i;
            let len = n - k - 1;
            v[i * rows + i..(i + 1) * rows]
                .copy_from_slice(&self.reflectors[self.offsets[k]..self.offsets[k] + len]);
        }
        let mut t = vec![0.0; width * width];
        let mut z = vec![0.0; width];
        for i in 0..width {
            let tau = self.taus[low + i];
            t[i * width + i] = tau;
            if tau == 0.0 {
                continue;
            }
            let vi = &v[i * rows + i..(i + 1) * rows];
            for (p, zp) in z[..i].iter_mut().enumerate() {
                *zp = -tau * dot(&v[p * rows + i..(p + 1) * rows], vi);
            }
            for r in 0..i {
                let mut sum = 0.0;
                for (p, zp) in z[..i].iter().enumerate().skip(r) {
                    sum += t[p * width + r] * zp;
                }
                t[i * width + r] = sum;
            }
        }
        (v, t)
    }
}

/// Reduction plus QL; `None` if QL did not converge.
fn tridiagonal_eigen(
    a: &DMatrix<f64>,
    want_vectors: bool,
) -> Option<(Vec<f64>, Option<DMatrix<f64>>)> {
    let tri = tridiagonalise(a);
    let mut z = want_vectors.then(|| tri.orthogonal_factor());
    let mut d = tri.diagonal;
    let mut e = tri.off_diagonal;
    e.push(0.0);
    tridiagonal_ql(&mut d, &mut e, z.as_mut()).then_some((d, z))
}

/// Implicit QL with Wilkinson shifts on the symmetric tridiagonal matrix with diagonal
/// `d` and off-diagonal `e` (`e[i]` couples rows i and i + 1; `e[m − 1]` is ignored). On
/// return `d` holds the eigenvalues (unsorted) and the columns of `z`, if given, have been
/// rotated by the accumulated Givens rotations (start with Q to get the eigenvectors of
/// Q·T·Qᵀ). Returns whether every eigenvalue converged.
///
/// The rotations depend on `d` and `e` only, so they are recorded and applied to `z` in
/// batches of sweeps by [`RowBands`], each row seeing them in the order QL made them.
pub(crate) fn tridiagonal_ql(d: &mut [f64], e: &mut [f64], z: Option<&mut DMatrix<f64>>) -> bool {
    let m = d.len();
    if m == 0 {
        return true;
    }
    e[m - 1] = 0.0;
    let mut budget = QL_SWEEPS_PER_VALUE * m;
    // Below this an off-diagonal entry is negligible in absolute terms (and its square
    // would underflow).
    let tiny = f64::MIN_POSITIVE / f64::EPSILON;
    let mut bands = z.as_deref().map(RowBands::from_matrix);
    let mut sweeps = Vec::new();
    let mut rotations = Vec::with_capacity(ROTATION_BATCH + m);
    let mut converged = true;
    'values: for l in 0..m {
        loop {
            // The first negligible off-diagonal entry at or after l.
            let mut end = l;
            while end + 1 < m {
                let size = d[end].abs() + d[end + 1].abs();
                if e[end].abs() <= f64::EPSILON * size || e[end].abs() <= tiny {
                    break;
                }
                end += 1;
            }
            if end == l {
                break;
            }
            if budget == 0 {
                converged = false;
                break 'values;
            }
            budget -= 1;

            // Wilkinson shift from the leading 2×2 block, then chase the bulge upwards.
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[end] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            let first = rotations.len();
            for i in (l..end).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[end] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                if bands.is_some() {
                    rotations.push((c, s));
                }
            }
            if rotations.len() > first {
                sweeps.push(Sweep {
                    end,
                    count: rotations.len() - first,
                });
            }
            if let Some(bands) = bands.as_mut()
                && rotations.len() >= ROTATION_BATCH
            {
                bands.apply(&sweeps, &rotations);
                sweeps.clear();
                rotations.clear();
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[end] = 0.0;
        }
    }
    if let (Some(mut bands), Some(z)) = (bands, z) {
        bands.apply(&sweeps, &rotations);
        bands.copy_to(z);
    }
    converged && d.iter().all(|x| x.is_finite())
}

/// One QL sweep's record: its `count` rotations (c, s), the k-th of which rotates columns
/// i = `end` − 1 − k and i + 1 as (z_i, z_{i+1}) ← (c·z_i − s·z_{i+1}, s·z_i + c·z_{i+1}).
struct Sweep {
    end: usize,
    count: usize,
}

/// A matrix stored as bands of [`BAND_ROWS`] rows, each band column-major and contiguous
/// (the last band padded with zero rows), so that a band of Q stays in cache while a batch
/// of sweeps is applied to it. Column rotations act on each row independently, so the bands
/// are rotated in parallel and every entry is the same whatever the thread count.
struct RowBands {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl RowBands {
    fn from_matrix(z: &DMatrix<f64>) -> Self {
        let (rows, cols) = z.shape();
        let n_bands = rows.div_ceil(BAND_ROWS);
        let mut data = vec![0.0; n_bands * BAND_ROWS * cols];
        for (j, column) in z.as_slice().chunks_exact(rows.max(1)).enumerate() {
            for (b, part) in column.chunks(BAND_ROWS).enumerate() {
                let at = (b * cols + j) * BAND_ROWS;
                data[at..at + part.len()].copy_from_slice(part);
            }
        }
        RowBands { rows, cols, data }
    }

    fn copy_to(&self, z: &mut DMatrix<f64>) {
        let (rows, cols) = (self.rows, self.cols);
        for (j, column) in z.as_mut_slice().chunks_exact_mut(rows.max(1)).enumerate() {
            for (b, part) in column.chunks_mut(BAND_ROWS).enumerate() {
                let at = (b * cols + j) * BAND_ROWS;
                part.copy_from_slice(&self.data[at..at + part.len()]);
            }
        }
    }

    fn apply(&mut self, sweeps: &[Sweep], rotations: &[(f64, f64)]) {
        if rotations.is_empty() || self.data.is_empty() {
            return;
        }
        let band_len = BAND_ROWS * self.cols;
        let apply = |band: &mut [f64]| rotate_band(band, sweeps, rotations);
        if self.rows >= PARALLEL_MIN_DIMENSION {
            self.data.par_chunks_mut(band_len).for_each(apply);
        } else {
            self.data.chunks_mut(band_len).for_each(apply);
        }
    }
}

/// Applies `sweeps` in order to one band of [`RowBands`].
fn rotate_band(band: &mut [f64], sweeps: &[Sweep], rotations: &[(f64, f64)]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the processor supports AVX-512F (checked just above).
        return unsafe { rotate_band_avx512(band, sweeps, rotations) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2 (checked just above).
        return unsafe { rotate_band_avx2(band, sweeps, rotations) };
    }
    rotate_band_body(band, sweeps, rotations)
}

/// [`rotate_band`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn rotate_band_avx512(band: &mut [f64], sweeps: &[Sweep], rotations: &[(f64, f64)]) {
    rotate_band_body(band, sweeps, rotations)
}

/// [`rotate_band`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rotate_band_avx2(band: &mut [f64], sweeps: &[Sweep], rotations: &[(f64, f64)]) {
    rotate_band_body(band, sweeps, rotations)
}

/// Column i + 1 of a sweep's rotation k is column i of rotation k − 1, so it is carried
/// in registers: each rotation reads one column of the band and writes one.
#[inline(always)]
fn rotate_band_body(band: &mut [f64], sweeps: &[Sweep], rotations: &[(f64, f64)]) {
    let column = |j: usize| j * BAND_ROWS..(j + 1) * BAND_ROWS;
    let mut first = 0;
    for sweep in sweeps {
        let chain = &rotations[first..first + sweep.count];
        first += sweep.count;
        let mut carry = [0.0; BAND_ROWS];
        carry.copy_from_slice(&band[column(sweep.end)]);
        for (k, &(c, s)) in chain.iter().enumerate() {
            let i = sweep.end - 1 - k;
            let (lower, upper) = band[i * BAND_ROWS..(i + 2) * BAND_ROWS].split_at_mut(BAND_ROWS);
            for ((zl, zu), y) in lower.iter().zip(upper.iter_mut()).zip(carry.iter_mut()) {
                let x = *zl;
                *zu = s * x + c * *y;
                *y = c * x - s * *y;
            }
        }
        band[column(sweep.end - sweep.count)].copy_from_slice(&carry);
    }
}

/// Cyclic Jacobi on the symmetrised lower triangle of `a` (the fallback; slow but always
/// convergent). Eigenvalues unsorted.
fn jacobi_eigen(a: &DMatrix<f64>, want_vectors: bool) -> (Vec<f64>, Option<DMatrix<f64>>) {
    let n = a.nrows();
    let mut b = DMatrix::from_fn(n, n, |i, j| if i >= j { a[(i, j)] } else { a[(j, i)] });
    let mut vectors = DMatrix::<f64>::identity(n, n);
    for _ in 0..MAX_JACOBI_SWEEPS {
        let mut rotated = false;
        for p in 0..n {
            for q in (p + 1)..n {
                let b_pq = b[(p, q)];
                if b_pq == 0.0 {
                    continue;
                }
                let (b_pp, b_qq) = (b[(p, p)], b[(q, q)]);
                if b_pq.abs() <= 0.5 * f64::EPSILON * (b_pp.abs() * b_qq.abs()).sqrt()
                    || b_pq.abs() < f64::MIN_POSITIVE
                {
                    b[(p, q)] = 0.0;
                    b[(q, p)] = 0.0;
                    continue;
                }
                rotated = true;
                // t = tan of the rotation angle, the smaller root of t² + 2θt − 1 = 0.
                let theta = (b_qq - b_pp) / (2.0 * b_pq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + theta.hypot(1.0))
                };
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                for k in 0..n {
                    if k != p && k != q {
                        let (b_kp, b_kq) = (b[(k, p)], b[(k, q)]);
                        let new_kp = c * b_kp - s * b_kq;
                        let new_kq = s * b_kp + c * b_kq;
                        b[(k, p)] = new_kp;
                        b[(p, k)] = new_kp;
                        b[(k, q)] = new_kq;
                        b[(q, k)] = new_kq;
                    }
                }
                b[(p, p)] = b_pp - t * b_pq;
                b[(q, q)] = b_qq + t * b_pq;
                b[(p, q)] = 0.0;
                b[(q, p)] = 0.0;
                for k in 0..n {
                    let (v_kp, v_kq) = (vectors[(k, p)], vectors[(k, q)]);
                    vectors[(k, p)] = c * v_kp - s * v_kq;
                    vectors[(k, q)] = s * v_kp + c * v_kq;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    (
        (0..n).map(|k| b[(k, k)]).collect(),
        want_vectors.then_some(vectors),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn residual_and_orthogonality(
        a: &DMatrix<f64>,
        values: &[f64],
        v: &DMatrix<f64>,
    ) -> (f64, f64) {
        let n = a.nrows();
        let residual = (0..n)
            .map(|k| (a * v.column(k) - v.column(k) * values[k]).norm())
            .fold(0.0, f64::max);
        let orthogonality = (v.transpose() * v - DMatrix::identity(n, n)).amax();
        (residual, orthogonality)
    }

    fn lower_to_full(a: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| {
            if i >= j { a[(i, j)] } else { a[(j, i)] }
        })
    }

    #[test]
    fn jacobi_fallback_agrees_with_ql() {
        let n = 12;
        let a = DMatrix::from_fn(n, n, |i, j| ((i * 7 + j * 3 + i * j) % 11) as f64 - 5.0);
        let a = lower_to_full(&a);
        let (mut ql, vectors) = tridiagonal_eigen(&a, true).unwrap();
        let (mut jacobi, jacobi_vectors) = jacobi_eigen(&a, true);
        let (res, orth) = residual_and_orthogonality(&a, &jacobi, jacobi_vectors.as_ref().unwrap());
        assert!(res < 1e-13 * a.norm() && orth < 1e-13, "{res:e} {orth:e}");
        let (res, orth) = residual_and_orthogonality(&a, &ql, vectors.as_ref().unwrap());
        assert!(res < 1e-13 * a.norm() && orth < 1e-13, "{res:e} {orth:e}");
        ql.sort_by(f64::total_cmp);
        jacobi.sort_by(f64::total_cmp);
        for (x, y) in ql.iter().zip(&jacobi) {
            assert!((x - y).abs() < 1e-13 * a.norm(), "{x} {y}");
        }
    }

    #[test]
    fn tridiagonal_factor_reconstructs_the_matrix() {
        // n = 9: one block of reflectors; n = 150: three blocks, two column chunks, parallel.
        for n in [9, 150] {
            let a = lower_to_full(&DMatrix::from_fn(n, n, |i, j| {
                ((i + 2 * j) % 5) as f64 - 1.5 + ((i * j) % 7) as f64 * 0.125
            }));
            let tri = tridiagonalise(&a);
            let q = tri.orthogonal_factor();
            let mut t = DMatrix::zeros(n, n);
            for i in 0..n {
                t[(i, i)] = tri.diagonal[i];
                if i + 1 < n {
                    t[(i + 1, i)] = tri.off_diagonal[i];
                    t[(i, i + 1)] = tri.off_diagonal[i];
                }
            }
            let error = (&q * t * q.transpose() - &a).amax();
            assert!(error < 1e-14 * a.amax() * n as f64, "n = {n}: {error:e}");
            let orthogonality = (q.transpose() * &q - DMatrix::identity(n, n)).amax();
            assert!(
                orthogonality < 1e-15 * n as f64,
                "n = {n}: {orthogonality:e}"
            );
        }
    }

    #[test]
    fn row_bands_apply_rotations_exactly_as_one_at_a_time() {
        // 37 rows: two full bands and a padded one; sweeps split into several batches.
        let (rows, cols) = (37, 50);
        let mut z = DMatrix::from_fn(rows, cols, |i, j| ((i * 13 + j * 7) % 17) as f64 - 8.25);
        let mut reference = z.clone();
        let mut bands = RowBands::from_matrix(&z);
        let (mut sweeps, mut rotations) = (Vec::new(), Vec::new());
        for t in 0..40usize {
            let end = cols - 1 - t % 7;
            let count = 1 + (t * 11) % end;
            for k in 0..count {
                let angle = 0.1 + (t * 31 + k * 17) as f64 * 0.37;
                let (s, c) = angle.sin_cos();
                rotations.push((c, s));
                let i = end - 1 - k;
                for r in 0..rows {
                    let (x, y) = (reference[(r, i)], reference[(r, i + 1)]);
                    reference[(r, i + 1)] = s * x + c * y;
                    reference[(r, i)] = c * x - s * y;
                }
            }
            sweeps.push(Sweep { end, count });
            if t % 9 == 8 {
                bands.apply(&sweeps, &rotations);
                sweeps.clear();
                rotations.clear();
            }
        }
        bands.apply(&sweeps, &rotations);
        bands.copy_to(&mut z);
        assert_eq!(z, reference);
    }

    #[test]
    fn extreme_scales_are_scaled_exactly() {
        for scale in [1e-300, 1e-200, 1e200, 1e300] {
            let a = DMatrix::from_row_slice(2, 2, &[2.0 * scale, scale, scale, 2.0 * scale]);
            let (mut values, _) = decompose(a, true);
            values.sort_by(f64::total_cmp);
            assert!((values[0] / scale - 1.0).abs() < 1e-15, "{values:?}");
            assert!((values[1] / scale - 3.0).abs() < 1e-15, "{values:?}");
        }
        let (values, vectors) = decompose(DMatrix::from_element(2, 2, f64::NAN), true);
        assert!(values.iter().all(|x| x.is_nan()) && vectors.unwrap()[(0, 0)].is_nan());
    }
}
