//! Unit tests for `timers`.
use super::*;
use std::time::Duration;

#[test]
fn entries_come_due_in_deadline_order_and_not_before() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut t = Timers::default();
    t.push(t0 + ms(30), TimerKey::Conn(1));
    t.push(t0 + ms(10), TimerKey::Session(7));
    t.push(t0 + ms(20), TimerKey::Conn(2));
    assert_eq!(t.next(), Some(t0 + ms(10)));
    assert_eq!(t.pop_due(t0 + ms(5)), None);
    assert_eq!(
        t.pop_due(t0 + ms(25)),
        Some((t0 + ms(10), TimerKey::Session(7)))
    );
    assert_eq!(
        t.pop_due(t0 + ms(25)),
        Some((t0 + ms(20), TimerKey::Conn(2)))
    );
    assert_eq!(t.pop_due(t0 + ms(25)), None);
    assert_eq!(t.len(), 1);
}
