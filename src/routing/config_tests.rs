//! Unit tests for `config`: names and defaults.
use super::*;

#[test]
fn strategy_names_round_trip() {
    for s in Strategy::ALL {
        assert_eq!(Strategy::from_name(s.as_str()), Some(s));
    }
    assert_eq!(Strategy::from_name("Longest-Idle"), None);
    assert_eq!(Strategy::default(), Strategy::LongestIdle);
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = RoutingConfig::default();
    assert!(c.queue && c.requeue_on_agent_loss);
    assert_eq!(c.max_queue_length, 0);
    assert_eq!(c.max_wait, None);
    assert_eq!(c.offer_timeout, None);
    assert_eq!(c.queue_update_interval, Duration::from_secs(1));
    assert_eq!(c.availability_interval, Duration::from_millis(100));
    assert_eq!(
        (c.wrap_up, c.reject_delay),
        (Duration::ZERO, Duration::ZERO)
    );
}
