//! What a stroke of a skeleton is — straight segments, an open smooth curve or a closed one,
//! through control points in a unit box — and how it is flattened into a polyline
//! (Catmull–Rom spans cut into short straight pieces) before the style bends it.

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    /// Straight segments between the points, with sharp corners.
    Line,
    /// A smooth curve through the points (Catmull–Rom).
    Curve,
    /// A smooth closed curve through the points.
    Loop,
}

pub(super) struct Stroke {
    pub(super) kind: Kind,
    pub(super) points: &'static [(f32, f32)],
}

pub(super) const fn line(points: &'static [(f32, f32)]) -> Stroke {
    Stroke {
        kind: Kind::Line,
        points,
    }
}
pub(super) const fn curve(points: &'static [(f32, f32)]) -> Stroke {
    Stroke {
        kind: Kind::Curve,
        points,
    }
}
pub(super) const fn closed(points: &'static [(f32, f32)]) -> Stroke {
    Stroke {
        kind: Kind::Loop,
        points,
    }
}

/// Spans of a smooth curve are cut into straight pieces about this long (in units of the box,
/// about a pixel and a half), and never more than `MAX_PIECES`.
const PIECE: f32 = 0.07;
const MAX_PIECES: usize = 8;

/// The polyline of one stroke.
pub(super) fn flatten(kind: Kind, p: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let n = p.len();
    if kind == Kind::Line || n < 2 {
        return p.to_vec();
    }
    let closed = kind == Kind::Loop;
    let spans = if closed { n } else { n - 1 };
    // Neighbours of an open curve's ends are mirrored, so the curve leaves its ends straight.
    let at = |i: isize| -> [f32; 2] {
        if closed {
            p[i.rem_euclid(n as isize) as usize]
        } else if i < 0 {
            [2.0 * p[0][0] - p[1][0], 2.0 * p[0][1] - p[1][1]]
        } else if i as usize >= n {
            [
                2.0 * p[n - 1][0] - p[n - 2][0],
                2.0 * p[n - 1][1] - p[n - 2][1],
            ]
        } else {
            p[i as usize]
        }
    };
    let mut out = Vec::with_capacity(spans * MAX_PIECES + 1);
    for s in 0..spans as isize {
        let (p0, p1, p2, p3) = (at(s - 1), at(s), at(s + 1), at(s + 2));
        let chord = ((p2[0] - p1[0]).powi(2) + (p2[1] - p1[1]).powi(2)).sqrt();
        let pieces = ((chord / PIECE).ceil() as usize).clamp(2, MAX_PIECES);
        for k in 0..pieces {
            let t = k as f32 / pieces as f32;
            let (t2, t3) = (t * t, t * t * t);
            let c = |a: usize| {
                0.5 * (2.0 * p1[a]
                    + (p2[a] - p0[a]) * t
                    + (2.0 * p0[a] - 5.0 * p1[a] + 4.0 * p2[a] - p3[a]) * t2
                    + (3.0 * p1[a] - p0[a] - 3.0 * p2[a] + p3[a]) * t3)
            };
            out.push([c(0), c(1)]);
        }
    }
    out.push(at(spans as isize));
    out
}
