//! Runs the tensor-engine benchmark: `cargo run --release --example bench -- [--json] [--filter NAME] [--threads N]`.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(t) = value("--threads") {
        mllab::tensor::set_num_threads(t.parse()?);
    }
    let filter = value("--filter");
    let results = mllab::bench::run_with(filter.as_deref(), |r| {
        if json {
            println!(
                "{}",
                serde_json::to_string(r).expect("plain struct serializes")
            );
        } else {
            eprintln!(
                "{:<24} {:>10.3} ms  {:>7.1} GFLOP/s",
                r.name, r.ms_median, r.gflops
            );
        }
    })?;
    if !json {
        print!("{}", mllab::bench::table(&results));
    }
    if mllab::tensor::profile::enabled() {
        eprint!("{}", mllab::tensor::profile::report());
    }
    Ok(())
}
