//! An op-level profiler for developers: with `MLLAB_PROFILE=1` in the environment, every graph
//! on this thread adds up, per op, the time since the previous op was recorded (≈ its forward)
//! and the time of its backward rule. `report()` prints the totals. Off, it costs one branch.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

thread_local! {
    static STATS: RefCell<HashMap<&'static str, [f64; 3]>> = RefCell::new(HashMap::new());
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Whether profiling is on (read once from `MLLAB_PROFILE`).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MLLAB_PROFILE").is_some())
}

/// The op a backward rule belongs to, from the closure's type name.
pub fn op_name<F>(_: &F) -> &'static str {
    let full = std::any::type_name::<F>();
    let head = full.split("::{{closure}}").next().unwrap_or(full);
    head.rsplit("::").next().unwrap_or(head)
}

/// Marks the start of a forward pass (a new graph).
pub fn start() {
    if enabled() {
        LAST.with(|l| l.set(Some(Instant::now())));
    }
}

/// Attributes the time since the previous mark to `op`'s forward.
pub fn forward(op: &'static str) {
    let now = Instant::now();
    let dt = LAST
        .with(|l| l.replace(Some(now)))
        .map_or(0.0, |t| (now - t).as_secs_f64());
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        let e = s.entry(op).or_insert([0.0; 3]);
        e[0] += dt;
        e[2] += 1.0;
    });
}

/// Adds a backward rule's time.
pub fn backward(op: &'static str, dt: f64) {
    STATS.with(|s| s.borrow_mut().entry(op).or_insert([0.0; 3])[1] += dt);
}

/// The totals so far, slowest first, and clears them.
pub fn report() -> String {
    let mut rows: Vec<(&'static str, [f64; 3])> = STATS.with(|s| s.borrow_mut().drain().collect());
    rows.sort_by(|a, b| (b.1[0] + b.1[1]).total_cmp(&(a.1[0] + a.1[1])));
    let mut out = format!(
        "{:<22} {:>10} {:>10} {:>8}\n",
        "op", "fwd ms", "bwd ms", "calls"
    );
    for (name, [f, b, n]) in rows {
        out.push_str(&format!(
            "{name:<22} {:>10.2} {:>10.2} {n:>8}\n",
            f * 1e3,
            b * 1e3
        ));
    }
    out
}
