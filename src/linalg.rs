//! Row-major `f32` matrices and the one matrix product the engine is built on.

use std::sync::OnceLock;

/// A dense row-major matrix: element (r, c) lives at `data[r * cols + c]`.
///
/// Minibatches and sets of chains are matrices with one example (or chain) per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps `data`, which must hold `rows * cols` values in row-major order.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Option<Self> {
        (data.len() == rows * cols).then_some(Matrix { rows, cols, data })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The values, row-major, without a copy.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Changes the number of rows, keeping the columns; new rows are zero.
    pub fn resize_rows(&mut self, rows: usize) {
        self.rows = rows;
        self.data.resize(rows * self.cols, 0.0);
    }

    /// Rows `start..end` as a new matrix.
    pub fn rows_between(&self, start: usize, end: usize) -> Matrix {
        Matrix {
            rows: end - start,
            cols: self.cols,
            data: self.data[start * self.cols..end * self.cols].to_vec(),
        }
    }

    /// Each column's sum, adding the rows in order.
    pub fn column_sums(&self) -> Vec<f32> {
        let mut sums = vec![0.0f32; self.cols];
        for r in 0..self.rows {
            for (s, &x) in sums.iter_mut().zip(self.row(r)) {
                *s += x;
            }
        }
        sums
    }

    /// The transpose, as a new matrix.
    pub fn transposed(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        transpose_into(self.rows, self.cols, &self.data, &mut out.data);
        out
    }
}

/// `out (a.cols x b.cols) <- aᵀ b`: the sum over rows r of `a_r b_rᵀ`, as in the
/// gradient's `Σ v p(h | v)ᵀ` over a minibatch or a set of chains.
pub fn transpose_product(a: &Matrix, b: &Matrix, out: &mut [f32]) {
    let (m, n) = (a.cols, b.cols);
    gemm(
        m,
        a.rows,
        n,
        Strided::transpose_of(&a.data, m),
        &b.data,
        out,
        false,
    );
}

/// `Σ (a - b)²` over all elements, in f64.
pub fn squared_difference(a: &Matrix, b: &Matrix) -> f64 {
    a.data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| f64::from(x - y) * f64::from(x - y))
        .sum()
}

/// `dst (cols x rows) <- src (rows x cols)ᵀ`, both row-major.
///
/// 4 x 4 tiles ([`transpose_tile`]): four rows of four read, written out as four
/// columns, then the edges one value at a time. Natively LLVM turns a tile into four
/// loads, shuffles and four stores; the 8 x 8 tiles before did not, and took 1.74x the
/// time at 784 x 500 (127 against 73 µs; a copy takes 29), and compiled for AVX-512
/// (`with_wide_vectors`) these 4 x 4 tiles took 1.35x the time. In the browser the
/// tile is written in simd128 (1.77x faster than the 8 x 8 tiles: 95 against 168 µs).
/// Every transpose after an update (`Rbm`'s `weights_t`) and in a helper's task goes
/// through here.
pub fn transpose_into(rows: usize, cols: usize, src: &[f32], dst: &mut [f32]) {
    const T: usize = 4;
    let (whole_rows, whole_cols) = (rows - rows % T, cols - cols % T);
    for r0 in (0..whole_rows).step_by(T) {
        for c0 in (0..whole_cols).step_by(T) {
            transpose_tile(rows, cols, src, dst, r0, c0);
        }
    }
    for r in 0..rows {
        let first_col = if r < whole_rows { whole_cols } else { 0 };
        for c in first_col..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// The 4 x 4 tile of `src` at `(r0, c0)` into `dst` as [`transpose_into`] lays it out.
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn transpose_tile(rows: usize, cols: usize, src: &[f32], dst: &mut [f32], r0: usize, c0: usize) {
    let tile: [[f32; 4]; 4] = core::array::from_fn(|r| {
        src[(r0 + r) * cols + c0..][..4]
            .try_into()
            .expect("4 values")
    });
    for c in 0..4 {
        let out: &mut [f32; 4] = (&mut dst[(c0 + c) * rows + r0..][..4])
            .try_into()
            .expect("4 values");
        *out = core::array::from_fn(|r| tile[r][c]);
    }
}

/// [`transpose_tile`] in simd128: V8 gave the portable tile's shuffles as 4 x 4
/// single-value moves (165 µs at 784 x 500, against 73 natively); here two rounds of
/// interleaves, each one instruction.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn transpose_tile(rows: usize, cols: usize, src: &[f32], dst: &mut [f32], r0: usize, c0: usize) {
    use core::arch::wasm32::{i32x4_shuffle, i64x2_shuffle, v128, v128_load, v128_store};
    let load = |r: usize| {
        let line = &src[(r0 + r) * cols + c0..][..4];
        // SAFETY: `line` holds 4 values, the 16-byte unaligned load.
        unsafe { v128_load(line.as_ptr().cast::<v128>()) }
    };
    let (a0, a1, a2, a3) = (load(0), load(1), load(2), load(3));
    // (a0[0] a1[0] a0[1] a1[1]), (a0[2] a1[2] a0[3] a1[3]), and the same of a2, a3.
    let (t0, t1) = (
        i32x4_shuffle::<0, 4, 1, 5>(a0, a1),
        i32x4_shuffle::<2, 6, 3, 7>(a0, a1),
    );
    let (t2, t3) = (
        i32x4_shuffle::<0, 4, 1, 5>(a2, a3),
        i32x4_shuffle::<2, 6, 3, 7>(a2, a3),
    );
    let columns = [
        i64x2_shuffle::<0, 2>(t0, t2),
        i64x2_shuffle::<1, 3>(t0, t2),
        i64x2_shuffle::<0, 2>(t1, t3),
        i64x2_shuffle::<1, 3>(t1, t3),
    ];
    for (c, column) in columns.into_iter().enumerate() {
        let out = &mut dst[(c0 + c) * rows + r0..][..4];
        // SAFETY: `out` holds 4 values, the 16-byte unaligned store.
        unsafe { v128_store(out.as_mut_ptr().cast::<v128>(), column) };
    }
}

/// Runs `work` compiled for AVX-512 where the CPU has it (natively, checked at run
/// time), else as it is. Only the vector width changes: the same IEEE operations in
/// the same order, so the same bits (Rust never fuses a multiply and an add by
/// itself). `work` must be a closure marked `#[inline(always)]`, so that its body is
/// compiled inside the AVX-512 function; the loops it calls must be inlined too.
#[inline(always)]
pub fn with_wide_vectors<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { run_avx512(work) };
    }
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512<R>(work: impl FnOnce() -> R) -> R {
    work()
}

/// Layout of the left operand of [`gemm`]: element (i, p) is `a[i * row_stride + p * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Strided {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transpose_of(data: &'a [f32], cols: usize) -> Self {
        Strided {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    #[inline(always)]
    fn at(&self, i: usize, p: usize) -> f32 {
        self.data[i * self.row_stride + p * self.col_stride]
    }
}

/// The tiles' rows in the portable kernel, and in the fused one (relaxed SIMD). The
/// tile's shape changes no sum: each is added from zero in p order. The fused tile
/// keeps 12 sums in flight, as its peak needs (each fused multiply-add waits on the
/// last one's sum); with its 2 vectors of B and one broadcast of A at a time that is
/// 15 of x86's 16 vector registers, the portable tile's products would need a 16th.
/// The step by hand in Chromium (`scripts/bench-loop-shapes.mjs`, AMD EPYC with
/// AVX-512, 2026-11-29): fused, 4 x 8 at 91 % of the fused peak and 6 x 8 at 100 %;
/// not fused, 4 x 8 at 97 % of the simd128 peak and 6 x 8 at 50 % (spilled).
const TILE_ROWS: usize = 4;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // natively only in tests
const FUSED_TILE_ROWS: usize = 6;
const TILE_COLS: usize = 8;

/// `C <- A B` (or `C <- C + A B` when `accumulate`), with A (m x k) strided,
/// B (k x n) row-major and C (m x n) row-major.
///
/// Every element of C is summed in the same order, `((a_0 b_0 + a_1 b_1) + ...)`,
/// starting from zero and added to C at the end, whatever tile it falls in. No
/// fused multiply-add is used (unless [`set_fast_maths`] asks for it). That is what
/// makes the native and the wasm builds agree to the bit; the speed comes from a 4 x 8
/// register tile that LLVM keeps in vector registers (simd128 in the browser), fed
/// from packed copies of A's row tiles and of each k x 8 panel of B (packing took the
/// browser's CD-1 from 73 to 108 updates/s at 784 x 500; 2 x 16, 4 x 16, 3 x 16,
/// 2 x 24, 6 x 8 and 8 x 8 tiles measured the same or slower; the fused kernel's tiles
/// are 6 x 8).
///
/// Natively, a large product is split by rows of C over [`threads`] threads. Each
/// element is still summed by the same code in the same order, so the result is the
/// same to the bit for any thread count.
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    gemm_packed(m, k, n, a, b, None, c, accumulate);
}

/// B's k x 8 column panels as the portable kernel reads them: panel q holds
/// `B(p, 8q + c)` at `q·8k + 8p + c` (0 past column n).
fn pack_panels(k: usize, n: usize, b: &[f32]) -> Vec<f32> {
    let mut panels = vec![0.0f32; n.div_ceil(TILE_COLS) * TILE_COLS * k];
    for (q, panel) in panels.chunks_exact_mut(k * TILE_COLS).enumerate() {
        pack_panel(n, b, q * TILE_COLS, panel);
    }
    panels
}

/// What the kernels make of a right operand that serves many products (the model's
/// weights between two updates), each made on first use: the portable kernel's
/// packed panels (see [`pack_panels`]; re-packing the weights took about 0.4 ms at
/// 784 x 500 in the browser, a quarter of a 50-row product) and whether every value
/// is finite (which the products with a 0/1 left operand need; see [`Ones`]).
/// Replace it with a new one whenever the operand changes.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    panels: OnceLock<Vec<f32>>,
    finite: OnceLock<bool>,
}

/// [`gemm`] with what was [`Prepared`] of B (k x n) before, if given: the same bits.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    prepared: Option<&Prepared>,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(
        b.len() >= k * n && c.len() >= m * n,
        "gemm: operand too small"
    );
    check_left_operand(m, k, a);
    // A 0/1 left operand (states of binary units) with few enough ones: each element
    // of C is the sum of the B values at A's ones, added in p order from zero, which
    // is what the dense kernels' sums come to as well (see [`Ones`]).
    if let Some(ones) = (n > 0).then(|| Ones::of(a, m, k)).flatten() {
        let b = &b[..k * n];
        let finite = match prepared {
            Some(prepared) => *prepared.finite.get_or_init(|| all_finite(b)),
            None => all_finite(b),
        };
        if finite {
            by_rows(m, k, n, a, c, |first, rows, _, chunk| {
                sum_rows_at_ones(&ones, first..first + rows, n, b, chunk, accumulate)
            });
            return;
        }
    }
    // The fast native kernels do their own packing.
    let native_fast = fast_maths() && cfg!(not(target_arch = "wasm32"));
    let panels = prepared.filter(|_| !native_fast).map(|prepared| {
        let panels = prepared.panels.get_or_init(|| pack_panels(k, n, b));
        assert_eq!(
            panels.len(),
            n.div_ceil(TILE_COLS) * TILE_COLS * k,
            "gemm: panels of another operand"
        );
        panels.as_slice()
    });
    by_rows(m, k, n, a, c, |_, rows, part, chunk| {
        gemm_serial(rows, k, n, part, b, panels, chunk, accumulate)
    });
}

/// The positions of the ones in each row of a matrix of zeros and ones.
///
/// A product with such a matrix on the left needs no multiplications: row i of C is
/// the sum of the rows of B at row i's ones. Those sums give the dense kernels' bits:
/// a dense sum adds `1·b = b` at a one and `0·b = ±0` at a zero, and adding ±0 to a
/// sum that started from +0 changes nothing (the sum is never -0: x + (-x) is +0). A
/// non-finite B would make `0·b` NaN, so B must be finite.
///
/// The states of binary units are such matrices: the data and the chains' visible
/// states, the sampled hidden states. So all five products of a CD-1 update on
/// binary data, and both of a Gibbs step, skip their zeros: at 784 x 500 with
/// MNIST's 13 % of pixels on, the data's products do an eighth of the work.
struct Ones {
    /// Row i's ones are `positions[starts[i]..starts[i + 1]]`, in increasing order.
    starts: Vec<usize>,
    positions: Vec<u32>,
    /// The number of columns (every position is below it).
    cols: usize,
}

/// Above this share of ones the dense kernels are faster than adding up rows. Measured
/// on products of 100 x 784 and 784 x 500 at shares from 0 to 1 (`p(h | v)` in
/// Chromium; `gemm` natively):
/// - in the browser, rows of ones cost 0.36 + 1.72 s ms at share s against 1.45 ms
///   dense (the simd128 kernel adds no faster than it multiplies and adds): 0.6;
/// - natively with AVX2 or AVX-512 against the portable kernel, 0.20 ms at share 0.1
///   and 0.55 at 0.5 against 1.73 ms dense: always. Against the fast kernels' fused
///   multiply-adds (0.43 ms) the crossover is near 0.4 for one product, but CD-1 ran
///   as fast or faster with every binary product summed by rows (446 updates/s with a
///   limit of 0.4, 458 with none, within the run-to-run spread), so the fast kernels
///   serve the other products only.
fn max_ones_share() -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return 1.0;
    }
    0.6
}

impl Ones {
    /// The ones of A (m x k), when every element is 0 or 1 and at most
    /// [`max_ones_share`] of them are ones. A must be stored by rows or by columns
    /// (any other layout takes the dense kernels).
    fn of(a: Strided<'_>, m: usize, k: usize) -> Option<Ones> {
        if m == 0 || k == 0 || u32::try_from(m.max(k)).is_err() {
            return None;
        }
        let most = (max_ones_share() * (m * k) as f64) as usize;
        if a.col_stride == 1 {
            Ones::of_rows(a.data, a.row_stride, m, k, most)
        } else if a.row_stride == 1 {
            // A's columns are the stored rows: find their ones, then sort them by row.
            Some(Ones::of_rows(a.data, a.col_stride, k, m, most)?.transposed(m))
        } else {
            None
        }
    }

    /// The ones of the `rows` x `cols` matrix stored by rows `stride` apart in `data`.
    fn of_rows(data: &[f32], stride: usize, rows: usize, cols: usize, most: usize) -> Option<Ones> {
        let mut starts = Vec::with_capacity(rows + 1);
        // Room for a quarter of the values to be ones (more grows the list).
        let mut positions: Vec<u32> = Vec::with_capacity(most.min(rows * cols / 4) + 16);
        starts.push(0);
        for r in 0..rows {
            let row = &data[r * stride..r * stride + cols];
            if !ones_in_row(row, &mut positions) || positions.len() > most {
                return None;
            }
            starts.push(positions.len());
        }
        Some(Ones {
            starts,
            positions,
            cols,
        })
    }

    /// The ones of the transpose (`cols` rows), each row's still in increasing order.
    fn transposed(&self, cols: usize) -> Ones {
        let mut starts = vec![0usize; cols + 1];
        for &p in &self.positions {
            starts[p as usize + 1] += 1;
        }
        for i in 0..cols {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut positions = vec![0u32; self.positions.len()];
        for r in 0..self.starts.len() - 1 {
            for &p in self.row(r) {
                positions[next[p as usize]] = r as u32;
                next[p as usize] += 1;
            }
        }
        Ones {
            starts,
            positions,
            cols: self.starts.len() - 1,
        }
    }

    fn row(&self, i: usize) -> &[u32] {
        &self.positions[self.starts[i]..self.starts[i + 1]]
    }
}

/// Appends the positions of `row`'s ones; false when a value is neither 0 nor 1.
fn ones_in_row(row: &[f32], positions: &mut Vec<u32>) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { ones_in_row_avx512(row, positions) };
    }
    ones_in_row_portable(row, positions)
}

/// [`ones_in_row`] sixteen values at a time, on any target.
#[inline(always)]
fn ones_in_row_portable(row: &[f32], positions: &mut Vec<u32>) -> bool {
    let mut chunks = row.chunks_exact(16);
    let mut at = 0u32;
    for chunk in &mut chunks {
        // Written so that LLVM compares the sixteen values at once.
        let (mut found, mut other) = (0u32, 0u32);
        for (lane, &x) in chunk.iter().enumerate() {
            found |= u32::from(x == 1.0) << lane;
            other |= u32::from(x != 1.0 && x != 0.0) << lane;
        }
        if other != 0 {
            return false;
        }
        push_lanes(found, at, positions);
        at += 16;
    }
    ones_in_remainder(chunks.remainder(), at, positions)
}

/// [`ones_in_row`] with AVX-512's comparisons straight into 16-bit masks: LLVM built
/// [`ones_in_row_portable`]'s masks a lane at a time, and finding the ones took 12 % of
/// native CD-1 at 784 x 500.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn ones_in_row_avx512(row: &[f32], positions: &mut Vec<u32>) -> bool {
    use std::arch::x86_64::{_mm512_cmp_ps_mask, _mm512_loadu_ps, _mm512_set1_ps, _CMP_EQ_OQ};
    let (one, zero) = (_mm512_set1_ps(1.0), _mm512_set1_ps(0.0));
    let mut chunks = row.chunks_exact(16);
    let mut at = 0u32;
    for chunk in &mut chunks {
        // SAFETY: the chunk holds 16 f32 values, the 64 bytes the load reads.
        let values = unsafe { _mm512_loadu_ps(chunk.as_ptr()) };
        let found = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(values, one);
        // -0 equals 0; NaN equals neither.
        let zeros = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(values, zero);
        if found | zeros != u16::MAX {
            return false;
        }
        push_lanes(u32::from(found), at, positions);
        at += 16;
    }
    ones_in_remainder(chunks.remainder(), at, positions)
}

/// Appends `at + lane` for each set bit of `found`, lowest first.
#[inline(always)]
fn push_lanes(mut found: u32, at: u32, positions: &mut Vec<u32>) {
    while found != 0 {
        positions.push(at + found.trailing_zeros());
        found &= found - 1;
    }
}

/// The values past the last sixteen, one at a time, from position `at`.
#[inline(always)]
fn ones_in_remainder(values: &[f32], at: u32, positions: &mut Vec<u32>) -> bool {
    for (position, &x) in (at..).zip(values) {
        if x == 1.0 {
            positions.push(position);
        } else if x != 0.0 {
            return false;
        }
    }
    true
}

/// Whether every value is finite, looking at all of them (sixteen lanes at a time).
pub(crate) fn all_finite(values: &[f32]) -> bool {
    with_wide_vectors(
        #[inline(always)]
        || all_finite_in(values),
    )
}

#[inline(always)]
fn all_finite_in(values: &[f32]) -> bool {
    // x · 0 is ±0 for a finite x and NaN for ±∞ and NaN, and NaN stays in a sum.
    let mut lanes = [0.0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += x * 0.0;
        }
    }
    lanes
        .iter()
        .chain(chunks.remainder())
        .all(|x| x * 0.0 == 0.0)
}

/// Rows `rows` of C (given as `c`, from the first of them) as sums of B's rows at A's ones.
///
/// Each element's sum is one chain of dependent additions, so the speed comes from
/// summing W columns side by side (eight vector registers' worth), and from reading
/// B's rows from the nearest cache: the sums run over B in blocks of [`ONES_BLOCK`]
/// rows, kept between blocks in a scratch copy, and continue in the same order (a
/// sum stored and loaded again is the same f32). Natively the widest vectors the CPU
/// has are chosen at run time; the bits are the same at every width.
///
/// Measured at 784 x 500: in Chromium, CD-1 at 262 updates/s with 32 columns and
/// blocks of 128 rows (256 without the blocks, 236 with 64 columns, 222 with 16);
/// natively with AVX-512, 493 with 128 columns and blocks of 128 (460 without the
/// blocks, 463 to 485 with 64 columns).
fn sum_rows_at_ones(
    ones: &Ones,
    rows: std::ops::Range<usize>,
    n: usize,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            unsafe { sum_rows_at_ones_avx512(ones, rows, n, b, c, accumulate) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { sum_rows_at_ones_avx2(ones, rows, n, b, c, accumulate) };
            return;
        }
    }
    sum_rows_at_ones_in::<32>(ones, rows, n, b, c, accumulate);
}

/// [`sum_rows_at_ones_in`] compiled for AVX-512 (sixteen lanes a register).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_rows_at_ones_avx512(
    ones: &Ones,
    rows: std::ops::Range<usize>,
    n: usize,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    sum_rows_at_ones_in::<128>(ones, rows, n, b, c, accumulate);
}

/// [`sum_rows_at_ones_in`] compiled for AVX2 (eight lanes a register).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_rows_at_ones_avx2(
    ones: &Ones,
    rows: std::ops::Range<usize>,
    n: usize,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    sum_rows_at_ones_in::<64>(ones, rows, n, b, c, accumulate);
}

/// The rows of B that one block of the sums runs over (see [`sum_rows_at_ones`]).
const ONES_BLOCK: usize = 128;

/// Blocks of W columns (or of 8, or single columns, when C is narrower than W).
#[inline(always)]
fn sum_rows_at_ones_in<const W: usize>(
    ones: &Ones,
    rows: std::ops::Range<usize>,
    n: usize,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    if n >= W {
        sum_columns_at_ones::<W>(ones, rows, n, b, c, accumulate);
    } else if n >= 8 {
        sum_columns_at_ones::<8>(ones, rows, n, b, c, accumulate);
    } else {
        sum_columns_at_ones::<1>(ones, rows, n, b, c, accumulate);
    }
}

/// All n (at least W) columns in blocks of W. The columns past the last whole block
/// are one more block that ends at column n, of which only the new columns are
/// stored (it sums some columns twice, to the same bits).
#[inline(always)]
fn sum_columns_at_ones<const W: usize>(
    ones: &Ones,
    rows: std::ops::Range<usize>,
    n: usize,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    let mut sums = vec![[0.0f32; W]; rows.len()];
    let mut next = vec![0usize; rows.len()];
    let whole = (0..n - n % W).step_by(W).map(|j0| (j0, 0));
    let last = (!n.is_multiple_of(W)).then_some((n - W, W - n % W));
    // (No closure here: it would be compiled without the caller's target features.)
    for (j0, skip) in whole.chain(last) {
        sum_block_at_ones(ones, rows.clone(), n, b, j0, &mut sums, &mut next);
        for (r, row_sums) in sums.iter().enumerate() {
            let start = r * n + j0;
            store(
                &mut c[start + skip..start + W],
                &row_sums[skip..],
                accumulate,
            );
        }
    }
}

/// Columns `j0..j0 + W` of the rows' sums into `sums` (one entry a row), B's rows
/// [`ONES_BLOCK`] at a time; `next` holds each row's place in its list of ones.
#[inline(always)]
fn sum_block_at_ones<const W: usize>(
    ones: &Ones,
    rows: std::ops::Range<usize>,
    n: usize,
    b: &[f32],
    j0: usize,
    sums: &mut [[f32; W]],
    next: &mut [usize],
) {
    sums.fill([0.0; W]);
    for (r, i) in rows.clone().enumerate() {
        next[r] = ones.starts[i];
    }
    for block_end in (ONES_BLOCK..ones.cols + ONES_BLOCK).step_by(ONES_BLOCK) {
        for (r, i) in rows.clone().enumerate() {
            let (mut at, end) = (next[r], ones.starts[i + 1]);
            if at == end || ones.positions[at] as usize >= block_end {
                continue;
            }
            // The sums in registers while this block's rows of B are added.
            let mut acc = sums[r];
            while at < end && (ones.positions[at] as usize) < block_end {
                let p = ones.positions[at] as usize;
                let b_row: &[f32; W] = b[p * n + j0..][..W].try_into().expect("W values");
                for (sum, &x) in acc.iter_mut().zip(b_row) {
                    *sum += x;
                }
                at += 1;
            }
            sums[r] = acc;
            next[r] = at;
        }
    }
}

/// Panics unless A's last element (m - 1, k - 1) is inside its data.
fn check_left_operand(m: usize, k: usize, a: Strided<'_>) {
    if m > 0 && k > 0 {
        let last = (m - 1) * a.row_stride + (k - 1) * a.col_stride;
        assert!(last < a.data.len(), "gemm: left operand too small");
    }
}

/// Runs `work(first_row, rows, a_rows, c_rows)` on row blocks of C (and the matching rows of A):
/// natively over [`threads`] threads when the product is large, else once on all of it.
/// A's size is checked by the caller ([`check_left_operand`]).
fn by_rows(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    c: &mut [f32],
    work: impl Fn(usize, usize, Strided<'_>, &mut [f32]) + Sync,
) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let threads = threads();
        if threads > 1 && m >= 2 * TILE_ROWS && m * k * n >= PARALLEL_MIN_WORK {
            // Whole row tiles per thread, so the edge rows stay where they were.
            let chunk_rows = m.div_ceil(threads).div_ceil(TILE_ROWS) * TILE_ROWS;
            let mut chunks = c[..m * n].chunks_mut(chunk_rows * n).enumerate();
            let (_, own) = chunks.next().expect("m > 0");
            let work = &work;
            std::thread::scope(|scope| {
                for (index, chunk) in chunks {
                    let rows = chunk.len() / n;
                    let part = Strided {
                        data: &a.data[index * chunk_rows * a.row_stride..],
                        ..a
                    };
                    scope.spawn(move || work(index * chunk_rows, rows, part, chunk));
                }
                // The calling thread takes the first rows itself.
                work(0, own.len() / n, a, own);
            });
            return;
        }
    }
    #[cfg(target_arch = "wasm32")]
    let _ = (k, n); // the browser build runs one block: k and n only size the threads' blocks
    work(0, m, a, c);
}

/// Products smaller than this many multiply-adds (about a third of a millisecond)
/// stay on one thread: spawning costs tens of microseconds per thread.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_MIN_WORK: usize = 1 << 20;

#[cfg(not(target_arch = "wasm32"))]
static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// How many threads a native [`gemm`] may use (1 unless [`set_threads`] said otherwise;
/// always 1 in the browser build, where a worker has one thread).
pub fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return THREADS.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(target_arch = "wasm32")]
    1
}

/// Lets native matrix products use up to `count` threads (at least 1). The results do
/// not depend on it. Scoped threads from std: no pool and no dependency, which suits
/// products of a few milliseconds each.
#[cfg(not(target_arch = "wasm32"))]
pub fn set_threads(count: usize) {
    THREADS.store(count.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// The browser build with relaxed SIMD (`./lab`'s fast modules): its products fuse
/// each multiply and add.
const RELAXED_SIMD: bool = cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd"));

static FAST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(RELAXED_SIMD);

/// Whether dense products use the fast kernels (see [`set_fast_maths`]).
pub fn fast_maths() -> bool {
    FAST.load(std::sync::atomic::Ordering::Relaxed)
}

/// Dense products with fused multiply-adds, whose sums round differently from the
/// portable kernel's: results differ from the deterministic bits (by a few units in the
/// last place per product) and may differ between processors.
/// - Natively, through the `matrixmultiply` crate, which picks AVX2 or AVX-512 kernels
///   at run time and blocks for the caches: several times the portable kernel's speed.
///   Off by default: the library keeps the portable bits; the command line turns it on
///   unless given `--portable`.
/// - In the browser, only in the build with relaxed SIMD (on there by default): the
///   portable kernel's tiles with `f32x4.relaxed_madd`, which the browser fuses where
///   the processor can. Elsewhere it changes nothing.
///
/// Products with a 0/1 left operand (see [`Ones`]) add rows either way.
pub fn set_fast_maths(on: bool) {
    FAST.store(on, std::sync::atomic::Ordering::Relaxed);
}

#[allow(clippy::too_many_arguments)]
fn gemm_serial(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    panels: Option<&[f32]>,
    c: &mut [f32],
    accumulate: bool,
) {
    if fast_maths() {
        #[cfg(not(target_arch = "wasm32"))]
        return gemm_fast(m, k, n, a, b, c, accumulate);
        #[cfg(target_arch = "wasm32")]
        if RELAXED_SIMD {
            return gemm_portable::<true, FUSED_TILE_ROWS>(m, k, n, a, b, panels, c, accumulate);
        }
    }
    gemm_portable::<false, TILE_ROWS>(m, k, n, a, b, panels, c, accumulate);
}

/// [`gemm_serial`] through the `matrixmultiply` crate (see [`set_fast_maths`]).
#[cfg(not(target_arch = "wasm32"))]
fn gemm_fast(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    if m > 0 && n > 0 {
        // Checked here as well as in `gemm`: the unsafe call below rests on them.
        assert!(
            c.len() >= m * n && b.len() >= k * n,
            "gemm: operand too small"
        );
        if k > 0 {
            let last = (m - 1) * a.row_stride + (k - 1) * a.col_stride;
            assert!(last < a.data.len(), "gemm: left operand too small");
        }
        let stride = |s: usize| isize::try_from(s).expect("a stride that fits");
        // SAFETY: the asserts above keep every index the crate reads or writes in bounds:
        // A's (i, p) at most `last`, B's (p, j) below k·n, C's (i, j) below m·n. With
        // beta = 0 the crate writes C without reading it.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.data.as_ptr(),
                stride(a.row_stride),
                stride(a.col_stride),
                b.as_ptr(),
                stride(n),
                1,
                if accumulate { 1.0 } else { 0.0 },
                c.as_mut_ptr(),
                stride(n),
                1,
            );
        }
    }
}

/// The portable kernel: the same bits on every target.
///
/// C is covered by ROWS x 8 tiles, the last row tile and column panel padded with zeros
/// in the packed copies of A and B, and only C's own elements stored. A padded row or
/// column changes no element's sum: each is `Σ_p A(i, p) B(p, j)` added from zero in p
/// order, as one scalar row at a time would add it (ragged edges took a quarter of a
/// 50-row product in the browser when they were summed one row at a time).
///
/// `FUSED` (the browser's relaxed-SIMD build only): each step of a sum is one fused
/// multiply-add, in the same order.
#[allow(clippy::too_many_arguments)]
fn gemm_portable<const FUSED: bool, const ROWS: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    panels: Option<&[f32]>,
    c: &mut [f32],
    accumulate: bool,
) {
    if k == 0 {
        // Empty sums are zero (added as +0.0, as the tiles would).
        for value in &mut c[..m * n] {
            *value = if accumulate { *value + 0.0 } else { 0.0 };
        }
        return;
    }
    if m == 0 || n == 0 {
        return;
    }
    // A's row tiles packed once, each as k groups of ROWS values (one load per
    // step of the sum), and each k x 8 panel of B packed before the row tiles use it
    // (or all of them beforehand: `panels`): both are then read straight through.
    let a_packed = pack_row_tiles::<ROWS>(a, m, k);
    let mut own_panel = if panels.is_some() {
        Vec::new()
    } else {
        vec![0.0f32; k * TILE_COLS]
    };
    // Column panels outermost: a k x 8 panel of B stays in cache while every row tile uses it.
    for j0 in (0..n).step_by(TILE_COLS) {
        let width = TILE_COLS.min(n - j0);
        let b_panel: &[f32] = match panels {
            Some(packed) => &packed[j0 * k..(j0 + TILE_COLS) * k],
            None => {
                pack_panel(n, b, j0, &mut own_panel);
                &own_panel
            }
        };
        for (t, a_tile) in a_packed.chunks_exact(k * ROWS).enumerate() {
            let i0 = t * ROWS;
            let acc = if FUSED {
                tile_sums_fused::<ROWS>(a_tile, b_panel)
            } else {
                tile_sums::<ROWS>(a_tile, b_panel)
            };
            if width == TILE_COLS && i0 + ROWS <= m {
                for (r, acc_row) in acc.iter().enumerate() {
                    let start = (i0 + r) * n + j0;
                    store(&mut c[start..start + TILE_COLS], acc_row, accumulate);
                }
            } else {
                // A copy, so that the sums above stay in registers (a slice of
                // variable length into `acc` itself made LLVM keep it in memory).
                let edge = acc;
                store_edge(c, n, (i0, j0), (m - i0, width), &edge, accumulate);
            }
        }
    }
}

/// One ROWS x 8 tile's sums, each added from zero in p order.
#[inline(always)]
fn tile_sums<const ROWS: usize>(a_tile: &[f32], b_panel: &[f32]) -> [[f32; TILE_COLS]; ROWS] {
    let mut acc = [[0.0f32; TILE_COLS]; ROWS];
    for (a_group, b_row) in a_tile
        .chunks_exact(ROWS)
        .zip(b_panel.chunks_exact(TILE_COLS))
    {
        for (acc_row, &a_value) in acc.iter_mut().zip(a_group) {
            for (acc_value, &b_value) in acc_row.iter_mut().zip(b_row) {
                *acc_value += a_value * b_value;
            }
        }
    }
    acc
}

/// [`tile_sums`] with `f32x4.relaxed_madd`: the browser fuses each multiply and add
/// where the processor has fused multiply-add. Written with intrinsics because LLVM does
/// not fuse the plain kernel's separate multiplies and adds (nor may it). Row by row,
/// each broadcast of A used by its two multiply-adds before the next is loaded: the
/// fast build keeps that order (`-pre-RA-sched=source`, see `lab`), so one broadcast is
/// live at a time.
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
const _: () = assert!(TILE_COLS == 8, "tile_sums_fused reads two f32x4 a row");

#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
#[inline(always)]
fn tile_sums_fused<const ROWS: usize>(a_tile: &[f32], b_panel: &[f32]) -> [[f32; TILE_COLS]; ROWS] {
    use core::arch::wasm32::{f32x4_relaxed_madd, f32x4_splat, v128, v128_load, v128_store};
    let mut acc = [[f32x4_splat(0.0); 2]; ROWS];
    for (a_group, b_row) in a_tile
        .chunks_exact(ROWS)
        .zip(b_panel.chunks_exact(TILE_COLS))
    {
        // SAFETY: `b_row` holds TILE_COLS = 8 values, the two 16-byte unaligned loads.
        let (b0, b1) = unsafe {
            let at = b_row.as_ptr().cast::<v128>();
            (v128_load(at), v128_load(at.add(1)))
        };
        for (acc_row, &a_value) in acc.iter_mut().zip(a_group) {
            let a_value = f32x4_splat(a_value);
            acc_row[0] = f32x4_relaxed_madd(a_value, b0, acc_row[0]);
            acc_row[1] = f32x4_relaxed_madd(a_value, b1, acc_row[1]);
        }
    }
    let mut sums = [[0.0f32; TILE_COLS]; ROWS];
    for (row, acc_row) in sums.iter_mut().zip(&acc) {
        // SAFETY: each row holds TILE_COLS = 8 values, the two 16-byte unaligned stores.
        unsafe {
            let at = row.as_mut_ptr().cast::<v128>();
            v128_store(at, acc_row[0]);
            v128_store(at.add(1), acc_row[1]);
        }
    }
    sums
}

/// Only the relaxed-SIMD build fuses; [`gemm_portable`] takes this branch nowhere else.
#[cfg(not(all(target_arch = "wasm32", target_feature = "relaxed-simd")))]
#[inline(always)]
fn tile_sums_fused<const ROWS: usize>(a_tile: &[f32], b_panel: &[f32]) -> [[f32; TILE_COLS]; ROWS] {
    tile_sums::<ROWS>(a_tile, b_panel)
}

/// The part of a tile at C's ragged edge: `rows` x `width` of it from `(i0, j0)`.
#[inline(never)]
fn store_edge<const ROWS: usize>(
    c: &mut [f32],
    n: usize,
    (i0, j0): (usize, usize),
    (rows, width): (usize, usize),
    acc: &[[f32; TILE_COLS]; ROWS],
    accumulate: bool,
) {
    for (r, acc_row) in acc.iter().enumerate().take(rows) {
        let start = (i0 + r) * n + j0;
        store(&mut c[start..start + width], &acc_row[..width], accumulate);
    }
}

/// A's rows in tiles of ROWS, each as k groups of ROWS values: group p of tile t holds
/// A(t·ROWS + r, p) for each row r of the tile (0 past row m).
fn pack_row_tiles<const ROWS: usize>(a: Strided<'_>, m: usize, k: usize) -> Vec<f32> {
    let tiles = m.div_ceil(ROWS);
    let mut packed = vec![0.0f32; tiles * k * ROWS];
    for (t, tile) in packed.chunks_exact_mut(k * ROWS).enumerate() {
        let rows = ROWS.min(m - t * ROWS);
        for (p, group) in tile.chunks_exact_mut(ROWS).enumerate() {
            for (r, value) in group.iter_mut().enumerate().take(rows) {
                *value = a.at(t * ROWS + r, p);
            }
        }
    }
    packed
}

/// B's k x 8 panel at column `j0` into `panel` (0 past column n).
fn pack_panel(n: usize, b: &[f32], j0: usize, panel: &mut [f32]) {
    let width = TILE_COLS.min(n - j0);
    for (p, row) in panel.chunks_exact_mut(TILE_COLS).enumerate() {
        if width == TILE_COLS {
            row.copy_from_slice(&b[p * n + j0..p * n + j0 + TILE_COLS]);
        } else {
            row[..width].copy_from_slice(&b[p * n + j0..p * n + j0 + width]);
            row[width..].fill(0.0);
        }
    }
}

#[inline(always)]
fn store(c_row: &mut [f32], acc: &[f32], accumulate: bool) {
    for (c_value, &sum) in c_row.iter_mut().zip(acc) {
        *c_value = if accumulate { *c_value + sum } else { sum };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small integers multiply and add exactly in f32, so the product can be compared exactly.
    fn integer_matrix(rows: usize, cols: usize, seed: i64) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| (((i as i64 * 7 + seed * 13) % 11) - 5) as f32)
            .collect()
    }

    fn reference(m: usize, k: usize, n: usize, a: &Strided<'_>, b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a.at(i, p) * b[p * n + j]).sum();
            }
        }
        c
    }

    /// The deterministic kernel (4-row tiles, B packed by the kernel itself).
    fn portable_product(
        m: usize,
        k: usize,
        n: usize,
        a: Strided<'_>,
        b: &[f32],
        c: &mut [f32],
        accumulate: bool,
    ) {
        gemm_portable::<false, TILE_ROWS>(m, k, n, a, b, None, c, accumulate);
    }

    /// Panels packed beforehand, and the fused kernel's taller tiles (here without
    /// fusing), give the same bits as the kernel's own packing and tiles, with random
    /// (not integer) values, so a different order of the sums would show.
    #[test]
    fn packed_panels_and_taller_tiles_give_the_same_bits() {
        let mut g = crate::rng::seeded(5);
        let mut random = |count: usize| -> Vec<f32> {
            (0..count)
                .map(|_| crate::rng::uniform(&mut g) - 0.5)
                .collect()
        };
        for &(m, k, n) in &[
            (1, 1, 8),
            (7, 13, 17),
            (10, 33, 40),
            (5, 9, 3),
            (12, 4, 64),
            (13, 6, 9),
        ] {
            let (a_data, b) = (random(m * k), random(k * n));
            let panels = pack_panels(k, n, &b);
            for accumulate in [false, true] {
                let start = random(m * n);
                let a = Strided::rows(&a_data, k);
                // C from `start`, with a NaN past its end to catch writes there.
                let product = |tall: bool, packed: Option<&[f32]>| {
                    let mut c = start.clone();
                    c.push(f32::NAN);
                    if tall {
                        gemm_portable::<false, FUSED_TILE_ROWS>(
                            m, k, n, a, &b, packed, &mut c, accumulate,
                        );
                    } else {
                        gemm_portable::<false, TILE_ROWS>(
                            m, k, n, a, &b, packed, &mut c, accumulate,
                        );
                    }
                    assert!(c[m * n].is_nan(), "a write past the end");
                    c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                };
                let plain = product(false, None);
                for (tall, packed) in [
                    (false, Some(&panels[..])),
                    (true, None),
                    (true, Some(&panels[..])),
                ] {
                    assert_eq!(
                        plain,
                        product(tall, packed),
                        "{m} x {k} x {n}, tall tiles {tall}"
                    );
                }
            }
        }
    }

    #[test]
    fn gemm_matches_the_definition_for_awkward_shapes() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (4, 8, 8),
            (9, 13, 17),
            (33, 2, 40),
            (0, 3, 4),
            (5, 0, 9),
            (4, 1, 8),
        ] {
            let a_data = integer_matrix(m, k, 1);
            let b = integer_matrix(k, n, 2);
            let a = Strided::rows(&a_data, k);
            // NaN outside the result catches writes past the end.
            let mut c = vec![f32::NAN; m * n + 3];
            gemm(m, k, n, a, &b, &mut c, false);
            assert_eq!(&c[..m * n], &reference(m, k, n, &a, &b)[..]);
            assert!(c[m * n..].iter().all(|v| v.is_nan()));
        }
    }

    #[test]
    fn gemm_accumulates_and_reads_a_transposed_left_operand() {
        let (m, k, n) = (6, 5, 11);
        let a_t = integer_matrix(k, m, 3); // stored k x m; used as its transpose
        let a = Strided::transpose_of(&a_t, m);
        let b = integer_matrix(k, n, 4);
        let mut c = vec![1.0f32; m * n];
        gemm(m, k, n, a, &b, &mut c, true);
        let expected: Vec<f32> = reference(m, k, n, &a, &b).iter().map(|v| v + 1.0).collect();
        assert_eq!(c, expected);
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn threads_give_the_same_bits_as_one_thread() {
        let _turn = THREAD_SETTING.lock().unwrap_or_else(|e| e.into_inner());
        // Values with long mantissas, so any change in summation order would show.
        let value = |i: usize| ((i as f32 * 0.618_034).fract() - 0.5) * 1.37;
        for &(m, k, n) in &[(101, 784, 37), (250, 97, 203), (9, 4096, 40)] {
            let a_data: Vec<f32> = (0..m * k).map(value).collect();
            let b: Vec<f32> = (0..k * n).map(|i| value(i + 7)).collect();
            for a in [Strided::rows(&a_data, k), Strided::transpose_of(&a_data, m)] {
                set_threads(1);
                let mut one = vec![0.25f32; m * n];
                gemm(m, k, n, a, &b, &mut one, true);
                for count in [2, 3, 8] {
                    set_threads(count);
                    let mut many = vec![0.25f32; m * n + 2];
                    many[m * n..].fill(f32::NAN);
                    gemm(m, k, n, a, &b, &mut many, true);
                    set_threads(1);
                    assert!(one
                        .iter()
                        .zip(&many)
                        .all(|(x, y)| x.to_bits() == y.to_bits()));
                    assert!(many[m * n..].iter().all(|v| v.is_nan()));
                }
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn fast_kernels_agree_with_the_portable_one_within_rounding() {
        // Two orders of summation of k + 1 terms (with or without fused multiply-add)
        // each differ from the exact sum by at most (k + 1) u Σ|terms| (u = 2^-24, plus
        // one rounding per product): the test allows twice that per element. A wrong
        // stride or a stray write would be off by the size of a term. The kernels are
        // called directly: the global switch would change other tests' bits meanwhile.
        let value = |i: usize| (i as f32 * 0.754_877_7).fract() * 2.0 - 1.0;
        for &(m, k, n) in &[
            (100, 784, 500),
            (7, 13, 9),
            (33, 1, 65),
            (0, 4, 4),
            (5, 0, 3),
        ] {
            let a_data: Vec<f32> = (0..m * k).map(value).collect();
            let b: Vec<f32> = (0..k * n).map(|i| value(i + 3)).collect();
            for a in [Strided::rows(&a_data, k), Strided::transpose_of(&a_data, m)] {
                for accumulate in [false, true] {
                    let mut portable = vec![0.5f32; m * n + 1];
                    portable[m * n] = f32::NAN;
                    let mut fast = portable.clone();
                    portable_product(m, k, n, a, &b, &mut portable, accumulate);
                    gemm_fast(m, k, n, a, &b, &mut fast, accumulate);
                    assert!(fast[m * n].is_nan(), "a write past the end");
                    for i in 0..m {
                        for j in 0..n {
                            let magnitude: f64 = (0..k)
                                .map(|p| f64::from((a.at(i, p) * b[p * n + j]).abs()))
                                .sum::<f64>()
                                + if accumulate { 0.5 } else { 0.0 };
                            let bound =
                                2.0 * (k as f64 + 2.0) * f64::from(f32::EPSILON) * magnitude;
                            let (x, y) = (portable[i * n + j], fast[i * n + j]);
                            assert!(
                                f64::from((x - y).abs()) <= bound,
                                "{m}x{k}x{n} ({i}, {j}): {x} vs {y}, bound {bound}"
                            );
                        }
                    }
                }
            }
        }
    }

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|x| x.to_bits()).collect()
    }

    /// `set_threads` is global: the tests that change it take turns.
    #[cfg(not(target_arch = "wasm32"))]
    static THREAD_SETTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Rows of ones give the dense kernel's bits: random B (long mantissas, so another
    /// order of the sums would show), 0/1 left operands at shares from none to all,
    /// stored by rows and by columns, widths around every block width (8, and W = 32,
    /// 64 and 128, each run here whatever this CPU would pick) and depths around the
    /// blocks of B's rows (128), with and without accumulating.
    #[test]
    fn rows_of_ones_give_the_dense_kernels_bits() {
        let mut g = crate::rng::seeded(11);
        let mut uniform = move || crate::rng::uniform(&mut g);
        let shapes = [
            (1, 1, 1),
            (3, 7, 5),
            (5, 127, 8),
            (9, 128, 9),
            (4, 129, 31),
            (7, 300, 33),
            (6, 40, 63),
            (3, 257, 65),
            (5, 30, 127),
            (4, 64, 129),
            (6, 20, 200),
            (40, 3, 50),
            (300, 20, 9),
            (13, 784, 500),
        ];
        for &(m, k, n) in &shapes {
            let b: Vec<f32> = (0..m.max(k) * n).map(|_| uniform() - 0.5).collect();
            for share in [0.0, 0.13, 0.5, 1.0] {
                let a_data: Vec<f32> = (0..m * k)
                    .map(|_| if uniform() < share { 1.0 } else { 0.0 })
                    .collect();
                let count = a_data.iter().filter(|&&x| x == 1.0).count();
                let most = (max_ones_share() * (m * k) as f64) as usize;
                // A as stored (m x k), and its transpose (k x m) read from the same data.
                let views = [
                    (Strided::rows(&a_data, k), m, k),
                    (Strided::transpose_of(&a_data, k), k, m),
                ];
                for (a, rows, depth) in views {
                    let b = &b[..depth * n];
                    let ones = Ones::of(a, rows, depth);
                    assert_eq!(ones.is_some(), count <= most, "{rows} x {depth} at {share}");
                    for accumulate in [false, true] {
                        let mut dense: Vec<f32> = (0..rows * n).map(|_| uniform()).collect();
                        dense.push(f32::NAN);
                        let mut through_gemm = dense.clone();
                        let mut widths = [dense.clone(), dense.clone(), dense.clone()];
                        portable_product(rows, depth, n, a, b, &mut dense, accumulate);
                        gemm(rows, depth, n, a, b, &mut through_gemm, accumulate);
                        let shape = format!("{rows} x {depth} x {n} at {share}");
                        assert_eq!(bits(&dense), bits(&through_gemm), "{shape}");
                        if let Some(ones) = &ones {
                            let [w32, w64, w128] = &mut widths;
                            sum_rows_at_ones_in::<32>(ones, 0..rows, n, b, w32, accumulate);
                            sum_rows_at_ones_in::<64>(ones, 0..rows, n, b, w64, accumulate);
                            sum_rows_at_ones_in::<128>(ones, 0..rows, n, b, w128, accumulate);
                            for (w, out) in [32, 64, 128].iter().zip(&widths) {
                                assert_eq!(bits(&dense), bits(out), "{shape}, {w} columns");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Only matrices of zeros and ones (either zero) qualify, and a non-finite B sends
    /// the product to the dense kernel, whose 0 · ∞ = NaN the sums of rows would miss.
    #[test]
    fn rows_of_ones_are_taken_only_where_they_are_exact() {
        let a_data = [1.0, 0.0, -0.0, 1.0, 0.0, 1.0];
        let ones = Ones::of(Strided::rows(&a_data, 3), 2, 3).expect("zeros and ones");
        assert_eq!((ones.row(0), ones.row(1)), (&[0u32][..], &[0u32, 2][..]));
        let columns = Ones::of(Strided::transpose_of(&a_data, 3), 3, 2).expect("by columns");
        assert_eq!(columns.row(0), &[0u32, 1][..]);
        assert_eq!(columns.row(2), &[1u32][..]);
        // Other values, in the sixteen-at-a-time part of a row and in its remainder.
        for at in [0, 5, 15, 16, 37] {
            for other in [0.5, 2.0, -1.0, f32::NAN, f32::INFINITY, 1e-30, 1e-40] {
                let mut a_data = vec![0.0f32; 40];
                a_data[at] = other;
                let a = Strided::rows(&a_data, 20);
                assert!(Ones::of(a, 2, 20).is_none(), "{other} at {at}");
            }
            let mut a_data = vec![1.0f32; 40];
            a_data[at] = -0.0;
            let ones = Ones::of(Strided::rows(&a_data, 40), 1, 40).expect("-0 is a zero");
            assert_eq!(ones.row(0).len(), 39);
        }
        // Finiteness, sixteen lanes at a time and in the remainder.
        assert!(all_finite(&[0.25; 40]));
        for at in [0, 5, 15, 16, 31, 39] {
            for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
                let mut b = vec![0.25f32; 40];
                b[at] = bad;
                assert!(!all_finite(&b), "{bad} at {at}");
                // 0/1 rows on the left: 0 · bad is NaN in the dense kernel, and so here.
                let a = Strided::rows(&[0.0f32, 1.0], 2);
                let (mut c, mut dense) = ([0.0f32; 20], [0.0f32; 20]);
                gemm(1, 2, 20, a, &b, &mut c, false);
                portable_product(1, 2, 20, a, &b, &mut dense, false);
                assert!(!c[at % 20].is_finite(), "{bad} at {at}");
                assert_eq!(bits(&c), bits(&dense), "{bad} at {at}");
            }
        }
        // A -0 in B: the dense sum (+0) + (-0) is +0, and so is the sum of rows; and a
        // -0 in C plus an empty sum is +0 both ways.
        let a_data = [0.0, 1.0];
        let mut c = [f32::NAN];
        gemm(
            1,
            2,
            1,
            Strided::rows(&a_data, 2),
            &[5.0, -0.0],
            &mut c,
            false,
        );
        assert_eq!(c[0].to_bits(), 0);
        let mut c = [-0.0f32];
        gemm(
            1,
            2,
            1,
            Strided::rows(&[0.0, 0.0], 2),
            &[5.0, 3.0],
            &mut c,
            true,
        );
        assert_eq!(c[0].to_bits(), 0);
    }

    /// Both ways of finding a row's ones (sixteen lanes portably, and AVX-512's masks
    /// where the CPU has them) agree with one value at a time, on rows of every length
    /// up to 70 with ones, zeros of both signs, and now and then another value.
    #[test]
    fn every_way_of_finding_ones_agrees() {
        let mut g = crate::rng::seeded(3);
        for trial in 0..3000 {
            let len = trial % 71;
            let row: Vec<f32> = (0..len)
                .map(|_| match (crate::rng::uniform(&mut g) * 1000.0) as u32 {
                    0 => f32::NAN,
                    1 => 0.5,
                    2..=400 => 1.0,
                    401..=600 => -0.0,
                    _ => 0.0,
                })
                .collect();
            let expected = row.iter().all(|&x| x == 0.0 || x == 1.0).then(|| {
                (0..len as u32)
                    .filter(|&p| row[p as usize] == 1.0)
                    .collect::<Vec<_>>()
            });
            let mut positions = Vec::new();
            let found = ones_in_row_portable(&row, &mut positions).then_some(positions);
            assert_eq!(found, expected, "{row:?}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut positions = Vec::new();
                // SAFETY: the CPU has AVX-512F, checked just above.
                let found = unsafe { ones_in_row_avx512(&row, &mut positions) };
                assert_eq!(found.then_some(positions), expected, "{row:?}");
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rows_of_ones_give_the_same_bits_on_any_number_of_threads() {
        let _turn = THREAD_SETTING.lock().unwrap_or_else(|e| e.into_inner());
        let value = |i: usize| ((i as f32 * 0.618_034).fract() - 0.5) * 1.37;
        let (m, k, n) = (101, 784, 203);
        let a_data: Vec<f32> = (0..m * k)
            .map(|i| f32::from((i as f32 * 0.754_877_7).fract() < 0.2))
            .collect();
        let b: Vec<f32> = (0..m.max(k) * n).map(value).collect();
        for (a, rows, depth) in [
            (Strided::rows(&a_data, k), m, k),
            (Strided::transpose_of(&a_data, k), k, m),
        ] {
            let mut dense = vec![0.25f32; rows * n];
            portable_product(rows, depth, n, a, &b, &mut dense, true);
            for count in [1, 2, 3, 8] {
                set_threads(count);
                let mut many = vec![0.25f32; rows * n];
                gemm(rows, depth, n, a, &b, &mut many, true);
                set_threads(1);
                assert_eq!(bits(&dense), bits(&many), "{rows} rows, {count} threads");
            }
        }
    }

    #[test]
    fn transpose_round_trips() {
        let m = Matrix::from_vec(37, 45, integer_matrix(37, 45, 5)).unwrap();
        let t = m.transposed();
        assert_eq!(t.rows(), 45);
        assert_eq!(t.row(3)[7], m.row(7)[3]);
        assert_eq!(t.transposed(), m);
    }
}
