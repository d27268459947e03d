//! The vocabulary of the core: what clients ask (`ClientEvent`), what the router sends
//! (`ServerEvent`) and why a request is refused (`Rejection`). Framing-free: a server event
//! writes only its `data` JSON; the protocol layer wraps it in an envelope.
use super::data::Attachments;
use super::ids::PeerId;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::rc::Rc;

/// Events a client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent {
    ConnectUser,
    ConnectAgent,
    CallAgent,
    RejectCall,
    CallTransfer,
    ToggleAvailability,
    UserMessage,
    AgentMessage,
    LeaveCall,
    Mute,
    AcceptCall,
    /// `signal {roomId, data}`: WebRTC signalling relayed to the other party of a call.
    Signal,
}

impl ClientEvent {
    /// Every client event, for tables indexed by event.
    pub const ALL: [ClientEvent; 12] = [
        ClientEvent::ConnectUser,
        ClientEvent::ConnectAgent,
        ClientEvent::CallAgent,
        ClientEvent::RejectCall,
        ClientEvent::CallTransfer,
        ClientEvent::ToggleAvailability,
        ClientEvent::UserMessage,
        ClientEvent::AgentMessage,
        ClientEvent::LeaveCall,
        ClientEvent::Mute,
        ClientEvent::AcceptCall,
        ClientEvent::Signal,
    ];

    /// Looks up an event by its wire name.
    pub fn from_name(name: &str) -> Option<ClientEvent> {
        Some(match name {
            "connectUser" => ClientEvent::ConnectUser,
            "connectAgent" => ClientEvent::ConnectAgent,
            "callAgent" => ClientEvent::CallAgent,
            "rejectCall" => ClientEvent::RejectCall,
            "callTransfer" => ClientEvent::CallTransfer,
            "toggleAvailability" => ClientEvent::ToggleAvailability,
            "userMessage" => ClientEvent::UserMessage,
            "agentMessage" => ClientEvent::AgentMessage,
            "leaveCall" => ClientEvent::LeaveCall,
            "mute" => ClientEvent::Mute,
            "acceptCall" => ClientEvent::AcceptCall,
            "signal" => ClientEvent::Signal,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            ClientEvent::ConnectUser => "connectUser",
            ClientEvent::ConnectAgent => "connectAgent",
            ClientEvent::CallAgent => "callAgent",
            ClientEvent::RejectCall => "rejectCall",
            ClientEvent::CallTransfer => "callTransfer",
            ClientEvent::ToggleAvailability => "toggleAvailability",
            ClientEvent::UserMessage => "userMessage",
            ClientEvent::AgentMessage => "agentMessage",
            ClientEvent::LeaveCall => "leaveCall",
            ClientEvent::Mute => "mute",
            ClientEvent::AcceptCall => "acceptCall",
            ClientEvent::Signal => "signal",
        }
    }
}

/// Why a request was refused. An error never changes routing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadJson,
    BadMessage,
    UnknownEvent,
    BadPayload,
    NotRegistered,
    AlreadyRegistered,
    IdInUse,
    Forbidden,
    NotInCall,
    AlreadyInCall,
    RoomInUse,
    NoAgentAvailable,
    BinaryUnsupported,
    QueueFull,
    /// Registration without a valid token where one is required (the connection closes).
    Unauthorized,
    /// The registration's token expired (the connection closes).
    TokenExpired,
    /// Another connection resumed this party (this one closes).
    SessionReplaced,
    /// The connection sent events faster than `[limits] events_per_sec` (or toggled
    /// availability faster than `toggles_per_sec`); the event was not applied.
    RateLimited,
    /// A `signal`'s data is over `[limits] max_signal_bytes`; it was not relayed.
    TooLarge,
}

impl ErrorCode {
    /// Every code, for tables indexed by code.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::BadJson,
        ErrorCode::BadMessage,
        ErrorCode::UnknownEvent,
        ErrorCode::BadPayload,
        ErrorCode::NotRegistered,
        ErrorCode::AlreadyRegistered,
        ErrorCode::IdInUse,
        ErrorCode::Forbidden,
        ErrorCode::NotInCall,
        ErrorCode::AlreadyInCall,
        ErrorCode::RoomInUse,
        ErrorCode::NoAgentAvailable,
        ErrorCode::BinaryUnsupported,
        ErrorCode::QueueFull,
        ErrorCode::Unauthorized,
        ErrorCode::TokenExpired,
        ErrorCode::SessionReplaced,
        ErrorCode::RateLimited,
        ErrorCode::TooLarge,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::BadPayload => "bad_payload",
            ErrorCode::NotRegistered => "not_registered",
            ErrorCode::AlreadyRegistered => "already_registered",
            ErrorCode::IdInUse => "id_in_use",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotInCall => "not_in_call",
            ErrorCode::AlreadyInCall => "already_in_call",
            ErrorCode::RoomInUse => "room_in_use",
            ErrorCode::NoAgentAvailable => "no_agent_available",
            ErrorCode::BinaryUnsupported => "binary_unsupported",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::SessionReplaced => "session_replaced",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A refused request: a code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
}

impl Rejection {
    /// A rejection with a fixed message.
    pub fn new(code: ErrorCode, message: &'static str) -> Rejection {
        Rejection {
            code,
            message: Cow::Borrowed(message),
        }
    }

    /// A rejection with a composed message.
    pub fn with(code: ErrorCode, message: String) -> Rejection {
        Rejection {
            code,
            message: Cow::Owned(message),
        }
    }
}

/// The two kinds of registered party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Agent,
}

/// Why a call (or a wait for one) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    Left,
    Rejected,
    Transferred,
    Disconnected,
    /// The user left the queue (leaveCall while waiting).
    Cancelled,
    /// The user waited `max_wait_ms`.
    Timeout,
}

impl EndReason {
    /// Every reason, for tables indexed by reason.
    pub const ALL: [EndReason; 6] = [
        EndReason::Left,
        EndReason::Rejected,
        EndReason::Transferred,
        EndReason::Disconnected,
        EndReason::Cancelled,
        EndReason::Timeout,
    ];

    /// The reason as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Left => "left",
            EndReason::Rejected => "rejected",
            EndReason::Transferred => "transferred",
            EndReason::Disconnected => "disconnected",
            EndReason::Cancelled => "cancelled",
            EndReason::Timeout => "timeout",
        }
    }
}

/// Why a user was put (back) in the queue, as `queued {reason}` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    /// Its agent rejected the call (offered or connected).
    Rejected,
    /// Its agent disconnected.
    AgentDisconnected,
    /// Its agent transferred it to the queue.
    Transferred,
    /// The offer expired and no other agent is eligible.
    NoAnswer,
}

impl QueueReason {
    /// The reason as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueReason::Rejected => "rejected",
            QueueReason::AgentDisconnected => "agent_disconnected",
            QueueReason::Transferred => "transferred",
            QueueReason::NoAnswer => "no_answer",
        }
    }
}

/// Why an agent's availability was changed by the server (`availabilityChanged {reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityReason {
    /// It let `max_no_answer` offers in a row expire.
    NoAnswer,
}

/// The media a `mute` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    /// The kind of a wire name ("audio", "video"), exact match.
    pub fn from_name(s: &str) -> Option<MediaKind> {
        match s {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }
}

/// Which of one party's media it has muted in a call (`{"audio":bool,"video":bool}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Muted {
    pub audio: bool,
    pub video: bool,
}

impl Muted {
    /// Records that `kind` is now `muted`.
    pub fn set(&mut self, kind: MediaKind, muted: bool) {
        match kind {
            MediaKind::Audio => self.audio = muted,
            MediaKind::Video => self.video = muted,
        }
    }

    /// Whether anything is muted.
    pub fn any(self) -> bool {
        self.audio || self.video
    }
}

/// An event the router sends to one connection.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// `registered {role, id, resumeToken?, resumed?, capacity?}`: the token (and
    /// `resumed`) when the party can be resumed; an agent's capacity granted.
    Registered {
        role: Role,
        id: PeerId,
        resume_token: Option<Rc<str>>,
        resumed: bool,
        capacity: Option<u32>,
    },
    /// `peerDisconnected {roomId}`: the other party's connection dropped; it is held.
    PeerDisconnected { room: PeerId },
    /// `peerReconnected {roomId}`: the other party resumed.
    PeerReconnected { room: PeerId },
    /// `ack {seq}`: the client event numbered `seq` was received (applied once).
    Ack { seq: u64 },
    /// `getAvailableAgents {availableAgents}`
    AvailableAgents { count: usize },
    /// `callAgent` with the data as sent plus userId, roomId, agentId.
    CallAgent(Rc<Map<String, Value>>),
    /// `callTransfer`, to the new agent (data as sent) or the user ({agentId, roomId}).
    CallTransfer(Rc<Map<String, Value>>),
    /// `callEnded {roomId, reason, by?}`
    CallEnded {
        room: PeerId,
        reason: EndReason,
        by: Option<Role>,
    },
    /// `userMessage {roomId, messageInput}`, with the binary attachments it came with.
    UserMessage {
        room: PeerId,
        message: Box<RawValue>,
        attachments: Option<Attachments>,
    },
    /// `agentMessage {roomId, messageInput}`, with the binary attachments it came with.
    AgentMessage {
        room: PeerId,
        message: Box<RawValue>,
        attachments: Option<Attachments>,
    },
    /// `mute` with the data as sent plus roomId.
    Mute(Rc<Map<String, Value>>),
    /// `signal {roomId, data}`: the other party's `data`, byte for byte as it came.
    Signal { room: PeerId, data: Box<RawValue> },
    /// `callState {roomId, muted, peerMuted}`: the mute state of a call, for a party that
    /// resumed (or whose call was transferred) and may not know it.
    CallState {
        room: PeerId,
        muted: Muted,
        peer_muted: Muted,
    },
    /// `queued {roomId, position, queueLength, estimatedWaitSecs?, reason?}`
    Queued {
        room: PeerId,
        position: usize,
        queue_length: usize,
        estimated_wait_secs: Option<u64>,
        reason: Option<QueueReason>,
    },
    /// `callOffered`: the user's callAgent data plus roomId, userId, expiresInMs.
    CallOffered(Rc<Map<String, Value>>),
    /// `offerExpired {roomId}`
    OfferExpired { room: PeerId },
    /// `wrapUp {roomId, durationMs}`
    WrapUp { room: PeerId, duration_ms: u64 },
    /// `availabilityChanged {available, reason}`
    AvailabilityChanged {
        available: bool,
        reason: AvailabilityReason,
    },
    /// `error {code, message, event}`
    Error {
        rejection: Rejection,
        event: Option<Box<str>>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisteredData<'a> {
    role: Role,
    id: &'a PeerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    resume_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity: Option<u32>,
}

#[derive(Serialize)]
struct AckData {
    seq: u64,
}

#[derive(Serialize)]
struct AvailableData {
    #[serde(rename = "availableAgents")]
    available_agents: usize,
}

#[derive(Serialize)]
struct EndedData<'a> {
    #[serde(rename = "roomId")]
    room_id: &'a PeerId,
    reason: EndReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<Role>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueuedData<'a> {
    room_id: &'a PeerId,
    position: usize,
    queue_length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_wait_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<QueueReason>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoomData<'a> {
    room_id: &'a PeerId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallStateData<'a> {
    room_id: &'a PeerId,
    muted: Muted,
    peer_muted: Muted,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WrapUpData<'a> {
    room_id: &'a PeerId,
    duration_ms: u64,
}

#[derive(Serialize)]
struct AvailabilityData {
    available: bool,
    reason: AvailabilityReason,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    code: ErrorCode,
    message: &'a str,
    event: Option<&'a str>,
}

impl ServerEvent {
    /// The wire name of the event.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::Registered { .. } => "registered",
            ServerEvent::AvailableAgents { .. } => "getAvailableAgents",
            ServerEvent::CallAgent(_) => "callAgent",
            ServerEvent::CallTransfer(_) => "callTransfer",
            ServerEvent::CallEnded { .. } => "callEnded",
            ServerEvent::UserMessage { .. } => "userMessage",
            ServerEvent::AgentMessage { .. } => "agentMessage",
            ServerEvent::Mute(_) => "mute",
            ServerEvent::Error { .. } => "error",
            ServerEvent::Queued { .. } => "queued",
            ServerEvent::CallOffered(_) => "callOffered",
            ServerEvent::OfferExpired { .. } => "offerExpired",
            ServerEvent::WrapUp { .. } => "wrapUp",
            ServerEvent::AvailabilityChanged { .. } => "availabilityChanged",
            ServerEvent::PeerDisconnected { .. } => "peerDisconnected",
            ServerEvent::PeerReconnected { .. } => "peerReconnected",
            ServerEvent::Ack { .. } => "ack",
            ServerEvent::Signal { .. } => "signal",
            ServerEvent::CallState { .. } => "callState",
        }
    }

    /// What each kept event costs beyond its data, in `replay_bytes`.
    pub const REPLAY_BASE: usize = 64;

    /// What keeping the event for a replay costs, in bytes (its data, about as encoded).
    pub fn replay_bytes(&self) -> usize {
        const BASE: usize = ServerEvent::REPLAY_BASE;
        match self {
            ServerEvent::UserMessage {
                room,
                message,
                attachments,
            }
            | ServerEvent::AgentMessage {
                room,
                message,
                attachments,
            } => {
                // Attachments at their base64 size: what a polling or native receiver gets.
                BASE + room_bytes(room)
                    + message.get().len()
                    + attachments.as_ref().map_or(0, |a| {
                        a.iter().map(|b| b.len().div_ceil(3) * 4 + 4).sum::<usize>()
                    })
            }
            ServerEvent::CallAgent(m)
            | ServerEvent::CallTransfer(m)
            | ServerEvent::Mute(m)
            | ServerEvent::CallOffered(m) => {
                let mut out = Vec::new();
                let _ = serde_json::to_writer(&mut out, &**m);
                BASE + out.len()
            }
            ServerEvent::Signal { room, data } => BASE + room_bytes(room) + data.get().len(),
            _ => 2 * BASE,
        }
    }

    /// A buffer capacity that fits the encoded event (with its framing) in most cases.
    pub fn size_hint(&self) -> usize {
        match self {
            ServerEvent::UserMessage { message, .. }
            | ServerEvent::AgentMessage { message, .. } => 128 + message.get().len(),
            ServerEvent::Signal { data, .. } => 128 + data.get().len(),
            _ => 128,
        }
    }

    /// Appends the event's `data` as JSON to `out`.
    pub fn write_data(&self, out: &mut Vec<u8>) {
        let r = match self {
            ServerEvent::Registered {
                role,
                id,
                resume_token,
                resumed,
                capacity,
            } => serde_json::to_writer(
                &mut *out,
                &RegisteredData {
                    role: *role,
                    id,
                    resume_token: resume_token.as_deref(),
                    resumed: resume_token.as_ref().map(|_| *resumed),
                    capacity: *capacity,
                },
            ),
            ServerEvent::PeerDisconnected { room } | ServerEvent::PeerReconnected { room } => {
                serde_json::to_writer(&mut *out, &RoomData { room_id: room })
            }
            ServerEvent::Ack { seq } => serde_json::to_writer(&mut *out, &AckData { seq: *seq }),
            ServerEvent::AvailableAgents { count } => serde_json::to_writer(
                &mut *out,
                &AvailableData {
                    available_agents: *count,
                },
            ),
            ServerEvent::CallAgent(m)
            | ServerEvent::CallTransfer(m)
            | ServerEvent::Mute(m)
            | ServerEvent::CallOffered(m) => serde_json::to_writer(&mut *out, &**m),
            ServerEvent::Queued {
                room,
                position,
                queue_length,
                estimated_wait_secs,
                reason,
            } => serde_json::to_writer(
                &mut *out,
                &QueuedData {
                    room_id: room,
                    position: *position,
                    queue_length: *queue_length,
                    estimated_wait_secs: *estimated_wait_secs,
                    reason: *reason,
                },
            ),
            ServerEvent::OfferExpired { room } => {
                serde_json::to_writer(&mut *out, &RoomData { room_id: room })
            }
            ServerEvent::WrapUp { room, duration_ms } => serde_json::to_writer(
                &mut *out,
                &WrapUpData {
                    room_id: room,
                    duration_ms: *duration_ms,
                },
            ),
            ServerEvent::AvailabilityChanged { available, reason } => serde_json::to_writer(
                &mut *out,
                &AvailabilityData {
                    available: *available,
                    reason: *reason,
                },
            ),
            ServerEvent::CallEnded { room, reason, by } => serde_json::to_writer(
                &mut *out,
                &EndedData {
                    room_id: room,
                    reason: *reason,
                    by: *by,
                },
            ),
            ServerEvent::UserMessage { room, message, .. }
            | ServerEvent::AgentMessage { room, message, .. } => {
                // The hot path, written by hand: `{"roomId":ROOM,"messageInput":RAW}`.
                out.extend_from_slice(b"{\"roomId\":");
                let r = serde_json::to_writer(&mut *out, room);
                out.extend_from_slice(b",\"messageInput\":");
                out.extend_from_slice(message.get().as_bytes());
                out.push(b'}');
                r
            }
            ServerEvent::Signal { room, data } => {
                // As a message: `{"roomId":ROOM,"data":RAW}`, the data as it came.
                out.extend_from_slice(b"{\"roomId\":");
                let r = serde_json::to_writer(&mut *out, room);
                out.extend_from_slice(b",\"data\":");
                out.extend_from_slice(data.get().as_bytes());
                out.push(b'}');
                r
            }
            ServerEvent::CallState {
                room,
                muted,
                peer_muted,
            } => serde_json::to_writer(
                &mut *out,
                &CallStateData {
                    room_id: room,
                    muted: *muted,
                    peer_muted: *peer_muted,
                },
            ),
            ServerEvent::Error { rejection, event } => serde_json::to_writer(
                &mut *out,
                &ErrorData {
                    code: rejection.code,
                    message: &rejection.message,
                    event: event.as_deref(),
                },
            ),
        };
        // Serializing these types into a Vec cannot fail: no maps with non-string keys.
        debug_assert!(r.is_ok());
    }

    /// The binary attachments of a relayed message, if it has any.
    pub fn attachments(&self) -> Option<&Attachments> {
        match self {
            ServerEvent::UserMessage { attachments, .. }
            | ServerEvent::AgentMessage { attachments, .. } => {
                attachments.as_ref().filter(|a| !a.is_empty())
            }
            _ => None,
        }
    }

    /// Appends the `data` JSON with any attachments inline, base64-encoded under
    /// `"attachments"` (for receivers that take no binary frames: the native protocol).
    pub fn write_data_inline(&self, out: &mut Vec<u8>) {
        use base64::Engine as _;
        self.write_data(out);
        let Some(attachments) = self.attachments() else {
            return;
        };
        // Reopen the object written above: `{...}` becomes `{...,"attachments":[...]}`.
        out.pop();
        out.extend_from_slice(b",\"attachments\":[");
        for (i, a) in attachments.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(a)
                    .as_bytes(),
            );
            out.push(b'"');
        }
        out.extend_from_slice(b"]}");
    }

    /// The error event for a rejection of `event` (None when the name was unreadable).
    pub fn error(rejection: Rejection, event: Option<&str>) -> ServerEvent {
        ServerEvent::Error {
            rejection,
            event: event.map(|e| truncate(e, 64).into()),
        }
    }
}

/// About what a room id costs in an encoded event, in bytes.
fn room_bytes(room: &PeerId) -> usize {
    match room {
        PeerId::Int(_) => 20,
        PeerId::Str(s) => s.len() + 2,
    }
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
