//! Every op through the gradient checker, over several shapes (broadcasting included), plus a
//! proof that the checker catches a wrong derivative.

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

struct Case {
    name: &'static str,
    inputs: Vec<Tensor>,
    op: OpFn,
}

fn case(name: &'static str, inputs: Vec<Tensor>, op: OpFn) -> Case {
    Case { name, inputs, op }
}

fn run(c: &Case) {
    let mut ps = ParamStore::new();
    let ids: Vec<_> = c
        .inputs
        .iter()
        .enumerate()
        .map(|(i, t)| ps.add(format!("in{i}"), t.clone()))
        .collect();
    let cfg = GradCheckConfig::default();
    let report = grad_check(
        &mut ps,
        |g| {
            let vars: Vec<Var> = ids.iter().map(|&id| g.param(id)).collect();
            (c.op)(g, &vars)
        },
        &cfg,
    );
    assert_eq!(report.params.len(), c.inputs.len());
    assert!(report.params.iter().all(|p| p.checked > 0));
    assert!(
        report.passed(),
        "{} failed the gradient check:\n{report}",
        c.name
    );
    println!("{:<28} worst relative error {:.1e}", c.name, report.worst());
}

fn r(shape: &[usize], seed: u64) -> Tensor {
    draw(shape, 0.1, 1.5, seed)
}

fn causal_mask(t: usize) -> ArrayD<bool> {
    ArrayD::from_shape_fn(IxDyn(&[t, t]), |ix| ix[1] > ix[0])
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // Binary arithmetic: same shapes, then broadcasting both ways.
    for (sa, sb) in [
        (vec![3, 4], vec![3, 4]),
        (vec![2, 3, 4], vec![4]),
        (vec![3, 1], vec![1, 5]),
        (vec![2, 3, 4], vec![2, 1, 4]),
        (vec![], vec![3]),
    ] {
        v.push(case("add", vec![r(&sa, 1), r(&sb, 2)], |g, x| {
            g.add(&x[0], &x[1])
        }));
        v.push(case("sub", vec![r(&sa, 3), r(&sb, 4)], |g, x| {
            g.sub(&x[0], &x[1])
        }));
        v.push(case("mul", vec![r(&sa, 5), r(&sb, 6)], |g, x| {
            g.mul(&x[0], &x[1])
        }));
        v.push(case("div", vec![r(&sa, 7), positive(&sb, 8)], |g, x| {
            g.div(&x[0], &x[1])
        }));
    }
    for s in [vec![7], vec![3, 5], vec![2, 3, 4]] {
        v.push(case("neg", vec![r(&s, 10)], |g, x| g.neg(&x[0])));
        v.push(case("add_scalar", vec![r(&s, 11)], |g, x| {
            g.add_scalar(&x[0], 0.7)
        }));
        v.push(case("mul_scalar", vec![r(&s, 12)], |g, x| {
            g.mul_scalar(&x[0], -1.3)
        }));
        v.push(case("exp", vec![r(&s, 13)], |g, x| g.exp(&x[0])));
        v.push(case("log", vec![positive(&s, 14)], |g, x| g.log(&x[0])));
        v.push(case("sqrt", vec![positive(&s, 15)], |g, x| g.sqrt(&x[0])));
        v.push(case("powf", vec![positive(&s, 16)], |g, x| {
            g.powf(&x[0], 1.7)
        }));
        v.push(case("square", vec![r(&s, 17)], |g, x| g.square(&x[0])));
        v.push(case("tanh", vec![r(&s, 18)], |g, x| g.tanh(&x[0])));
        v.push(case("sigmoid", vec![r(&s, 19)], |g, x| g.sigmoid(&x[0])));
        v.push(case("relu", vec![r(&s, 20)], |g, x| g.relu(&x[0])));
        v.push(case("leaky_relu", vec![r(&s, 21)], |g, x| {
            g.leaky_relu(&x[0], 0.2)
        }));
        v.push(case("silu", vec![r(&s, 22)], |g, x| g.silu(&x[0])));
        v.push(case("gelu", vec![r(&s, 23)], |g, x| g.gelu(&x[0])));
        v.push(case("softplus", vec![r(&s, 24)], |g, x| g.softplus(&x[0])));
        v.push(case("sum_all", vec![r(&s, 25)], |g, x| g.sum_all(&x[0])));
        v.push(case("mean_all", vec![r(&s, 26)], |g, x| g.mean_all(&x[0])));
        v.push(case("sum_axis_last", vec![r(&s, 27)], |g, x| {
            g.sum_axis(&x[0], -1, false)
        }));
        v.push(case("mean_axis_first_keepdim", vec![r(&s, 28)], |g, x| {
            g.mean_axis(&x[0], 0, true)
        }));
        v.push(case("softmax", vec![r(&s, 29)], |g, x| g.softmax(&x[0])));
        v.push(case("log_softmax", vec![r(&s, 30)], |g, x| {
            g.log_softmax(&x[0])
        }));
    }
    // max over an axis: well-separated values so ±h never changes the arg-max.
    let sep = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        let vals: Vec<f32> = (0..n).map(|i| ((i * 7919) % n) as f32 * 0.1).collect();
        Tensor::from_shape_vec(IxDyn(shape), vals).unwrap()
    };
    v.push(case("max_axis_last", vec![sep(&[4, 5])], |g, x| {
        g.max_axis(&x[0], -1, false)
    }));
    v.push(case(
        "max_axis_middle_keepdim",
        vec![sep(&[2, 3, 4])],
        |g, x| g.max_axis(&x[0], 1, true),
    ));
    // Products.
    v.push(case(
        "matmul_2d",
        vec![r(&[3, 4], 40), r(&[4, 5], 41)],
        |g, x| g.matmul(&x[0], &x[1]),
    ));
    v.push(case(
        "matmul_3d_by_2d",
        vec![r(&[2, 3, 4], 42), r(&[4, 5], 43)],
        |g, x| g.matmul(&x[0], &x[1]),
    ));
    v.push(case(
        "matmul_batched",
        vec![r(&[2, 3, 4], 44), r(&[2, 4, 5], 45)],
        |g, x| g.matmul(&x[0], &x[1]),
    ));
    v.push(case(
        "matmul_batched_4d",
        vec![r(&[2, 2, 3, 4], 46), r(&[2, 2, 4, 3], 47)],
        |g, x| g.matmul(&x[0], &x[1]),
    ));
    v.push(case(
        "matmul_nt_2d",
        vec![r(&[3, 4], 48), r(&[5, 4], 49)],
        |g, x| g.matmul_nt(&x[0], &x[1]),
    ));
    v.push(case(
        "matmul_nt_batched",
        vec![r(&[2, 3, 4], 50), r(&[2, 5, 4], 51)],
        |g, x| g.matmul_nt(&x[0], &x[1]),
    ));
    v.push(case(
        "linear",
        vec![r(&[3, 4], 52), r(&[4, 5], 53), r(&[5], 54)],
        |g, x| g.linear(&x[0], &x[1], Some(&x[2])),
    ));
    v.push(case(
        "linear_3d",
        vec![r(&[2, 3, 4], 55), r(&[4, 5], 56), r(&[5], 57)],
        |g, x| g.linear(&x[0], &x[1], Some(&x[2])),
    ));
    // Moving data.
    v.push(case("reshape", vec![r(&[2, 6], 60)], |g, x| {
        g.reshape(&x[0], &[3, 4])
    }));
    v.push(case("transpose", vec![r(&[2, 3, 4], 61)], |g, x| {
        g.transpose(&x[0], 0, 2)
    }));
    v.push(case("permute", vec![r(&[2, 3, 4], 62)], |g, x| {
        g.permute(&x[0], &[1, 2, 0])
    }));
    v.push(case(
        "concat",
        vec![r(&[2, 3], 63), r(&[2, 2], 64)],
        |g, x| g.concat(&[&x[0], &x[1]], 1),
    ));
    v.push(case("slice", vec![r(&[4, 5], 65)], |g, x| {
        g.slice(&x[0], 1, 1, 4)
    }));
    v.push(case("gather_rows", vec![r(&[5, 3], 66)], |g, x| {
        g.gather_rows(&x[0], &[4, 0, 4, 2, 1, 1], &[2, 3])
    }));
    v.push(case(
        "causal_attention",
        vec![r(&[2, 5, 12], 68)],
        |g, x| g.causal_attention(&x[0], 2),
    ));
    v.push(case(
        "causal_attention_one_head",
        vec![r(&[3, 4, 6], 69)],
        |g, x| g.causal_attention(&x[0], 1),
    ));
    v.push(case("full_attention", vec![r(&[2, 5, 12], 111)], |g, x| {
        g.full_attention(&x[0], 2)
    }));
    v.push(case("masked_fill", vec![r(&[2, 4, 4], 67)], |g, x| {
        g.masked_fill(&x[0], &causal_mask(4), -1.0)
    }));
    // Losses.
    v.push(case("cross_entropy", vec![r(&[4, 5], 70)], |g, x| {
        g.cross_entropy(&x[0], &[0, 4, 2, 2])
    }));
    v.push(case("cross_entropy_3d", vec![r(&[2, 3, 4], 71)], |g, x| {
        g.cross_entropy(&x[0], &[0, 1, 2, 3, 3, 0])
    }));
    v.push(case("mse", vec![r(&[3, 4], 72), r(&[3, 4], 73)], |g, x| {
        g.mse(&x[0], &x[1])
    }));
    v.push(case(
        "bce_with_logits",
        vec![r(&[3, 4], 74), positive(&[3, 4], 75).mapv(|v| v / 2.0)],
        |g, x| g.bce_with_logits(&x[0], &x[1]),
    ));
    // Normalization.
    v.push(case(
        "layer_norm",
        vec![r(&[3, 6], 80), r(&[6], 81), r(&[6], 82)],
        |g, x| g.layer_norm(&x[0], &x[1], &x[2], 1e-5),
    ));
    v.push(case(
        "layer_norm_3d",
        vec![r(&[2, 3, 4], 83), r(&[4], 84), r(&[4], 85)],
        |g, x| g.layer_norm(&x[0], &x[1], &x[2], 1e-5),
    ));
    v.push(case(
        "group_norm",
        vec![r(&[2, 4, 3, 3], 86), r(&[4], 87), r(&[4], 88)],
        |g, x| g.group_norm(&x[0], 2, &x[1], &x[2], 1e-5),
    ));
    v.push(case(
        "group_norm_silu",
        vec![r(&[2, 4, 3, 3], 86), r(&[4], 87), r(&[4], 88)],
        |g, x| g.group_norm_silu(&x[0], 2, &x[1], &x[2], 1e-5),
    ));
    v.push(case("dropout", vec![r(&[4, 6], 89)], |g, x| {
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        g.dropout(&x[0], 0.3, &mut rng)
    }));
    v.extend(conv_cases());
    v
}

fn conv_cases() -> Vec<Case> {
    vec![
        case(
            "conv2d",
            vec![r(&[2, 3, 5, 5], 90), r(&[4, 3, 3, 3], 91), r(&[4], 92)],
            |g, x| g.conv2d(&x[0], &x[1], Some(&x[2]), 1, 1),
        ),
        case(
            "conv2d_shifted",
            vec![
                r(&[2, 3, 5, 5], 99),
                r(&[4, 3, 3, 3], 100),
                r(&[4], 101),
                r(&[2, 4], 102),
            ],
            |g, x| g.conv2d_shifted(&x[0], &x[1], Some(&x[2]), Some(&x[3]), 1, 1),
        ),
        case(
            "conv2d_shifted_no_bias",
            vec![
                r(&[2, 2, 4, 4], 103),
                r(&[3, 2, 1, 1], 104),
                r(&[2, 3], 105),
            ],
            |g, x| g.conv2d_shifted(&x[0], &x[1], None, Some(&x[2]), 1, 0),
        ),
        case(
            "conv2d_with_residual",
            vec![
                r(&[2, 3, 5, 5], 106),
                r(&[4, 3, 3, 3], 107),
                r(&[4], 108),
                r(&[2, 4, 5, 5], 109),
            ],
            |g, x| g.conv2d_ext(&x[0], &x[1], Some(&x[2]), None, Some(&x[3]), 1, 1),
        ),
        case(
            "conv2d_stride2",
            vec![r(&[1, 2, 6, 6], 93), r(&[3, 2, 3, 3], 94), r(&[3], 95)],
            |g, x| g.conv2d(&x[0], &x[1], Some(&x[2]), 2, 1),
        ),
        case(
            "conv2d_1x1_no_bias",
            vec![r(&[2, 3, 4, 4], 96), r(&[2, 3, 1, 1], 97)],
            |g, x| g.conv2d(&x[0], &x[1], None, 1, 0),
        ),
        case("upsample_nearest2x", vec![r(&[2, 3, 3, 3], 98)], |g, x| {
            g.upsample_nearest2x(&x[0])
        }),
    ]
}

#[test]
fn every_op_passes_the_gradient_check() {
    for c in cases() {
        run(&c);
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
