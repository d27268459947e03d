//! Unit tests for `select`: each strategy's order, exclusions, a wanted agent, re-keying.
use super::*;
use crate::routing::party::Party;
use std::time::Duration;

/// A registry with agents `names` (registered in that order, idle in that order), all ready.
fn agents(strategy: Strategy, names: &[&str]) -> (Parties, ReadyAgents, Vec<PartyId>) {
    let mut parties = Parties::default();
    let mut free = ReadyAgents::new(strategy, 7);
    let ids: Vec<PartyId> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let id = parties
                .insert(Party::Agent(Agent::new((*n).into(), i as u64 + 1)))
                .unwrap();
            free.insert(id, parties.agent_mut(id).unwrap());
            id
        })
        .collect();
    (parties, free, ids)
}

/// Takes `id` out, sets its counters with `f`, and puts it back.
fn update(parties: &mut Parties, free: &mut ReadyAgents, id: PartyId, f: impl Fn(&mut Agent)) {
    let a = parties.agent_mut(id).unwrap();
    free.remove(id, a);
    f(a);
    free.insert(id, a);
}

/// Picks with no restriction, noting the choice as the router does.
fn pick(parties: &Parties, free: &mut ReadyAgents) -> Option<PartyId> {
    let p = free.pick(parties, None, |_| true)?;
    free.chosen(parties.agent(p).unwrap());
    Some(p)
}

#[test]
fn longest_idle_picks_the_agent_idle_longest() {
    let (mut parties, mut free, ids) = agents(Strategy::LongestIdle, &["a", "b", "c"]);
    assert_eq!(free.len(), 3);
    assert_eq!(pick(&parties, &mut free), Some(ids[0]));
    update(&mut parties, &mut free, ids[0], |a| a.idle_since = 10);
    assert_eq!(pick(&parties, &mut free), Some(ids[1]));
}

#[test]
fn first_available_picks_the_earliest_registered() {
    let (mut parties, mut free, ids) = agents(Strategy::FirstAvailable, &["a", "b", "c"]);
    update(&mut parties, &mut free, ids[0], |a| a.idle_since = 10);
    assert_eq!(pick(&parties, &mut free), Some(ids[0]));
    assert_eq!(pick(&parties, &mut free), Some(ids[0]), "always the first");
}

#[test]
fn round_robin_starts_after_the_last_chosen_and_wraps() {
    let (parties, mut free, ids) = agents(Strategy::RoundRobin, &["a", "b", "c"]);
    let order: Vec<_> = (0..5).map(|_| pick(&parties, &mut free).unwrap()).collect();
    assert_eq!(order, vec![ids[0], ids[1], ids[2], ids[0], ids[1]]);
}

#[test]
fn round_robin_skips_agents_not_ready() {
    let (mut parties, mut free, ids) = agents(Strategy::RoundRobin, &["a", "b", "c"]);
    assert_eq!(pick(&parties, &mut free), Some(ids[0]));
    free.remove(ids[1], parties.agent_mut(ids[1]).unwrap());
    assert_eq!(pick(&parties, &mut free), Some(ids[2]));
    assert_eq!(pick(&parties, &mut free), Some(ids[0]));
}

#[test]
fn fewest_calls_then_longest_idle() {
    let (mut parties, mut free, ids) = agents(Strategy::FewestCalls, &["a", "b", "c"]);
    update(&mut parties, &mut free, ids[0], |a| a.calls_taken = 2);
    update(&mut parties, &mut free, ids[1], |a| a.calls_taken = 1);
    update(&mut parties, &mut free, ids[2], |a| a.calls_taken = 1);
    assert_eq!(
        pick(&parties, &mut free),
        Some(ids[1]),
        "tie: b idle longer"
    );
    update(&mut parties, &mut free, ids[1], |a| a.calls_taken = 3);
    assert_eq!(pick(&parties, &mut free), Some(ids[2]));
}

#[test]
fn least_talk_time_then_longest_idle() {
    let (mut parties, mut free, ids) = agents(Strategy::LeastTalkTime, &["a", "b", "c"]);
    update(&mut parties, &mut free, ids[0], |a| {
        a.talk_time = Duration::from_secs(5)
    });
    update(&mut parties, &mut free, ids[1], |a| {
        a.talk_time = Duration::from_secs(1)
    });
    update(&mut parties, &mut free, ids[2], |a| {
        a.talk_time = Duration::from_secs(3)
    });
    assert_eq!(pick(&parties, &mut free), Some(ids[1]));
    free.remove(ids[1], parties.agent_mut(ids[1]).unwrap());
    assert_eq!(pick(&parties, &mut free), Some(ids[2]));
}

#[test]
fn random_is_roughly_uniform_and_honours_exclusions() {
    let names: Vec<String> = (0..4).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (parties, mut free, ids) = agents(Strategy::Random, &refs);
    let mut counts = [0usize; 4];
    for _ in 0..4000 {
        let p = pick(&parties, &mut free).unwrap();
        counts[ids.iter().position(|i| *i == p).unwrap()] += 1;
    }
    assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    for _ in 0..100 {
        let p = free.pick(&parties, None, |a| a != ids[0] && a != ids[1]);
        assert!(p == Some(ids[2]) || p == Some(ids[3]));
    }
    assert_eq!(free.pick(&parties, None, |_| false), None);
}

#[test]
fn random_removal_keeps_the_pool_consistent() {
    let (mut parties, mut free, ids) = agents(Strategy::Random, &["a", "b", "c"]);
    free.remove(ids[0], parties.agent_mut(ids[0]).unwrap());
    free.remove(ids[0], parties.agent_mut(ids[0]).unwrap());
    assert_eq!(free.len(), 2);
    for _ in 0..50 {
        let p = free.pick(&parties, None, |_| true).unwrap();
        assert_ne!(p, ids[0]);
    }
    free.remove(ids[2], parties.agent_mut(ids[2]).unwrap());
    assert_eq!(free.pick(&parties, None, |_| true), Some(ids[1]));
}

#[test]
fn a_wanted_ready_agent_is_picked_and_the_excluded_never() {
    let (mut parties, mut free, ids) = agents(Strategy::LongestIdle, &["a", "b", "c"]);
    let not_a = |a: PartyId| a != ids[0];
    assert_eq!(free.pick(&parties, Some(ids[2]), not_a), Some(ids[2]));
    assert_eq!(free.pick(&parties, None, not_a), Some(ids[1]));
    assert_eq!(
        free.pick(&parties, Some(ids[0]), not_a),
        Some(ids[1]),
        "naming an excluded agent falls back to the strategy"
    );
    free.remove(ids[2], parties.agent_mut(ids[2]).unwrap());
    assert_eq!(free.pick(&parties, Some(ids[2]), not_a), Some(ids[1]));
    assert_eq!(
        free.pick(&parties, Some(PartyId::made_up(99)), |_| true),
        Some(ids[0]),
        "an unknown wanted agent too"
    );
}

#[test]
fn inserting_twice_counts_once_and_removing_twice_is_harmless() {
    let (mut parties, mut free, ids) = agents(Strategy::LongestIdle, &["a"]);
    free.insert(ids[0], parties.agent_mut(ids[0]).unwrap());
    assert_eq!(free.len(), 1);
    free.remove(ids[0], parties.agent_mut(ids[0]).unwrap());
    free.remove(ids[0], parties.agent_mut(ids[0]).unwrap());
    assert_eq!(free.len(), 0);
    assert_eq!(free.pick(&parties, None, |_| true), None);
}

#[test]
fn changing_the_strategy_rekeys_every_ready_agent() {
    let (mut parties, mut free, ids) = agents(Strategy::LongestIdle, &["a", "b", "c"]);
    update(&mut parties, &mut free, ids[0], |a| a.idle_since = 10);
    assert_eq!(pick(&parties, &mut free), Some(ids[1]));
    free.set_strategy(Strategy::FirstAvailable, &mut parties);
    assert_eq!(free.len(), 3);
    assert_eq!(pick(&parties, &mut free), Some(ids[0]));
    free.set_strategy(Strategy::Random, &mut parties);
    assert_eq!(free.len(), 3);
    free.set_strategy(Strategy::FewestCalls, &mut parties);
    assert_eq!(free.len(), 3);
    for id in &ids {
        assert!(free.is_ready(&parties, *id));
    }
}
