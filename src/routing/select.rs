//! Agent selection: which ready agent gets a call, by the configured strategy.
//!
//! Why: the one place that knows who is ready (would accept a call now) and picks among them,
//! so that every routing rule (a new call, a user put back in line, an expired offer moving
//! on, a transfer) picks the same way, in O(log n) whatever the number of agents.
//!
//! How each strategy picks in O(log n): the ready agents sit in a `BTreeMap` keyed by their
//! load (calls held / capacity: the least loaded first, so an agent with several slots
//! fills evenly with the others) and then the strategy's order, computed when the agent
//! becomes ready and again when its counters change while it stays ready (`rekey`):
//! longest-idle by the sequence number of when it became idle;
//! first-available by registration order; round-robin by registration order too, picking the
//! first key after the last agent chosen among the least loaded (wrapping round); fewest-calls by (calls taken,
//! idle order); least-talk-time by (talk time, idle order). Random keeps the ready agents in
//! a vector instead (swap-remove, an index per agent) and draws an index: any agent with a
//! free slot, whatever its load. An agent a request
//! must avoid is skipped, so a pick costs O(log n + k), k the agents skipped.
//!
//! Invariant: an agent is in the set exactly when `Agent::ready_key` is `Some(k)`, under key
//! `k` (or in `pool` for random); a change of strategy rebuilds the set.
use super::config::Strategy;
use super::party::{Agent, Parties, PartyId, ReadyKey};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// A small PRNG (splitmix64) for the random strategy: seeded by the loop, no clock here.
#[derive(Debug, Default, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (n > 0), by Lemire's multiply-shift.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// The ready agents, ordered for the current strategy.
#[derive(Debug, Default)]
pub(super) struct ReadyAgents {
    strategy: Strategy,
    ordered: BTreeMap<ReadyKey, PartyId>,
    /// Random strategy: the ready agents in no order, and where each one is.
    pool: Vec<PartyId>,
    pool_index: FxHashMap<PartyId, usize>,
    /// Round-robin: registration number of the agent chosen last.
    last_chosen: Option<u64>,
    rng: SplitMix64,
}

impl ReadyAgents {
    /// An empty set for `strategy`, random draws seeded by `seed`.
    pub fn new(strategy: Strategy, seed: u64) -> ReadyAgents {
        ReadyAgents {
            strategy,
            rng: SplitMix64(seed),
            ..ReadyAgents::default()
        }
    }

    /// How many agents are ready.
    #[inline]
    pub fn len(&self) -> usize {
        match self.strategy {
            Strategy::Random => self.pool.len(),
            _ => self.ordered.len(),
        }
    }

    /// `agent`'s key under `strategy`.
    fn key(strategy: Strategy, agent: &Agent) -> ReadyKey {
        let load = agent.load();
        match strategy {
            Strategy::LongestIdle => (load, agent.idle_since, 0),
            Strategy::RoundRobin | Strategy::FirstAvailable | Strategy::Random => {
                (load, agent.registered, 0)
            }
            Strategy::FewestCalls => (load, agent.calls_taken, agent.idle_since),
            Strategy::LeastTalkTime => (
                load,
                u64::try_from(agent.talk_time.as_nanos()).unwrap_or(u64::MAX),
                agent.idle_since,
            ),
        }
    }

    /// Moves ready agent `id` to its current key if its counters changed while it stayed
    /// ready (an agent with several slots takes or ends a call).
    pub fn rekey(&mut self, id: PartyId, agent: &mut Agent) {
        let Some(old) = agent.ready_key else {
            return;
        };
        if self.strategy == Strategy::Random || old == Self::key(self.strategy, agent) {
            return;
        }
        self.remove(id, agent);
        self.insert(id, agent);
    }

    /// Adds agent `id` (not in the set yet) under its current key.
    pub fn insert(&mut self, id: PartyId, agent: &mut Agent) {
        if agent.ready_key.is_some() {
            return;
        }
        let key = Self::key(self.strategy, agent);
        agent.ready_key = Some(key);
        if self.strategy == Strategy::Random {
            self.pool_index.insert(id, self.pool.len());
            self.pool.push(id);
        } else if let Some(old) = self.ordered.insert(key, id) {
            log::warn!("ready key {key:?} of {old} given to {id}");
        }
    }

    /// Takes agent `id` out of the set, if it is there.
    pub fn remove(&mut self, id: PartyId, agent: &mut Agent) {
        let Some(key) = agent.ready_key.take() else {
            return;
        };
        if self.strategy != Strategy::Random {
            if self.ordered.remove(&key).is_none() {
                log::warn!("ready key {key:?} of {id} was not in the set");
            }
            return;
        }
        let Some(i) = self.pool_index.remove(&id) else {
            log::warn!("{id} was not in the random pool");
            return;
        };
        self.pool.swap_remove(i);
        if let Some(moved) = self.pool.get(i) {
            self.pool_index.insert(*moved, i);
        }
    }

    /// Whether agent `id` is ready.
    pub fn is_ready(&self, parties: &Parties, id: PartyId) -> bool {
        parties.agent(id).is_some_and(|a| a.ready_key.is_some())
    }

    /// Notes that agent `agent` was given a call (round-robin starts after it next time).
    pub fn chosen(&mut self, agent: &Agent) {
        self.last_chosen = Some(agent.registered);
    }

    /// The agent to give a call to: `wanted` if it is ready and `allowed`, otherwise the
    /// strategy's first ready agent that is `allowed`; None when there is none.
    #[inline]
    pub fn pick(
        &mut self,
        parties: &Parties,
        wanted: Option<PartyId>,
        allowed: impl Fn(PartyId) -> bool,
    ) -> Option<PartyId> {
        if let Some(w) = wanted.filter(|w| allowed(*w) && self.is_ready(parties, *w)) {
            return Some(w);
        }
        match self.strategy {
            Strategy::Random => {
                let n = self.pool.len();
                if n == 0 {
                    return None;
                }
                let start = self.rng.below(n);
                (0..n)
                    .map(|i| self.pool[(start + i) % n])
                    .find(|id| allowed(*id))
            }
            Strategy::RoundRobin => {
                // The round goes on among the least loaded; then any, least loaded first.
                let load = self.ordered.keys().next().map_or(0, |k| k.0);
                let after = self.last_chosen.map_or(0, |r| r.wrapping_add(1));
                let mut later = self
                    .ordered
                    .range((load, after, 0)..)
                    .take_while(|(k, _)| k.0 == load)
                    .map(|(_, id)| *id);
                later
                    .find(|id| allowed(*id))
                    .or_else(|| self.ordered.values().copied().find(|id| allowed(*id)))
            }
            _ => self.ordered.values().copied().find(|id| allowed(*id)),
        }
    }

    /// Switches to `strategy`, re-keying every ready agent.
    pub fn set_strategy(&mut self, strategy: Strategy, parties: &mut Parties) {
        if strategy == self.strategy {
            return;
        }
        let ready: Vec<PartyId> = match self.strategy {
            Strategy::Random => std::mem::take(&mut self.pool),
            _ => std::mem::take(&mut self.ordered).into_values().collect(),
        };
        self.pool_index.clear();
        self.strategy = strategy;
        for id in ready {
            if let Some(agent) = parties.agent_mut(id) {
                agent.ready_key = None;
                self.insert(id, agent);
            }
        }
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
