//! The ready agents per skill, beside `select::ReadyAgents`: choosing an agent for a call
//! that requires skills without walking past every ready agent that lacks them.
//!
//! Why: with the strategy's one ordered set, an agent that lacks a requirement is skipped,
//! and under longest-idle the agents nobody asks for gather at the front: a pick for a rare
//! skill among 10,000 ready agents skipped ~9,000 of them (docs/performance.md). Here each
//! skill has the ready agents that have it, under the same `ReadyKey` as the strategy's set,
//! so the first agent in a skill's set that covers the requirement is the one the filtered
//! pick would choose, found after skipping only agents that have that skill but not the rest.
//!
//! How: a requirement is looked up under its skill with the fewest ready agents; cost
//! O(r + log n + k') for r required skills and k' agents with that skill skipped. Round-robin
//! (which starts after the last agent chosen) and random keep the filtered pick (O(k)).
//!
//! Invariant: agent `p` is in `by_skill[s]` under key `k` exactly when it is in the ready set
//! under `k` (`Agent::ready_key == Some(k)`) and has skill `s`; no set is empty.
use super::config::Strategy;
use super::party::{Agent, Parties, PartyId, ReadyKey};
use super::select::ReadyAgents;
use super::skills::Skills;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The ready agents that have each skill, in the strategy's order.
#[derive(Debug, Default)]
pub(super) struct ReadyBySkill {
    by_skill: FxHashMap<Arc<str>, BTreeMap<ReadyKey, PartyId>>,
}

impl ReadyBySkill {
    /// Files agent `id`, just put in the ready set, under each of its skills.
    pub fn insert(&mut self, id: PartyId, agent: &Agent) {
        let Some(key) = agent.ready_key else {
            return;
        };
        for name in agent.skills.names() {
            self.by_skill
                .entry(name.clone())
                .or_default()
                .insert(key, id);
        }
    }

    /// Takes agent `id` out, before it leaves the ready set (its key is still set).
    pub fn remove(&mut self, agent: &Agent) {
        let Some(key) = agent.ready_key else {
            return;
        };
        for name in agent.skills.names() {
            if let Some(set) = self.by_skill.get_mut(name) {
                set.remove(&key);
                if set.is_empty() {
                    self.by_skill.remove(name);
                }
            }
        }
    }

    /// Whether agent `id` is filed under `skill` with `key`, and how many entries there are
    /// in all (for the invariant check).
    pub fn holds(&self, skill: &str, key: ReadyKey, id: PartyId) -> bool {
        self.by_skill
            .get(skill)
            .is_some_and(|s| s.get(&key) == Some(&id))
    }

    /// Entries over every skill.
    pub fn entries(&self) -> usize {
        self.by_skill.values().map(BTreeMap::len).sum()
    }

    /// Drops everything (the ready set was re-keyed: `rebuild` follows).
    pub fn clear(&mut self) {
        self.by_skill.clear();
    }
}

impl ReadyBySkill {
    /// The agent for a call requiring `need` that `allowed` permits: the strategy's first
    /// ready agent covering `need` (as `ReadyAgents::pick` with that filter), looked up in
    /// the per-skill index for the ordered strategies.
    pub fn pick(
        &self,
        free: &mut ReadyAgents,
        parties: &Parties,
        strategy: Strategy,
        need: &Skills,
        allowed: impl Fn(PartyId) -> bool,
    ) -> Option<PartyId> {
        if need.is_empty() {
            return free.pick(parties, None, allowed);
        }
        let covers = |a: PartyId| parties.agent(a).is_some_and(|a| a.skills.covers(need));
        if matches!(strategy, Strategy::RoundRobin | Strategy::Random) {
            return free.pick(parties, None, |a| allowed(a) && covers(a));
        }
        let mut smallest: Option<&BTreeMap<ReadyKey, PartyId>> = None;
        for name in need.names() {
            let set = self.by_skill.get(name)?;
            if smallest.is_none_or(|s| set.len() < s.len()) {
                smallest = Some(set);
            }
        }
        smallest?
            .values()
            .copied()
            .find(|a| allowed(*a) && covers(*a))
    }

    /// Files every ready agent again (after the ready set was re-keyed).
    pub fn rebuild(&mut self, parties: &Parties) {
        self.clear();
        for (id, _) in parties.iter() {
            if let Some(a) = parties.agent(id) {
                self.insert(id, a);
            }
        }
    }
}
