//! Unit tests for `timer`.
use super::*;
use crate::routing::testkit::epoch;
use std::time::Duration;

/// `s` seconds after `base`.
fn secs(base: Instant, s: u64) -> Instant {
    base + Duration::from_secs(s)
}

/// An offer-expiry timer for call `n`.
fn offer(n: u64) -> Timer {
    Timer::OfferExpiry(CallId(n))
}

/// Every timer due at `now`, in firing order.
fn fire_all(t: &mut Timers, now: Instant) -> Vec<Timer> {
    std::iter::from_fn(|| t.pop_due(now)).collect()
}

#[test]
fn timers_fire_earliest_first() {
    let base = epoch();
    let mut t = Timers::default();
    t.schedule(offer(3), secs(base, 3));
    t.schedule(offer(1), secs(base, 1));
    t.schedule(Timer::WrapUpEnd(PartyId::made_up(2)), secs(base, 2));
    assert_eq!(t.next_deadline(), Some(secs(base, 1)));
    assert_eq!(
        fire_all(&mut t, secs(base, 10)),
        vec![offer(1), Timer::WrapUpEnd(PartyId::made_up(2)), offer(3)]
    );
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn equal_deadlines_fire_in_scheduling_order() {
    let base = epoch();
    let mut t = Timers::default();
    for n in [5, 2, 9] {
        t.schedule(offer(n), secs(base, 1));
    }
    assert_eq!(
        fire_all(&mut t, secs(base, 1)),
        vec![offer(5), offer(2), offer(9)]
    );
}

#[test]
fn only_due_timers_fire() {
    let base = epoch();
    let mut t = Timers::default();
    t.schedule(offer(1), secs(base, 1));
    t.schedule(offer(2), secs(base, 2));
    assert_eq!(t.pop_due(base), None, "early: nothing");
    assert_eq!(
        fire_all(&mut t, secs(base, 1)),
        vec![offer(1)],
        "at the deadline"
    );
    assert_eq!(t.pop_due(secs(base, 1)), None, "twice: nothing");
    assert_eq!(t.next_deadline(), Some(secs(base, 2)));
    assert_eq!(t.len(), 1);
}

#[test]
fn a_cancelled_timer_never_fires() {
    let base = epoch();
    let mut t = Timers::default();
    t.schedule(offer(1), secs(base, 1));
    t.schedule(offer(2), secs(base, 2));
    assert!(t.cancel(offer(1)));
    assert!(!t.cancel(offer(1)), "twice: nothing to cancel");
    assert!(!t.cancel(offer(7)), "never scheduled");
    assert_eq!(t.deadline(offer(1)), None);
    assert_eq!(
        t.next_deadline(),
        Some(secs(base, 2)),
        "the stale top is gone"
    );
    assert_eq!(fire_all(&mut t, secs(base, 10)), vec![offer(2)]);
}

#[test]
fn rescheduling_moves_the_deadline() {
    let base = epoch();
    let mut t = Timers::default();
    t.schedule(offer(1), secs(base, 1));
    t.schedule(offer(2), secs(base, 2));
    t.schedule(offer(1), secs(base, 3));
    assert_eq!(t.deadline(offer(1)), Some(secs(base, 3)));
    assert_eq!(t.next_deadline(), Some(secs(base, 2)));
    assert_eq!(t.pop_due(secs(base, 1)), None, "the old deadline is stale");
    t.schedule(offer(2), base);
    assert_eq!(t.next_deadline(), Some(base), "earlier works too");
    assert_eq!(fire_all(&mut t, secs(base, 10)), vec![offer(2), offer(1)]);
    assert_eq!(t.len(), 0);
}

#[test]
fn a_cancelled_then_rescheduled_timer_fires_once_at_its_new_deadline() {
    let base = epoch();
    let mut t = Timers::default();
    t.schedule(offer(1), secs(base, 1));
    t.cancel(offer(1));
    t.schedule(offer(1), secs(base, 5));
    assert_eq!(t.next_deadline(), Some(secs(base, 5)));
    assert_eq!(fire_all(&mut t, secs(base, 4)), vec![]);
    assert_eq!(fire_all(&mut t, secs(base, 5)), vec![offer(1)]);
    assert_eq!(fire_all(&mut t, secs(base, 5)), vec![]);
}

#[test]
fn stale_entries_stay_bounded() {
    let base = epoch();
    let mut t = Timers::default();
    t.schedule(offer(0), secs(base, 1_000_000));
    for i in 0..10_000 {
        // Each move leaves a stale entry that is not at the top.
        t.schedule(offer(1), secs(base, 2_000_000 + i));
    }
    assert_eq!(t.len(), 2);
    assert!(
        t.heap_len() <= 2 * t.len() + STALE_SLACK + 1,
        "{}",
        t.heap_len()
    );
    assert_eq!(
        fire_all(&mut t, secs(base, 3_000_000)),
        vec![offer(0), offer(1)]
    );
}
