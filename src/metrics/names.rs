//! Every metric name, label name and label value exported by supportd.

// Gauges.
pub const CONNECTED_USERS: &str = "support_connected_users";
pub const CONNECTED_AGENTS: &str = "support_connected_agents";
pub const AVAILABLE_AGENTS: &str = "support_available_agents";
pub const ACTIVE_CALLS: &str = "support_active_calls";
pub const OPEN_CONNECTIONS: &str = "support_open_connections";
pub const QUEUE_LENGTH: &str = "support_queue_length";
pub const AGENTS: &str = "support_agents";
pub const HELD_PARTIES: &str = "support_held_parties";
pub const FREE_SLOTS: &str = "support_free_slots";

// Counters.
pub const EVENTS_RECEIVED: &str = "support_events_received_total";
pub const EVENTS_SENT: &str = "support_events_sent_total";
pub const ERRORS: &str = "support_errors_total";
pub const CALLS_STARTED: &str = "support_calls_started_total";
pub const CALLS_ENDED: &str = "support_calls_ended_total";
pub const CONFIG_RELOADS: &str = "support_config_reloads_total";
pub const SLOW_CONSUMERS: &str = "support_slow_consumers_total";
pub const CONNECTIONS_REJECTED: &str = "support_connections_rejected_total";
pub const OFFERS: &str = "support_offers_total";
pub const HOLDS_ENDED: &str = "support_holds_ended_total";
pub const LIMITS: &str = "support_limits_total";

// Histograms.
pub const CALL_DURATION: &str = "support_call_duration_seconds";
/// Bucket upper bounds (seconds) of [`CALL_DURATION`]: 1 s up to 4 h.
pub const CALL_DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

pub const QUEUE_WAIT: &str = "support_queue_wait_seconds";
/// Bucket upper bounds (seconds) of [`QUEUE_WAIT`]: 0.1 s up to 30 min.
pub const QUEUE_WAIT_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0,
];

/// Every metric family supportd defines (the process collector's
/// `process_*` families come on top).
pub const ALL_NAMES: &[&str] = &[
    CONNECTED_USERS,
    CONNECTED_AGENTS,
    AVAILABLE_AGENTS,
    ACTIVE_CALLS,
    OPEN_CONNECTIONS,
    EVENTS_RECEIVED,
    EVENTS_SENT,
    ERRORS,
    CALLS_STARTED,
    CALLS_ENDED,
    CONFIG_RELOADS,
    SLOW_CONSUMERS,
    CONNECTIONS_REJECTED,
    CALL_DURATION,
    QUEUE_LENGTH,
    AGENTS,
    OFFERS,
    QUEUE_WAIT,
    HELD_PARTIES,
    FREE_SLOTS,
    HOLDS_ENDED,
    LIMITS,
];

// Label names.
pub const LABEL_TRANSPORT: &str = "transport";
pub const LABEL_EVENT: &str = "event";
pub const LABEL_CODE: &str = "code";
pub const LABEL_REASON: &str = "reason";
pub const LABEL_RESULT: &str = "result";
pub const LABEL_OUTCOME: &str = "outcome";
pub const LABEL_STATE: &str = "state";

/// The catch-all label value for `event`, `code` and `reason`.
pub const OTHER: &str = "other";

// `transport` values.
/// Our native `/ws` WebSocket protocol.
pub const TRANSPORT_NATIVE: &str = "native";
/// Socket.IO over WebSocket.
pub const TRANSPORT_WEBSOCKET: &str = "websocket";
/// Socket.IO over Engine.IO long-polling.
pub const TRANSPORT_POLLING: &str = "polling";

// `event` values (protocol event names).
pub const EVENT_CONNECT_USER: &str = "connectUser";
pub const EVENT_CONNECT_AGENT: &str = "connectAgent";
pub const EVENT_CALL_AGENT: &str = "callAgent";
pub const EVENT_REJECT_CALL: &str = "rejectCall";
pub const EVENT_CALL_TRANSFER: &str = "callTransfer";
pub const EVENT_TOGGLE_AVAILABILITY: &str = "toggleAvailability";
pub const EVENT_USER_MESSAGE: &str = "userMessage";
pub const EVENT_AGENT_MESSAGE: &str = "agentMessage";
pub const EVENT_LEAVE_CALL: &str = "leaveCall";
pub const EVENT_MUTE: &str = "mute";
pub const EVENT_REGISTERED: &str = "registered";
pub const EVENT_GET_AVAILABLE_AGENTS: &str = "getAvailableAgents";
pub const EVENT_CALL_ENDED: &str = "callEnded";
pub const EVENT_ERROR: &str = "error";
pub const EVENT_ACCEPT_CALL: &str = "acceptCall";
pub const EVENT_QUEUED: &str = "queued";
pub const EVENT_CALL_OFFERED: &str = "callOffered";
pub const EVENT_OFFER_EXPIRED: &str = "offerExpired";
pub const EVENT_WRAP_UP: &str = "wrapUp";
pub const EVENT_AVAILABILITY_CHANGED: &str = "availabilityChanged";
pub const EVENT_PEER_DISCONNECTED: &str = "peerDisconnected";
pub const EVENT_PEER_RECONNECTED: &str = "peerReconnected";
pub const EVENT_ACK: &str = "ack";
pub const EVENT_SIGNAL: &str = "signal";
pub const EVENT_CALL_STATE: &str = "callState";

/// Every `event` value: the fixed label set of both `support_events_*_total` families
/// (each family has every value, whether or not it can occur there).
pub const EVENT_VALUES: &[&str] = &[
    EVENT_CONNECT_USER,
    EVENT_CONNECT_AGENT,
    EVENT_CALL_AGENT,
    EVENT_REJECT_CALL,
    EVENT_CALL_TRANSFER,
    EVENT_TOGGLE_AVAILABILITY,
    EVENT_USER_MESSAGE,
    EVENT_AGENT_MESSAGE,
    EVENT_LEAVE_CALL,
    EVENT_MUTE,
    EVENT_REGISTERED,
    EVENT_GET_AVAILABLE_AGENTS,
    EVENT_CALL_ENDED,
    EVENT_ERROR,
    EVENT_ACCEPT_CALL,
    EVENT_QUEUED,
    EVENT_CALL_OFFERED,
    EVENT_OFFER_EXPIRED,
    EVENT_WRAP_UP,
    EVENT_AVAILABILITY_CHANGED,
    EVENT_PEER_DISCONNECTED,
    EVENT_PEER_RECONNECTED,
    EVENT_ACK,
    EVENT_SIGNAL,
    EVENT_CALL_STATE,
    OTHER,
];

// `code` values (protocol error codes).
pub const CODE_BAD_JSON: &str = "bad_json";
pub const CODE_BAD_MESSAGE: &str = "bad_message";
pub const CODE_UNKNOWN_EVENT: &str = "unknown_event";
pub const CODE_BAD_PAYLOAD: &str = "bad_payload";
pub const CODE_NOT_REGISTERED: &str = "not_registered";
pub const CODE_ALREADY_REGISTERED: &str = "already_registered";
pub const CODE_ID_IN_USE: &str = "id_in_use";
pub const CODE_FORBIDDEN: &str = "forbidden";
pub const CODE_NOT_IN_CALL: &str = "not_in_call";
pub const CODE_ALREADY_IN_CALL: &str = "already_in_call";
pub const CODE_ROOM_IN_USE: &str = "room_in_use";
pub const CODE_NO_AGENT_AVAILABLE: &str = "no_agent_available";
pub const CODE_BINARY_UNSUPPORTED: &str = "binary_unsupported";
pub const CODE_QUEUE_FULL: &str = "queue_full";
pub const CODE_UNAUTHORIZED: &str = "unauthorized";
pub const CODE_TOKEN_EXPIRED: &str = "token_expired";
pub const CODE_SESSION_REPLACED: &str = "session_replaced";
pub const CODE_RATE_LIMITED: &str = "rate_limited";
pub const CODE_TOO_LARGE: &str = "too_large";

/// Every `code` value: the fixed label set of `support_errors_total`.
pub const CODE_VALUES: &[&str] = &[
    CODE_BAD_JSON,
    CODE_BAD_MESSAGE,
    CODE_UNKNOWN_EVENT,
    CODE_BAD_PAYLOAD,
    CODE_NOT_REGISTERED,
    CODE_ALREADY_REGISTERED,
    CODE_ID_IN_USE,
    CODE_FORBIDDEN,
    CODE_NOT_IN_CALL,
    CODE_ALREADY_IN_CALL,
    CODE_ROOM_IN_USE,
    CODE_NO_AGENT_AVAILABLE,
    CODE_BINARY_UNSUPPORTED,
    CODE_QUEUE_FULL,
    CODE_UNAUTHORIZED,
    CODE_TOKEN_EXPIRED,
    CODE_SESSION_REPLACED,
    CODE_RATE_LIMITED,
    CODE_TOO_LARGE,
    OTHER,
];

// `reason` values of support_calls_ended_total.
pub const END_LEFT: &str = "left";
pub const END_REJECTED: &str = "rejected";
pub const END_TRANSFERRED: &str = "transferred";
pub const END_DISCONNECTED: &str = "disconnected";
pub const END_CANCELLED: &str = "cancelled";
pub const END_TIMEOUT: &str = "timeout";

/// Every `reason` value of `support_calls_ended_total` (its fixed label set).
pub const END_VALUES: &[&str] = &[
    END_LEFT,
    END_REJECTED,
    END_TRANSFERRED,
    END_DISCONNECTED,
    END_CANCELLED,
    END_TIMEOUT,
    OTHER,
];

// `outcome` values of support_queue_wait_seconds (`routing::QueueOutcome`).
pub const OUTCOME_ANSWERED: &str = "answered";
pub const OUTCOME_CANCELLED: &str = "cancelled";
pub const OUTCOME_TIMEOUT: &str = "timeout";
pub const OUTCOME_DISCONNECTED: &str = "disconnected";

// `result` values of support_offers_total (`routing::OfferResult`).
pub const OFFER_ACCEPTED: &str = "accepted";
pub const OFFER_REJECTED: &str = "rejected";
pub const OFFER_EXPIRED: &str = "expired";

// `state` values of support_agents (`routing::AgentState`).
pub const STATE_READY: &str = "ready";
pub const STATE_BUSY: &str = "busy";
pub const STATE_OFFERED: &str = "offered";
pub const STATE_WRAP_UP: &str = "wrap_up";
pub const STATE_AWAY: &str = "away";
pub const STATE_HELD: &str = "held";

// `result` values of support_config_reloads_total.
pub const RELOAD_SUCCESS: &str = "success";
pub const RELOAD_FAILURE: &str = "failure";

// `reason` values of support_connections_rejected_total.
pub const REJECT_ORIGIN: &str = "origin";
pub const REJECT_PATH: &str = "path";
pub const REJECT_LIMIT: &str = "limit";
pub const REJECT_BAD_REQUEST: &str = "bad_request";

// `reason` values of support_limits_total (a `[limits]` key enforced on a client).
pub const LIMIT_MESSAGE_TIMEOUT: &str = "message_timeout";
pub const LIMIT_INBOUND_BUFFER: &str = "inbound_buffer";
pub const LIMIT_REGISTER_TIMEOUT: &str = "register_timeout";
pub const LIMIT_PING_TIMEOUT: &str = "ping_timeout";
pub const LIMIT_CONNECTIONS_PER_IP: &str = "connections_per_ip";
pub const LIMIT_SESSIONS_PER_IP: &str = "sessions_per_ip";
pub const LIMIT_RATE_LIMITED: &str = "rate_limited";
pub const LIMIT_RATE_CLOSED: &str = "rate_closed";
pub const LIMIT_TOGGLE_LIMITED: &str = "toggle_limited";
pub const LIMIT_SOFT_OUTBOUND: &str = "soft_outbound";
pub const LIMIT_DESCRIPTORS: &str = "descriptors";
