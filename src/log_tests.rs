//! Unit tests for `log`.
use super::*;

#[test]
fn dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(20_416), (2025, 11, 24));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
}

#[test]
fn priorities_follow_syslog() {
    assert_eq!(priority(Level::Error), 3);
    assert_eq!(priority(Level::Warn), 4);
    assert_eq!(priority(Level::Info), 6);
    assert_eq!(priority(Level::Debug), 7);
}
