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
    assert!(ldc >= n && (m - 1) * ldc + n <= c.len(), "output out of bounds");
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
    assert!(ldc >= n && (m - 1) * ldc + n <= c.len(), "output out of bounds");
    dispatch_mul_add_bt(m, k, n, a, lda, b, ldb, c, ldc);
}

/// Runs a kernel in the widest vector instruction set the CPU has. The kernels use no fused
/// multiply-add and fix their summation order in the source, so every variant returns the
/// same bits.
macro_rules! multiversion {
    ($name:ident, $kernel:ident, ($($arg:ident: $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                fn medium($($arg: $ty),*) {
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

multiversion!(dispatch_mul_rows, mul_rows_kernel, (m: usize, k: usize, n: usize, a: View<'_>, b: &[f64], ldb: usize, accumulate: bool, c: &mut [f64], ldc: usize));
multiversion!(dispatch_mul_add_bt, mul_add_bt_kernel, (m: usize, k: usize, n: usize, a: &[f64], lda: usize, b: &[f64], ldb: usize, c: &mut [f64], ldc: usize));

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
