//! A router on a virtual clock for the unit tests of `dispatch` and `queue`: feeds events,
//! moves time, drains outputs as (connection, event name, data JSON). By convention conns
//! 1.. are agents and 10.. users.
use super::router::{Output, Router};
use crate::routing::config::RoutingConfig;
use crate::routing::data::EventData;
use crate::routing::event::{ClientEvent, ErrorCode, Role};
use crate::routing::ids::ConnId;
use crate::routing::report::AgentState;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(super) type Sent = Vec<(u64, String, Value)>;

/// The virtual clock's origin (outside the routing core, which never reads a clock).
pub(super) use crate::test_clock::epoch;

/// A router on a virtual clock.
pub(super) struct H {
    pub r: Router,
    pub now: Instant,
    /// Non-send outputs seen so far.
    pub reports: Vec<Output>,
    /// Every send so far with its sequence number: (connection, event name, seq).
    pub seqs: Vec<(u64, String, Option<u64>)>,
}

impl H {
    pub fn new(config: RoutingConfig) -> H {
        H {
            r: Router::with_config(config, 42),
            now: epoch(),
            reports: Vec::new(),
            seqs: Vec::new(),
        }
    }

    /// Registers `conn` as `role` through `handle_register` with resume token `token`;
    /// `extra` is merged into the data (resumeToken, lastSeq).
    pub fn register(
        &mut self,
        conn: u64,
        role: Role,
        id: &str,
        token: &str,
        extra: Value,
    ) -> Result<Sent, ErrorCode> {
        let mut data = json!({ "id": id });
        if let (Some(d), Value::Object(extra)) = (data.as_object_mut(), extra) {
            d.extend(extra);
        }
        let raw: Box<RawValue> = serde_json::from_str(&data.to_string()).unwrap();
        let res = self
            .r
            .handle_register(self.now, ConnId(conn), role, Some(&raw), token);
        let out = self.drain();
        res.map(|()| out).map_err(|r| r.code)
    }

    /// Registers `conn` as `role` `id` (new resume token `token`), resuming the party held
    /// under `resume_token` from `last_seq`.
    pub fn resume(
        &mut self,
        conn: u64,
        role: Role,
        id: &str,
        token: &str,
        resume_token: &str,
        last_seq: u64,
    ) -> Result<Sent, ErrorCode> {
        let extra = json!({ "resumeToken": resume_token, "lastSeq": last_seq });
        self.register(conn, role, id, token, extra)
    }

    /// The highest sequence number sent to `conn` so far (0 before any).
    pub fn last_seq(&self, conn: u64) -> u64 {
        self.seqs
            .iter()
            .filter(|(c, _, _)| *c == conn)
            .filter_map(|(_, _, s)| *s)
            .max()
            .unwrap_or(0)
    }

    /// Registers `conn` as `role` with what the loop vouches for (`identity`).
    pub fn register_as(
        &mut self,
        conn: u64,
        role: Role,
        data: Value,
        identity: crate::routing::skills::Identity,
    ) -> Result<Sent, ErrorCode> {
        let raw: Box<RawValue> = serde_json::from_str(&data.to_string()).unwrap();
        let res = self
            .r
            .handle_register_as(self.now, ConnId(conn), role, Some(&raw), "", identity);
        let out = self.drain();
        res.map(|()| out).map_err(|r| r.code)
    }

    /// The connection of `conn` drops (no close): its party is held if resumable.
    pub fn lose(&mut self, conn: u64) -> Sent {
        self.r.handle_connection_lost(self.now, ConnId(conn));
        self.drain()
    }

    /// Feeds one event; the rejection code or the sends.
    pub fn feed(&mut self, conn: u64, event: &str, data: Value) -> Result<Sent, ErrorCode> {
        let raw: Box<RawValue> = serde_json::from_str(&data.to_string()).unwrap();
        let ev = ClientEvent::from_name(event).unwrap();
        let res = self
            .r
            .handle_event(self.now, ConnId(conn), ev, EventData::Raw(Some(&raw)));
        let out = self.drain();
        match res {
            Ok(()) => Ok(out),
            Err(rej) => {
                assert!(out.is_empty(), "a rejection produced output");
                Err(rej.code)
            }
        }
    }

    /// Feeds one event that must succeed.
    pub fn ok(&mut self, conn: u64, event: &str, data: Value) -> Sent {
        self.feed(conn, event, data)
            .unwrap_or_else(|e| panic!("{event} from {conn}: {e:?}"))
    }

    /// Moves the clock on by `ms` and runs a loop turn.
    pub fn wait(&mut self, ms: u64) -> Sent {
        self.now += Duration::from_millis(ms);
        self.r.handle_timeout(self.now);
        self.drain()
    }

    /// Drains every output (after checking the router's invariants).
    pub fn drain(&mut self) -> Sent {
        if let Err(e) = self.r.check_invariants() {
            panic!("invariant broken: {e}");
        }
        let mut v = Vec::new();
        while let Some(o) = self.r.poll_output() {
            match o {
                Output::Send { to, event, seq } => {
                    let mut b = Vec::new();
                    event.write_data(&mut b);
                    self.seqs.push((to.0, event.name().to_owned(), seq));
                    v.push((
                        to.0,
                        event.name().to_owned(),
                        serde_json::from_slice(&b).unwrap(),
                    ));
                }
                other => self.reports.push(other),
            }
        }
        v
    }

    pub fn agent(&mut self, conn: u64, id: &str) -> Sent {
        self.ok(conn, "connectAgent", json!({ "id": id }))
    }

    pub fn user(&mut self, conn: u64, id: &str) -> Sent {
        self.ok(conn, "connectUser", json!({ "id": id }))
    }

    /// User `conn` asks for a call in `room`.
    pub fn call(&mut self, conn: u64, room: &str) -> Sent {
        self.ok(conn, "callAgent", json!({ "roomId": room }))
    }

    pub fn state_count(&self, s: AgentState) -> usize {
        self.r.stats().agents_by_state[s as usize]
    }
}

/// The sends other than registration and count.
pub(super) fn events(sent: &Sent) -> Vec<(u64, &str)> {
    sent.iter()
        .filter(|(_, n, _)| n != "registered" && n != "getAvailableAgents")
        .map(|(c, n, _)| (*c, n.as_str()))
        .collect()
}

/// The data of the first send named `name` to `conn`.
pub(super) fn data_of<'a>(sent: &'a Sent, conn: u64, name: &str) -> &'a Value {
    &sent
        .iter()
        .find(|(c, n, _)| *c == conn && n == name)
        .unwrap_or_else(|| panic!("no {name} to {conn} in {sent:?}"))
        .2
}

pub(super) fn offers() -> RoutingConfig {
    RoutingConfig {
        offer_timeout: Some(Duration::from_secs(5)),
        ..RoutingConfig::default()
    }
}
