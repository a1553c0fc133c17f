//! How strict is the judge? Trains it on generated digits (or on the first N digits of an IDX
//! pair, as the ddpm lesson does with `data.source: idx`) and reports how it scores held-out
//! digits, and (optionally) model samples from a .npy file (N×28×28 in [0, 1]):
//!
//! ```text
//! cargo run --release --example judge_calib -- [EPOCHS] [SAMPLES.npy] [IMAGES LABELS N]
//! ```
//!
//! Any samples can be scored, e.g. another framework's, with the same judge as mllab's.

use std::path::Path;

use mllab::data::{digits, idx};
use mllab::metrics::judge::Judge;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(6);
    let ((x, y), (t, ty)) = match (args.get(3), args.get(4)) {
        (Some(images), Some(labels)) => {
            let n: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(8000);
            let (im, l) = match idx::read_pair(Path::new(images), Path::new(labels), None) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(2);
                }
            };
            let px: Vec<f32> = im.pixels.iter().map(|&p| p as f32 / 255.0).collect();
            let cut = n.min(im.count.saturating_sub(1000)) * 784;
            let train = (px[..cut].to_vec(), l[..cut / 784].to_vec());
            let test = (px[cut..].to_vec(), l[cut / 784..].to_vec());
            (train, test)
        }
        _ => (digits::generate(60_000, 11), digits::generate(1000, 12)),
    };
    let start = std::time::Instant::now();
    let judge = Judge::train(&x, &y, epochs, 0);
    let secs = start.elapsed().as_secs_f64();
    let held_out = ty.len().min(1000);
    let (t, ty) = (&t[..held_out * 784], &ty[..held_out]);
    let real = judge.score(t, t);
    println!(
        "epochs {epochs} ({secs:.1} s): accuracy {:.4}; held-out digits: confident {:.3} junk {:.3}",
        judge.accuracy(t, ty),
        real.confident,
        real.junk,
    );
    // Which classes the judge confuses on held-out digits: rows true, columns read.
    let (probs, _) = judge.probs_and_features(t);
    let mut confusion = [[0usize; 11]; 10];
    for (p, &l) in probs.chunks(11).zip(ty) {
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
        let n = (s.len() / 784).min(held_out);
        let sc = judge.score(&s[..n * 784], &t[..n * 784]);
        println!(
            "samples (n={}): confident {:.3} junk {:.3} entropy {:.3} fid {:.2} histogram {:?}",
            sc.n, sc.confident, sc.junk, sc.class_entropy, sc.fid, sc.histogram
        );
    }
}
