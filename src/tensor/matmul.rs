//! Matrix products, the hot path of training. One entry point, `gemm_into`, over ndarray views
//! whose strides may describe transposed operands, so backward's Aᵀ·B and A·Bᵀ need no copies.
//!
//! Backends, as measured on the 2-core AVX-512 machine (see docs/bench.md): the `gemm` crate
//! with its AVX-512 kernels is fastest for A·B and Aᵀ·B; for A·Bᵀ (both operands contiguous
//! along k) `matrixmultiply` with its AVX-512 kernel is faster, so that case goes there. Both
//! pick their kernels at run time. Large products use both cores, each computing half of the
//! output; small ones stay on the calling thread, where the thread hand-off would cost as much
//! as the product. Every split is over output rows or columns, never over k, so results do not
//! depend on timing.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis};

static THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: Once = Once::new();

/// Products with m·n·k below this run on one thread.
pub const PARALLEL_MIN_WORK: usize = 2 << 20;

/// Sets how many threads large products may use (default: 2, or 1 on a one-core machine).
/// The first call also sizes the global rayon pool; later calls can only lower the count used.
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
    init_pool();
}

/// The number of threads large products use.
pub fn num_threads() -> usize {
    let t = THREADS.load(Ordering::Relaxed);
    if t == 0 {
        let default = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(2);
        THREADS.store(default, Ordering::Relaxed);
        init_pool();
        default
    } else {
        t
    }
}

fn init_pool() {
    POOL.call_once(|| {
        let n = THREADS.load(Ordering::Relaxed).max(1);
        // Fails only if someone else built the global pool first; then theirs is used.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    });
}

fn threads_for(work: usize) -> usize {
    if work < PARALLEL_MIN_WORK {
        1
    } else {
        num_threads()
    }
}

/// c ← a·b (or c ← c + a·b when `accumulate`). Shapes: a (m,k), b (k,n), c (m,n); any strides.
pub fn gemm_into(a: ArrayView2<f32>, b: ArrayView2<f32>, c: ArrayViewMut2<f32>, accumulate: bool) {
    let work = a.dim().0 * a.dim().1 * b.dim().1;
    gemm_into_threads(a, b, c, accumulate, threads_for(work));
}

/// `gemm_into` on at most `threads` threads (1 inside work that is already split).
pub fn gemm_into_threads(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    if is_empty_product(&a, &b, &mut c, accumulate) {
        return;
    }
    let n = b.dim().1;
    let b_is_transposed = b.strides()[0] == 1 && b.strides()[1] != 1 && n > 1;
    if b_is_transposed {
        mm_split(a, b, c, accumulate, threads);
    } else {
        gemm_split(a, b, c, accumulate, threads);
    }
}

/// The gemm crate on column (or row) blocks of the output, taken by two threads from a shared
/// counter: a thread that the OS has descheduled (the UI thread, another process) delays only
/// the block it holds, as the other thread takes the rest. Every block is computed on one
/// thread with the full k, the same whichever thread takes it, so results do not depend on
/// timing (gemm's k blocking depends on k alone, so they match the one-thread product).
fn gemm_split(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    split_product(a, b, c, accumulate, threads, gemm_crate);
}

/// `kernel` (one thread) on blocks of the output, as `gemm_split` describes.
#[allow(unsafe_code)] // one view per block of the shared output (see SAFETY below)
fn split_product(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
    kernel: fn(ArrayView2<f32>, ArrayView2<f32>, ArrayViewMut2<f32>, bool, usize),
) {
    let (m, n) = c.dim();
    if threads < 2 || m.max(n) < 64 || c.strides().iter().any(|&s| s < 0) {
        return kernel(a, b, c, accumulate, 1);
    }
    let along_n = n >= m;
    let len = if along_n { n } else { m };
    let block = block_len(len);
    let blocks = len.div_ceil(block);
    let c = SharedOut::new(c);
    par_blocks(blocks, &|i| {
        let r = i * block..((i + 1) * block).min(len);
        // SAFETY: blocks are disjoint ranges of the output, each handed out once.
        let ci = unsafe { c.part(along_n, r.clone()) };
        if along_n {
            kernel(a, b.slice(ndarray::s![.., r]), ci, accumulate, 1);
        } else {
            kernel(a.slice(ndarray::s![r, ..]), b, ci, accumulate, 1);
        }
    });
}

/// Blocks per product when it is split: enough that one slow thread holds up little of it,
/// few enough that each block keeps the kernels efficient.
const BLOCKS: usize = 8;

/// The length of one block along a side of `len`: a multiple of 16, at least 32.
fn block_len(len: usize) -> usize {
    len.div_ceil(BLOCKS).next_multiple_of(16).max(32).min(len)
}

/// Calls `f(i)` for every i in 0..blocks on up to two threads, each taking the next block
/// when it is free.
fn par_blocks(blocks: usize, f: &(dyn Fn(usize) + Sync)) {
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= blocks {
                break;
            }
            f(i);
        }
    };
    rayon::join(work, work);
}

/// An output matrix shared by the threads of a split product, each writing its own block.
struct SharedOut {
    ptr: *mut f32,
    dim: (usize, usize),
    strides: (isize, isize),
}

// SAFETY: the threads write disjoint blocks (see `part`).
#[allow(unsafe_code)]
unsafe impl Sync for SharedOut {}

#[allow(unsafe_code)] // a view per block of one exclusive output (see SAFETY at each use)
impl SharedOut {
    fn new(mut c: ArrayViewMut2<f32>) -> Self {
        let s = c.strides();
        Self {
            dim: c.dim(),
            strides: (s[0], s[1]),
            ptr: c.as_mut_ptr(),
        }
    }

    /// The columns (or rows) `r` of the output. Callers must not hold two views of one block.
    unsafe fn part(&self, along_n: bool, r: std::ops::Range<usize>) -> ArrayViewMut2<'_, f32> {
        use ndarray::ShapeBuilder;
        let (m, n) = self.dim;
        let (s0, s1) = self.strides;
        let (dim, off) = if along_n {
            ((m, r.len()), r.start as isize * s1)
        } else {
            ((r.len(), n), r.start as isize * s0)
        };
        // SAFETY: the block lies inside the output the pointer came from, which outlives the
        // split, and no other view of it exists (the caller's promise).
        unsafe {
            ArrayViewMut2::from_shape_ptr(
                dim.strides((s0 as usize, s1 as usize)),
                self.ptr.offset(off),
            )
        }
    }
}

/// c ← a·b (+ c) by the gemm crate whatever the strides, on up to `threads` threads: for
/// callers that know their layout suits it better than `gemm_into`'s choice.
pub fn gemm_crate_into(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    let mut c = c;
    if is_empty_product(&a, &b, &mut c, accumulate) {
        return;
    }
    gemm_split(a, b, c, accumulate, threads);
}

/// Checks the shapes of c ← a·b (+ c); true (with c done) when there is nothing to multiply:
/// an empty output, or k = 0 (then c is 0, or unchanged when accumulating).
fn is_empty_product(
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    c: &mut ArrayViewMut2<f32>,
    accumulate: bool,
) -> bool {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(
        k, k2,
        "matmul: inner dimensions differ ({m}×{k} · {k2}×{n})"
    );
    assert_eq!(c.dim(), (m, n), "matmul: output has the wrong shape");
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return true;
    }
    false
}

/// The `gemm` crate on raw pointers and the views' strides.
#[allow(unsafe_code)] // the crate's API takes raw pointers (see SAFETY below)
fn gemm_crate(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
    let (sa0, sa1, sb0, sb1, sc0, sc1) = (sa[0], sa[1], sb[0], sb[1], sc[0], sc[1]);
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the pointers and strides come from live ndarray views of the stated shapes, the
    // output view is exclusive, and gemm reads/writes only within those shapes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc1,
            sc0,
            accumulate,
            a.as_ptr(),
            sa1,
            sa0,
            b.as_ptr(),
            sb1,
            sb0,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        );
    }
}

/// `matrixmultiply`, with the output split in blocks across threads (see `gemm_split`).
fn mm_split(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    split_product(a, b, c, accumulate, threads, mm_one);
}

/// `matrixmultiply` on the calling thread.
#[allow(unsafe_code)] // the crate's API takes raw pointers (see SAFETY below)
fn mm_one(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    accumulate: bool,
    _threads: usize,
) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
    let (sa0, sa1, sb0, sb1, sc0, sc1) = (sa[0], sa[1], sb[0], sb[1], sc[0], sc[1]);
    // SAFETY: as in `gemm_crate`: live views, exclusive output, shapes checked by the caller.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            sa0,
            sa1,
            b.as_ptr(),
            sb0,
            sb1,
            if accumulate { 1.0 } else { 0.0 },
            c.as_mut_ptr(),
            sc0,
            sc1,
        );
    }
}

/// a·b into a new array.
pub fn matmul2(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let mut c = Array2::zeros((a.dim().0, b.dim().1));
    gemm_into(a, b, c.view_mut(), false);
    c
}

/// Batched `c[i] ← a[i]·b[i] (+ c[i])`. Each product is small (attention heads), so threads
/// split the batch instead of the products.
pub fn batched_gemm_into(
    a: ArrayView3<f32>,
    b: ArrayView3<f32>,
    c: ArrayViewMut3<f32>,
    accumulate: bool,
) {
    let (batch, m, k) = a.dim();
    assert_eq!(b.dim().0, batch, "batched matmul: batch sizes differ");
    assert_eq!(c.dim().0, batch, "batched matmul: output batch differs");
    let n = b.dim().2;
    let threads = threads_for(batch * m * n * k);
    batched_split(a, b, c, accumulate, threads);
}

fn batched_split(
    a: ArrayView3<f32>,
    b: ArrayView3<f32>,
    mut c: ArrayViewMut3<f32>,
    accumulate: bool,
    threads: usize,
) {
    let batch = a.dim().0;
    if threads > 1 && batch >= 2 {
        let half = batch / 2;
        let left = threads / 2;
        let (a0, a1) = a.split_at(Axis(0), half);
        let (b0, b1) = b.split_at(Axis(0), half);
        let (c0, c1) = c.split_at(Axis(0), half);
        rayon::join(
            || batched_split(a0, b0, c0, accumulate, left),
            || batched_split(a1, b1, c1, accumulate, threads - left),
        );
        return;
    }
    for ((ai, bi), ci) in a.outer_iter().zip(b.outer_iter()).zip(c.outer_iter_mut()) {
        let (m, k) = ai.dim();
        let n = bi.dim().1;
        if m * n * k < 32 * 32 * 32 {
            // Tiny products: the packing of the big kernels costs more than the loop.
            small_gemm(ai, bi, ci, accumulate);
        } else if bi.strides()[0] == 1 && bi.strides()[1] != 1 && n > 1 {
            mm_split(ai, bi, ci, accumulate, 1);
        } else {
            gemm_crate(ai, bi, ci, accumulate, 1);
        }
    }
}

fn small_gemm(a: ArrayView2<f32>, b: ArrayView2<f32>, mut c: ArrayViewMut2<f32>, accumulate: bool) {
    if !accumulate {
        c.fill(0.0);
    }
    ndarray::linalg::general_mat_mul(1.0, &a, &b, 1.0, &mut c);
}

/// Batched a·b into a new array.
pub fn batched_matmul(a: ArrayView3<f32>, b: ArrayView3<f32>) -> Array3<f32> {
    let mut c = Array3::zeros((a.dim().0, a.dim().1, b.dim().2));
    batched_gemm_into(a, b, c.view_mut(), false);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(r: usize, c: usize, seed: u32) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| {
            (((i * 31 + j * 17 + seed as usize * 7) % 23) as f32 - 11.0) / 11.0
        })
    }

    fn assert_close(x: &Array2<f32>, y: &Array2<f32>) {
        let err = (x - y).iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(err < 1e-3, "max abs error {err}");
    }

    #[test]
    fn every_layout_and_size_agrees_with_ndarray_dot() {
        set_num_threads(2);
        for &(m, k, n) in &[
            (3, 5, 7),
            (128, 784, 512),
            (1, 64, 1),
            (70, 300, 90),
            (784, 128, 256),
        ] {
            let a = filled(m, k, 1);
            let b = filled(k, n, 2);
            let at = a.t().to_owned(); // (k, m) row-major: at.t() is a transposed view of a
            let bt = b.t().to_owned();
            let want = a.dot(&b);
            assert_close(&matmul2(a.view(), b.view()), &want);
            assert_close(&matmul2(at.t(), b.view()), &want);
            assert_close(&matmul2(a.view(), bt.t()), &want);
            assert_close(&matmul2(at.t(), bt.t()), &want);
        }
    }

    #[test]
    fn a_split_product_equals_the_one_thread_product_bit_for_bit() {
        set_num_threads(2);
        for &(m, k, n) in &[
            (128, 784, 512),
            (784, 128, 256),
            (128, 400, 40),
            (300, 70, 90),
        ] {
            let a = filled(m, k, 5);
            let b = filled(k, n, 6);
            let bt = b.t().to_owned();
            for b in [b.view(), bt.t()] {
                let mut one = Array2::zeros((m, n));
                let mut two = Array2::zeros((m, n));
                gemm_into_threads(a.view(), b, one.view_mut(), false, 1);
                gemm_into_threads(a.view(), b, two.view_mut(), false, 2);
                assert_eq!(one, two, "{m}×{k}×{n}");
            }
        }
    }

    #[test]
    fn accumulate_adds_to_the_output() {
        let a = filled(40, 50, 3);
        let b = filled(50, 60, 4);
        let mut c = Array2::ones((40, 60));
        gemm_into(a.view(), b.view(), c.view_mut(), true);
        assert_close(&c, &(a.dot(&b) + 1.0));
    }

    #[test]
    fn batched_products_match_one_by_one() {
        let a = Array3::from_shape_fn((6, 20, 8), |(i, j, k)| {
            ((i + 2 * j + 3 * k) % 7) as f32 - 3.0
        });
        let b = Array3::from_shape_fn((6, 8, 40), |(i, j, k)| ((3 * i + j + k) % 5) as f32 - 2.0);
        let c = batched_matmul(a.view(), b.view());
        for i in 0..6 {
            assert_close(
                &c.index_axis(Axis(0), i).to_owned(),
                &a.index_axis(Axis(0), i).dot(&b.index_axis(Axis(0), i)),
            );
        }
    }
}
