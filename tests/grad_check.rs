//! Every op through the gradient checker, over several shapes (broadcasting included), one
//! test per op, plus a proof that the checker catches a wrong derivative. One op alone:
//! `cargo test --test grad_check -- --exact backward_matches_central_differences_for::conv2d`.

use mllab::tensor::{GradCheckConfig, Graph, ParamStore, Tensor, Var, grad_check, uniform};
use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// Inputs drawn uniformly from ±[lo, hi] (a random sign), away from kinks at 0 when lo > 0.
fn draw(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mag = uniform(shape, lo, hi, &mut rng);
    let sign = uniform(shape, -1.0, 1.0, &mut rng);
    ndarray::Zip::from(&mag)
        .and(&sign)
        .map_collect(|m, s| if *s < 0.0 { -m } else { *m })
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    uniform(shape, 0.5, 2.0, &mut rng)
}

type OpFn = fn(&Graph, &[Var]) -> Var;

/// Checks `op` on `inputs`; `what` names the case in the failure message.
fn check(what: &str, inputs: Vec<Tensor>, op: OpFn) {
    let mut ps = ParamStore::new();
    let ids: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| ps.add(format!("in{i}"), t.clone()))
        .collect();
    let cfg = GradCheckConfig::default();
    let report = grad_check(
        &mut ps,
        |g| {
            let vars: Vec<Var> = ids.iter().map(|&id| g.param(id)).collect();
            op(g, &vars)
        },
        &cfg,
    );
    assert_eq!(report.params.len(), inputs.len());
    assert!(report.params.iter().all(|p| p.checked > 0));
    assert!(
        report.passed(),
        "{what} failed the gradient check:\n{report}"
    );
    println!("{what:<40} worst relative error {:.1e}", report.worst());
}

fn r(shape: &[usize], seed: u64) -> Tensor {
    draw(shape, 0.1, 1.5, seed)
}

fn causal_mask(t: usize) -> ArrayD<bool> {
    ArrayD::from_shape_fn(IxDyn(&[t, t]), |ix| ix[1] > ix[0])
}

/// Values spread well apart, so that ±h never changes which one is the largest.
fn separated(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let vals: Vec<f32> = (0..n).map(|i| ((i * 7919) % n) as f32 * 0.1).collect();
    Tensor::from_shape_vec(IxDyn(shape), vals).unwrap()
}

/// Same shapes, then broadcasting both ways.
const BINARY_SHAPES: [(&[usize], &[usize]); 5] = [
    (&[3, 4], &[3, 4]),
    (&[2, 3, 4], &[4]),
    (&[3, 1], &[1, 5]),
    (&[2, 3, 4], &[2, 1, 4]),
    (&[], &[3]),
];

/// The shapes every elementwise op and reduction is checked on.
const UNARY_SHAPES: [&[usize]; 3] = [&[7], &[3, 5], &[2, 3, 4]];

/// A binary op over [`BINARY_SHAPES`]; `b` draws its second input (shape, seed).
fn binary(name: &str, seeds: (u64, u64), b: fn(&[usize], u64) -> Tensor, op: OpFn) {
    for (sa, sb) in BINARY_SHAPES {
        check(
            &format!("{name} {sa:?} with {sb:?}"),
            vec![r(sa, seeds.0), b(sb, seeds.1)],
            op,
        );
    }
}

/// A one-input op over [`UNARY_SHAPES`]; `x` draws its input (shape, seed).
fn unary(name: &str, seed: u64, x: fn(&[usize], u64) -> Tensor, op: OpFn) {
    for s in UNARY_SHAPES {
        check(&format!("{name} {s:?}"), vec![x(s, seed)], op);
    }
}

/// One `#[test]` per op, named after it, so that a failing op hides none of the others: each
/// `name: body;` becomes the test `name` running `body` (one or more checks of that op).
macro_rules! grad_check {
    ($($name:ident: $body:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $body
            }
        )*
    };
}

mod backward_matches_central_differences_for {
    use super::*;

    grad_check! {
        // Binary arithmetic.
        add: binary("add", (1, 2), r, |g, x| g.add(&x[0], &x[1]));
        sub: binary("sub", (3, 4), r, |g, x| g.sub(&x[0], &x[1]));
        mul: binary("mul", (5, 6), r, |g, x| g.mul(&x[0], &x[1]));
        div: binary("div", (7, 8), positive, |g, x| g.div(&x[0], &x[1]));
        // Elementwise.
        neg: unary("neg", 10, r, |g, x| g.neg(&x[0]));
        add_scalar: unary("add_scalar", 11, r, |g, x| g.add_scalar(&x[0], 0.7));
        mul_scalar: unary("mul_scalar", 12, r, |g, x| g.mul_scalar(&x[0], -1.3));
        exp: unary("exp", 13, r, |g, x| g.exp(&x[0]));
        log: unary("log", 14, positive, |g, x| g.log(&x[0]));
        sqrt: unary("sqrt", 15, positive, |g, x| g.sqrt(&x[0]));
        powf: unary("powf", 16, positive, |g, x| g.powf(&x[0], 1.7));
        square: unary("square", 17, r, |g, x| g.square(&x[0]));
        tanh: unary("tanh", 18, r, |g, x| g.tanh(&x[0]));
        sigmoid: unary("sigmoid", 19, r, |g, x| g.sigmoid(&x[0]));
        relu: unary("relu", 20, r, |g, x| g.relu(&x[0]));
        leaky_relu: unary("leaky_relu", 21, r, |g, x| g.leaky_relu(&x[0], 0.2));
        silu: unary("silu", 22, r, |g, x| g.silu(&x[0]));
        gelu: unary("gelu", 23, r, |g, x| g.gelu(&x[0]));
        softplus: unary("softplus", 24, r, |g, x| g.softplus(&x[0]));
        // Reductions.
        sum_all: unary("sum_all", 25, r, |g, x| g.sum_all(&x[0]));
        mean_all: unary("mean_all", 26, r, |g, x| g.mean_all(&x[0]));
        sum_axis: unary("sum_axis last", 27, r, |g, x| g.sum_axis(&x[0], -1, false));
        mean_axis: unary("mean_axis first keepdim", 28, r, |g, x| g.mean_axis(&x[0], 0, true));
        max_axis: {
            check("max_axis last", vec![separated(&[4, 5])], |g, x| {
                g.max_axis(&x[0], -1, false)
            });
            check("max_axis middle keepdim", vec![separated(&[2, 3, 4])], |g, x| {
                g.max_axis(&x[0], 1, true)
            });
        };
        softmax: unary("softmax", 29, r, |g, x| g.softmax(&x[0]));
        log_softmax: unary("log_softmax", 30, r, |g, x| g.log_softmax(&x[0]));
        // Products.
        matmul: {
            for (what, a, b) in [
                ("matmul 2d", r(&[3, 4], 40), r(&[4, 5], 41)),
                ("matmul 3d by 2d", r(&[2, 3, 4], 42), r(&[4, 5], 43)),
                ("matmul batched", r(&[2, 3, 4], 44), r(&[2, 4, 5], 45)),
                ("matmul batched 4d", r(&[2, 2, 3, 4], 46), r(&[2, 2, 4, 3], 47)),
            ] {
                check(what, vec![a, b], |g, x| g.matmul(&x[0], &x[1]));
            }
        };
        matmul_nt: {
            check("matmul_nt 2d", vec![r(&[3, 4], 48), r(&[5, 4], 49)], |g, x| {
                g.matmul_nt(&x[0], &x[1])
            });
            check(
                "matmul_nt batched",
                vec![r(&[2, 3, 4], 50), r(&[2, 5, 4], 51)],
                |g, x| g.matmul_nt(&x[0], &x[1]),
            );
        };
        linear: {
            check(
                "linear",
                vec![r(&[3, 4], 52), r(&[4, 5], 53), r(&[5], 54)],
                |g, x| g.linear(&x[0], &x[1], Some(&x[2])),
            );
            check(
                "linear 3d",
                vec![r(&[2, 3, 4], 55), r(&[4, 5], 56), r(&[5], 57)],
                |g, x| g.linear(&x[0], &x[1], Some(&x[2])),
            );
        };
        // Moving data.
        reshape: check("reshape", vec![r(&[2, 6], 60)], |g, x| g.reshape(&x[0], &[3, 4]));
        transpose: check("transpose", vec![r(&[2, 3, 4], 61)], |g, x| g.transpose(&x[0], 0, 2));
        permute: check("permute", vec![r(&[2, 3, 4], 62)], |g, x| g.permute(&x[0], &[1, 2, 0]));
        concat: check("concat", vec![r(&[2, 3], 63), r(&[2, 2], 64)], |g, x| {
            g.concat(&[&x[0], &x[1]], 1)
        });
        slice: check("slice", vec![r(&[4, 5], 65)], |g, x| g.slice(&x[0], 1, 1, 4));
        gather_rows: check("gather_rows", vec![r(&[5, 3], 66)], |g, x| {
            g.gather_rows(&x[0], &[4, 0, 4, 2, 1, 1], &[2, 3])
        });
        masked_fill: check("masked_fill", vec![r(&[2, 4, 4], 67)], |g, x| {
            g.masked_fill(&x[0], &causal_mask(4), -1.0)
        });
        // Attention.
        causal_attention: {
            check("causal_attention 2 heads", vec![r(&[2, 5, 12], 68)], |g, x| {
                g.causal_attention(&x[0], 2)
            });
            check("causal_attention 1 head", vec![r(&[3, 4, 6], 69)], |g, x| {
                g.causal_attention(&x[0], 1)
            });
        };
        full_attention: check("full_attention", vec![r(&[2, 5, 12], 111)], |g, x| {
            g.full_attention(&x[0], 2)
        });
        // Losses.
        cross_entropy: {
            check("cross_entropy", vec![r(&[4, 5], 70)], |g, x| {
                g.cross_entropy(&x[0], &[0, 4, 2, 2])
            });
            check("cross_entropy 3d", vec![r(&[2, 3, 4], 71)], |g, x| {
                g.cross_entropy(&x[0], &[0, 1, 2, 3, 3, 0])
            });
        };
        mse: check("mse", vec![r(&[3, 4], 72), r(&[3, 4], 73)], |g, x| g.mse(&x[0], &x[1]));
        bce_with_logits: check(
            "bce_with_logits",
            vec![r(&[3, 4], 74), positive(&[3, 4], 75).mapv(|v| v / 2.0)],
            |g, x| g.bce_with_logits(&x[0], &x[1]),
        );
        // Normalization.
        layer_norm: {
            check(
                "layer_norm",
                vec![r(&[3, 6], 80), r(&[6], 81), r(&[6], 82)],
                |g, x| g.layer_norm(&x[0], &x[1], &x[2], 1e-5),
            );
            check(
                "layer_norm 3d",
                vec![r(&[2, 3, 4], 83), r(&[4], 84), r(&[4], 85)],
                |g, x| g.layer_norm(&x[0], &x[1], &x[2], 1e-5),
            );
        };
        group_norm: check(
            "group_norm",
            vec![r(&[2, 4, 3, 3], 86), r(&[4], 87), r(&[4], 88)],
            |g, x| g.group_norm(&x[0], 2, &x[1], &x[2], 1e-5),
        );
        group_norm_silu: check(
            "group_norm_silu",
            vec![r(&[2, 4, 3, 3], 86), r(&[4], 87), r(&[4], 88)],
            |g, x| g.group_norm_silu(&x[0], 2, &x[1], &x[2], 1e-5),
        );
        dropout: check("dropout", vec![r(&[4, 6], 89)], |g, x| {
            let mut rng = Pcg64Mcg::seed_from_u64(5);
            g.dropout(&x[0], 0.3, &mut rng)
        });
        // Convolution.
        conv2d: {
            check(
                "conv2d 3×3",
                vec![r(&[2, 3, 5, 5], 90), r(&[4, 3, 3, 3], 91), r(&[4], 92)],
                |g, x| g.conv2d(&x[0], &x[1], Some(&x[2]), 1, 1),
            );
            check(
                "conv2d stride 2",
                vec![r(&[1, 2, 6, 6], 93), r(&[3, 2, 3, 3], 94), r(&[3], 95)],
                |g, x| g.conv2d(&x[0], &x[1], Some(&x[2]), 2, 1),
            );
            check(
                "conv2d 1×1 without bias",
                vec![r(&[2, 3, 4, 4], 96), r(&[2, 3, 1, 1], 97)],
                |g, x| g.conv2d(&x[0], &x[1], None, 1, 0),
            );
            // A kernel that is not square takes the col2im input gradient at stride 1.
            check(
                "conv2d 3×1 kernel",
                vec![r(&[2, 2, 5, 4], 112), r(&[3, 2, 3, 1], 113), r(&[3], 114)],
                |g, x| g.conv2d(&x[0], &x[1], Some(&x[2]), 1, 1),
            );
        };
        conv2d_shifted: {
            check(
                "conv2d_shifted",
                vec![
                    r(&[2, 3, 5, 5], 99),
                    r(&[4, 3, 3, 3], 100),
                    r(&[4], 101),
                    r(&[2, 4], 102),
                ],
                |g, x| g.conv2d_shifted(&x[0], &x[1], Some(&x[2]), Some(&x[3]), 1, 1),
            );
            check(
                "conv2d_shifted without bias",
                vec![r(&[2, 2, 4, 4], 103), r(&[3, 2, 1, 1], 104), r(&[2, 3], 105)],
                |g, x| g.conv2d_shifted(&x[0], &x[1], None, Some(&x[2]), 1, 0),
            );
        };
        conv2d_ext: {
            check(
                "conv2d_ext with a residual",
                vec![
                    r(&[2, 3, 5, 5], 106),
                    r(&[4, 3, 3, 3], 107),
                    r(&[4], 108),
                    r(&[2, 4, 5, 5], 109),
                ],
                |g, x| g.conv2d_ext(&x[0], &x[1], Some(&x[2]), None, Some(&x[3]), 1, 1),
            );
            check(
                "conv2d_ext with a shift and a residual",
                vec![
                    r(&[2, 3, 5, 5], 115),
                    r(&[4, 3, 3, 3], 116),
                    r(&[4], 117),
                    r(&[2, 4], 118),
                    r(&[2, 4, 5, 5], 119),
                ],
                |g, x| g.conv2d_ext(&x[0], &x[1], Some(&x[2]), Some(&x[3]), Some(&x[4]), 1, 1),
            );
        };
        upsample_nearest2x: check("upsample_nearest2x", vec![r(&[2, 3, 3, 3], 98)], |g, x| {
            g.upsample_nearest2x(&x[0])
        });
    }
}

#[test]
fn the_checker_catches_a_wrong_derivative() {
    let mut ps = ParamStore::new();
    let x = ps.add("x", r(&[3, 4], 1));
    // y = x², with the derivative deliberately wrong: x instead of 2x.
    let report = grad_check(
        &mut ps,
        |g| g.unary(&g.param(x), |x| x * x, |x, _, g| g * x),
        &GradCheckConfig::default(),
    );
    assert!(
        !report.passed(),
        "a wrong derivative slipped through:\n{report}"
    );
    assert!(report.worst() > 0.3);
}

#[test]
fn the_checker_catches_a_gradient_routed_to_the_wrong_parent() {
    let mut ps = ParamStore::new();
    let a = ps.add("a", r(&[3], 1));
    let b = ps.add("b", r(&[3], 2));
    let report = grad_check(
        &mut ps,
        |g| {
            let (av, bv) = (g.param(a), g.param(b));
            let y = av.value() - bv.value();
            // claims ∂/∂a = −g and ∂/∂b = g: swapped signs
            g.record(y, &[&av, &bv], |g, _| vec![Some(-&g), Some(g)])
        },
        &GradCheckConfig::default(),
    );
    assert!(!report.passed());
}
