//! queue: more users than agents, calls of random length (issue 11's queue).
//!
//! Agents register and accept every call (`callOffered` is answered with `acceptCall`, so
//! the scenario also runs with offers on). Each user sends `callAgent`, waits for its
//! `callAgent` reply (counting the `queued` frames it gets meanwhile), stays in the call for
//! a random length drawn from `[--call-ms-min, --call-ms-max]`, sends `leaveCall {roomId}`,
//! waits for its `callEnded` and calls again. Figures: assignments/s, the wait (callAgent
//! sent to callAgent received), `queued` frames per user and per assigned call.
//!
//! A user that has waited `--timeout-ms` gives up (a timeout), cancels with `leaveCall` and
//! calls again. Against a server that does not queue, every `no_agent_available` counts in
//! `no_agent` and the user calls again after a short random pause.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::timeout_at;

use crate::conn::{open_many, Conn, Ev};
use crate::ctx::field_str;
use crate::ctx::Ctx;
use crate::measure::{add_cpu, finish_run, measure_window, new_hist, pct_json, pct_line, Window};

/// splitmix64: a small seeded generator, so a run's call lengths can be repeated.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xa076_1d64_78bd_642f));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi` (`hi >= lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What the queue scenario counts beyond the shared counters. "In the window" means the
/// frame or the assignment arrived inside the measurement window.
#[derive(Default)]
struct Stats {
    /// `queued` frames received in the window (all users)
    queued: AtomicU64,
    /// most `queued` frames one user received in the window
    queued_user_max: AtomicU64,
    /// `queued` frames received before the assignments of the window, and their maximum
    queued_before_assign: AtomicU64,
    queued_call_max: AtomicU64,
    /// assignments of the window that had at least one `queued` frame (waited in the queue)
    queued_calls: AtomicU64,
    /// `queued` frames (in the window) that carried estimatedWaitSecs
    estimated: AtomicU64,
    /// for assignments of the window whose first `queued` frame carried estimatedWaitSecs:
    /// how many, and the sum of (actual wait since that frame - estimate) and of its absolute value, ms
    est_n: AtomicU64,
    est_err_ms: Mutex<(f64, f64)>,
    /// `queued` (or a second callAgent) for a room already assigned: the user was put back
    requeued: AtomicU64,
    /// callEnded for our room before our leaveCall, while in the call
    ended_early: AtomicU64,
    /// callEnded while waiting, by reason (`timeout`: the server's max_wait_ms)
    ended_waiting: Mutex<std::collections::BTreeMap<String, u64>>,
    /// users still waiting for an assignment when the window closed
    waiting_at_end: AtomicU64,
    /// callOffered frames the agents answered with acceptCall
    offers: AtomicU64,
    /// assignments each agent received in the window (pushed when the agent stops)
    agent_calls: Mutex<Vec<u64>>,
}

fn bump_max(a: &AtomicU64, v: u64) {
    a.fetch_max(v, Relaxed);
}

fn room_of(ev: &Ev) -> Option<String> {
    field_str(&ev.data, "roomId")
}

fn room_json(room: &str) -> String {
    format!("{{\"roomId\":{}}}", serde_json::to_string(room).unwrap())
}

/// Counts what every phase treats alike (getAvailableAgents, error); ignores the rest.
fn common(ctx: &Ctx, ev: &Ev, w: Window) {
    match ev.name.as_str() {
        "getAvailableAgents" => ctx.counters.gaa(Some(w)),
        "error" => ctx.counters.error_event(&ev.data),
        _ => {}
    }
}

enum Waited {
    Assigned,
    /// `--timeout-ms` or the window's end passed
    Deadline,
    /// an `error` answered the callAgent (`no_agent_available`, `queue_full`, ...)
    Refused(String),
    /// callEnded for the room while waiting (reason)
    Ended(String),
    Disconnected,
}

/// Reads until `until`, counting what arrives (a pause that keeps the socket drained).
/// False if the connection is gone.
async fn idle(ctx: &Ctx, c: &mut Conn, until: Instant, w: Window) -> bool {
    loop {
        match timeout_at(until.into(), c.recv()).await {
            Err(_) => return true,
            Ok(Err(_)) => return false,
            Ok(Ok(ev)) => common(ctx, &ev, w),
        }
    }
}

/// Sends leaveCall for `room` and waits up to `--call-timeout-ms` for its callEnded.
/// False if the connection is gone.
async fn leave(ctx: &Ctx, c: &mut Conn, room: &str, w: Window) -> bool {
    if c.send("leaveCall", &room_json(room)).await.is_err() {
        return false;
    }
    let dl = Instant::now() + Duration::from_millis(ctx.args.call_timeout_ms);
    loop {
        let ev = match timeout_at(dl.into(), c.recv()).await {
            Err(_) => {
                ctx.counters.end_timeouts.fetch_add(1, Relaxed);
                return true;
            }
            Ok(Err(_)) => return false,
            Ok(Ok(ev)) => ev,
        };
        if ev.name == "callEnded" && room_of(&ev).as_deref() == Some(room) {
            return true;
        }
        common(ctx, &ev, w);
    }
}

async fn user(
    ctx: Arc<Ctx>,
    st: Arc<Stats>,
    mut c: Conn,
    i: usize,
    w: Window,
    mut rng: Rng,
) -> (Histogram<u64>, u64) {
    let a = &ctx.args;
    let mut h = new_hist();
    let mut done = 0u64;
    let mut n = 0u64;
    let mut queued_mine = 0u64; // queued frames this user got in the window
    let wait_max = Duration::from_millis(a.timeout_ms);
    let (lo, hi) = (a.call_ms_min, a.call_ms_max);
    'calls: while Instant::now() < w.end {
        n += 1;
        let room = format!("q{i}_{n}");
        let t0 = Instant::now();
        let msg = format!("{{\"userId\":\"u{i}\",\"roomId\":\"{room}\"}}");
        if c.send("callAgent", &msg).await.is_err() {
            ctx.counters.disconnects.fetch_add(1, Relaxed);
            break;
        }
        // Wait for the assignment.
        let deadline = (t0 + wait_max).min(w.end);
        let mut q_call = 0u64;
        // the first queued frame with an estimate: when it came and the estimate in ms
        let mut first_est: Option<(Instant, f64)> = None;
        let waited = loop {
            let ev = match timeout_at(deadline.into(), c.recv()).await {
                Err(_) => break Waited::Deadline,
                Ok(Err(_)) => break Waited::Disconnected,
                Ok(Ok(ev)) => ev,
            };
            match ev.name.as_str() {
                "queued" | "callAgent" | "callEnded"
                    if room_of(&ev).as_deref() != Some(room.as_str()) =>
                {
                    ctx.counters.unexpected.fetch_add(1, Relaxed);
                }
                "queued" => {
                    q_call += 1;
                    let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
                    let est = v.get("estimatedWaitSecs").and_then(|e| e.as_f64());
                    if w.contains(Instant::now()) {
                        queued_mine += 1;
                        st.queued.fetch_add(1, Relaxed);
                        if est.is_some() {
                            st.estimated.fetch_add(1, Relaxed);
                        }
                    }
                    if q_call == 1 {
                        first_est = est.map(|e| (Instant::now(), e * 1000.0));
                    }
                }
                "callAgent" => break Waited::Assigned,
                "callEnded" => {
                    break Waited::Ended(field_str(&ev.data, "reason").unwrap_or_default());
                }
                "error" => {
                    let code = field_str(&ev.data, "code").unwrap_or_else(|| "unknown".into());
                    if code == "no_agent_available" {
                        break Waited::Refused(code);
                    }
                    ctx.counters.error(&code);
                    if code == "queue_full" {
                        break Waited::Refused(code);
                    }
                }
                _ => common(&ctx, &ev, w),
            }
        };
        match waited {
            Waited::Assigned => {
                let now = Instant::now();
                if w.contains(now) {
                    h.saturating_record((now - t0).as_micros() as u64);
                    done += 1;
                    st.queued_before_assign.fetch_add(q_call, Relaxed);
                    bump_max(&st.queued_call_max, q_call);
                    if q_call > 0 {
                        st.queued_calls.fetch_add(1, Relaxed);
                    }
                    if let Some((t, est_ms)) = first_est {
                        let err = (now - t).as_secs_f64() * 1000.0 - est_ms;
                        st.est_n.fetch_add(1, Relaxed);
                        let mut e = st.est_err_ms.lock().unwrap();
                        e.0 += err;
                        e.1 += err.abs();
                    }
                }
            }
            Waited::Deadline => {
                if Instant::now() >= w.end {
                    st.waiting_at_end.fetch_add(1, Relaxed);
                    break 'calls;
                }
                ctx.counters.timeouts.fetch_add(1, Relaxed);
                if !leave(&ctx, &mut c, &room, w).await {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    break 'calls;
                }
                continue 'calls;
            }
            Waited::Refused(code) => {
                if code == "no_agent_available" {
                    ctx.counters.no_agent.fetch_add(1, Relaxed);
                }
                let pause = Instant::now() + Duration::from_millis(rng.range(1, 10));
                if !idle(&ctx, &mut c, pause, w).await {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    break 'calls;
                }
                continue 'calls;
            }
            Waited::Ended(reason) => {
                *st.ended_waiting.lock().unwrap().entry(reason).or_default() += 1;
                continue 'calls;
            }
            Waited::Disconnected => {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break 'calls;
            }
        }
        // In the call: stay for a random length (cut at the window's end), then leave.
        let until = (Instant::now() + Duration::from_millis(rng.range(lo, hi))).min(w.end);
        loop {
            let ev = match timeout_at(until.into(), c.recv()).await {
                Err(_) => break,
                Ok(Err(_)) => {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    break 'calls;
                }
                Ok(Ok(ev)) => ev,
            };
            match ev.name.as_str() {
                "callEnded" if room_of(&ev).as_deref() == Some(room.as_str()) => {
                    st.ended_early.fetch_add(1, Relaxed);
                    continue 'calls;
                }
                "queued" | "callAgent" if room_of(&ev).as_deref() == Some(room.as_str()) => {
                    // put back in line (agent lost, rejected, transferred) or re-routed:
                    // leave and call afresh
                    st.requeued.fetch_add(1, Relaxed);
                    break;
                }
                _ => common(&ctx, &ev, w),
            }
        }
        if !leave(&ctx, &mut c, &room, w).await {
            ctx.counters.disconnects.fetch_add(1, Relaxed);
            break;
        }
    }
    bump_max(&st.queued_user_max, queued_mine);
    (h, done)
}

/// Accepts every call; the users end them.
async fn agent(
    ctx: Arc<Ctx>,
    st: Arc<Stats>,
    mut c: Conn,
    w: Window,
    mut stop: watch::Receiver<bool>,
) {
    let mut calls = 0u64;
    loop {
        let ev = tokio::select! {
            r = c.recv() => match r {
                Ok(ev) => ev,
                Err(_) => {
                    if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); }
                    break;
                }
            },
            _ = stop.changed() => break,
        };
        let reply = match ev.name.as_str() {
            "callAgent" => {
                if w.contains(Instant::now()) {
                    calls += 1;
                }
                None
            }
            "callOffered" => {
                st.offers.fetch_add(1, Relaxed);
                room_of(&ev).map(|r| ("acceptCall", room_json(&r)))
            }
            "availabilityChanged"
                if serde_json::from_str::<serde_json::Value>(&ev.data)
                    .ok()
                    .and_then(|v| v.get("available")?.as_bool())
                    == Some(false) =>
            {
                Some(("toggleAvailability", "{\"available\":true}".to_string()))
            }
            _ => {
                common(&ctx, &ev, w);
                None
            }
        };
        if let Some((name, data)) = reply {
            if c.send(name, &data).await.is_err() {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
        }
    }
    st.agent_calls.lock().unwrap().push(calls);
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub async fn run(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let (nu, na) = (a.users, a.agents);
    let seed = a.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let st = Arc::new(Stats::default());
    let t_setup = Instant::now();
    let agents = open_many(&ctx, na, 0, Some(true), "a").await?;
    let users = open_many(&ctx, nu, na, Some(false), "u").await?;
    let setup_s = t_setup.elapsed().as_secs_f64();
    let start = Instant::now() + Duration::from_secs_f64(a.warmup);
    let w = Window {
        start,
        end: start + Duration::from_secs_f64(a.duration),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut ah = Vec::new();
    for c in agents {
        ah.push(tokio::spawn(agent(
            ctx.clone(),
            st.clone(),
            c,
            w,
            stop_rx.clone(),
        )));
    }
    let mut uh = Vec::new();
    for (i, c) in users.into_iter().enumerate() {
        let rng = Rng::new(seed, i as u64);
        uh.push(tokio::spawn(user(ctx.clone(), st.clone(), c, i, w, rng)));
    }
    let m = measure_window(ctx.args.server_pid, w).await;
    // users stop at the window's end, after at most one leaveCall
    let wait = Duration::from_millis(a.call_timeout_ms + 2000);
    let (hist, done) = finish_run(uh, Some(wait), &stop_tx, ah).await;
    let rate = done as f64 / a.duration;

    let queued = st.queued.load(Relaxed);
    let per_user_mean = if nu > 0 {
        queued as f64 / nu as f64
    } else {
        0.0
    };
    let per_user_max = st.queued_user_max.load(Relaxed);
    let before = st.queued_before_assign.load(Relaxed);
    let per_call_mean = if done > 0 {
        before as f64 / done as f64
    } else {
        0.0
    };
    let per_call_max = st.queued_call_max.load(Relaxed);
    let queued_calls = st.queued_calls.load(Relaxed);
    let est_n = st.est_n.load(Relaxed);
    let (est_sum, est_abs) = *st.est_err_ms.lock().unwrap();
    let est_json = if est_n > 0 {
        json!({"n": est_n, "mean": round1(est_sum / est_n as f64), "mean_abs": round1(est_abs / est_n as f64)})
    } else {
        json!({"n": 0})
    };
    let agent_calls = st.agent_calls.lock().unwrap().clone();
    let calls_json = if agent_calls.is_empty() {
        json!({"n": 0})
    } else {
        json!({
            "n": agent_calls.len(),
            "min": agent_calls.iter().min(),
            "max": agent_calls.iter().max(),
            "mean": round1(agent_calls.iter().sum::<u64>() as f64 / agent_calls.len() as f64),
        })
    };
    let ended_waiting = st.ended_waiting.lock().unwrap().clone();
    let gaa_w = ctx.counters.gaa_window.load(Relaxed);
    let clients = (nu + na) as f64;
    println!(
        "== queue proto={:?} kind={:?} users={nu} agents={na} call-ms={}..{} seed={seed}",
        ctx.proto, a.server_kind, a.call_ms_min, a.call_ms_max
    );
    println!("setup: {setup_s:.2} s");
    println!(
        "assignments: {done} in {:.1} s = {rate:.0} assignments/s",
        a.duration
    );
    println!("wait: {}", pct_line(&hist));
    println!(
        "queued frames in window: {queued}; per user mean {per_user_mean:.1}, max {per_user_max}; \
         per assignment mean {per_call_mean:.1}, max {per_call_max}; {queued_calls} of {done} assignments were queued"
    );
    if est_n > 0 {
        println!(
            "estimatedWaitSecs: in {} queued frames; actual - first estimate: mean {:.0} ms, mean |err| {:.0} ms (n={est_n})",
            st.estimated.load(Relaxed),
            est_sum / est_n as f64,
            est_abs / est_n as f64
        );
    }
    if !agent_calls.is_empty() {
        println!(
            "assignments per agent: min {}, mean {:.1}, max {}",
            agent_calls.iter().min().unwrap_or(&0),
            agent_calls.iter().sum::<u64>() as f64 / agent_calls.len() as f64,
            agent_calls.iter().max().unwrap_or(&0)
        );
    }
    println!(
        "still waiting at the end: {}; ended while waiting: {ended_waiting:?}; requeued: {}; ended early: {}; offers accepted: {}",
        st.waiting_at_end.load(Relaxed),
        st.requeued.load(Relaxed),
        st.ended_early.load(Relaxed),
        st.offers.load(Relaxed)
    );
    println!(
        "getAvailableAgents in window: {gaa_w} total, {:.1} per client",
        gaa_w as f64 / clients
    );
    let no_agent = ctx.counters.no_agent.load(Relaxed);
    if queued == 0 && no_agent > 0 {
        println!(
            "note: no `queued` frame; {no_agent} callAgent answered no_agent_available: the server does not queue"
        );
    }
    let mut j = json!({
        "count": done,
        "rate": rate,
        "rate_unit": "assignments/s",
        "latency_us": pct_json(&hist),
        "setup_s": setup_s,
        "seed": seed,
        "queued_frames": queued,
        "queued_per_user": {"mean": round1(per_user_mean), "max": per_user_max},
        "queued_per_assignment": {"mean": round1(per_call_mean), "max": per_call_max},
        "queued_assignments": queued_calls,
        "estimated_frames": st.estimated.load(Relaxed),
        "estimate_error_ms": est_json,
        "assignments_per_agent": calls_json,
        "waiting_at_end": st.waiting_at_end.load(Relaxed),
        "ended_waiting": ended_waiting,
        "requeued": st.requeued.load(Relaxed),
        "ended_early": st.ended_early.load(Relaxed),
        "offers": st.offers.load(Relaxed),
        "gaa_total": gaa_w,
        "gaa_per_client": gaa_w as f64 / clients,
    });
    add_cpu(&mut j, m.cpu_s(), done, a.duration);
    Ok(j)
}
