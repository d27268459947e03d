//! Unit tests for `reserve`.
use super::*;

#[test]
fn a_reserve_releases_and_refills() {
    let mut r = Reserve::new(2);
    assert_eq!(r.held(), 2);
    assert!(r.release());
    assert!(r.release());
    assert!(!r.release());
    assert_eq!(r.held(), 0);
    assert!(r.refill());
    assert_eq!(r.held(), 2);
}

#[test]
fn descriptor_errors_are_recognised() {
    assert!(out_of_descriptors(&io::Error::from_raw_os_error(
        libc::EMFILE
    )));
    assert!(out_of_descriptors(&io::Error::from_raw_os_error(
        libc::ENFILE
    )));
    assert!(!out_of_descriptors(&io::Error::from_raw_os_error(
        libc::ENOMEM
    )));
    assert!(!out_of_descriptors(&io::ErrorKind::WouldBlock.into()));
}

#[test]
fn the_warning_is_logged_once_per_interval_with_a_count() {
    let t0 = Instant::now();
    let every = Duration::from_secs(5);
    let mut w = RateLimitedWarning::new(every);
    assert_eq!(w.note(t0, 1), Some(1));
    assert_eq!(w.note(t0 + Duration::from_secs(1), 3), None);
    assert_eq!(w.note(t0 + Duration::from_secs(4), 2), None);
    assert_eq!(w.note(t0 + every, 1), Some(6));
    assert_eq!(w.note(t0 + every * 3, 0), Some(0));
    assert_eq!(w.note(t0 + every * 3, 2), None);
    assert_eq!(w.note(t0 + every * 4, 0), Some(2));
}
