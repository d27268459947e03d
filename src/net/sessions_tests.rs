//! Unit tests for `sessions`.
use super::*;

#[test]
fn session_ids_are_128_bit_hex_and_never_repeat_across_refills() {
    let mut source = SidSource::new();
    let ids: std::collections::HashSet<Box<str>> = (0..1000).map(|_| source.next()).collect();
    assert_eq!(ids.len(), 1000);
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
}
