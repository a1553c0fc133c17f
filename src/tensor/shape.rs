//! Shape arithmetic shared by the ops: broadcasting (NumPy rules), reducing a gradient back to
//! the shape of a broadcast input, and negative axis numbers.

use ndarray::{Axis, IxDyn};

use super::Tensor;

/// The shape two operands broadcast to (align right; a 1 stretches). Panics if incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n {
                a[i + a.len() - n]
            } else {
                1
            };
            let db = if i + b.len() >= n {
                b[i + b.len() - n]
            } else {
                1
            };
            match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => panic!("shapes {a:?} and {b:?} do not broadcast"),
            }
        })
        .collect()
}

/// Sums `g` over the axes along which an input of shape `shape` was broadcast, so the result
/// has exactly `shape`. This is the backward of broadcasting.
pub fn sum_to(g: Tensor, shape: &[usize]) -> Tensor {
    if g.shape() == shape {
        return g;
    }
    if let (Some((len, inner)), Some(gs)) = (block_broadcast(g.shape(), shape), g.as_slice()) {
        let mut out = vec![0.0f32; len];
        if inner == 1 {
            for row in gs.chunks_exact(len) {
                super::kernels::add_assign(&mut out, row);
            }
        } else {
            for (i, seg) in gs.chunks_exact(inner).enumerate() {
                out[i % len] += super::kernels::sum(seg);
            }
        }
        return from_vec(shape, out);
    }
    let mut g = g;
    while g.ndim() > shape.len() {
        g = g.sum_axis(Axis(0));
    }
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[i] != 1 {
            g = g.sum_axis(Axis(i)).insert_axis(Axis(i));
        }
    }
    debug_assert_eq!(g.shape(), shape);
    standard(g)
}

/// How a smaller operand repeats over a full one, when it can be read by flat index: if
/// `small` (right-aligned to `full`'s rank) equals `full` on one contiguous range of axes and is
/// 1 elsewhere, returns `(len, inner)` such that element i of `full` pairs with element
/// `(i / inner) % len` of `small`. Covers biases (B,N)+(N), per-channel terms (B,C,H,W)+(B,C,1,1),
/// positions (B,T,D)+(T,D) and scalars.
pub fn block_broadcast(full: &[usize], small: &[usize]) -> Option<(usize, usize)> {
    if small.len() > full.len() {
        return None;
    }
    let pad = full.len() - small.len();
    let at = |k: usize| if k < pad { 1 } else { small[k - pad] };
    let non_one: Vec<usize> = (0..full.len()).filter(|&k| at(k) != 1).collect();
    let (Some(&lo), Some(&hi)) = (non_one.first(), non_one.last()) else {
        return Some((1, 1));
    };
    if (lo..=hi).any(|k| at(k) != full[k]) {
        return None;
    }
    Some((
        full[lo..=hi].iter().product(),
        full[hi + 1..].iter().product(),
    ))
}

/// A negative axis counts from the end (-1 is the last).
pub fn axis(axis: isize, ndim: usize) -> usize {
    let a = if axis < 0 { axis + ndim as isize } else { axis };
    assert!(
        a >= 0 && (a as usize) < ndim,
        "axis {axis} out of range for {ndim} dimensions"
    );
    a as usize
}

/// The same tensor in C order (no copy if it already is).
pub fn standard(t: Tensor) -> Tensor {
    if t.is_standard_layout() {
        t
    } else {
        t.as_standard_layout().into_owned()
    }
}

/// A tensor of the given shape from a vector in C order.
pub fn from_vec(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_shape_vec(IxDyn(shape), v).expect("length matches the shape")
}

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy_rules() {
        assert_eq!(broadcast_shape(&[4, 1, 3], &[5, 1]), vec![4, 5, 3]);
        assert_eq!(broadcast_shape(&[], &[2, 2]), vec![2, 2]);
    }

    #[test]
    fn block_broadcast_finds_biases_channels_and_scalars() {
        assert_eq!(block_broadcast(&[4, 3], &[3]), Some((3, 1)));
        assert_eq!(block_broadcast(&[2, 3, 5, 5], &[2, 3, 1, 1]), Some((6, 25)));
        assert_eq!(block_broadcast(&[2, 3], &[]), Some((1, 1)));
        assert_eq!(block_broadcast(&[2, 3, 4], &[2, 1, 4]), None);
    }

    #[test]
    fn sum_to_reduces_leading_and_stretched_axes() {
        let g = Tensor::ones(IxDyn(&[4, 5, 3]));
        let s = sum_to(g, &[5, 1]);
        assert_eq!(s.shape(), &[5, 1]);
        assert!(s.iter().all(|&x| x == 12.0));
    }
}
