//! Prometheus metrics for supportd.
//!
//! [`Metrics`] is built once and owned by the event loop, which updates its
//! fields directly (atomics; every labelled child is resolved at
//! construction, so the hot path never calls `with_label_values`). Events,
//! refusals and ended calls are counted by the routing enums themselves
//! ([`Metrics::received`], [`Metrics::sent`], [`Metrics::rejected`],
//! [`Metrics::call_finished`]), each backed by a table indexed by its enum;
//! the label sets of those families are the fixed lists [`names::EVENT_VALUES`],
//! [`names::CODE_VALUES`] and [`names::END_VALUES`], every value pre-created at
//! start-up. The other labels come from the fixed enums below. Every label value is a
//! constant of [`names`], never client input, and every label set is fixed
//! and exported from the start.
//! [`serve`] serves `/metrics` and `/healthz` from a side thread.

pub mod names;
mod server;
mod tables;

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::routing::{self, AgentState, ClientEvent, OfferResult, QueueOutcome, ServerEvent};

pub use server::{health, now_ms, render, serve, stamp, HEALTH_MAX_AGE_MS};

use names as n;

/// Declares a fixed label-value enum: `ALL`, `COUNT`, `as_str`, `parse`.
macro_rules! label_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident => $val:path),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($var),+ }

        impl $name {
            /// Every value, in index order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// Number of values.
            pub const COUNT: usize = Self::ALL.len();

            /// The label value.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$var => $val),+ }
            }

            /// Exact match on the label value.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($val => Some($name::$var),)+
                    _ => None,
                }
            }

            const fn idx(self) -> usize {
                self as usize
            }
        }
    };
}

label_enum!(
    /// `transport` label of `support_open_connections`.
    Transport {
        WebSocket => n::TRANSPORT_WEBSOCKET,
        Polling => n::TRANSPORT_POLLING,
        Native => n::TRANSPORT_NATIVE,
    }
);

label_enum!(
    /// `result` label of `support_config_reloads_total`.
    ReloadResult {
        Success => n::RELOAD_SUCCESS,
        Failure => n::RELOAD_FAILURE,
    }
);

label_enum!(
    /// `reason` label of `support_connections_rejected_total`.
    RejectReason {
        Origin => n::REJECT_ORIGIN,
        Path => n::REJECT_PATH,
        Limit => n::REJECT_LIMIT,
        BadRequest => n::REJECT_BAD_REQUEST,
    }
);

label_enum!(
    /// `reason` label of `support_limits_total`: which `[limits]` key was enforced.
    LimitReason {
        MessageTimeout => n::LIMIT_MESSAGE_TIMEOUT,
        InboundBuffer => n::LIMIT_INBOUND_BUFFER,
        RegisterTimeout => n::LIMIT_REGISTER_TIMEOUT,
        PingTimeout => n::LIMIT_PING_TIMEOUT,
        ConnectionsPerIp => n::LIMIT_CONNECTIONS_PER_IP,
        SessionsPerIp => n::LIMIT_SESSIONS_PER_IP,
        RateLimited => n::LIMIT_RATE_LIMITED,
        RateClosed => n::LIMIT_RATE_CLOSED,
        ToggleLimited => n::LIMIT_TOGGLE_LIMITED,
        SoftOutbound => n::LIMIT_SOFT_OUTBOUND,
        Descriptors => n::LIMIT_DESCRIPTORS,
    }
);

/// All supportd metrics, registered in their own [`Registry`].
///
/// Gauges are best `set()` from the routing state's own counts after each
/// change, so they can never drift.
pub struct Metrics {
    registry: Registry,
    /// `support_connected_users`: registered users.
    pub connected_users: IntGauge,
    /// `support_connected_agents`: registered agents.
    pub connected_agents: IntGauge,
    /// `support_available_agents`: agents available for a new call.
    pub available_agents: IntGauge,
    /// `support_active_calls`: calls in progress.
    pub active_calls: IntGauge,
    /// `support_calls_started_total`.
    pub calls_started: IntCounter,
    /// `support_slow_consumers_total`: connections dropped for an
    /// over-limit write buffer.
    pub slow_consumers: IntCounter,
    /// `support_call_duration_seconds`.
    pub call_duration: Histogram,
    /// `support_queue_length`: users waiting for an agent (offers pending included).
    pub queue_length: IntGauge,
    /// `support_held_parties`: parties held for a resume.
    pub held_parties: IntGauge,
    /// `support_free_slots`: free chat slots of the agents that would accept a call now.
    pub free_slots: IntGauge,
    /// `support_holds_ended_total{result}`, indexed like `HoldResult::ALL`.
    holds_ended: [IntCounter; routing::HoldResult::ALL.len()],
    /// `support_agents{state}`, indexed like `AgentState::ALL`.
    agents: [IntGauge; AgentState::ALL.len()],
    /// `support_queue_wait_seconds{outcome}`, indexed like `QueueOutcome::ALL`.
    queue_wait: [Histogram; QueueOutcome::ALL.len()],
    offers: tables::Offers,
    open_connections: [IntGauge; Transport::COUNT],
    received: tables::Received,
    sent: tables::Sent,
    rejected: tables::Rejected,
    finished: tables::Finished,
    config_reloads: [IntCounter; ReloadResult::COUNT],
    connections_rejected: [IntCounter; RejectReason::COUNT],
    /// `support_limits_total{reason}`.
    limits: [IntCounter; LimitReason::COUNT],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Builds and registers every metric (and the process collector).
    ///
    /// Panics only on a programming error (an invalid or duplicate metric
    /// definition), which the unit tests rule out.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let reg = |c: Box<dyn prometheus::core::Collector>| {
            registry
                .register(c)
                .expect("metric definitions are static and unique"); // ok: start-up, static definitions
        };

        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid gauge"); // ok: static
            reg(Box::new(g.clone()));
            g
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid counter"); // ok: static
            reg(Box::new(c.clone()));
            c
        };
        let gauge_vec = |name: &str, help: &str, label: &str| {
            let v = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid gauge vec"); // ok: static
            reg(Box::new(v.clone()));
            v
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let v = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid counter vec"); // ok: static
            reg(Box::new(v.clone()));
            v
        };
        // Creates every child of a fixed label set, so each is exported (at 0) from the start.
        let precreate = |v: &IntCounterVec, values: &[&str]| {
            for value in values {
                v.with_label_values(&[value]);
            }
        };

        let connected_users = gauge(n::CONNECTED_USERS, "Registered users currently connected.");
        let connected_agents = gauge(
            n::CONNECTED_AGENTS,
            "Registered agents currently connected.",
        );
        let available_agents = gauge(
            n::AVAILABLE_AGENTS,
            "Connected agents currently available for a new call.",
        );
        let active_calls = gauge(n::ACTIVE_CALLS, "Calls currently in progress.");

        let open = gauge_vec(
            n::OPEN_CONNECTIONS,
            "Open client connections by transport.",
            n::LABEL_TRANSPORT,
        );
        let open_connections =
            std::array::from_fn(|i| open.with_label_values(&[Transport::ALL[i].as_str()]));

        let received_vec = counter_vec(
            n::EVENTS_RECEIVED,
            "Protocol events received from clients.",
            n::LABEL_EVENT,
        );
        precreate(&received_vec, n::EVENT_VALUES);
        let received = tables::Received::new(&received_vec);
        let sent_vec = counter_vec(
            n::EVENTS_SENT,
            "Protocol events sent to clients.",
            n::LABEL_EVENT,
        );
        precreate(&sent_vec, n::EVENT_VALUES);
        let sent = tables::Sent::new(&sent_vec);

        let errs = counter_vec(
            n::ERRORS,
            "Error events sent to clients, by error code.",
            n::LABEL_CODE,
        );
        precreate(&errs, n::CODE_VALUES);
        let rejected = tables::Rejected::new(&errs);

        let calls_started = counter(
            n::CALLS_STARTED,
            "Calls started (user connected to an agent).",
        );
        let ended = counter_vec(n::CALLS_ENDED, "Calls ended, by reason.", n::LABEL_REASON);
        precreate(&ended, n::END_VALUES);
        let finished = tables::Finished::new(&ended);

        let call_duration = Histogram::with_opts(
            HistogramOpts::new(n::CALL_DURATION, "Duration of ended calls in seconds.")
                .buckets(n::CALL_DURATION_BUCKETS.to_vec()),
        )
        .expect("valid histogram"); // ok: static
        reg(Box::new(call_duration.clone()));

        let queue_length = gauge(
            n::QUEUE_LENGTH,
            "Users waiting for an agent (offers pending included).",
        );
        let by_state = gauge_vec(n::AGENTS, "Registered agents by state.", n::LABEL_STATE);
        let agents = std::array::from_fn(|i| {
            by_state.with_label_values(&[tables::state_label(AgentState::ALL[i])])
        });
        let waits = HistogramVec::new(
            HistogramOpts::new(
                n::QUEUE_WAIT,
                "Time from callAgent to the end of the wait, by outcome, in seconds.",
            )
            .buckets(n::QUEUE_WAIT_BUCKETS.to_vec()),
            &[n::LABEL_OUTCOME],
        )
        .expect("valid histogram vec"); // ok: static
        reg(Box::new(waits.clone()));
        let queue_wait = std::array::from_fn(|i| {
            waits.with_label_values(&[tables::outcome_label(QueueOutcome::ALL[i])])
        });
        let offers_vec = counter_vec(
            n::OFFERS,
            "Call offers to agents, by result.",
            n::LABEL_RESULT,
        );
        let offers = tables::Offers::new(&offers_vec);

        let held_parties = gauge(
            n::HELD_PARTIES,
            "Parties whose connection dropped, held for a resume.",
        );
        let free_slots = gauge(
            n::FREE_SLOTS,
            "Free chat slots of the agents that would accept a call now (capacity left).",
        );
        let holds = counter_vec(
            n::HOLDS_ENDED,
            "Holds for a resume that ended, by result.",
            n::LABEL_RESULT,
        );
        let holds_ended = std::array::from_fn(|i| {
            holds.with_label_values(&[routing::HoldResult::ALL[i].as_str()])
        });

        let reloads = counter_vec(
            n::CONFIG_RELOADS,
            "Configuration reloads (SIGHUP), by result.",
            n::LABEL_RESULT,
        );
        let config_reloads =
            std::array::from_fn(|i| reloads.with_label_values(&[ReloadResult::ALL[i].as_str()]));

        let slow_consumers = counter(
            n::SLOW_CONSUMERS,
            "Connections dropped because their write buffer exceeded the limit.",
        );

        let refused = counter_vec(
            n::CONNECTIONS_REJECTED,
            "Connections or upgrade requests refused, by reason.",
            n::LABEL_REASON,
        );
        let connections_rejected =
            std::array::from_fn(|i| refused.with_label_values(&[RejectReason::ALL[i].as_str()]));
        let limits_vec = counter_vec(
            n::LIMITS,
            "Clients refused or closed by a [limits] key, by reason.",
            n::LABEL_REASON,
        );
        let limits =
            std::array::from_fn(|i| limits_vec.with_label_values(&[LimitReason::ALL[i].as_str()]));

        #[cfg(target_os = "linux")]
        reg(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));

        Metrics {
            registry,
            connected_users,
            connected_agents,
            available_agents,
            active_calls,
            calls_started,
            slow_consumers,
            call_duration,
            queue_length,
            held_parties,
            free_slots,
            holds_ended,
            agents,
            queue_wait,
            offers,
            open_connections,
            received,
            sent,
            rejected,
            finished,
            config_reloads,
            connections_rejected,
            limits,
        }
    }

    /// The registry to hand to [`serve`] (a cheap, shared clone).
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// `support_open_connections{transport}`.
    pub fn open_connections(&self, t: Transport) -> &IntGauge {
        &self.open_connections[t.idx()]
    }

    /// A connection of transport `t` was opened.
    pub fn connection_opened(&self, t: Transport) {
        self.open_connections(t).inc();
    }

    /// A connection of transport `t` was closed.
    pub fn connection_closed(&self, t: Transport) {
        self.open_connections(t).dec();
    }

    /// Counts an event received from a client; `None` is an unknown event name
    /// (label "other").
    #[inline]
    pub fn received(&self, event: Option<ClientEvent>) {
        self.received.get(&event).inc();
    }

    /// Counts an event sent to one client.
    #[inline]
    pub fn sent(&self, event: &ServerEvent) {
        self.sent.get(event).inc();
    }

    /// Counts `n` copies of `event` sent at once (a broadcast).
    #[inline]
    pub fn sent_n(&self, event: &ServerEvent, n: usize) {
        self.sent.get(event).inc_by(n as u64);
    }

    /// Counts a refused request, answered with an `error` event or an error ack.
    #[inline]
    pub fn rejected(&self, code: routing::ErrorCode) {
        self.rejected.get(&code).inc();
    }

    /// A call ended for `reason` after `duration`.
    pub fn call_finished(&self, reason: routing::EndReason, duration: Duration) {
        self.finished.get(&reason).inc();
        self.call_duration.observe(duration.as_secs_f64());
    }

    /// A user's wait for an agent ended with `outcome` after `waited`.
    pub fn queue_left(&self, outcome: QueueOutcome, waited: Duration) {
        self.queue_wait[outcome as usize].observe(waited.as_secs_f64());
    }

    /// An offer to an agent ended with `result`.
    pub fn offer(&self, result: OfferResult) {
        self.offers.get(&result).inc();
    }

    /// A hold for a resume ended with `result`.
    pub fn hold_ended(&self, result: routing::HoldResult) {
        self.holds_ended[result as usize].inc();
    }

    /// `support_agents{state}`.
    pub fn agents(&self, state: AgentState) -> &IntGauge {
        &self.agents[state as usize]
    }

    /// Mirrors every routing count into its gauge: users, agents, available agents, active
    /// calls, queue length and agents by state.
    pub fn set_routing_gauges(&self, s: &routing::Stats) {
        let g = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.connected_users.set(g(s.users));
        self.connected_agents.set(g(s.agents));
        self.available_agents.set(g(s.available_agents));
        self.active_calls.set(g(s.active_calls));
        self.queue_length.set(g(s.queue_length));
        self.held_parties.set(g(s.held));
        self.free_slots.set(g(s.free_slots));
        for (gauge, n) in self.agents.iter().zip(s.agents_by_state) {
            gauge.set(g(n));
        }
    }

    /// A call started.
    pub fn call_started(&self) {
        self.calls_started.inc();
    }

    /// `support_config_reloads_total{result}`.
    pub fn config_reloads(&self, r: ReloadResult) -> &IntCounter {
        &self.config_reloads[r.idx()]
    }

    /// Counts a configuration reload attempt.
    pub fn config_reload(&self, ok: bool) {
        let r = if ok {
            ReloadResult::Success
        } else {
            ReloadResult::Failure
        };
        self.config_reloads(r).inc();
    }

    /// A connection was dropped for an over-limit write buffer.
    pub fn slow_consumer(&self) {
        self.slow_consumers.inc();
    }

    /// `support_connections_rejected_total{reason}`.
    pub fn connections_rejected(&self, r: RejectReason) -> &IntCounter {
        &self.connections_rejected[r.idx()]
    }

    /// Counts a refused connection or upgrade request.
    pub fn connection_rejected(&self, r: RejectReason) {
        self.connections_rejected(r).inc();
    }

    /// Counts a client refused or closed by a `[limits]` key.
    pub fn limit(&self, r: LimitReason) {
        self.limits[r.idx()].inc();
    }

    /// `support_limits_total{reason}`.
    pub fn limits(&self, r: LimitReason) -> &IntCounter {
        &self.limits[r.idx()]
    }
}

#[cfg(test)]
mod tests;
