//! Checks of the router's cross-structure invariants, for tests and debugging.
//!
//! Why: the call queue spreads one fact over several structures (a user's call or ticket,
//! the agent's call or offer, the ready set, the waiting set, the state counts); property
//! tests drive random event sequences through the public API and need to see that those
//! structures still agree, without reaching into private fields.
//!
//! Invariant checked here, not enforced: see `Router::check_invariants`. These walks are
//! O(users × agents) and never run on the loop's paths.
use super::ids::ConnId;
use super::party::Party;
use super::report::AgentState;
use super::router::Router;

/// Where a registered user stands with its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserPlace {
    /// Waiting in the queue, no offer pending.
    Queued,
    /// Waiting, its call offered to an agent.
    Offered,
    /// Connected to an agent.
    InCall,
}

impl Router {
    /// Where the user on `conn` stands; None when it is not a user, or asked for nothing.
    pub fn user_place(&self, conn: ConnId) -> Option<UserPlace> {
        let Some((_, Party::User(u))) = self.parties.on_conn(conn) else {
            return None;
        };
        if u.call.is_some() {
            return Some(UserPlace::InCall);
        }
        let t = self.queue.get(u.ticket?)?;
        Some(match t.offered {
            Some(_) => UserPlace::Offered,
            None => UserPlace::Queued,
        })
    }

    /// Checks that every structure agrees: each agent holds at most its capacity of calls
    /// and offers, each user is in at most one of call, offer, queue (and the records on
    /// both sides match), no ready agent may take a waiting user, and the ready set and the
    /// state counts match the agents' states, and exactly the parties with no connection
    /// are held (resumable, counted, agents marked). Err names the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut counts = [0usize; AgentState::ALL.len()];
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        let mut ticketed = 0;
        let mut held_parties = 0;
        let mut filed = 0;
        for (id, party) in self.parties.iter() {
            let held = self.parties.conn_of(id).is_none();
            held_parties += usize::from(held);
            if held && self.parties.continuity(id).is_none_or(|c| c.key.is_none()) {
                return Err(format!("{id} is held but cannot be resumed"));
            }
            match party {
                Party::Agent(a) => {
                    if a.held != held {
                        return Err(format!(
                            "{id} held: {}, has a connection: {}",
                            a.held, !held
                        ));
                    }
                    let held = a.calls.len() + usize::from(a.offer.is_some());
                    if held > a.capacity.max(1) || a.calls.len() + a.wrap_ups.len() > a.capacity {
                        return Err(format!(
                            "{id} holds {held} calls and offers, {} slots in wrap-up, capacity {}",
                            a.wrap_ups.len(),
                            a.capacity
                        ));
                    }
                    for c in &a.calls {
                        if self.calls.get(*c).map(|c| c.agent) != Some(id) {
                            return Err(format!("{id} lists {c:?}, not its call"));
                        }
                    }
                    if let Some(t) = a.offer {
                        if self.queue.get(t).and_then(|t| t.offered) != Some(id) {
                            return Err(format!("{id} holds offer {t:?}, not offered to it"));
                        }
                    }
                    let state = a.current_state();
                    if state != a.state {
                        return Err(format!("{id} counted {:?}, is {state:?}", a.state));
                    }
                    counts[state as usize] += 1;
                    if (state == AgentState::Ready) != a.ready_key.is_some() {
                        return Err(format!(
                            "{id} is {state:?}; in ready set: {:?}",
                            a.ready_key
                        ));
                    }
                    if state == AgentState::Ready {
                        ready.push(id);
                    }
                    if let Some(key) = a.ready_key {
                        filed += a.skills.iter().count();
                        if let Some((s, _)) = a
                            .skills
                            .iter()
                            .find(|(s, _)| !self.ready_by_skill.holds(s, key, id))
                        {
                            return Err(format!("ready {id} is not filed under skill {s}"));
                        }
                    }
                }
                Party::User(u) => {
                    if u.call.is_some() && u.ticket.is_some() {
                        return Err(format!("{id} has both a call and a ticket"));
                    }
                    if let Some(c) = u.call {
                        if self.calls.get(c).map(|c| c.user) != Some(id) {
                            return Err(format!("{id} lists {c:?}, not its call"));
                        }
                    }
                    if let Some(t) = u.ticket {
                        let Some(ticket) = self.queue.get(t) else {
                            return Err(format!("{id} lists ticket {t:?}, not queued"));
                        };
                        if ticket.user != id {
                            return Err(format!("ticket {t:?} of {id} names {}", ticket.user));
                        }
                        ticketed += 1;
                        if ticket.offered.is_none() {
                            waiting.push(t);
                        }
                    }
                }
            }
        }
        if filed != self.ready_by_skill.entries() {
            return Err(format!(
                "{} entries per skill, {filed} for the ready agents",
                self.ready_by_skill.entries()
            ));
        }
        if held_parties != self.held {
            return Err(format!("{} counted held, {held_parties} are", self.held));
        }
        if counts != self.agent_counts {
            return Err(format!("counts {:?}, states {counts:?}", self.agent_counts));
        }
        if self.free.len() != counts[AgentState::Ready as usize] {
            return Err(format!("ready set {} for {counts:?}", self.free.len()));
        }
        if self.queue.len() != ticketed {
            return Err(format!(
                "{} queued, {ticketed} users waiting",
                self.queue.len()
            ));
        }
        for t in waiting {
            let Some(ticket) = self.queue.get(t) else {
                continue;
            };
            let able = |a: &super::party::PartyId| {
                self.parties
                    .agent(*a)
                    .is_some_and(|a| a.skills.covers(&ticket.need))
            };
            if let Some(a) = ready.iter().find(|a| ticket.allows(**a) && able(a)) {
                return Err(format!("{a} is ready while {t:?} waits for it"));
            }
        }
        Ok(())
    }
}
