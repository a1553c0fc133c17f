//! Times the elementwise kernels on 1M elements: `cargo run --release --example kernels`.
use mllab::tensor::{Graph, ParamStore, randn};
use rand::SeedableRng;
use std::time::Instant;

fn main() {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0);
    let ps = ParamStore::new();
    for n in [1usize << 18, 1 << 20] {
        let x = randn(&[n], &mut rng);
        let g = Graph::no_grad(&ps);
        let xv = g.input(x);
        type Op = fn(&Graph, &mllab::tensor::Var) -> mllab::tensor::Var;
        let ops: [(&str, Op); 6] = [
            ("relu", |g, x| g.relu(x)),
            ("exp", |g, x| g.exp(x)),
            ("sigmoid", |g, x| g.sigmoid(x)),
            ("silu", |g, x| g.silu(x)),
            ("gelu", |g, x| g.gelu(x)),
            ("tanh", |g, x| g.tanh(x)),
        ];
        for (name, op) in ops {
            for _ in 0..3 {
                op(&g, &xv);
            }
            let t = Instant::now();
            let reps = 20;
            for _ in 0..reps {
                std::hint::black_box(op(&g, &xv));
            }
            let dt = t.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{name:<8} n={n:<8} {:>8.1} us  {:>6.2} Gelem/s",
                dt * 1e6,
                n as f64 / dt / 1e9
            );
        }
    }
}
