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
