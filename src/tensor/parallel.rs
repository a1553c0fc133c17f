//! Splitting work over items (images of a batch, rows) between the threads. Splits are
//! contiguous and depend only on the item count and the thread count, so any partial results
//! combined in order give the same answer on every run.

use std::ops::Range;

use super::matmul::{PARALLEL_MIN_WORK, num_threads};

/// Threads worth using for `work` multiply-adds.
pub fn threads_for(work: usize) -> usize {
    if work < PARALLEL_MIN_WORK {
        1
    } else {
        num_threads().min(2)
    }
}

/// Calls `f(items, out_part)` for contiguous ranges of `n` items, where `out` holds `per_item`
/// values per item, on up to two threads. Returns the results in item order.
pub fn par_items<R: Send>(
    out: &mut [f32],
    n: usize,
    threads: usize,
    f: impl Fn(Range<usize>, &mut [f32]) -> R + Sync,
) -> Vec<R> {
    let per_item = out.len().checked_div(n).unwrap_or(0);
    if threads <= 1 || n < 2 {
        return vec![f(0..n, out)];
    }
    let mid = n / 2;
    let (a, b) = out.split_at_mut(mid * per_item);
    let (ra, rb) = rayon::join(|| f(0..mid, a), || f(mid..n, b));
    vec![ra, rb]
}
