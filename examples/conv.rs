//! Times the U-Net's convolutions one by one, forward alone and forward + backward, with the
//! GFLOP/s each reaches: `cargo run --release --example conv`.
use mllab::tensor::{Graph, ParamStore, randn};
use rand::SeedableRng;
use std::time::Instant;

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0);
    // (cin, cout, size, kernel, stride) of the 16/32/32 U-Net at batch 64.
    let shapes = [
        (1, 16, 28, 3, 1),
        (16, 16, 28, 3, 1),
        (16, 16, 28, 3, 2),
        (16, 32, 14, 3, 1),
        (32, 32, 14, 3, 1),
        (32, 32, 7, 3, 1),
        (64, 32, 7, 3, 1),
        (64, 32, 14, 3, 1),
        (48, 16, 28, 3, 1),
        (48, 16, 28, 1, 1),
    ];
    let n = 64;
    let (mut tf, mut tb) = (0.0, 0.0);
    for (c, o, s, k, st) in shapes {
        let mut ps = ParamStore::new();
        let w = ps.add("w", randn(&[o, c, k, k], &mut rng));
        let b = ps.add("b", randn(&[o], &mut rng));
        let x = ps.add("x", randn(&[n, c, s, s], &mut rng));
        let so = (s + 2 * (k / 2) - k) / st + 1;
        let flops = 2.0 * (n * o * c * k * k * so * so) as f64;
        let fwd = time(15, || {
            let g = Graph::no_grad(&ps);
            let xv = g.param(x);
            std::hint::black_box(g.conv2d(&xv, &g.param(w), Some(&g.param(b)), st, k / 2));
        });
        let both = time(15, || {
            let g = Graph::new(&ps);
            let xv = g.param(x);
            let y = g.conv2d(&xv, &g.param(w), Some(&g.param(b)), st, k / 2);
            let seed = y.to_tensor();
            std::hint::black_box(g.backward_with(&y, seed));
        });
        let wonly = time(15, || {
            let g = Graph::new(&ps);
            g.freeze(&[x]);
            let xv = g.param(x);
            let y = g.conv2d(&xv, &g.param(w), Some(&g.param(b)), st, k / 2);
            let seed = y.to_tensor();
            std::hint::black_box(g.backward_with(&y, seed));
        });
        tf += fwd;
        tb += both - fwd;
        println!(
            "{c:>3}→{o:<3} {s:>2}px k{k} s{st}  fwd {:>7.2} ms {:>6.1} GF/s   bwd {:>7.2} ms {:>6.1} GF/s  (dW {:>6.2} gx {:>6.2})",
            fwd * 1e3,
            flops / fwd / 1e9,
            (both - fwd) * 1e3,
            2.0 * flops / (both - fwd) / 1e9,
            (wonly - fwd) * 1e3,
            (both - wonly) * 1e3,
        );
    }
    println!("total fwd {:.2} ms, bwd {:.2} ms", tf * 1e3, tb * 1e3);
}
