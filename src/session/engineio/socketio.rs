//! The Socket.IO layer of a session: CONNECT to "/" (with the auth object's token and a
//! connection state recovery request), namespace rules, events and binary events, as the
//! reference server handles them. Invariant: an event reaches the router only on a session
//! CONNECTed to "/"; anything for a namespace not joined closes the session.
use super::*;

impl EioSession {
    /// Sets the private id the CONNECT answer will carry (recovery on; the party's resume
    /// token once it registers here).
    pub fn set_pid(&mut self, pid: Box<str>) {
        self.pid = Some(pid);
    }

    /// The private id given (or to be given) in the CONNECT answer.
    pub fn pid(&self) -> Option<&str> {
        self.pid.as_deref()
    }

    /// What the client's CONNECT asked to recover (once).
    pub fn take_recovery(&mut self) -> Option<(Box<str>, u64)> {
        self.recovery.take()
    }

    /// The CONNECT answer after a `Recover`, carrying `pid` (the recovered party's token, or
    /// the fresh one): the loop queues it ahead of anything replayed.
    pub fn connect_answer(&mut self, pid: Option<Box<str>>) -> Vec<u8> {
        if pid.is_some() {
            self.pid = pid;
        }
        let mut out = Vec::new();
        sio::encode_connect_ok(&mut out, &self.sio_sid, self.pid.as_deref());
        out
    }

    /// A binary packet announced for "/": a BINARY_EVENT's attachments are read next and
    /// it is routed when they are all in; a BINARY_ACK's are read and dropped.
    pub(super) fn start_binary(&mut self, now: Instant, data: &str, packet: &sio::Packet<'_>) {
        if !matches!(packet.body, Body::Event { .. }) {
            self.skip_attachments = packet.attachments;
            return;
        }
        let deadline = now + self.config.ping_interval + self.config.ping_timeout;
        match PendingBinary::start(
            data,
            packet.attachments,
            self.config.max_binary_bytes,
            deadline,
        ) {
            Some(p) => self.pending = Some(p),
            None => self.close(CloseReason::PayloadTooLarge),
        }
    }

    /// One Socket.IO packet. As the reference server does: a CONNECT to a namespace not yet
    /// joined joins it (or, for any but "/", is refused with CONNECT_ERROR); anything else
    /// for a namespace not joined, or a CONNECT to one already joined, closes the session.
    pub(super) fn on_sio<'a>(&mut self, now: Instant, data: &'a str) -> Option<Inbound<'a>> {
        let packet = match sio::decode(data) {
            Ok(p) => p,
            Err(e) => {
                log::debug!("session {}: {e}", self.sid);
                self.close(CloseReason::Malformed);
                return None;
            }
        };
        let joined = packet.namespace == "/" && self.connected;
        match (&packet.body, joined) {
            (Body::Connect { auth }, false) if packet.namespace == "/" => {
                // A token for a later registration may come in the CONNECT's auth object,
                // and a recovery request ({pid, offset} or {resumeToken, lastSeq}).
                let auth =
                    auth.and_then(|a| serde_json::from_str::<serde_json::Value>(a.get()).ok());
                self.auth_token = auth
                    .as_ref()
                    .and_then(|a| a.get("token")?.as_str().map(Box::from));
                self.recovery = auth.as_ref().and_then(recovery_of);
                self.connected = true;
                self.connect_deadline = None;
                if self.recovery.is_some() && self.pid.is_some() {
                    self.out.push_back(SessionOutput::Recover);
                } else {
                    self.recovery = None;
                    let mut out = Vec::new();
                    sio::encode_connect_ok(&mut out, &self.sio_sid, self.pid.as_deref());
                    self.emit(out);
                }
            }
            (Body::Connect { .. }, false) => {
                let mut out = Vec::new();
                sio::encode_connect_error(&mut out, packet.namespace, "Invalid namespace");
                self.emit(out);
            }
            (Body::Event { .. }, false) => self.close(CloseReason::EventBeforeConnect),
            (_, false) | (Body::Connect { .. } | Body::ConnectError { .. }, true) => {
                self.close(CloseReason::Malformed)
            }
            (_, true) if packet.attachments > 0 => self.start_binary(now, data, &packet),
            (Body::Disconnect, true) => {
                self.connected = false;
                self.out.push_back(SessionOutput::Left);
            }
            (Body::Ack { .. }, true) => {}
            (Body::Event { .. }, true) => {
                let ack = packet.ack_id;
                if let Body::Event { name, data } = packet.body {
                    return Some(Inbound::Event { name, data, ack });
                }
            }
        }
        None
    }
}

/// A recovery request in a CONNECT's auth: socket.io-client's `{pid, offset}` (the offset
/// as the last event argument gave it) or supportd's `{resumeToken, lastSeq}`.
fn recovery_of(auth: &serde_json::Value) -> Option<(Box<str>, u64)> {
    let token = |v: Option<&serde_json::Value>| {
        v?.as_str()
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .map(Box::from)
    };
    if let Some(pid) = token(auth.get("pid")) {
        // A client that saw no event yet sends no offset: it missed everything.
        let offset = match auth.get("offset") {
            Some(serde_json::Value::String(o)) => o.parse().ok()?,
            _ => 0,
        };
        return Some((pid, offset));
    }
    let token = token(auth.get("resumeToken"))?;
    let last = match auth.get("lastSeq") {
        None => 0,
        Some(v) => v.as_u64()?,
    };
    Some((token, last))
}
