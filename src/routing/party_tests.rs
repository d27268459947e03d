//! Unit tests for `party`.
use super::*;

/// A user party with client-chosen `id`.
fn user(id: &str) -> Party {
    Party::User(User {
        id: id.into(),
        call: None,
        ticket: None,
        origin: None,
        priority: None,
    })
}

/// An agent party with client-chosen `id`, wanting calls.
fn agent(id: &str) -> Party {
    Party::Agent(Agent::new(id.into(), 0))
}

#[test]
fn ids_are_per_role_and_distinct() {
    let mut p = Parties::default();
    let u = p.insert(user("x")).unwrap();
    let a = p.insert(agent("x")).unwrap();
    assert_ne!(u, a);
    assert!(p.insert(user("x")).is_none(), "same id, same role");
    assert_eq!(p.by_peer_id(Role::User, &"x".into()), Some(u));
    assert_eq!(p.by_peer_id(Role::Agent, &"x".into()), Some(a));
    assert_eq!((p.users(), p.agents()), (1, 1));
    assert!(p.user(u).is_some() && p.agent(u).is_none());
    assert!(p.agent(a).is_some() && p.user(a).is_none());
    assert_eq!(p.get(u).map(Party::role), Some(Role::User));
}

#[test]
fn binding_goes_both_ways() {
    let mut p = Parties::default();
    let u = p.insert(user("u")).unwrap();
    assert_eq!(p.conn_of(u), None, "a new party has no connection");
    assert!(p.bind(ConnId(7), u));
    assert_eq!(p.party_of(ConnId(7)), Some(u));
    assert_eq!(p.conn_of(u), Some(ConnId(7)));
    assert!(matches!(p.on_conn(ConnId(7)), Some((id, Party::User(_))) if id == u));
}

#[test]
fn binding_twice_is_refused_and_changes_nothing() {
    let mut p = Parties::default();
    let u = p.insert(user("u")).unwrap();
    let v = p.insert(user("v")).unwrap();
    assert!(p.bind(ConnId(1), u));
    assert!(!p.bind(ConnId(1), v), "the connection is taken");
    assert!(!p.bind(ConnId(2), u), "the party is bound");
    assert_eq!(p.party_of(ConnId(1)), Some(u));
    assert_eq!(p.party_of(ConnId(2)), None);
    assert_eq!(p.conn_of(v), None);
}

#[test]
fn a_party_outlives_its_connection_when_unbound() {
    let mut p = Parties::default();
    let u = p.insert(user("u")).unwrap();
    assert!(p.bind(ConnId(1), u));
    assert_eq!(p.unbind(ConnId(1)), Some(u));
    assert_eq!(p.unbind(ConnId(1)), None, "twice is harmless");
    assert_eq!(p.party_of(ConnId(1)), None);
    assert_eq!(p.conn_of(u), None);
    assert!(p.user(u).is_some(), "still registered");
    assert_eq!(p.by_peer_id(Role::User, &"u".into()), Some(u));
    assert!(p.bind(ConnId(2), u), "bound again to a new connection");
    assert_eq!(p.conn_of(u), Some(ConnId(2)));
}

#[test]
fn removal_frees_the_id_and_the_connection() {
    let mut p = Parties::default();
    let u = p.insert(user("u")).unwrap();
    assert!(p.bind(ConnId(1), u));
    assert!(matches!(p.remove(u), Some(Party::User(_))));
    assert!(p.remove(u).is_none(), "twice is harmless");
    assert_eq!(p.party_of(ConnId(1)), None);
    assert_eq!(p.by_peer_id(Role::User, &"u".into()), None);
    assert_eq!(p.users(), 0);
    assert!(p.insert(user("u")).is_some(), "the id is free again");
}

#[test]
fn stale_ids_find_nothing_even_when_the_slot_is_reused() {
    let mut p = Parties::default();
    let old = p.insert(user("old")).unwrap();
    assert!(p.bind(ConnId(1), old));
    p.remove(old);
    let new = p.insert(agent("new")).unwrap();
    assert!(p.bind(ConnId(2), new));
    assert_ne!(old, new);
    assert!(p.get(old).is_none());
    assert!(p.get_mut(old).is_none());
    assert_eq!(p.conn_of(old), None);
    assert!(!p.bind(ConnId(3), old));
    assert!(p.remove(old).is_none());
    assert_eq!(
        p.conn_of(new),
        Some(ConnId(2)),
        "the new occupant is untouched"
    );
    assert_eq!(p.by_peer_id(Role::Agent, &"new".into()), Some(new));
}

#[test]
fn made_up_ids_find_nothing() {
    let p = Parties::default();
    let id = PartyId::made_up(3);
    assert!(p.get(id).is_none());
    assert_eq!(p.conn_of(id), None);
    assert_eq!(p.on_conn(ConnId(3)).map(|(id, _)| id), None);
}

#[test]
fn party_ids_display_their_serial() {
    assert_eq!(PartyId::made_up(42).to_string(), "party#42");
}
