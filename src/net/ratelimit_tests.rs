use super::*;

fn limits(
    events_per_sec: u32,
    events_burst: u32,
    toggles_per_sec: u32,
    toggles_burst: u32,
) -> Limits {
    let mut l = crate::config::Config::default().limits;
    l.events_per_sec = events_per_sec;
    l.events_burst = events_burst;
    l.toggles_per_sec = toggles_per_sec;
    l.toggles_burst = toggles_burst;
    l
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How many of `n` takes at the same instant succeed.
fn takes(b: &mut Bucket, now: Instant, n: u32, per_sec: u32, burst: u32) -> u32 {
    (0..n).filter(|_| b.take(now, per_sec, burst)).count() as u32
}

#[test]
fn a_full_bucket_gives_its_burst_at_once_then_the_rate() {
    let t0 = Instant::now();
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 500, 100, 200), 200);
    // 100 per second: one token every 10 ms.
    assert!(!b.take(t0 + ms(9), 100, 200));
    assert!(b.take(t0 + ms(10), 100, 200));
    assert!(!b.take(t0 + ms(10), 100, 200));
    assert_eq!(takes(&mut b, t0 + ms(1010), 500, 100, 200), 100);
}

#[test]
fn no_interval_allows_more_than_burst_plus_rate_times_length() {
    let t0 = Instant::now();
    let mut b = Bucket::default();
    let mut allowed = 0;
    // An event every millisecond for 3 s, at 50/s with a burst of 20.
    for i in 0..3000 {
        if b.take(t0 + ms(i), 50, 20) {
            allowed += 1;
        }
    }
    assert!(allowed <= 20 + 50 * 3, "{allowed}");
    assert!(allowed >= 50 * 3, "{allowed}");
}

#[test]
fn an_idle_bucket_fills_again_but_not_beyond_its_burst() {
    let t0 = Instant::now();
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 10, 2, 5), 5);
    // 2.5 s at 2/s refill the 5 tokens; an hour more adds nothing.
    assert_eq!(takes(&mut b, t0 + ms(2500), 10, 2, 5), 5);
    assert_eq!(takes(&mut b, t0 + ms(3_602_500), 10, 2, 5), 5);
}

#[test]
fn rate_zero_is_unlimited_and_huge_rates_do_not_overflow() {
    let t0 = Instant::now();
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 10_000, 0, 0), 10_000);
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 1000, u32::MAX, u32::MAX), 1000);
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 1000, 1, u32::MAX), 1000);
    // A burst of 0 with a rate set (config refuses it) still allows one at a time.
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 10, 1, 0), 1);
}

#[test]
fn a_changed_rate_applies_at_the_next_check() {
    let t0 = Instant::now();
    let mut b = Bucket::default();
    assert_eq!(takes(&mut b, t0, 10, 1, 1), 1);
    // Raised (as by a reload): the same empty bucket now refills a thousand times faster.
    assert!(b.take(t0 + ms(1), 1000, 1000));
}

#[test]
fn toggles_draw_from_both_buckets() {
    let t0 = Instant::now();
    let l = limits(100, 200, 2, 5);
    let mut lim = Limiter::default();
    let verdicts: Vec<_> = (0..8).map(|_| lim.check(t0, &l, true)).collect();
    assert_eq!(verdicts[..5], [Verdict::Allowed; 5]);
    assert_eq!(verdicts[5..], [Verdict::ToggleLimited; 3]);
    // Other events still pass (and reset the count of refusals).
    assert_eq!(lim.check(t0, &l, false), Verdict::Allowed);
    assert_eq!(lim.refused_in_row, 0);
    // Events taken by toggles count against the event rate too: 200 in all.
    let allowed = (0..300)
        .filter(|_| lim.check(t0, &l, false) == Verdict::Allowed)
        .count();
    assert_eq!(allowed, 200 - 9);
    assert_eq!(lim.check(t0, &l, true), Verdict::Limited);
    // Unlimited toggles: only the event bucket counts.
    let l = limits(0, 0, 0, 0);
    let mut lim = Limiter::default();
    assert!((0..1000).all(|_| lim.check(t0, &l, true) == Verdict::Allowed));
}

#[test]
fn the_close_comes_once_at_the_configured_count_in_a_row() {
    let t0 = Instant::now();
    let l = limits(10, 1, 0, 0);
    let mut lim = Limiter::default();
    assert_eq!(lim.check(t0, &l, false), Verdict::Allowed);
    let mut closes = Vec::new();
    for i in 1..=10 {
        assert_eq!(lim.check(t0, &l, false), Verdict::Limited);
        if lim.closes_now(3) {
            closes.push(i);
        }
    }
    assert_eq!(closes, [3]);
    // An allowed event ends the run: the count starts again.
    assert_eq!(lim.check(t0 + ms(100), &l, false), Verdict::Allowed);
    assert_eq!(lim.check(t0 + ms(100), &l, false), Verdict::Limited);
    assert!(!lim.closes_now(3));
    assert!(lim.closes_now(1));
}
