//! Agent selection: which free agent gets a call.
//!
//! Why: the one place that decides who is free and which free agent is picked, so that
//! routing rules (a new call, a transfer, later an offer that moves on) all pick the same way.
//! Today the rule is: the agent free longest, or the one a transfer names if that one is free.
//!
//! Invariant: an agent is in the queue exactly when it wants calls and has room for one more
//! (`Agent::free_key` is `Some(k)` exactly when `by_order[k]` is that agent); keys grow, so
//! the queue is ordered by when each agent became free and picking costs the same at any size.
use super::party::{Agent, Parties, PartyId};
use std::collections::BTreeMap;

/// Calls an agent holds at once (a per-agent capacity for multi-chat replaces this const).
const AGENT_CAPACITY: usize = 1;

/// The free agents, the one free longest first.
#[derive(Debug, Default)]
pub(super) struct FreeAgents {
    /// Key = order in which the agent became free.
    by_order: BTreeMap<u64, PartyId>,
    next_key: u64,
}

impl FreeAgents {
    /// How many agents are free.
    pub fn len(&self) -> usize {
        self.by_order.len()
    }

    /// Whether `agent` should be in the queue: it wants calls and has room for one more.
    fn eligible(agent: &Agent) -> bool {
        agent.wants_calls && agent.calls.len() < AGENT_CAPACITY
    }

    /// Puts agent `id` in or out of the queue to match its state; entering goes to the back.
    pub fn refresh(&mut self, id: PartyId, agent: &mut Agent) {
        match (Self::eligible(agent), agent.free_key) {
            (true, None) => {
                let key = self.next_key;
                self.next_key = self.next_key.wrapping_add(1);
                agent.free_key = Some(key);
                self.by_order.insert(key, id);
            }
            (false, Some(key)) => self.leave(agent, key),
            _ => {}
        }
    }

    /// Takes `agent` out of the queue whatever its state (it is going away).
    pub fn remove(&mut self, agent: &mut Agent) {
        if let Some(key) = agent.free_key {
            self.leave(agent, key);
        }
    }

    /// Removes the queue entry `key` of `agent`.
    fn leave(&mut self, agent: &mut Agent, key: u64) {
        agent.free_key = None;
        if self.by_order.remove(&key).is_none() {
            log::warn!("free-agent key {key} was not queued");
        }
    }

    /// Whether agent `id` is in the queue.
    pub fn is_free(&self, parties: &Parties, id: PartyId) -> bool {
        parties.agent(id).is_some_and(|a| a.free_key.is_some())
    }

    /// The agent to give a call to: `wanted` if it is free and not `except`, otherwise the
    /// agent free longest other than `except`; None when there is none.
    #[inline]
    pub fn pick(
        &self,
        parties: &Parties,
        wanted: Option<PartyId>,
        except: Option<PartyId>,
    ) -> Option<PartyId> {
        let allowed = |id: &PartyId| Some(*id) != except;
        wanted
            .filter(|w| allowed(w) && self.is_free(parties, *w))
            .or_else(|| self.by_order.values().copied().find(allowed))
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
