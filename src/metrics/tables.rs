//! Counters indexed by the routing enums: one table of resolved children per enum, so that
//! counting a routing event is an array index, with no label string on the hot path. Each
//! enum's label values are the constants of [`names`](super::names), matched exhaustively.
use std::marker::PhantomData;

use prometheus::{IntCounter, IntCounterVec};

use super::names as n;
use crate::routing::{
    AgentState, ClientEvent, EndReason, ErrorCode, OfferResult, QueueOutcome, ServerEvent,
};

/// A value that picks one counter of a labelled family: its slot, and each slot's label.
pub(super) trait Slot {
    /// Number of slots.
    const COUNT: usize;
    /// This value's slot, below `COUNT`.
    fn slot(&self) -> usize;
    /// The label value of slot `i`.
    fn label(i: usize) -> &'static str;
}

/// The children of one labelled counter family, resolved for every slot of `K`.
pub(super) struct Table<K, const N: usize> {
    counters: [IntCounter; N],
    key: PhantomData<fn(&K)>,
}

impl<K: Slot, const N: usize> Table<K, N> {
    const SIZED: () = assert!(N == K::COUNT, "a table has one counter per slot");

    /// Resolves the child of `family` for every slot's label.
    pub(super) fn new(family: &IntCounterVec) -> Self {
        let () = Self::SIZED;
        Table {
            counters: std::array::from_fn(|i| family.with_label_values(&[K::label(i)])),
            key: PhantomData,
        }
    }

    /// The counter of `key`.
    #[inline]
    pub(super) fn get(&self, key: &K) -> &IntCounter {
        &self.counters[key.slot()]
    }
}

/// Fails the build unless each enum's `ALL` lists its variants in declaration order, so
/// that a variant's discriminant is its slot.
macro_rules! assert_declaration_order {
    ($($t:ident),+) => {$(
        const _: () = {
            let mut i = 0;
            while i < $t::ALL.len() {
                assert!(
                    $t::ALL[i] as usize == i,
                    concat!(stringify!($t), "::ALL is not in declaration order")
                );
                i += 1;
            }
        };
    )+};
}

assert_declaration_order!(
    ClientEvent,
    ErrorCode,
    EndReason,
    QueueOutcome,
    OfferResult,
    AgentState
);

/// The `outcome` label of a finished wait.
pub(super) const fn outcome_label(o: QueueOutcome) -> &'static str {
    match o {
        QueueOutcome::Answered => n::OUTCOME_ANSWERED,
        QueueOutcome::Cancelled => n::OUTCOME_CANCELLED,
        QueueOutcome::Timeout => n::OUTCOME_TIMEOUT,
        QueueOutcome::Disconnected => n::OUTCOME_DISCONNECTED,
    }
}

/// The `result` label of a finished offer.
pub(super) const fn offer_label(r: OfferResult) -> &'static str {
    match r {
        OfferResult::Accepted => n::OFFER_ACCEPTED,
        OfferResult::Rejected => n::OFFER_REJECTED,
        OfferResult::Expired => n::OFFER_EXPIRED,
    }
}

/// The `state` label of an agent state.
pub(super) const fn state_label(s: AgentState) -> &'static str {
    match s {
        AgentState::Ready => n::STATE_READY,
        AgentState::Busy => n::STATE_BUSY,
        AgentState::Offered => n::STATE_OFFERED,
        AgentState::WrapUp => n::STATE_WRAP_UP,
        AgentState::Away => n::STATE_AWAY,
        AgentState::Held => n::STATE_HELD,
    }
}

/// Offer results by discriminant.
impl Slot for OfferResult {
    const COUNT: usize = OfferResult::ALL.len();
    #[inline]
    fn slot(&self) -> usize {
        *self as usize
    }
    fn label(i: usize) -> &'static str {
        offer_label(OfferResult::ALL[i])
    }
}

/// The `event` label of a received event; `None` (an unknown event name) is "other".
pub(super) const fn received_label(event: Option<ClientEvent>) -> &'static str {
    match event {
        Some(ClientEvent::ConnectUser) => n::EVENT_CONNECT_USER,
        Some(ClientEvent::ConnectAgent) => n::EVENT_CONNECT_AGENT,
        Some(ClientEvent::CallAgent) => n::EVENT_CALL_AGENT,
        Some(ClientEvent::RejectCall) => n::EVENT_REJECT_CALL,
        Some(ClientEvent::CallTransfer) => n::EVENT_CALL_TRANSFER,
        Some(ClientEvent::ToggleAvailability) => n::EVENT_TOGGLE_AVAILABILITY,
        Some(ClientEvent::UserMessage) => n::EVENT_USER_MESSAGE,
        Some(ClientEvent::AgentMessage) => n::EVENT_AGENT_MESSAGE,
        Some(ClientEvent::LeaveCall) => n::EVENT_LEAVE_CALL,
        Some(ClientEvent::Mute) => n::EVENT_MUTE,
        Some(ClientEvent::AcceptCall) => n::EVENT_ACCEPT_CALL,
        Some(ClientEvent::Signal) => n::EVENT_SIGNAL,
        None => n::OTHER,
    }
}

/// Client events by discriminant, then "other" (unknown events).
impl Slot for Option<ClientEvent> {
    const COUNT: usize = ClientEvent::ALL.len() + 1;
    #[inline]
    fn slot(&self) -> usize {
        match self {
            Some(e) => *e as usize,
            None => ClientEvent::ALL.len(),
        }
    }
    fn label(i: usize) -> &'static str {
        received_label(ClientEvent::ALL.get(i).copied())
    }
}

/// The `event` labels of the server events, by [`Slot::slot`].
const SENT_LABELS: [&str; 19] = [
    n::EVENT_REGISTERED,
    n::EVENT_GET_AVAILABLE_AGENTS,
    n::EVENT_CALL_AGENT,
    n::EVENT_CALL_TRANSFER,
    n::EVENT_CALL_ENDED,
    n::EVENT_USER_MESSAGE,
    n::EVENT_AGENT_MESSAGE,
    n::EVENT_MUTE,
    n::EVENT_ERROR,
    n::EVENT_QUEUED,
    n::EVENT_CALL_OFFERED,
    n::EVENT_OFFER_EXPIRED,
    n::EVENT_WRAP_UP,
    n::EVENT_AVAILABILITY_CHANGED,
    n::EVENT_PEER_DISCONNECTED,
    n::EVENT_PEER_RECONNECTED,
    n::EVENT_ACK,
    n::EVENT_SIGNAL,
    n::EVENT_CALL_STATE,
];

/// Server events in declaration order.
impl Slot for ServerEvent {
    const COUNT: usize = SENT_LABELS.len();
    #[inline]
    fn slot(&self) -> usize {
        match self {
            ServerEvent::Registered { .. } => 0,
            ServerEvent::AvailableAgents { .. } => 1,
            ServerEvent::CallAgent(_) => 2,
            ServerEvent::CallTransfer(_) => 3,
            ServerEvent::CallEnded { .. } => 4,
            ServerEvent::UserMessage { .. } => 5,
            ServerEvent::AgentMessage { .. } => 6,
            ServerEvent::Mute(_) => 7,
            ServerEvent::Error { .. } => 8,
            ServerEvent::Queued { .. } => 9,
            ServerEvent::CallOffered(_) => 10,
            ServerEvent::OfferExpired { .. } => 11,
            ServerEvent::WrapUp { .. } => 12,
            ServerEvent::AvailabilityChanged { .. } => 13,
            ServerEvent::PeerDisconnected { .. } => 14,
            ServerEvent::PeerReconnected { .. } => 15,
            ServerEvent::Ack { .. } => 16,
            ServerEvent::Signal { .. } => 17,
            ServerEvent::CallState { .. } => 18,
        }
    }
    fn label(i: usize) -> &'static str {
        SENT_LABELS[i]
    }
}

/// The `code` label of a refused request.
pub(super) const fn code_label(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadJson => n::CODE_BAD_JSON,
        ErrorCode::BadMessage => n::CODE_BAD_MESSAGE,
        ErrorCode::UnknownEvent => n::CODE_UNKNOWN_EVENT,
        ErrorCode::BadPayload => n::CODE_BAD_PAYLOAD,
        ErrorCode::NotRegistered => n::CODE_NOT_REGISTERED,
        ErrorCode::AlreadyRegistered => n::CODE_ALREADY_REGISTERED,
        ErrorCode::IdInUse => n::CODE_ID_IN_USE,
        ErrorCode::Forbidden => n::CODE_FORBIDDEN,
        ErrorCode::NotInCall => n::CODE_NOT_IN_CALL,
        ErrorCode::AlreadyInCall => n::CODE_ALREADY_IN_CALL,
        ErrorCode::RoomInUse => n::CODE_ROOM_IN_USE,
        ErrorCode::NoAgentAvailable => n::CODE_NO_AGENT_AVAILABLE,
        ErrorCode::BinaryUnsupported => n::CODE_BINARY_UNSUPPORTED,
        ErrorCode::QueueFull => n::CODE_QUEUE_FULL,
        ErrorCode::Unauthorized => n::CODE_UNAUTHORIZED,
        ErrorCode::TokenExpired => n::CODE_TOKEN_EXPIRED,
        ErrorCode::SessionReplaced => n::CODE_SESSION_REPLACED,
        ErrorCode::RateLimited => n::CODE_RATE_LIMITED,
        ErrorCode::TooLarge => n::CODE_TOO_LARGE,
    }
}

/// Error codes by discriminant.
impl Slot for ErrorCode {
    const COUNT: usize = ErrorCode::ALL.len();
    #[inline]
    fn slot(&self) -> usize {
        *self as usize
    }
    fn label(i: usize) -> &'static str {
        code_label(ErrorCode::ALL[i])
    }
}

/// The `reason` label of an ended call.
pub(super) const fn end_label(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Left => n::END_LEFT,
        EndReason::Rejected => n::END_REJECTED,
        EndReason::Transferred => n::END_TRANSFERRED,
        EndReason::Disconnected => n::END_DISCONNECTED,
        EndReason::Cancelled => n::END_CANCELLED,
        EndReason::Timeout => n::END_TIMEOUT,
    }
}

/// End reasons by discriminant.
impl Slot for EndReason {
    const COUNT: usize = EndReason::ALL.len();
    #[inline]
    fn slot(&self) -> usize {
        *self as usize
    }
    fn label(i: usize) -> &'static str {
        end_label(EndReason::ALL[i])
    }
}

/// `support_events_received_total` by client event ("other": unknown event).
pub(super) type Received = Table<Option<ClientEvent>, { ClientEvent::ALL.len() + 1 }>;
/// `support_events_sent_total` by server event.
pub(super) type Sent = Table<ServerEvent, { SENT_LABELS.len() }>;
/// `support_errors_total` by error code.
pub(super) type Rejected = Table<ErrorCode, { ErrorCode::ALL.len() }>;
/// `support_calls_ended_total` by end reason.
pub(super) type Finished = Table<EndReason, { EndReason::ALL.len() }>;
/// `support_offers_total` by result.
pub(super) type Offers = Table<OfferResult, { OfferResult::ALL.len() }>;
