//! The one instant the sans-IO cores' tests take from the system: the origin of their
//! virtual clock (`Instant` has no other constructor). Every later time in a test is this
//! plus a duration it chooses, so no test depends on how fast it runs; the cores themselves
//! never read a clock.
use std::time::Instant;

/// The virtual clock's origin, the same for every test of the process.
pub(crate) fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
