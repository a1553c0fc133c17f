//! How MNIST-like are the built-in digits? Trains mllab's digit judge (an MLP) on generated
//! digits only and reports its accuracy on real IDX digits given on the command line:
//!
//! ```text
//! cargo run --release --example realism -- IMAGES.idx3.gz LABELS.idx1.gz [N_TRAIN] [SEED]
//! ```

use std::path::Path;
use std::time::Instant;

use mllab::data::{digits, idx};
use mllab::metrics::judge::Judge;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: realism IMAGES LABELS [N_TRAIN] [SEED]");
        std::process::exit(2);
    }
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60_000);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (real, labels) = match idx::read_pair(Path::new(&args[1]), Path::new(&args[2]), None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let real: Vec<f32> = real.pixels.iter().map(|&p| p as f32 / 255.0).collect();
    let t = Instant::now();
    let (x, y) = digits::generate(n, seed);
    let generated = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let judge = Judge::train(&x, &y, 3, seed);
    let trained = t.elapsed().as_secs_f64();
    let acc = judge.accuracy(&real, &labels);
    println!(
        "{{\"train_generated\": {n}, \"seed\": {seed}, \"generate_s\": {generated:.2}, \"train_s\": {trained:.1}, \"real_test\": {}, \"accuracy_on_real\": {acc:.4}}}",
        labels.len()
    );
}
