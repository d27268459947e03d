//! Between the router and the peers: events in (counted, then handed to the router),
//! outputs out (encoded for the peer's framing and queued on its carrier), the coalesced
//! free-agent broadcast, and the gauges. Invariant: every router output addressed to a
//! peer that is still in the table is queued on its carrier, in the order produced.
use super::peers::Route;
use super::server::Server;
use crate::protocol::{native, socketio};
use crate::routing::{
    is_message_event, Attachments, ClientEvent, ConnId, ErrorCode, EventData, Output, Rejection,
    ServerEvent,
};
use log::debug;
use std::time::Instant;
use tungstenite::Utf8Bytes;

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
            Some(event) => self
                .authenticate(now, conn, event, data.raw())
                .and_then(|proof| {
                    self.router.handle_event(now, conn, event, data)?;
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

    /// The peer is gone: it leaves the table and the router ends its party (once).
    pub(super) fn end_peer(&mut self, now: Instant, id: ConnId) {
        if self.peers.remove(id) {
            self.router.handle_disconnect(now, id);
            self.drain_router();
        }
    }

    /// Delivers everything the router has queued.
    pub(super) fn drain_router(&mut self) {
        while let Some(output) = self.router.poll_output() {
            match output {
                Output::Send { to, event } => self.send(to, &event),
                Output::QueueLeft { outcome, waited } => self.metrics.queue_left(outcome, waited),
                Output::Offer { result } => self.metrics.offer(result),
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

    /// Encodes and queues one event for a peer, if it can still take one.
    pub(super) fn send(&mut self, to: ConnId, event: &ServerEvent) {
        self.metrics.sent(event);
        let mut out = Vec::with_capacity(event.size_hint());
        match self.peers.route(to) {
            Some(Route::Native(token)) => {
                native::encode(event, &mut out);
                self.write_text(token, out);
            }
            Some(Route::Session(key)) => match event.attachments() {
                None => {
                    socketio::encode(event, &mut out);
                    self.session_push_bytes(key, out);
                }
                Some(attachments) => {
                    socketio::encode_binary(event, attachments.len(), &mut out);
                    self.session_push_bytes(key, out);
                    for a in attachments.iter() {
                        self.session_push_binary(key, a.clone());
                    }
                }
            },
            None => debug!("{to:?} is gone; an event for it is dropped"),
        }
    }

    /// Sends the free-agent count to every peer, once per turn at most.
    pub(super) fn broadcast_available(&mut self) {
        let Some(count) = self.router.poll_available_agents(self.now) else {
            return;
        };
        let event = ServerEvent::AvailableAgents { count };
        let mut native_bytes = Vec::with_capacity(64);
        native::encode(&event, &mut native_bytes);
        let mut sio_bytes = Vec::with_capacity(64);
        socketio::encode(&event, &mut sio_bytes);
        let (Ok(native_bytes), Ok(sio_bytes)) = (
            Utf8Bytes::try_from(native_bytes),
            Utf8Bytes::try_from(sio_bytes),
        ) else {
            return;
        };
        let tokens: Vec<usize> = self.peers.native_tokens().collect();
        for &token in &tokens {
            self.write_message(token, native_bytes.clone());
        }
        let sessions = self.sessions.connected();
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
