//! Unit tests for `call`.
use super::*;
use crate::routing::event::ErrorCode;
use crate::routing::testkit::epoch;

/// Starts a call in `room` between made-up parties 1 (user) and 2 (agent).
fn start(calls: &mut Calls, room: &str) -> CallId {
    calls.start(
        room.into(),
        PartyId::made_up(1),
        PartyId::made_up(2),
        epoch(),
    )
}

/// The code of a rejection.
fn code<T: std::fmt::Debug>(r: Result<T, Rejection>) -> ErrorCode {
    r.unwrap_err().code
}

#[test]
fn a_started_call_is_active_and_owns_its_room() {
    let mut calls = Calls::default();
    let id = start(&mut calls, "r");
    let call = calls.get(id).unwrap();
    assert_eq!(call.room, PeerId::from("r"));
    assert_eq!(
        (call.user, call.agent),
        (PartyId::made_up(1), PartyId::made_up(2))
    );
    assert!(calls.room_in_use(&"r".into()));
    assert_eq!(calls.len(), 1);
}

#[test]
fn removing_frees_the_room_once() {
    let mut calls = Calls::default();
    let id = start(&mut calls, "r");
    assert!(calls.remove(id).is_some());
    assert!(calls.remove(id).is_none(), "twice is harmless");
    assert!(!calls.room_in_use(&"r".into()));
    assert_eq!(calls.len(), 0);
    assert_ne!(start(&mut calls, "r"), id, "call ids are not reused");
}

#[test]
fn fresh_rooms_skip_rooms_in_use() {
    let mut calls = Calls::default();
    start(&mut calls, "room-1");
    assert_eq!(calls.fresh_room(), PeerId::from("room-2"));
}

#[test]
fn finding_a_call_by_room() {
    let mut calls = Calls::default();
    let a = start(&mut calls, "a");
    let b = start(&mut calls, "b");
    assert_eq!(calls.pick(&[a], None), Ok(a), "the only call");
    assert_eq!(calls.pick(&[a, b], Some(&"b".into())), Ok(b));
    assert_eq!(code(calls.pick(&[], None)), ErrorCode::NotInCall);
    assert_eq!(code(calls.pick(&[a, b], None)), ErrorCode::BadPayload);
    assert_eq!(
        code(calls.pick(&[a], Some(&"b".into()))),
        ErrorCode::Forbidden,
        "b is not among the party's calls"
    );
}

#[test]
fn stale_call_ids_are_refused() {
    let mut calls = Calls::default();
    let gone = start(&mut calls, "g");
    calls.remove(gone);
    assert_eq!(code(calls.pick(&[gone], None)), ErrorCode::NotInCall);
    assert_eq!(
        code(calls.pick(&[gone], Some(&"g".into()))),
        ErrorCode::Forbidden
    );
    assert_eq!(code(calls.pick(&[CallId(99)], None)), ErrorCode::NotInCall);
}
