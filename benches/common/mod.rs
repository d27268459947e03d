//! Settings shared by the Criterion benches: short runs, so `cargo bench` stays a few minutes.
use criterion::Criterion;
use std::time::Duration;

/// Criterion with 20 samples, 1 s warm-up and 2 s measurement per bench.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}
