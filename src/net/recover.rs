//! Socket.IO connection state recovery, as socket.io-client 4.6+ expects it: a CONNECT whose
//! auth carries `{pid, offset}` (or supportd's `{resumeToken, lastSeq}`) within the resume
//! grace takes the held party back, and the client hears what it missed before anything
//! else. The routing decision is the router's (`handle_resume`); this file checks the
//! identity where proof is configured and orders the answer: the CONNECT answer (with the
//! recovered `pid`, so `socket.recovered` is true), then `registered {resumed:true}` and the
//! replay. Invariant: a party is recovered only by a CONNECT that presents its token and,
//! where its role requires proof, a token for its id; a failed recovery is an ordinary
//! CONNECT (a fresh `pid`).
use super::server::Server;

use crate::routing::{ClientEvent, ConnId, Role, ServerEvent};
use log::debug;
use std::time::Instant;

impl Server {
    /// Answers the CONNECT of session `id` that asked to recover a party.
    pub(super) fn recover(&mut self, now: Instant, id: usize) {
        let Some(request) = self
            .sessions
            .get_mut(id)
            .and_then(|s| s.eio.take_recovery())
        else {
            return;
        };
        let (token, offset) = request;
        let recovered = self.try_recover(now, ConnId(id as u64), &token, offset);
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        // A failed recovery must not hand the session's own pid back: `socket.recovered`
        // would be true with nothing recovered.
        let pid = match recovered {
            true => Some(token),
            false if slot.eio.pid() == Some(&*token) => Some(self.sids.next()),
            false => None,
        };
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        let answer = slot.eio.connect_answer(pid);
        self.session_push_bytes(id, answer);
        self.drain_router();
    }

    /// Resumes the party whose token is `token` on `conn` after `offset`; false when there
    /// is none, its identity is not proven, or what it missed is gone.
    fn try_recover(&mut self, now: Instant, conn: ConnId, token: &str, offset: u64) -> bool {
        let Some((role, peer_id)) = self.router.resumable(token) else {
            debug!("{conn:?}: nothing to recover under that pid");
            return false;
        };
        let event = match role {
            Role::User => ClientEvent::ConnectUser,
            Role::Agent => ClientEvent::ConnectAgent,
        };
        // Where the role requires proof, the CONNECT's auth.token must be one for this id.
        let data = serde_json::value::to_raw_value(&serde_json::json!({ "id": peer_id.to_json() }));
        let Ok(data) = data else {
            return false;
        };
        let proof = match self.authenticate(now, conn, event, Some(&data)) {
            Ok(proof) => proof,
            Err(rejection) => {
                self.metrics.rejected(rejection.code);
                self.send(conn, &ServerEvent::error(rejection, None));
                return false;
            }
        };
        match self.router.handle_resume(now, conn, token, offset) {
            Ok(_) => {
                if let Some(proof) = proof {
                    self.apply_proof(conn, proof);
                }
                true
            }
            Err(r) => {
                debug!("{conn:?}: not recovered: {}", r.message);
                false
            }
        }
    }
}
