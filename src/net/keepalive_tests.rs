//! Unit tests for `keepalive` (virtual instants: no sockets, no sleeps).
use super::*;
use crate::config::Config;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn limits() -> Limits {
    let mut l = Config::default().limits;
    l.ping_interval = Some(ms(200));
    l.ping_timeout = ms(300);
    l.register_timeout = Some(ms(1000));
    l.soft_outbound_bytes = 1000;
    l.slow_consumer = ms(500);
    l
}

/// Fires the armed entry at its own time; returns the verdict and that time.
fn fire(live: &mut Live, registered: bool, l: &Limits) -> (Verdict, Instant) {
    let at = live.due.expect("an entry is armed");
    (live.check(at, at, registered, l), at)
}

#[test]
fn a_silent_connection_is_pinged_then_times_out_after_interval_plus_timeout() {
    let l = limits();
    let t0 = Instant::now();
    let mut live = Live::new(t0, true, &l);
    assert_eq!(live.arm(&l), Some(t0 + ms(200)));
    assert_eq!(fire(&mut live, true, &l), (Verdict::Ping, t0 + ms(200)));
    assert_eq!(live.arm(&l), Some(t0 + ms(500)));
    assert_eq!(
        fire(&mut live, true, &l),
        (Verdict::PingTimeout, t0 + ms(500))
    );
}

#[test]
fn anything_heard_after_a_ping_answers_it_and_pings_go_on() {
    let l = limits();
    let t0 = Instant::now();
    let mut live = Live::new(t0, true, &l);
    live.arm(&l);
    fire(&mut live, true, &l);
    live.heard = t0 + ms(250); // a message, not even a pong
    live.arm(&l);
    // Answered; the next ping (due at 400, an interval after the last) goes out at once.
    assert_eq!(fire(&mut live, true, &l), (Verdict::Ping, t0 + ms(500)));
    assert_eq!(live.arm(&l), Some(t0 + ms(800)));
    live.heard = t0 + ms(600);
    assert_eq!(fire(&mut live, true, &l), (Verdict::Ping, t0 + ms(800)));
    // With the interval above the timeout, the check comes first and is quiet.
    let mut l = l;
    l.ping_interval = Some(ms(1000));
    let mut live = Live::new(t0, true, &l);
    live.arm(&l);
    assert_eq!(fire(&mut live, true, &l), (Verdict::Ping, t0 + ms(1000)));
    live.arm(&l);
    live.heard = t0 + ms(1100);
    assert_eq!(fire(&mut live, true, &l), (Verdict::Quiet, t0 + ms(1300)));
    assert_eq!(live.arm(&l), Some(t0 + ms(2000)));
}

#[test]
fn an_unregistered_native_connection_times_out_and_a_registered_one_does_not() {
    let mut l = limits();
    l.ping_interval = None;
    let t0 = Instant::now();
    let mut live = Live::new(t0, true, &l);
    assert_eq!(live.arm(&l), Some(t0 + ms(1000)));
    assert_eq!(fire(&mut live, false, &l).0, Verdict::RegisterTimeout);

    let mut live = Live::new(t0, true, &l);
    live.arm(&l);
    assert_eq!(fire(&mut live, true, &l).0, Verdict::Quiet);
    assert_eq!(live.arm(&l), None, "nothing left to check");
}

#[test]
fn socket_io_websockets_get_neither_pings_nor_the_register_deadline() {
    let l = limits();
    let mut live = Live::new(Instant::now(), false, &l);
    assert_eq!(live.arm(&l), None);
}

#[test]
fn the_soft_limit_drops_only_when_exceeded_without_a_break() {
    let mut l = limits();
    l.ping_interval = None;
    l.register_timeout = None;
    let t0 = Instant::now();
    let mut live = Live::new(t0, true, &l);
    assert!(live.queued(t0, 5000, &l));
    assert_eq!(live.arm(&l), Some(t0 + ms(500)));
    // Back under it, then over again: the clock restarts; the old entry is stale.
    assert!(!live.queued(t0 + ms(100), 10, &l));
    assert!(live.queued(t0 + ms(200), 5000, &l));
    assert!(
        !live.queued(t0 + ms(300), 5000, &l),
        "still the same stretch"
    );
    assert_eq!(
        live.arm(&l),
        None,
        "the earlier entry fires first and re-arms"
    );
    assert_eq!(fire(&mut live, true, &l), (Verdict::Quiet, t0 + ms(500)));
    assert_eq!(live.arm(&l), Some(t0 + ms(700)));
    assert_eq!(fire(&mut live, true, &l).0, Verdict::SlowConsumer);
}

#[test]
fn a_superseded_entry_is_stale() {
    let l = limits();
    let t0 = Instant::now();
    let mut live = Live::new(t0, true, &l);
    live.arm(&l);
    assert_eq!(
        live.check(t0 + ms(50), t0 + ms(50), true, &l),
        Verdict::Stale
    );
}

#[test]
fn a_message_partway_in_times_out_from_its_own_start() {
    let mut l = limits();
    l.message_timeout = ms(400);
    let t0 = Instant::now();
    let mut live = Live::new(t0, false, &l);
    // Each message's clock starts at the read that saw it begin.
    assert!(live.inbound(t0, true, 0));
    assert!(
        !live.inbound(t0 + ms(100), true, 0),
        "the same message: same clock"
    );
    assert_eq!(live.arm(&l), Some(t0 + ms(400)));
    // It ended and another began at 300: the clock restarts; the early entry re-arms.
    assert!(live.inbound(t0 + ms(300), true, 1));
    live.arm(&l);
    assert_eq!(fire(&mut live, true, &l), (Verdict::Quiet, t0 + ms(400)));
    assert_eq!(live.arm(&l), Some(t0 + ms(700)));
    assert_eq!(
        fire(&mut live, true, &l),
        (Verdict::MessageTimeout, t0 + ms(700))
    );
    // Nothing pending: no clock.
    assert!(!live.inbound(t0 + ms(800), false, 2));
    assert_eq!(live.arm(&l), None);
}
