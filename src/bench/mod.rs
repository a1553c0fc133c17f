//! `mllab bench`: times one training step (forward, backward, optimizer) of each reference
//! model of the PyTorch anchors (docs/bench.md), DDPM sampling, and plain matrix products.
//! Each item reports the median, min and max milliseconds over its timed runs and the matmul
//! GFLOP/s (the matmul FLOPs of a step as PyTorch's flop counter counts them, over the median).
//! The harness owns timing only; the models live in `models`.

pub mod items;
pub mod models;

use std::time::Instant;

use serde::Serialize;

/// One benchmark line (`--json` prints one per line).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BenchResult {
    pub name: String,
    pub ms_median: f64,
    pub ms_min: f64,
    pub ms_max: f64,
    pub gflops: f64,
}

/// A benchmark item: its name, the matmul FLOPs of one run, how many runs to time, and a
/// builder that prepares the model and returns the closure doing one run.
pub struct Item {
    pub name: String,
    pub flops: f64,
    pub warmup: usize,
    pub runs: usize,
    /// Calls per timed run (tiny products are repeated so the clock can see them).
    pub inner: usize,
    pub build: Box<dyn FnOnce() -> Box<dyn FnMut()>>,
}

/// Every item, in the order of the reference table.
pub fn items() -> Vec<Item> {
    let mut v = items::training_items();
    v.extend(items::matmul_items());
    v
}

/// Whether `name` is selected by a filter among `names`: comma-separated parts, each naming an
/// item exactly (`ddpm`) or, if no item has that name, every item containing it (`matmul`).
pub fn selected(name: &str, filter: Option<&str>, names: &[String]) -> bool {
    match filter {
        None => true,
        Some(f) => f
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .any(|p| {
                if names.iter().any(|n| n == p) {
                    name == p
                } else {
                    name.contains(p)
                }
            }),
    }
}

/// Times one item.
pub fn time_item(item: Item) -> BenchResult {
    let mut f = (item.build)();
    for _ in 0..item.warmup {
        f();
    }
    let mut ms: Vec<f64> = (0..item.runs.max(1))
        .map(|_| {
            let t = Instant::now();
            for _ in 0..item.inner.max(1) {
                f();
            }
            t.elapsed().as_secs_f64() * 1e3 / item.inner.max(1) as f64
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    BenchResult {
        name: item.name,
        ms_median: round3(median),
        ms_min: round3(ms[0]),
        ms_max: round3(ms[ms.len() - 1]),
        gflops: round3(item.flops / (median * 1e-3) / 1e9),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs every selected item (all if `filter` is `None`) and returns the results in order.
pub fn run(filter: Option<&str>) -> anyhow::Result<Vec<BenchResult>> {
    run_with(filter, |_| {})
}

/// As `run`, calling `on_result` as each item finishes (for streaming output).
pub fn run_with(
    filter: Option<&str>,
    mut on_result: impl FnMut(&BenchResult),
) -> anyhow::Result<Vec<BenchResult>> {
    let names: Vec<String> = items().into_iter().map(|i| i.name).collect();
    let chosen: Vec<Item> = items()
        .into_iter()
        .filter(|i| selected(&i.name, filter, &names))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!(
            "no benchmark matches `{}`; the names are: {}",
            filter.unwrap_or(""),
            names.join(", ")
        );
    }
    let mut out = Vec::new();
    for item in chosen {
        let r = time_item(item);
        on_result(&r);
        out.push(r);
    }
    Ok(out)
}

/// The results as an aligned text table.
pub fn table(results: &[BenchResult]) -> String {
    let mut s = format!(
        "{:<24} {:>10} {:>10} {:>10} {:>9}\n",
        "name", "median ms", "min ms", "max ms", "GFLOP/s"
    );
    for r in results {
        s.push_str(&format!(
            "{:<24} {:>10.3} {:>10.3} {:>10.3} {:>9.1}\n",
            r.name, r.ms_median, r.ms_min, r.ms_max, r.gflops
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_selects_exact_names_then_substrings() {
        let names: Vec<String> = items().into_iter().map(|i| i.name).collect();
        assert!(selected("matmul_128x784x512", Some("matmul"), &names));
        assert!(selected("vae", Some("mlp, vae"), &names));
        assert!(!selected("gan", Some("mlp,vae"), &names));
        assert!(selected("gan", None, &names));
        assert!(selected("ddpm", Some("ddpm"), &names));
        assert!(!selected("ddpm_sample", Some("ddpm"), &names));
    }

    #[test]
    fn an_unknown_filter_is_an_error_that_lists_the_names() {
        let err = run(Some("nonexistent")).unwrap_err().to_string();
        assert!(err.contains("transformer") && err.contains("matmul_128x1024x1024"));
    }

    #[test]
    fn the_reference_names_are_all_present() {
        let names: Vec<String> = items().into_iter().map(|i| i.name).collect();
        for n in [
            "mlp",
            "vae",
            "gan",
            "ddpm",
            "realnvp",
            "transformer",
            "ddpm_sample",
            "unet",
            "matmul_128x1024x1024",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing");
        }
    }
}
