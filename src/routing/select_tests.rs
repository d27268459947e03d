//! Unit tests for `select`.
use super::*;
use crate::routing::ids::CallId;
use crate::routing::party::Party;

/// A registry with agents `names`, all put in the queue in that order.
fn agents(names: &[&str]) -> (Parties, FreeAgents, Vec<PartyId>) {
    let mut parties = Parties::default();
    let mut free = FreeAgents::default();
    let ids: Vec<PartyId> = names
        .iter()
        .map(|n| {
            let id = parties
                .insert(Party::Agent(Agent {
                    id: (*n).into(),
                    wants_calls: true,
                    calls: Vec::new(),
                    free_key: None,
                }))
                .unwrap();
            free.refresh(id, parties.agent_mut(id).unwrap());
            id
        })
        .collect();
    (parties, free, ids)
}

/// Sets whether agent `id` wants calls, and refreshes its place.
fn set_wants(parties: &mut Parties, free: &mut FreeAgents, id: PartyId, wants: bool) {
    let a = parties.agent_mut(id).unwrap();
    a.wants_calls = wants;
    free.refresh(id, a);
}

#[test]
fn the_agent_free_longest_is_picked() {
    let (parties, free, ids) = agents(&["a", "b", "c"]);
    assert_eq!(free.len(), 3);
    assert_eq!(free.pick(&parties, None, None), Some(ids[0]));
}

#[test]
fn becoming_free_again_goes_to_the_back() {
    let (mut parties, mut free, ids) = agents(&["a", "b"]);
    set_wants(&mut parties, &mut free, ids[0], false);
    assert_eq!(free.len(), 1);
    assert!(!free.is_free(&parties, ids[0]));
    set_wants(&mut parties, &mut free, ids[0], true);
    assert_eq!(free.pick(&parties, None, None), Some(ids[1]));
}

#[test]
fn a_full_agent_is_not_free() {
    let (mut parties, mut free, ids) = agents(&["a", "b"]);
    let a = parties.agent_mut(ids[0]).unwrap();
    a.calls.push(CallId(1));
    free.refresh(ids[0], a);
    assert_eq!(free.pick(&parties, None, None), Some(ids[1]));
    let a = parties.agent_mut(ids[0]).unwrap();
    a.calls.clear();
    free.refresh(ids[0], a);
    free.refresh(ids[0], parties.agent_mut(ids[0]).unwrap());
    assert_eq!(free.len(), 2, "refreshing twice queues once");
}

#[test]
fn a_wanted_free_agent_is_picked_and_the_sender_never() {
    let (mut parties, mut free, ids) = agents(&["a", "b", "c"]);
    assert_eq!(
        free.pick(&parties, Some(ids[2]), Some(ids[0])),
        Some(ids[2])
    );
    assert_eq!(free.pick(&parties, None, Some(ids[0])), Some(ids[1]));
    assert_eq!(
        free.pick(&parties, Some(ids[0]), Some(ids[0])),
        Some(ids[1]),
        "naming oneself falls back to the one free longest"
    );
    set_wants(&mut parties, &mut free, ids[2], false);
    assert_eq!(
        free.pick(&parties, Some(ids[2]), Some(ids[0])),
        Some(ids[1]),
        "a busy wanted agent falls back to the one free longest"
    );
    assert_eq!(
        free.pick(&parties, Some(PartyId::made_up(99)), None),
        Some(ids[0]),
        "an unknown wanted agent too"
    );
}

#[test]
fn no_free_agent_picks_none() {
    let (mut parties, mut free, ids) = agents(&["a"]);
    assert_eq!(free.pick(&parties, None, Some(ids[0])), None);
    free.remove(parties.agent_mut(ids[0]).unwrap());
    free.remove(parties.agent_mut(ids[0]).unwrap());
    assert_eq!(free.len(), 0);
    assert_eq!(free.pick(&parties, None, None), None);
}
