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

/// The gemm crate on halves of the output (the longer side), one thread each. One fork and one
/// join per product: measured at least as fast as the crate's own `Rayon(2)` mode, and much
/// steadier when the other core is busy (the UI thread, another process).
fn gemm_split(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    let (m, n) = c.dim();
    if threads < 2 || m.max(n) < 64 {
        return gemm_crate(a, b, c, accumulate, 1);
    }
    if n >= m {
        let half = (n / 2).next_multiple_of(16).min(n);
        let (b0, b1) = b.split_at(Axis(1), half);
        let (c0, c1) = c.split_at(Axis(1), half);
        rayon::join(
            || gemm_crate(a, b0, c0, accumulate, 1),
            || gemm_crate(a, b1, c1, accumulate, 1),
        );
    } else {
        let half = (m / 2).next_multiple_of(16).min(m);
        let (a0, a1) = a.split_at(Axis(0), half);
        let (c0, c1) = c.split_at(Axis(0), half);
        rayon::join(
            || gemm_crate(a0, b, c0, accumulate, 1),
            || gemm_crate(a1, b, c1, accumulate, 1),
        );
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

/// `matrixmultiply`, with the output split in halves across threads (rows or columns, whichever
/// is longer).
#[allow(unsafe_code)] // the crate's API takes raw pointers (see SAFETY below)
fn mm_split(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    accumulate: bool,
    threads: usize,
) {
    let (m, n) = c.dim();
    if threads > 1 && m.max(n) >= 32 {
        let left = threads / 2;
        if m >= n {
            let half = (m / 2).next_multiple_of(8).min(m);
            let (a0, a1) = a.split_at(Axis(0), half);
            let (c0, c1) = c.split_at(Axis(0), half);
            rayon::join(
                || mm_split(a0, b, c0, accumulate, left),
                || mm_split(a1, b, c1, accumulate, threads - left),
            );
        } else {
            let half = (n / 2).next_multiple_of(8).min(n);
            let (b0, b1) = b.split_at(Axis(1), half);
            let (c0, c1) = c.split_at(Axis(1), half);
            rayon::join(
                || mm_split(a, b0, c0, accumulate, left),
                || mm_split(a, b1, c1, accumulate, threads - left),
            );
        }
        return;
    }
    let k = a.dim().1;
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
