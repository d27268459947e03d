//! supportd-load: the load generator (work in progress).
fn main() {}
