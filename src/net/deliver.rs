//! Between the router and the peers: events in (counted, then handed to the router),
//! outputs out (encoded for the peer's framing and queued on its carrier), the coalesced
//! free-agent broadcast, and the gauges. Invariant: every router output addressed to a
//! peer that is still in the table is queued on its carrier, in the order produced.
use super::peers::Route;
use super::ratelimit::Verdict;
use super::server::Server;
use crate::metrics::LimitReason;
use crate::protocol::{native, socketio};
use crate::routing::{
    is_message_event, Attachments, ClientEvent, ConnId, ErrorCode, EventData, Output, PeerId,
    Rejection, Role, ServerEvent,
};
use log::debug;
use serde_json::{Map, Value};
use std::rc::Rc;
use std::time::{Instant, SystemTime};
use tungstenite::Utf8Bytes;

/// The event that also draws from the toggle bucket.
const TOGGLE_AVAILABILITY: &str = "toggleAvailability";

/// How a peer went, for the router: held for a resume, or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gone {
    /// The connection dropped, or the client went away without saying it was done (no
    /// close, a close other than 1000 or 1005, a transport error or close, a ping timeout).
    Lost,
    /// The client said it was done (native close 1000/1005, Socket.IO namespace
    /// disconnect), or the server ended the connection for what the client did.
    Closed,
}

impl Server {
    /// Counts and routes one named event; the caller reports a rejection its own way.
    pub(super) fn route_event(
        &mut self,
        now: Instant,
        conn: ConnId,
        name: &str,
        data: EventData<'_>,
    ) -> Result<(), Rejection> {
        self.route_event_with(now, conn, name, data, None)
    }

    /// `route_event` for an event that came with binary attachments: a message carries them
    /// to the other party; any other event ignores them.
    pub(super) fn route_event_with(
        &mut self,
        now: Instant,
        conn: ConnId,
        name: &str,
        data: EventData<'_>,
        attachments: Option<Attachments>,
    ) -> Result<(), Rejection> {
        self.rate_check(now, conn, name)?;
        if name == super::identity::REFRESH_TOKEN {
            self.metrics.received(None);
            return self.refresh_token(now, conn, data.raw());
        }
        let data = match attachments {
            Some(a) if is_message_event(name) => match data.into_message() {
                Some(mut m) => {
                    m.attachments = Some(a);
                    EventData::Message(m)
                }
                None => EventData::Raw(None),
            },
            _ => data,
        };
        let event = ClientEvent::from_name(name);
        self.metrics.received(event);
        let result = match event {
            None => Err(Rejection::new(ErrorCode::UnknownEvent, "no such event")),
            // A registration said again on a registered connection changes nothing (the
            // router answers it): no proof is checked or applied for it.
            Some(ClientEvent::ConnectUser | ClientEvent::ConnectAgent)
                if self.router.role_of(conn).is_some() =>
            {
                let role = match event {
                    Some(ClientEvent::ConnectUser) => Role::User,
                    _ => Role::Agent,
                };
                self.router.handle_register(now, conn, role, data.raw(), "")
            }
            Some(event) => self
                .authenticate(now, conn, event, data.raw())
                .and_then(|proof| {
                    match event {
                        ClientEvent::ConnectUser | ClientEvent::ConnectAgent => {
                            let role = match event {
                                ClientEvent::ConnectUser => Role::User,
                                _ => Role::Agent,
                            };
                            let token = self.resume_token_for(conn);
                            let identity = self.identity_of(conn, proof.as_ref());
                            self.router.handle_register_as(
                                now,
                                conn,
                                role,
                                data.raw(),
                                &token,
                                identity,
                            )?
                        }
                        _ => self.router.handle_event(now, conn, event, data)?,
                    }
                    if let Some(proof) = proof {
                        self.apply_proof(conn, proof);
                    }
                    Ok(())
                }),
        };
        if let Err(r) = &result {
            debug!("{conn:?}: {} ({})", r.code.as_str(), r.message);
            self.metrics.rejected(r.code);
        }
        result
    }

    /// The connection's rate limits, before anything else is done with an event named
    /// `name` (every event counts, registrations and unknown names too, and "" for a
    /// native frame that did not decode; a `toggleAvailability` also draws from the toggle
    /// bucket). Over the rate, the event is
    /// refused (counted as received and rejected, and in `support_limits_total`), and the
    /// `rate_limit_close_after`-th refusal in a row closes the connection at the end of
    /// the turn. The limits are read from the config now, so a reload applies at once.
    pub(super) fn rate_check(
        &mut self,
        now: Instant,
        conn: ConnId,
        name: &str,
    ) -> Result<(), Rejection> {
        let limits = &self.config.limits;
        let Some(peer) = self.peers.get_mut(conn) else {
            return Ok(());
        };
        let toggle = name == TOGGLE_AVAILABILITY;
        let (reason, message) = match peer.limiter.check(now, limits, toggle) {
            Verdict::Allowed => return Ok(()),
            Verdict::Limited => (LimitReason::RateLimited, "too many events: slow down"),
            Verdict::ToggleLimited => (
                LimitReason::ToggleLimited,
                "availability toggled too often: slow down",
            ),
        };
        let closes = peer.limiter.closes_now(limits.rate_limit_close_after);
        self.metrics.limit(reason);
        if closes {
            debug!("{conn:?}: over its rate limit too long; closing");
            self.metrics.limit(LimitReason::RateClosed);
            self.rate_closed.push(conn);
        }
        if !name.is_empty() {
            // (A frame that did not decode is not counted as received, limited or not.)
            self.metrics.received(ClientEvent::from_name(name));
        }
        self.metrics.rejected(ErrorCode::RateLimited);
        Err(Rejection::new(ErrorCode::RateLimited, message))
    }

    /// The peer is gone: it leaves the table and the router is told (once): a `Lost`
    /// connection's party is held for a resume, a `Closed` one's ends.
    pub(super) fn end_peer(&mut self, now: Instant, id: ConnId, how: Gone) {
        if self.peers.remove(id) {
            match how {
                Gone::Lost => self.router.handle_connection_lost(now, id),
                Gone::Closed => self.router.handle_disconnect(now, id),
            }
            self.drain_router();
        }
    }

    /// The resume token a new registration on `conn` gets: a Socket.IO session's private
    /// id (given in its CONNECT answer), else a fresh one (128 bits from the OS CSPRNG).
    fn resume_token_for(&mut self, conn: ConnId) -> Box<str> {
        if let Some(Route::Session(key)) = self.peers.route(conn) {
            if let Some(pid) = self.sessions.get(key).and_then(|s| s.eio.pid()) {
                return pid.into();
            }
        }
        self.sids.next()
    }

    /// Delivers everything the router has queued.
    pub(super) fn drain_router(&mut self) {
        while let Some(output) = self.router.poll_output() {
            match output {
                Output::Send { to, event, seq } => self.send_numbered(to, &event, seq),
                Output::Replaced { conn } => self.replaced.push(conn),
                Output::QueueLeft { outcome, waited } => self.metrics.queue_left(outcome, waited),
                Output::Offer { result } => self.metrics.offer(result),
                Output::Hold { result } => self.metrics.hold_ended(result),
                Output::CallStarted { call } => {
                    self.metrics.call_started();
                    debug!("call {} started", call.0)
                }
                Output::CallFinished {
                    call,
                    reason,
                    duration,
                } => {
                    self.metrics.call_finished(reason, duration);
                    debug!(
                        "call {} ended: {} after {:.1}s",
                        call.0,
                        reason.as_str(),
                        duration.as_secs_f64()
                    )
                }
            }
        }
    }

    /// Encodes and queues one event (outside any sequence) for a peer.
    pub(super) fn send(&mut self, to: ConnId, event: &ServerEvent) {
        self.send_numbered(to, event, None);
    }

    /// Encodes and queues one event for a peer, if it can still take one, with its number
    /// in the party's sequence: `seq` on the native envelope, the Socket.IO offset (the
    /// last argument) when recovery is on.
    pub(super) fn send_numbered(&mut self, to: ConnId, event: &ServerEvent, seq: Option<u64>) {
        let with_settings = self.with_call_settings(to, event);
        let event = with_settings.as_ref().unwrap_or(event);
        self.metrics.sent(event);
        let mut out = Vec::with_capacity(event.size_hint());
        match self.peers.route(to) {
            Some(Route::Native(token)) => {
                native::encode(event, seq, &mut out);
                self.write_text(token, out);
            }
            Some(Route::Session(key)) => match event.attachments() {
                None => {
                    let offset = seq.filter(|_| self.config.routing.resume.enabled());
                    socketio::encode(event, offset, &mut out);
                    self.session_push_bytes(key, out);
                }
                Some(attachments) => {
                    let offset = seq.filter(|_| self.config.routing.resume.enabled());
                    socketio::encode_binary(event, attachments.len(), offset, &mut out);
                    self.session_push_bytes(key, out);
                    for a in attachments.iter() {
                        self.session_push_binary(key, a.clone());
                    }
                }
            },
            None => debug!("{to:?} is gone; an event for it is dropped"),
        }
    }

    /// `callAgent` / `callTransfer` as the party on `to` gets it, with the call settings:
    /// `polite` (true for the agent: the polite peer of perfect negotiation, false for the
    /// user) and, when `[calls]` lists servers, `iceServers` (time-limited credentials made
    /// now, for the receiver's own id: a replay on resume gets fresh ones). None for any
    /// other event, or a connection no party is on.
    fn with_call_settings(&self, to: ConnId, event: &ServerEvent) -> Option<ServerEvent> {
        type Rebuild = fn(Rc<Map<String, Value>>) -> ServerEvent;
        let (data, rebuild): (_, Rebuild) = match event {
            ServerEvent::CallAgent(m) => (m, ServerEvent::CallAgent),
            ServerEvent::CallTransfer(m) => (m, ServerEvent::CallTransfer),
            _ => return None,
        };
        let (role, id) = self.router.registered_as(to)?;
        let mut data = Map::clone(data);
        data.insert("polite".into(), Value::Bool(role == Role::Agent));
        let calls = &self.config.calls;
        if !calls.ice_servers.is_empty() {
            let id = match &id {
                PeerId::Int(i) => i.to_string(),
                PeerId::Str(s) => s.to_string(),
            };
            data.insert("iceServers".into(), calls.ice_servers_json(unix_now(), &id));
        }
        Some(rebuild(Rc::new(data)))
    }

    /// Sends the free-agent count to every peer, once per turn at most.
    pub(super) fn broadcast_available(&mut self) {
        let Some(count) = self.router.poll_available_agents(self.now) else {
            return;
        };
        let event = ServerEvent::AvailableAgents { count };
        let mut native_bytes = Vec::with_capacity(64);
        native::encode(&event, None, &mut native_bytes);
        let mut sio_bytes = Vec::with_capacity(64);
        socketio::encode(&event, None, &mut sio_bytes);
        let (Ok(native_bytes), Ok(sio_bytes)) = (
            Utf8Bytes::try_from(native_bytes),
            Utf8Bytes::try_from(sio_bytes),
        ) else {
            return;
        };
        // Those just sent this count with their registration do not get it twice.
        let skip: rustc_hash::FxHashSet<ConnId> =
            self.router.poll_told_count(count).into_iter().collect();
        let told = |id: usize| !skip.is_empty() && skip.contains(&ConnId(id as u64));
        let tokens: Vec<usize> = self.peers.native_tokens().filter(|&t| !told(t)).collect();
        for &token in &tokens {
            self.write_message(token, native_bytes.clone());
        }
        let mut sessions = self.sessions.connected();
        sessions.retain(|&k| !told(k));
        for &key in &sessions {
            self.session_push(key, sio_bytes.clone());
        }
        self.metrics.sent_n(&event, tokens.len() + sessions.len());
    }

    /// Mirrors the router's counts into the gauges.
    pub(super) fn update_gauges(&self) {
        self.metrics.set_routing_gauges(&self.router.stats());
    }
}

/// Seconds since the Unix epoch, for time-limited TURN credentials.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
