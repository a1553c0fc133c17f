//! How strict is the judge? Trains it on generated digits and reports how it scores held-out
//! generated digits, noise and (optionally) model samples from a .npy file (N×28×28 in [0, 1]):
//!
//! ```text
//! cargo run --release --example judge_calib -- [EPOCHS] [SAMPLES.npy]
//! ```

use mllab::data::digits;
use mllab::metrics::judge::Judge;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(6);
    let (x, y) = digits::generate(60_000, 11);
    let (t, ty) = digits::generate(1000, 12);
    let (r, _) = digits::generate(1000, 13);
    let start = std::time::Instant::now();
    let judge = Judge::train(&x, &y, epochs, 0);
    let secs = start.elapsed().as_secs_f64();
    let real = judge.score(&t, &r);
    println!(
        "epochs {epochs} ({secs:.1} s): accuracy {:.4}; held-out digits: confident {:.3} junk {:.3} fid {:.2}",
        judge.accuracy(&t, &ty),
        real.confident,
        real.junk,
        real.fid
    );
    // Which classes the judge confuses on generated digits: rows true, columns read.
    let (probs, _) = judge.probs_and_features(&t);
    let mut confusion = [[0usize; 11]; 10];
    for (p, &l) in probs.chunks(11).zip(&ty) {
        let k = (0..11).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        confusion[l as usize][k] += 1;
    }
    println!("confusion (rows: true digit; columns: judged 0-9, junk):");
    for (d, row) in confusion.iter().enumerate() {
        println!("  {d}: {row:?}");
    }
    if let Some(path) = args.get(2) {
        let a: ndarray::Array3<f32> = ndarray_npy::read_npy(path).expect("N×28×28 f32 .npy");
        let s: Vec<f32> = a.iter().copied().collect();
        let sc = judge.score(&s, &r[..s.len().min(r.len())]);
        println!(
            "samples (n={}): confident {:.3} junk {:.3} entropy {:.3} fid {:.2} histogram {:?}",
            sc.n, sc.confident, sc.junk, sc.class_entropy, sc.fid, sc.histogram
        );
    }
}
