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
    if mllab::tensor::profile::enabled() {
        // Profile steady-state steps only: the first steps also pay for warming the allocator.
        let names: Vec<String> = mllab::bench::items().into_iter().map(|i| i.name).collect();
        for item in mllab::bench::items() {
            if !mllab::bench::selected(&item.name, filter.as_deref(), &names) {
                continue;
            }
            let name = item.name.clone();
            let mut step = (item.build)();
            for _ in 0..5 {
                step();
            }
            let _ = mllab::tensor::profile::report();
            let steps = 20;
            let t = std::time::Instant::now();
            for _ in 0..steps {
                step();
            }
            let ms = t.elapsed().as_secs_f64() * 1e3 / steps as f64;
            eprintln!("{name}: {ms:.1} ms per step; op totals over {steps} steps:");
            eprint!("{}", mllab::tensor::profile::report());
        }
        return Ok(());
    }
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
