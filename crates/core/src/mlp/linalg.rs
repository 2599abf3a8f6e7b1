//! A bounds-checked wrapper around `matrixmultiply::dgemm` for strided row/column views.

/// A read-only strided matrix view: entry (i, j) lives at `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f64],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// Row-major view with `cols` columns.
    pub fn rows(data: &'a [f64], cols: usize) -> Self {
        View {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f64], cols: usize) -> Self {
        View {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    fn check(&self, rows: usize, cols: usize) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.row_stride + (cols - 1) * self.col_stride;
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// C ← α·A·B + β·C with A of shape m×k, B of shape k×n and C row-major m×n with row
/// stride `c_row_stride` (≥ n). With β = 0 the old contents of C are ignored.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f64,
    a: View<'_>,
    b: View<'_>,
    beta: f64,
    c: &mut [f64],
    c_row_stride: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(c_row_stride >= n, "output row stride too small");
    assert!(
        (m - 1) * c_row_stride + n <= c.len(),
        "output matrix out of bounds"
    );
    if k == 0 {
        for i in 0..m {
            for v in &mut c[i * c_row_stride..i * c_row_stride + n] {
                *v *= beta;
            }
        }
        return;
    }
    a.check(m, k);
    b.check(k, n);
    // SAFETY: every index dgemm touches was bounds-checked above (A up to (m-1, k-1),
    // B up to (k-1, n-1), C up to (m-1, n-1)); C is a unique borrow with distinct
    // addresses for distinct (i, j) because c_row_stride ≥ n and the column stride is 1.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            c_row_stride as isize,
            1,
        );
    }
}

/// Adds the column sums of the row-major `rows × cols` matrix `m` to `out`.
pub(crate) fn add_column_sums(m: &[f64], rows: usize, cols: usize, out: &mut [f64]) {
    for i in 0..rows {
        for (o, v) in out.iter_mut().zip(&m[i * cols..(i + 1) * cols]) {
            *o += v;
        }
    }
}

/// Products whose left factor has at most this many entries use the sample-contiguous
/// kernels below; larger ones go to `matrixmultiply` (which packs its operands and wins once
/// the packing is amortised).
const SMALL_ENTRIES: usize = 1024;

/// Lanes of one register block of the sample-contiguous kernels. Fixed in the source, so the
/// order of every floating-point sum is the same whatever vector width the CPU offers.
const LANES: usize = 8;

/// C ← A·B (`accumulate = false`) or C ← C + A·B, for A of shape m×k (any strides), B of
/// shape k×n stored row-major with row stride `ldb` and C row-major with row stride `ldc`.
/// Used with the sample index as the contiguous column index n.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mul_rows(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: &[f64],
    ldb: usize,
    accumulate: bool,
    c: &mut [f64],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if m * k > SMALL_ENTRIES {
        let bv = View {
            data: b,
            row_stride: ldb,
            col_stride: 1,
        };
        gemm(
            m,
            k,
            n,
            1.0,
            a,
            bv,
            if accumulate { 1.0 } else { 0.0 },
            c,
            ldc,
        );
        return;
    }
    a.check(m, k);
    if k > 0 {
        assert!((k - 1) * ldb + n <= b.len(), "matrix view out of bounds");
    }
    assert!(
        ldc >= n && (m - 1) * ldc + n <= c.len(),
        "output out of bounds"
    );
    dispatch_mul_rows(m, k, n, a, b, ldb, accumulate, c, ldc);
}

/// C ← C + A·Bᵀ for A of shape m×k row-major (row stride `lda`), B of shape n×k row-major
/// (row stride `ldb`) and C row-major m×n (row stride `ldc`): every entry is a dot product
/// along the contiguous (sample) index.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mul_add_bt(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    c: &mut [f64],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if m * n > SMALL_ENTRIES {
        gemm(
            m,
            k,
            n,
            1.0,
            View {
                data: a,
                row_stride: lda,
                col_stride: 1,
            },
            View {
                data: b,
                row_stride: 1,
                col_stride: ldb,
            },
            1.0,
            c,
            ldc,
        );
        return;
    }
    assert!((m - 1) * lda + k <= a.len(), "matrix view out of bounds");
    assert!((n - 1) * ldb + k <= b.len(), "matrix view out of bounds");
    assert!(
        ldc >= n && (m - 1) * ldc + n <= c.len(),
        "output out of bounds"
    );
    dispatch_mul_add_bt(m, k, n, a, lda, b, ldb, c, ldc);
}

/// Runs a kernel in the widest vector instruction set the CPU has. The kernels use no fused
/// multiply-add and fix their summation order in the source, so every variant returns the
/// same bits.
macro_rules! multiversion {
    ($name:ident, $kernel:ident, ($($arg:ident: $ty:ty),*)) => {
        $crate::mlp::linalg::multiversion!($name, $kernel, ($($arg: $ty),*) -> ());
    };
    ($name:ident, $kernel:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) -> $ret {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                fn medium($($arg: $ty),*) -> $ret {
                    $kernel($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F (checked just above).
                    return unsafe { wide($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    return unsafe { medium($($arg),*) };
                }
            }
            $kernel($($arg),*)
        }
    };
}

pub(crate) use multiversion;

#[allow(clippy::too_many_arguments)]
fn dispatch_mul_rows(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: &[f64],
    ldb: usize,
    accumulate: bool,
    c: &mut [f64],
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available (checked just above); the bounds were checked by the caller.
        unsafe { simd::mul_rows_avx2(m, k, n, a, b, ldb, accumulate, c, ldc) };
        return;
    }
    mul_rows_kernel(m, k, n, a, b, ldb, accumulate, c, ldc);
}

#[allow(clippy::too_many_arguments)]
fn dispatch_mul_add_bt(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    c: &mut [f64],
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available (checked just above); the bounds were checked by the caller.
        unsafe { simd::mul_add_bt_avx2(m, k, n, a, lda, b, ldb, c, ldc) };
        return;
    }
    mul_add_bt_kernel(m, k, n, a, lda, b, ldb, c, ldc);
}

/// AVX2 versions of the two kernels: the same operations in the same order (separate
/// multiply and add, lanes 0–3 and 4–7 in two registers), hence the same bits as the
/// portable versions.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{LANES, View, dot_block};
    use std::arch::x86_64::*;

    /// # Safety
    /// Needs AVX2; all indices must be in bounds as checked by `mul_rows`.
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn mul_rows_avx2(
        m: usize,
        k: usize,
        n: usize,
        a: View<'_>,
        b: &[f64],
        ldb: usize,
        accumulate: bool,
        c: &mut [f64],
        ldc: usize,
    ) {
        let mut i = 0;
        while i + 4 <= m {
            // SAFETY: AVX2 is enabled in this function.
            unsafe { rows_block::<4>(i, k, n, a, b, ldb, accumulate, c, ldc) };
            i += 4;
        }
        if i + 2 <= m {
            // SAFETY: as above.
            unsafe { rows_block::<2>(i, k, n, a, b, ldb, accumulate, c, ldc) };
            i += 2;
        }
        if i < m {
            // SAFETY: as above.
            unsafe { rows_block::<1>(i, k, n, a, b, ldb, accumulate, c, ldc) };
        }
    }

    /// Rows i0 .. i0 + R of [`mul_rows_avx2`].
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows_block<const R: usize>(
        i: usize,
        k: usize,
        n: usize,
        a: View<'_>,
        b: &[f64],
        ldb: usize,
        accumulate: bool,
        c: &mut [f64],
        ldc: usize,
    ) {
        let full = n - n % LANES;
        let coef = |r: usize, p: usize| a.data[(i + r) * a.row_stride + p * a.col_stride];
        let mut j = 0;
        while j < full {
            let mut lo = [_mm256_setzero_pd(); R];
            let mut hi = [_mm256_setzero_pd(); R];
            if accumulate {
                for r in 0..R {
                    let o = (i + r) * ldc + j;
                    let src = &c[o..o + LANES];
                    // SAFETY: `src` holds 8 values.
                    unsafe {
                        lo[r] = _mm256_loadu_pd(src.as_ptr());
                        hi[r] = _mm256_loadu_pd(src.as_ptr().add(4));
                    }
                }
            }
            for p in 0..k {
                let bl = &b[p * ldb + j..p * ldb + j + LANES];
                // SAFETY: `bl` holds 8 values.
                let (b0, b1) = unsafe {
                    (
                        _mm256_loadu_pd(bl.as_ptr()),
                        _mm256_loadu_pd(bl.as_ptr().add(4)),
                    )
                };
                for r in 0..R {
                    let av = _mm256_set1_pd(coef(r, p));
                    lo[r] = _mm256_add_pd(lo[r], _mm256_mul_pd(av, b0));
                    hi[r] = _mm256_add_pd(hi[r], _mm256_mul_pd(av, b1));
                }
            }
            for r in 0..R {
                let o = (i + r) * ldc + j;
                let dst = &mut c[o..o + LANES];
                // SAFETY: `dst` holds 8 values.
                unsafe {
                    _mm256_storeu_pd(dst.as_mut_ptr(), lo[r]);
                    _mm256_storeu_pd(dst.as_mut_ptr().add(4), hi[r]);
                }
            }
            j += LANES;
        }
        // Tail columns, in the order of the portable kernel.
        for r in 0..R {
            for jj in full..n {
                let o = (i + r) * ldc + jj;
                let mut s = if accumulate { c[o] } else { 0.0 };
                for p in 0..k {
                    s += coef(r, p) * b[p * ldb + jj];
                }
                c[o] = s;
            }
        }
    }

    /// # Safety
    /// Needs AVX2; all indices must be in bounds as checked by `mul_add_bt`.
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn mul_add_bt_avx2(
        m: usize,
        k: usize,
        n: usize,
        a: &[f64],
        lda: usize,
        b: &[f64],
        ldb: usize,
        c: &mut [f64],
        ldc: usize,
    ) {
        let full = k - k % LANES;
        for i in 0..m {
            let arow = &a[i * lda..i * lda + k];
            let mut j = 0;
            while j + 4 <= n {
                let rows: [&[f64]; 4] =
                    std::array::from_fn(|r| &b[(j + r) * ldb..(j + r) * ldb + k]);
                let mut acc = [_mm256_setzero_pd(); 8];
                let mut q = 0;
                while q < full {
                    // SAFETY: q + 8 ≤ k for `arow` and every row.
                    unsafe {
                        let a0 = _mm256_loadu_pd(arow.as_ptr().add(q));
                        let a1 = _mm256_loadu_pd(arow.as_ptr().add(q + 4));
                        for r in 0..4 {
                            let bp = rows[r].as_ptr().add(q);
                            acc[2 * r] =
                                _mm256_add_pd(acc[2 * r], _mm256_mul_pd(a0, _mm256_loadu_pd(bp)));
                            acc[2 * r + 1] = _mm256_add_pd(
                                acc[2 * r + 1],
                                _mm256_mul_pd(a1, _mm256_loadu_pd(bp.add(4))),
                            );
                        }
                    }
                    q += LANES;
                }
                for r in 0..4 {
                    // [a0+a4, a1+a5, a2+a6, a3+a7], then (t0+t1)+(t2+t3).
                    let t = _mm256_add_pd(acc[2 * r], acc[2 * r + 1]);
                    let mut lanes = [0.0; 4];
                    // SAFETY: `lanes` holds 4 values.
                    unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), t) };
                    let mut s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
                    for p in full..k {
                        s += arow[p] * rows[r][p];
                    }
                    c[i * ldc + j + r] += s;
                }
                j += 4;
            }
            while j < n {
                dot_block::<1>(arow, j, k, b, ldb, &mut c[i * ldc..i * ldc + n]);
                j += 1;
            }
        }
    }
}

/// C[i, j..j+8] accumulates Σ_p A[i, p]·B[p, j..j+8] in registers, p in order; four rows
/// of C at a time share each load of B.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn mul_rows_kernel(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: &[f64],
    ldb: usize,
    accumulate: bool,
    c: &mut [f64],
    ldc: usize,
) {
    let mut i = 0;
    while i + 4 <= m {
        mul_rows_block::<4>(i, k, n, a, b, ldb, accumulate, c, ldc);
        i += 4;
    }
    while i < m {
        mul_rows_block::<1>(i, k, n, a, b, ldb, accumulate, c, ldc);
        i += 1;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn mul_rows_block<const R: usize>(
    i0: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: &[f64],
    ldb: usize,
    accumulate: bool,
    c: &mut [f64],
    ldc: usize,
) {
    let full = n - n % LANES;
    let coef = |r: usize, p: usize| a.data[(i0 + r) * a.row_stride + p * a.col_stride];
    let mut j = 0;
    while j < full {
        let mut acc = [[0.0; LANES]; R];
        if accumulate {
            for (r, ar) in acc.iter_mut().enumerate() {
                let o = (i0 + r) * ldc + j;
                ar.copy_from_slice(&c[o..o + LANES]);
            }
        }
        for p in 0..k {
            let bl: &[f64; LANES] = b[p * ldb + j..p * ldb + j + LANES]
                .try_into()
                .expect("lane block");
            for (r, ar) in acc.iter_mut().enumerate() {
                let av = coef(r, p);
                for l in 0..LANES {
                    ar[l] += av * bl[l];
                }
            }
        }
        for (r, ar) in acc.iter().enumerate() {
            let o = (i0 + r) * ldc + j;
            c[o..o + LANES].copy_from_slice(ar);
        }
        j += LANES;
    }
    for r in 0..R {
        for jj in full..n {
            let o = (i0 + r) * ldc + jj;
            let mut s = if accumulate { c[o] } else { 0.0 };
            for p in 0..k {
                s += coef(r, p) * b[p * ldb + jj];
            }
            c[o] = s;
        }
    }
}

/// Dot products along k with 8 partial sums (lane l takes indices ≡ l mod 8), added in a
/// fixed tree at the end, then the tail; four columns of C at a time share each load of A.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn mul_add_bt_kernel(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    c: &mut [f64],
    ldc: usize,
) {
    for i in 0..m {
        let arow = &a[i * lda..i * lda + k];
        let mut j = 0;
        while j + 4 <= n {
            dot_block::<4>(arow, j, k, b, ldb, &mut c[i * ldc..i * ldc + n]);
            j += 4;
        }
        while j < n {
            dot_block::<1>(arow, j, k, b, ldb, &mut c[i * ldc..i * ldc + n]);
            j += 1;
        }
    }
}

#[inline(always)]
fn dot_block<const R: usize>(
    arow: &[f64],
    j0: usize,
    k: usize,
    b: &[f64],
    ldb: usize,
    crow: &mut [f64],
) {
    let full = k - k % LANES;
    let brow = |r: usize| &b[(j0 + r) * ldb..(j0 + r) * ldb + k];
    let mut acc = [[0.0; LANES]; R];
    let mut q = 0;
    while q < full {
        let al: &[f64; LANES] = arow[q..q + LANES].try_into().expect("lane block");
        for (r, ar) in acc.iter_mut().enumerate() {
            let bl: &[f64; LANES] = brow(r)[q..q + LANES].try_into().expect("lane block");
            for l in 0..LANES {
                ar[l] += al[l] * bl[l];
            }
        }
        q += LANES;
    }
    for (r, ar) in acc.iter().enumerate() {
        let br = brow(r);
        let mut s = ((ar[0] + ar[4]) + (ar[1] + ar[5])) + ((ar[2] + ar[6]) + (ar[3] + ar[7]));
        for p in full..k {
            s += arow[p] * br[p];
        }
        crow[j0 + r] += s;
    }
}
