//! Reusable scratch buffers for the ops' temporaries (im2col columns, transposed gradients).
//!
//! A fresh `vec![0.0; n]` of a few megabytes costs a zero-fill, and often page faults, every
//! step; profiling the U-Net showed that as a tenth of its time. Each thread keeps a few
//! buffers here instead. A buffer comes back with stale contents: callers must write every
//! element they later read.

use std::cell::RefCell;

/// Buffers kept per thread; more are allocated (and dropped) as needed.
const KEEP: usize = 8;

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of at least `len` values (slice it to `..len`), contents unspecified. Kept buffers
/// are never shortened, so a reused buffer costs no fill at all; one that must grow is
/// zero-filled over the growth only.
pub fn take(len: usize) -> Vec<f32> {
    let mut v = POOL
        .with(|p| {
            let mut p = p.borrow_mut();
            // The smallest kept buffer that is big enough, else the biggest one.
            let fit = (0..p.len())
                .filter(|&i| p[i].capacity() >= len)
                .min_by_key(|&i| p[i].capacity())
                .or_else(|| (0..p.len()).max_by_key(|&i| p[i].capacity()));
            fit.map(|i| p.swap_remove(i))
        })
        .unwrap_or_default();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

/// Hands a buffer back for reuse on this thread.
pub fn give(v: Vec<f32>) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_with_the_requested_length() {
        let mut a = take(1000);
        a[999] = 7.0;
        let ptr = a.as_ptr();
        give(a);
        let b = take(500);
        assert!(b.len() >= 500);
        assert_eq!(b.as_ptr(), ptr, "the kept buffer is handed out again");
        give(b);
        let c = take(2000);
        assert!(c.len() >= 2000);
        give(c);
    }
}
