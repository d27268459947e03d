//! supportd-load: a bounded load generator for supportd (native protocol), for
//! Socket.IO v5 / Engine.IO v4 servers (supportd's endpoint or the original
//! Node server), and for a plain WebSocket echo server (the ceiling baseline).
//!
//! Scenarios: relay, calls, connect, echo. Every run is bounded in time and
//! count, stops by itself, and only ever targets loopback addresses.
//! At the end it prints a human summary and then ONE JSON line with every figure.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures_util::{FutureExt, SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Scenario {
    /// P users each keep K userMessage in flight; agents answer with agentMessage.
    Relay,
    /// P pairs repeatedly set up and end calls.
    Calls,
    /// Open N connections B at a time and hold them.
    Connect,
    /// Plain WebSocket echo (examples/echo_baseline.rs): K in flight per connection.
    Echo,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Proto {
    /// supportd's own: {"event":NAME,"data":VALUE} per text frame, URL ws://HOST:PORT/ws
    Native,
    /// Socket.IO v5 over Engine.IO v4, WebSocket transport only
    Socketio,
    /// raw text frames echoed back (echo scenario only)
    Echo,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Kind {
    /// supportd: sends `registered`, `callEnded`, `error` frames
    Supportd,
    /// the original Node server: no `registered`, no reply to connectUser, no callEnded,
    /// callAgent with no free agent silently dropped, leaveCall needs agentId
    Original,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Role {
    Users,
    Agents,
    Both,
}

#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Bounded loopback-only load generator for supportd and the original Socket.IO server"
)]
struct Args {
    #[arg(value_enum)]
    scenario: Scenario,
    /// wire protocol (default: native; echo for the echo scenario)
    #[arg(long, value_enum)]
    proto: Option<Proto>,
    /// target URL (loopback only). Defaults: native ws://127.0.0.1:18081/ws,
    /// socketio ws://127.0.0.1:18080/socket.io/?EIO=4&transport=websocket, echo ws://127.0.0.1:18082/
    #[arg(long)]
    url: Option<String>,
    /// which server's behaviour to expect
    #[arg(long, value_enum, default_value = "supportd")]
    server_kind: Kind,
    /// relay/calls: agent+user pairs; echo: connections
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// relay/echo: messages in flight per user connection
    #[arg(long, default_value_t = 1)]
    inflight: usize,
    /// relay/echo: messageInput payload size in bytes (min 20)
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// measurement window, seconds
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// warmup before the measurement window, seconds
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// connect: number of connections
    #[arg(long, default_value_t = 1000)]
    conns: usize,
    /// connect: which kind of clients to open
    #[arg(long, value_enum, default_value = "users")]
    role: Role,
    /// connect: connections opened concurrently per batch (also used for setup of other scenarios)
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// connect: seconds to hold all connections open after the last is open
    #[arg(long, default_value_t = 2.0)]
    hold: f64,
    /// server process id, for CPU seconds (/proc/PID/stat) and RSS (/proc/PID/status)
    #[arg(long)]
    server_pid: Option<u32>,
    /// number of loopback source addresses 127.0.0.1..=127.0.0.k to spread sockets over
    #[arg(long, default_value_t = 16)]
    sources: u8,
    /// generator threads (1 = tokio current_thread runtime)
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// timeout for one connection setup / registration, milliseconds
    #[arg(long, default_value_t = 10000)]
    timeout_ms: u64,
    /// calls: per-attempt timeout waiting for the callAgent reply (and callEnded), milliseconds
    #[arg(long, default_value_t = 1000)]
    call_timeout_ms: u64,
    /// free-form label copied into the JSON line
    #[arg(long)]
    label: Option<String>,
}

// ---------------------------------------------------------------- utilities

fn base() -> Instant {
    static B: OnceLock<Instant> = OnceLock::new();
    *B.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// Joins the user tasks (each within `wait`, if given) and merges their latencies and counts,
/// then tells the agents to stop and gives each 2 s to finish.
async fn finish_run<T>(
    users: Vec<tokio::task::JoinHandle<(Histogram<u64>, u64)>>,
    wait: Option<Duration>,
    stop_tx: &watch::Sender<bool>,
    agents: Vec<tokio::task::JoinHandle<T>>,
) -> (Histogram<u64>, u64) {
    let mut hist = new_hist();
    let mut done = 0u64;
    for h in users {
        let joined = match wait {
            Some(w) => timeout(w, h).await.ok(),
            None => Some(h.await),
        };
        if let Some(Ok((hh, d))) = joined {
            hist.add(&hh).ok();
            done += d;
        }
    }
    let _ = stop_tx.send(true);
    for h in agents {
        let _ = timeout(Duration::from_secs(2), h).await;
    }
    (hist, done)
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram")
}

fn clk_tck() -> f64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime+stime of a process in seconds.
fn proc_cpu_s(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

/// VmRSS in bytes.
fn proc_rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().ok()?;
            return Some(kb * 1024);
        }
    }
    None
}

#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
fn raise_nofile() -> (u64, u64) {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
        (r.rlim_cur as u64, r.rlim_max as u64)
    }
}

fn pct_json(h: &Histogram<u64>) -> serde_json::Value {
    if h.is_empty() {
        return json!({"n":0});
    }
    json!({
        "n": h.len(),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
        "mean": (h.mean() * 10.0).round() / 10.0,
    })
}

fn pct_line(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    format!(
        "p50 {} us, p90 {} us, p99 {} us, max {} us (n={})",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.max(),
        h.len()
    )
}

// ---------------------------------------------------------------- target

#[derive(Clone, Debug)]
struct Target {
    url: String,
    addr: SocketAddr,
}

fn parse_target(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("only ws:// URLs are supported: {url}"))?;
    let hostport = rest.split(['/', '?']).next().unwrap_or("");
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let end = h.find(']').ok_or("bad IPv6 literal")?;
        let port = h[end + 1..].strip_prefix(':').unwrap_or("80");
        (&h[..end], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => (hostport, "80"),
        }
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port in {url}"))?;
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("host must be a loopback IP or localhost: {host}"))?
    };
    let ok = match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => v6.is_loopback(),
    };
    if !ok {
        return Err(format!(
            "refusing non-loopback target {ip}: only 127.x.x.x, ::1 or localhost"
        ));
    }
    Ok(Target {
        url: url.to_string(),
        addr: SocketAddr::new(ip, port),
    })
}

// ---------------------------------------------------------------- connection

type Ws = WebSocketStream<TcpStream>;

struct Conn {
    ws: Ws,
    proto: Proto,
}

struct Ev {
    name: String,
    data: String,
}

#[derive(Deserialize)]
struct NativeFrame<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct MsgData<'a> {
    #[serde(borrow, rename = "messageInput")]
    message_input: Cow<'a, str>,
}

fn field_str(data: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    v.get(key)?.as_str().map(|s| s.to_string())
}

fn ws_config() -> WebSocketConfig {
    // small buffers: 100k connections must fit in the generator
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024)
}

impl Conn {
    async fn open(t: &Target, src: Option<Ipv4Addr>, proto: Proto) -> Result<Conn, String> {
        let sock = if t.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| format!("socket: {e}"))?;
        if let (Some(s), true) = (src, t.addr.is_ipv4()) {
            // IP_BIND_ADDRESS_NO_PORT: pick the port at connect() time, per 4-tuple.
            unsafe {
                use std::os::fd::AsRawFd;
                let one: libc::c_int = 1;
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_IP,
                    24, /* IP_BIND_ADDRESS_NO_PORT */
                    &one as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            sock.bind(SocketAddr::new(IpAddr::V4(s), 0))
                .map_err(|e| format!("bind {s}: {e}"))?;
        }
        let stream = sock
            .connect(t.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (ws, _resp) =
            tokio_tungstenite::client_async_with_config(t.url.as_str(), stream, Some(ws_config()))
                .await
                .map_err(|e| format!("ws handshake: {e}"))?;
        let mut c = Conn { ws, proto };
        if proto == Proto::Socketio {
            c.sio_handshake().await?;
        }
        Ok(c)
    }

    async fn raw_text(&mut self) -> Result<String, String> {
        loop {
            match self.ws.next().await {
                None => return Err("closed".into()),
                Some(Err(e)) => return Err(format!("read: {e}")),
                Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
                Some(Ok(Message::Close(_))) => return Err("closed by server".into()),
                Some(Ok(_)) => continue,
            }
        }
    }

    async fn sio_handshake(&mut self) -> Result<(), String> {
        let open = self.raw_text().await?;
        if !open.starts_with('0') {
            return Err(format!("expected engine.io open packet, got {open:.80}"));
        }
        self.send_raw("40".to_string()).await?;
        loop {
            let p = self.raw_text().await?;
            if p.starts_with("40") {
                return Ok(());
            } else if p == "2" {
                self.send_raw("3".to_string()).await?;
            } else if p.starts_with("44") {
                return Err(format!("socket.io connect error: {p:.120}"));
            }
        }
    }

    fn encode(&self, name: &str, data: &str) -> String {
        match self.proto {
            Proto::Native => format!("{{\"event\":\"{name}\",\"data\":{data}}}"),
            Proto::Socketio => format!("42[\"{name}\",{data}]"),
            Proto::Echo => data.to_string(),
        }
    }

    async fn send_raw(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// Queue a frame without flushing (see `flush`).
    async fn feed_raw(&mut self, text: String) -> Result<(), String> {
        self.ws
            .feed(Message::Text(text.into()))
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.ws.flush().await.map_err(|e| format!("write: {e}"))
    }

    /// The next event if one is already buffered or readable without waiting;
    /// otherwise flush queued frames and wait for one until `deadline`.
    /// Ok(None) means the deadline passed.
    async fn next_batched(&mut self, deadline: Instant) -> Result<Option<Ev>, String> {
        if let Some(r) = self.recv().now_or_never() {
            return r.map(Some);
        }
        self.flush().await?;
        match timeout_at(deadline.into(), self.recv()).await {
            Err(_) => Ok(None),
            Ok(r) => r.map(Some),
        }
    }

    async fn send(&mut self, name: &str, data: &str) -> Result<(), String> {
        let t = self.encode(name, data);
        self.send_raw(t).await
    }

    /// Next application event. Answers Engine.IO pings by itself.
    async fn recv(&mut self) -> Result<Ev, String> {
        loop {
            let text = self.raw_text().await?;
            match self.proto {
                Proto::Echo => {
                    return Ok(Ev {
                        name: String::new(),
                        data: text,
                    })
                }
                Proto::Native => {
                    let f: NativeFrame = serde_json::from_str(&text)
                        .map_err(|e| format!("bad native frame ({e}): {text:.80}"))?;
                    return Ok(Ev {
                        name: f.event.into_owned(),
                        data: f
                            .data
                            .map(|d| d.get().to_string())
                            .unwrap_or_else(|| "null".into()),
                    });
                }
                Proto::Socketio => {
                    if text == "2" {
                        self.send_raw("3".to_string()).await?;
                        continue;
                    }
                    if let Some(rest) = text.strip_prefix("42") {
                        let v: Vec<&RawValue> = serde_json::from_str(rest)
                            .map_err(|e| format!("bad socket.io event ({e}): {text:.80}"))?;
                        let name: String = v
                            .first()
                            .and_then(|n| serde_json::from_str(n.get()).ok())
                            .ok_or_else(|| format!("socket.io event without name: {text:.80}"))?;
                        let data = v
                            .get(1)
                            .map(|d| d.get().to_string())
                            .unwrap_or_else(|| "null".into());
                        return Ok(Ev { name, data });
                    }
                    if text.starts_with("41") {
                        return Err("socket.io namespace disconnect".into());
                    }
                    if text.starts_with('1') {
                        return Err("engine.io close".into());
                    }
                    // "40{...}", "3", "6" and the like: ignore
                }
            }
        }
    }
}

// ---------------------------------------------------------------- shared counters

#[derive(Default)]
struct Counters {
    errors: AtomicU64,
    error_codes: Mutex<BTreeMap<String, u64>>,
    disconnects: AtomicU64,
    gaa: AtomicU64,
    gaa_window: AtomicU64,
    timeouts: AtomicU64,
    no_agent: AtomicU64,
    end_timeouts: AtomicU64,
    unexpected: AtomicU64,
}

impl Counters {
    fn error(&self, code: &str) {
        self.errors.fetch_add(1, Relaxed);
        *self
            .error_codes
            .lock()
            .unwrap()
            .entry(code.to_string())
            .or_default() += 1;
    }
    fn error_event(&self, data: &str) {
        let code = field_str(data, "code").unwrap_or_else(|| "unknown".into());
        self.error(&code);
    }
    /// One `getAvailableAgents` frame, counted also per window when it falls inside `w`.
    fn gaa(&self, w: Option<Window>) {
        self.gaa.fetch_add(1, Relaxed);
        if w.is_some_and(|w| w.contains(Instant::now())) {
            self.gaa_window.fetch_add(1, Relaxed);
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

struct Ctx {
    args: Args,
    proto: Proto,
    target: Target,
    counters: Counters,
}

impl Ctx {
    fn src(&self, i: usize) -> Option<Ipv4Addr> {
        if self.args.sources == 0 || !self.target.addr.is_ipv4() {
            return None;
        }
        Some(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % self.args.sources as usize) as u8,
        ))
    }
}

/// Send connectAgent/connectUser and wait for the registration reply as the server kind requires.
async fn register(ctx: &Ctx, c: &mut Conn, agent: bool, id: &str) -> Result<(), String> {
    let (ev, role) = if agent {
        ("connectAgent", "agent")
    } else {
        ("connectUser", "user")
    };
    c.send(ev, &format!("{{\"id\":\"{id}\"}}")).await?;
    let wait_for = match (ctx.args.server_kind, agent) {
        (Kind::Supportd, _) => Some("registered"),
        (Kind::Original, true) => Some("getAvailableAgents"), // broadcast includes the new agent
        (Kind::Original, false) => None,                      // original sends nothing
    };
    let Some(want) = wait_for else { return Ok(()) };
    loop {
        let e = c.recv().await?;
        if e.name == "getAvailableAgents" {
            ctx.counters.gaa(None);
        }
        if e.name == want {
            if want == "registered" {
                if let Some(r) = field_str(&e.data, "role") {
                    if r != role {
                        return Err(format!("registered with role {r}, expected {role}"));
                    }
                }
            }
            return Ok(());
        }
        if e.name == "error" {
            ctx.counters.error_event(&e.data);
            return Err(format!("registration error: {}", e.data));
        }
    }
}

async fn open_registered(
    ctx: &Ctx,
    i: usize,
    agent: Option<bool>,
    id: &str,
) -> Result<Conn, String> {
    let mut c = Conn::open(&ctx.target, ctx.src(i), ctx.proto).await?;
    if let Some(a) = agent {
        register(ctx, &mut c, a, id).await?;
    }
    Ok(c)
}

/// Open `n` registered clients, `batch` at a time; fail if any fails.
async fn open_many(
    ctx: &Arc<Ctx>,
    n: usize,
    offset: usize,
    agent: Option<bool>,
    prefix: &str,
) -> Result<Vec<Conn>, String> {
    let mut out = Vec::with_capacity(n);
    let batch = ctx.args.batch.max(1);
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let mut hs = Vec::new();
        for j in i..end {
            let ctx = ctx.clone();
            let id = format!("{prefix}{j}");
            hs.push(tokio::spawn(async move {
                let to = Duration::from_millis(ctx.args.timeout_ms);
                match timeout(to, open_registered(&ctx, offset + j, agent, &id)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("{id}: setup timed out")),
                }
            }));
        }
        for h in hs {
            out.push(h.await.map_err(|e| e.to_string())??);
        }
        i = end;
    }
    Ok(out)
}

fn payload(size: usize) -> String {
    let mut s = format!("{:020}", now_ns());
    while s.len() < size {
        s.push('x');
    }
    s
}

fn payload_ts(s: &str) -> Option<u64> {
    s.get(..20)?.parse().ok()
}

struct Measure {
    cpu0: Option<f64>,
    cpu1: Option<f64>,
}

impl Measure {
    fn cpu_s(&self) -> Option<f64> {
        Some(self.cpu1? - self.cpu0?)
    }
}

/// Sleep through warmup and measurement window, sampling server CPU at both edges.
async fn measure_window(ctx: &Ctx, w: Window) -> Measure {
    sleep_until(w.start.into()).await;
    let cpu0 = ctx.args.server_pid.and_then(proc_cpu_s);
    sleep_until(w.end.into()).await;
    let cpu1 = ctx.args.server_pid.and_then(proc_cpu_s);
    Measure { cpu0, cpu1 }
}

// ---------------------------------------------------------------- relay / echo

/// The sending side: keeps K messages in flight, measures round trips.
async fn pinger(ctx: Arc<Ctx>, mut c: Conn, room: String, w: Window) -> (Histogram<u64>, u64) {
    let mut h = new_hist();
    let mut done = 0u64;
    let k = ctx.args.inflight.max(1);
    let size = ctx.args.size.max(20);
    let echo = ctx.proto == Proto::Echo;
    let send_one = |c: &mut Conn| {
        let p = payload(size);
        if echo {
            c.encode("", &p)
        } else {
            c.encode(
                "userMessage",
                &format!("{{\"roomId\":\"{room}\",\"messageInput\":\"{p}\"}}"),
            )
        }
    };
    let mut inflight = 0usize;
    for _ in 0..k {
        let t = send_one(&mut c);
        if let Err(_e) = c.send_raw(t).await {
            ctx.counters.disconnects.fetch_add(1, Relaxed);
            return (h, done);
        }
        inflight += 1;
    }
    let drain = w.end + Duration::from_secs(2);
    while inflight > 0 {
        let ev = match c.next_batched(drain).await {
            Ok(None) => {
                ctx.counters.timeouts.fetch_add(inflight as u64, Relaxed);
                break;
            }
            Err(_) => {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
            Ok(Some(ev)) => ev,
        };
        let input: Option<u64> = if echo {
            payload_ts(&ev.data)
        } else {
            match ev.name.as_str() {
                "agentMessage" => serde_json::from_str::<MsgData>(&ev.data)
                    .ok()
                    .and_then(|m| payload_ts(&m.message_input)),
                "getAvailableAgents" => {
                    ctx.counters.gaa(None);
                    continue;
                }
                "error" => {
                    ctx.counters.error_event(&ev.data);
                    continue;
                }
                _ => continue,
            }
        };
        let Some(ts) = input else {
            ctx.counters.unexpected.fetch_add(1, Relaxed);
            continue;
        };
        inflight -= 1;
        let now = Instant::now();
        if w.contains(now) {
            h.saturating_record(now_ns().saturating_sub(ts) / 1000);
            done += 1;
        }
        if now < w.end {
            let t = send_one(&mut c);
            if c.feed_raw(t).await.is_err() {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
            inflight += 1;
        }
    }
    (h, done)
}

/// The agent side of relay: answers each userMessage with agentMessage (same messageInput).
async fn relay_agent(ctx: Arc<Ctx>, mut c: Conn, mut stop: watch::Receiver<bool>) {
    let mut room = String::new();
    let far = Instant::now() + Duration::from_secs(3600);
    loop {
        let ev = tokio::select! {
            r = c.next_batched(far) => match r {
                Ok(Some(ev)) => ev,
                Ok(None) => return,
                Err(_) => { if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); } return; }
            },
            _ = stop.changed() => return,
        };
        match ev.name.as_str() {
            "userMessage" => {
                let mi = match serde_json::from_str::<MsgData>(&ev.data) {
                    Ok(m) => m.message_input.into_owned(),
                    Err(_) => {
                        ctx.counters.unexpected.fetch_add(1, Relaxed);
                        continue;
                    }
                };
                let reply = format!(
                    "{{\"roomId\":{},\"messageInput\":{}}}",
                    serde_json::to_string(&room).unwrap(),
                    serde_json::to_string(&mi).unwrap()
                );
                let t = c.encode("agentMessage", &reply);
                if c.feed_raw(t).await.is_err() {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    return;
                }
            }
            "callAgent" => {
                if let Some(r) = field_str(&ev.data, "roomId") {
                    room = r;
                }
            }
            "getAvailableAgents" => ctx.counters.gaa(None),
            "error" => ctx.counters.error_event(&ev.data),
            _ => {}
        }
    }
}

async fn wait_call_reply(
    ctx: &Ctx,
    c: &mut Conn,
    room: &str,
    deadline: Instant,
    w: Option<Window>,
) -> Result<Result<(), &'static str>, String> {
    loop {
        let ev = match timeout_at(deadline.into(), c.recv()).await {
            Err(_) => return Ok(Err("timeout")),
            Ok(r) => r?,
        };
        match ev.name.as_str() {
            "callAgent" if field_str(&ev.data, "roomId").as_deref() == Some(room) => {
                return Ok(Ok(()));
            }
            "error" => {
                let code = field_str(&ev.data, "code").unwrap_or_default();
                if code == "no_agent_available" {
                    return Ok(Err("no_agent"));
                }
                ctx.counters.error(&code);
            }
            "getAvailableAgents" => ctx.counters.gaa(w),
            _ => {}
        }
    }
}

async fn run_relay(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let p = a.pairs;
    let echo = ctx.proto == Proto::Echo;
    let t_setup = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut agent_handles = Vec::new();
    let mut users: Vec<(Conn, String)> = Vec::new();
    if echo {
        for c in open_many(&ctx, p, 0, None, "e").await? {
            users.push((c, String::new()));
        }
    } else {
        let agents = open_many(&ctx, p, 0, Some(true), "a").await?;
        let us = open_many(&ctx, p, p, Some(false), "u").await?;
        // set up calls one at a time; the server picks the agent, agents learn
        // their room from the callAgent they receive.
        let mut agents_iter = agents.into_iter();
        for a_conn in agents_iter.by_ref() {
            agent_handles.push(tokio::spawn(relay_agent(
                ctx.clone(),
                a_conn,
                stop_rx.clone(),
            )));
        }
        for (i, mut u) in us.into_iter().enumerate() {
            let room = format!("room{i}");
            let mut tries = 0;
            loop {
                tries += 1;
                u.send(
                    "callAgent",
                    &format!("{{\"userId\":\"u{i}\",\"roomId\":\"{room}\"}}"),
                )
                .await?;
                let dl = Instant::now() + Duration::from_millis(ctx.args.timeout_ms);
                match wait_call_reply(&ctx, &mut u, &room, dl, None).await? {
                    Ok(()) => break,
                    Err(why) if tries < 3 => {
                        eprintln!("call setup for u{i}: {why}, retrying");
                        sleep(Duration::from_millis(50)).await;
                    }
                    Err(why) => return Err(format!("call setup for u{i} failed: {why}")),
                }
            }
            users.push((u, room));
        }
    }
    let setup_s = t_setup.elapsed().as_secs_f64();
    let start = Instant::now() + Duration::from_secs_f64(a.warmup);
    let w = Window {
        start,
        end: start + Duration::from_secs_f64(a.duration),
    };
    let mut hs = Vec::new();
    for (u, room) in users {
        hs.push(tokio::spawn(pinger(ctx.clone(), u, room, w)));
    }
    let m = measure_window(&ctx, w).await;
    let (hist, done) = finish_run(hs, None, &stop_tx, agent_handles).await;
    let rate = done as f64 / a.duration;
    let cpu = m.cpu_s();
    println!(
        "== {:?} proto={:?} kind={:?} pairs={} inflight={} size={}",
        a.scenario, ctx.proto, a.server_kind, p, a.inflight, a.size
    );
    println!("setup: {setup_s:.2} s");
    println!(
        "round trips: {done} in {:.1} s = {rate:.0} msg/s",
        a.duration
    );
    println!("round trip: {}", pct_line(&hist));
    let mut j = json!({
        "count": done,
        "rate": rate,
        "rate_unit": if echo { "echoes/s" } else { "relayed msgs/s" },
        "latency_us": pct_json(&hist),
        "setup_s": setup_s,
    });
    add_cpu(&mut j, cpu, done, a.duration);
    Ok(j)
}

fn add_cpu(j: &mut serde_json::Value, cpu: Option<f64>, count: u64, dur: f64) {
    if let Some(cpu) = cpu {
        let per = if cpu > 0.0 {
            count as f64 / cpu
        } else {
            f64::NAN
        };
        println!("server CPU: {cpu:.2} s over {dur:.1} s ({:.0}% of a core), {per:.0} per server CPU second", 100.0 * cpu / dur);
        j["server_cpu_s"] = json!(cpu);
        j["server_cpu_util"] = json!(cpu / dur);
        j["per_cpu_s"] = if per.is_finite() {
            json!(per)
        } else {
            serde_json::Value::Null
        };
    } else {
        j["server_cpu_s"] = serde_json::Value::Null;
        j["per_cpu_s"] = serde_json::Value::Null;
    }
}

// ---------------------------------------------------------------- calls

async fn calls_agent(
    ctx: Arc<Ctx>,
    mut c: Conn,
    id: String,
    w: Window,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let ev = tokio::select! {
            r = c.recv() => match r {
                Ok(ev) => ev,
                Err(_) => { if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); } return; }
            },
            _ = stop.changed() => return,
        };
        match ev.name.as_str() {
            "callAgent" => {
                let room = field_str(&ev.data, "roomId").unwrap_or_default();
                let msg = format!(
                    "{{\"roomId\":{},\"agentId\":{}}}",
                    serde_json::to_string(&room).unwrap(),
                    serde_json::to_string(&id).unwrap()
                );
                if c.send("leaveCall", &msg).await.is_err() {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    return;
                }
            }
            "getAvailableAgents" => ctx.counters.gaa(Some(w)),
            "error" => ctx.counters.error_event(&ev.data),
            _ => {}
        }
    }
}

async fn calls_user(ctx: Arc<Ctx>, mut c: Conn, i: usize, w: Window) -> (Histogram<u64>, u64) {
    let mut h = new_hist();
    let mut done = 0u64;
    let mut n = 0u64;
    let ct = Duration::from_millis(ctx.args.call_timeout_ms);
    while Instant::now() < w.end {
        n += 1;
        let room = format!("c{i}_{n}");
        let t0 = Instant::now();
        if c.send(
            "callAgent",
            &format!("{{\"userId\":\"u{i}\",\"roomId\":\"{room}\"}}"),
        )
        .await
        .is_err()
        {
            ctx.counters.disconnects.fetch_add(1, Relaxed);
            break;
        }
        match wait_call_reply(&ctx, &mut c, &room, t0 + ct, Some(w)).await {
            Err(_) => {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
            Ok(Err("no_agent")) => {
                ctx.counters.no_agent.fetch_add(1, Relaxed);
                tokio::task::yield_now().await;
                continue;
            }
            Ok(Err(_)) => {
                ctx.counters.timeouts.fetch_add(1, Relaxed);
                continue;
            }
            Ok(Ok(())) => {
                let now = Instant::now();
                if w.contains(now) {
                    h.saturating_record((now - t0).as_micros() as u64);
                    done += 1;
                }
            }
        }
        if ctx.args.server_kind == Kind::Supportd {
            // the agent ends the call; wait for callEnded before the next call
            let dl = Instant::now() + ct;
            loop {
                let ev = match timeout_at(dl.into(), c.recv()).await {
                    Err(_) => {
                        ctx.counters.end_timeouts.fetch_add(1, Relaxed);
                        break;
                    }
                    Ok(Err(_)) => {
                        ctx.counters.disconnects.fetch_add(1, Relaxed);
                        return (h, done);
                    }
                    Ok(Ok(ev)) => ev,
                };
                match ev.name.as_str() {
                    "callEnded"
                        if field_str(&ev.data, "roomId").as_deref() == Some(room.as_str()) =>
                    {
                        break
                    }
                    "getAvailableAgents" => ctx.counters.gaa(Some(w)),
                    "error" => ctx.counters.error_event(&ev.data),
                    _ => {}
                }
            }
        }
        // Original: no callEnded exists; the agent's leaveCall frees it. Go on at once.
    }
    (h, done)
}

async fn run_calls(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let p = a.pairs;
    let t_setup = Instant::now();
    let agents = open_many(&ctx, p, 0, Some(true), "a").await?;
    let users = open_many(&ctx, p, p, Some(false), "u").await?;
    let setup_s = t_setup.elapsed().as_secs_f64();
    let start = Instant::now() + Duration::from_secs_f64(a.warmup);
    let w = Window {
        start,
        end: start + Duration::from_secs_f64(a.duration),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut ah = Vec::new();
    for (i, c) in agents.into_iter().enumerate() {
        ah.push(tokio::spawn(calls_agent(
            ctx.clone(),
            c,
            format!("a{i}"),
            w,
            stop_rx.clone(),
        )));
    }
    let mut uh = Vec::new();
    for (i, c) in users.into_iter().enumerate() {
        uh.push(tokio::spawn(calls_user(ctx.clone(), c, i, w)));
    }
    let m = measure_window(&ctx, w).await;
    let wait = Duration::from_millis(a.call_timeout_ms * 3 + 2000);
    let (hist, done) = finish_run(uh, Some(wait), &stop_tx, ah).await;
    let rate = done as f64 / a.duration;
    let gaa_w = ctx.counters.gaa_window.load(Relaxed);
    let clients = (2 * p) as f64;
    println!(
        "== calls proto={:?} kind={:?} pairs={p}",
        ctx.proto, a.server_kind
    );
    println!("setup: {setup_s:.2} s");
    println!(
        "call setups: {done} in {:.1} s = {rate:.0} setups/s",
        a.duration
    );
    println!("setup latency: {}", pct_line(&hist));
    println!(
        "getAvailableAgents in window: {gaa_w} total, {:.1} per client, {:.1} per setup",
        gaa_w as f64 / clients,
        if done > 0 {
            gaa_w as f64 / done as f64
        } else {
            0.0
        }
    );
    let mut j = json!({
        "count": done,
        "rate": rate,
        "rate_unit": "call setups/s",
        "latency_us": pct_json(&hist),
        "setup_s": setup_s,
        "gaa_total": gaa_w,
        "gaa_per_client": gaa_w as f64 / clients,
        "gaa_per_setup": if done > 0 { gaa_w as f64 / done as f64 } else { 0.0 },
    });
    add_cpu(&mut j, m.cpu_s(), done, a.duration);
    Ok(j)
}

// ---------------------------------------------------------------- connect

async fn hold_conn(ctx: &Ctx, mut c: Conn, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            r = c.recv() => match r {
                Ok(ev) => {
                    if ev.name == "getAvailableAgents" { ctx.counters.gaa(None); }
                    else if ev.name == "error" { ctx.counters.error_event(&ev.data); }
                }
                Err(_) => { if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); } return; }
            },
            _ = stop.changed() => { let _ = timeout(Duration::from_millis(200), c.ws.close(None)).await; return; }
        }
    }
}

async fn run_connect(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let n = a.conns;
    let pid = a.server_pid;
    let rss0 = pid.and_then(proc_rss);
    let cpu0 = pid.and_then(proc_cpu_s);
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<u64, String>>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut hist = new_hist();
    let mut ok = 0u64;
    let mut failed = 0u64;
    let mut first_err: BTreeMap<String, u64> = BTreeMap::new();
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    let batch = a.batch.max(1);
    let mut i = 0;
    let to = Duration::from_millis(a.timeout_ms);
    while i < n {
        let end = (i + batch).min(n);
        for j in i..end {
            let agent = match a.role {
                Role::Users => false,
                Role::Agents => true,
                Role::Both => j % 2 == 0,
            };
            let ctx = ctx.clone();
            let tx = tx.clone();
            let stop = stop_rx.clone();
            handles.push(tokio::spawn(async move {
                let s = Instant::now();
                let id = if agent {
                    format!("a{j}")
                } else {
                    format!("u{j}")
                };
                let r = timeout(to, open_registered(&ctx, j, Some(agent), &id)).await;
                match r {
                    Ok(Ok(c)) => {
                        let _ = tx.send(Ok(s.elapsed().as_micros() as u64));
                        hold_conn(&ctx, c, stop).await;
                    }
                    Ok(Err(e)) => {
                        let _ = tx.send(Err(e));
                    }
                    Err(_) => {
                        let _ = tx.send(Err("timed out".into()));
                    }
                }
            }));
        }
        for _ in i..end {
            match timeout(to + Duration::from_secs(1), rx.recv()).await {
                Ok(Some(Ok(us))) => {
                    hist.saturating_record(us);
                    ok += 1;
                }
                Ok(Some(Err(e))) => {
                    failed += 1;
                    let key: String = e.chars().take(60).collect();
                    *first_err.entry(key).or_default() += 1;
                }
                _ => {
                    failed += 1;
                }
            }
        }
        i = end;
        if failed > 0 && failed as usize > n / 10 + 100 {
            eprintln!("too many failures ({failed}), stopping the ramp at {end}");
            break;
        }
    }
    let open_s = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(proc_cpu_s);
    sleep(Duration::from_millis(500)).await;
    let rss1 = pid.and_then(proc_rss);
    sleep(Duration::from_secs_f64(a.hold)).await;
    let still_open = handles.iter().filter(|h| !h.is_finished()).count();
    let _ = stop_tx.send(true);
    let close_deadline = Instant::now() + Duration::from_secs(20);
    for h in handles {
        if timeout_at(close_deadline.into(), h).await.is_err() {
            break;
        }
    }
    let rate = ok as f64 / open_s;
    println!(
        "== connect proto={:?} kind={:?} role={:?} conns={n} batch={batch}",
        ctx.proto, a.server_kind, a.role
    );
    println!("opened: {ok} ok, {failed} failed in {open_s:.2} s = {rate:.0} conn/s; still open after hold: {still_open}");
    println!("handshake: {}", pct_line(&hist));
    for (e, k) in &first_err {
        println!("  failure x{k}: {e}");
    }
    let mut j = json!({
        "count": ok,
        "failed": failed,
        "rate": rate,
        "rate_unit": "connections/s",
        "latency_us": pct_json(&hist),
        "open_s": open_s,
        "still_open_after_hold": still_open,
        "failures": first_err,
    });
    if let (Some(r0), Some(r1)) = (rss0, rss1) {
        let per = if ok > 0 {
            (r1 as f64 - r0 as f64) / ok as f64
        } else {
            0.0
        };
        println!(
            "server RSS: {:.1} MiB -> {:.1} MiB, {per:.0} bytes per connection",
            r0 as f64 / 1048576.0,
            r1 as f64 / 1048576.0
        );
        j["rss_before"] = json!(r0);
        j["rss_after"] = json!(r1);
        j["rss_per_conn"] = json!(per);
    } else {
        j["rss_per_conn"] = serde_json::Value::Null;
    }
    add_cpu(&mut j, Measure { cpu0, cpu1 }.cpu_s(), ok, open_s);
    Ok(j)
}

// ---------------------------------------------------------------- main

fn main() {
    let args = Args::parse();
    let _ = base();
    let proto = args.proto.unwrap_or(if args.scenario == Scenario::Echo {
        Proto::Echo
    } else {
        Proto::Native
    });
    if (args.scenario == Scenario::Echo) != (proto == Proto::Echo) {
        eprintln!("--proto echo goes with the echo scenario only");
        std::process::exit(2);
    }
    let url = args.url.clone().unwrap_or_else(|| {
        match proto {
            Proto::Native => "ws://127.0.0.1:18081/ws",
            Proto::Socketio => "ws://127.0.0.1:18080/socket.io/?EIO=4&transport=websocket",
            Proto::Echo => "ws://127.0.0.1:18082/",
        }
        .to_string()
    });
    let target = match parse_target(&url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let caps: [(bool, &str); 4] = [
        (args.pairs <= 100_000, "--pairs at most 100000"),
        (args.conns <= 200_000, "--conns at most 200000"),
        (
            args.duration > 0.0 && args.duration <= 600.0,
            "--duration in (0, 600]",
        ),
        (
            args.warmup >= 0.0
                && args.warmup <= 120.0
                && args.hold >= 0.0
                && args.hold <= 600.0
                && args.inflight <= 1024
                && args.size <= 1_000_000,
            "--warmup <= 120, --hold <= 600, --inflight <= 1024, --size <= 1000000",
        ),
    ];
    for (ok, msg) in caps {
        if !ok {
            eprintln!("error: {msg}");
            std::process::exit(2);
        }
    }
    let (soft, hard) = raise_nofile();
    let need = match args.scenario {
        Scenario::Connect => args.conns + 64,
        Scenario::Echo => args.pairs + 64,
        _ => 2 * args.pairs + 64,
    };
    if (soft as usize) < need {
        eprintln!("warning: RLIMIT_NOFILE is {soft} (hard {hard}) but about {need} descriptors are needed; raise the hard limit first (ulimit -Hn)");
    }
    // Watchdog: every run stops by itself.
    let bound = 60.0
        + args.warmup
        + args.duration
        + args.hold
        + (args.conns.max(2 * args.pairs) as f64 / 200.0)
        + 2.0 * args.timeout_ms as f64 / 1000.0;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(bound));
        eprintln!("watchdog: run exceeded {bound:.0} s, giving up");
        std::process::exit(3);
    });
    let ctx = Arc::new(Ctx {
        args: args.clone(),
        proto,
        target,
        counters: Counters::default(),
    });
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("runtime");
    let res = rt.block_on(async {
        match args.scenario {
            Scenario::Relay | Scenario::Echo => run_relay(ctx.clone()).await,
            Scenario::Calls => run_calls(ctx.clone()).await,
            Scenario::Connect => run_connect(ctx.clone()).await,
        }
    });
    let c = &ctx.counters;
    let mut j = match res {
        Ok(j) => j,
        Err(e) => {
            eprintln!("run failed: {e}");
            println!("run failed: {e}");
            json!({"failed_run": e, "count": 0, "rate": serde_json::Value::Null})
        }
    };
    let errors = c.errors.load(Relaxed);
    println!(
        "errors: {errors} {:?}; disconnects: {}; timeouts: {}; no_agent: {}; callEnded timeouts: {}; unexpected: {}",
        c.error_codes.lock().unwrap(),
        c.disconnects.load(Relaxed),
        c.timeouts.load(Relaxed),
        c.no_agent.load(Relaxed),
        c.end_timeouts.load(Relaxed),
        c.unexpected.load(Relaxed)
    );
    let scen = format!("{:?}", args.scenario).to_lowercase();
    let m = j.as_object_mut().unwrap();
    m.insert("scenario".into(), json!(scen));
    m.insert("proto".into(), json!(format!("{proto:?}").to_lowercase()));
    m.insert(
        "server_kind".into(),
        json!(format!("{:?}", args.server_kind).to_lowercase()),
    );
    m.insert("label".into(), json!(args.label));
    m.insert("url".into(), json!(url));
    m.insert(
        "params".into(),
        json!({
            "pairs": args.pairs, "inflight": args.inflight, "size": args.size,
            "duration": args.duration, "warmup": args.warmup, "conns": args.conns,
            "role": format!("{:?}", args.role).to_lowercase(), "batch": args.batch, "hold": args.hold,
            "sources": args.sources, "threads": args.threads, "server_pid": args.server_pid,
        }),
    );
    m.insert("errors".into(), json!(errors));
    m.insert("error_codes".into(), json!(*c.error_codes.lock().unwrap()));
    m.insert("disconnects".into(), json!(c.disconnects.load(Relaxed)));
    m.insert("timeouts".into(), json!(c.timeouts.load(Relaxed)));
    m.insert("no_agent".into(), json!(c.no_agent.load(Relaxed)));
    m.insert(
        "call_ended_timeouts".into(),
        json!(c.end_timeouts.load(Relaxed)),
    );
    m.insert("unexpected".into(), json!(c.unexpected.load(Relaxed)));
    m.insert("gaa_all".into(), json!(c.gaa.load(Relaxed)));
    m.insert("nofile_limit".into(), json!(soft));
    println!("{}", serde_json::to_string(&j).unwrap());
    // Do not wait for lingering tasks.
    std::process::exit(if j.get("failed_run").is_some() { 1 } else { 0 });
}
