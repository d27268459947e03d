//! Test harness: runs the real supportd binary on loopback and talks to it with plain
//! WebSocket clients. Every wait is bounded.
#![allow(dead_code)]
pub mod limits;
pub mod sio;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{client::IntoClientRequest, Message, WebSocket};

pub const WAIT: Duration = Duration::from_secs(5);

/// A running daemon; killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub config_path: PathBuf,
    pub log: mpsc::Receiver<String>,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "supportd-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Daemon {
    /// Starts supportd with `extra` TOML appended to a loopback, port-0 base config.
    pub fn start(extra: &str) -> Daemon {
        Daemon::start_with(&format!(
            "[server]\nbind = \"127.0.0.1\"\nport = 0\n{extra}\n"
        ))
    }

    /// Starts supportd with this exact config text (metrics disabled unless it says otherwise).
    pub fn start_with(config: &str) -> Daemon {
        Daemon::spawn(config, None)
    }

    /// As `start`, with the daemon's descriptor limit (RLIMIT_NOFILE, soft and hard) set
    /// to `nofile`, as `ulimit -n` would.
    pub fn start_with_nofile(extra: &str, nofile: libc::rlim_t) -> Daemon {
        Daemon::spawn(
            &format!("[server]\nbind = \"127.0.0.1\"\nport = 0\n{extra}\n"),
            Some(nofile),
        )
    }

    fn spawn(config: &str, nofile: Option<libc::rlim_t>) -> Daemon {
        let dir = TempDir::new();
        let config_path = dir.0.join("config.toml");
        let text = if config.contains("[metrics]") {
            config.to_owned()
        } else {
            format!("{config}\n[metrics]\nenabled = false\n")
        };
        std::fs::write(&config_path, text).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_supportd"));
        cmd.arg("--config")
            .arg(&config_path)
            .env("SUPPORTD_LOG", "debug")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    match libc::setrlimit(libc::RLIMIT_NOFILE, &lim) {
                        0 => Ok(()),
                        _ => Err(std::io::Error::last_os_error()),
                    }
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn supportd");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("SUPPORTD_TEST_LOG").is_some() {
                    eprintln!("[supportd] {line}");
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        let mut metrics_addr = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while addr.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("supportd did not start listening");
            if let Some(rest) = line.split("metrics on ").nth(1) {
                metrics_addr = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                addr = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            }
        }
        Daemon {
            child,
            addr: addr.unwrap(),
            metrics_addr,
            config_path,
            log: rx,
            _dir: dir,
        }
    }

    /// Opens a native client at /ws.
    pub fn client(&self) -> Client {
        Client::connect(self.addr, "/ws", None).expect("connect")
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no log line containing {needle:?}"),
            }
        }
    }

    /// Waits for the process to exit, returning its status code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Sends a raw HTTP request and returns the whole response text.
    pub fn http(&self, request: &str) -> String {
        raw_http(self.addr, request)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` to `addr` and reads until the server closes or 5 s pass.
pub fn raw_http(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A WebSocket client speaking the native envelope.
pub struct Client {
    pub ws: WebSocket<TcpStream>,
    /// The last getAvailableAgents count received.
    pub last_count: Option<u64>,
    /// The highest `seq` received (what a resume's `lastSeq` says).
    pub last_seq: u64,
    /// The `resumeToken` of the last `registered` received.
    pub resume_token: Option<String>,
}

/// How long a count must stay unchanged for `expect_count` to take the last one received as
/// current: the daemon holds broadcasts back for `availability_interval_ms` (100 by default)
/// and sends none when the count came back to the value last sent.
const COUNT_SETTLE: Duration = Duration::from_millis(300);

/// A frame the client received.
#[derive(Debug)]
pub enum Got {
    Event(String, Value),
    Close(Option<CloseCode>),
}

impl Client {
    /// Connects to `path`, with an Origin header if given.
    pub fn connect(
        addr: SocketAddr,
        path: &str,
        origin: Option<&str>,
    ) -> Result<Client, tungstenite::Error> {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        match tungstenite::client(req, tcp) {
            Ok((ws, _)) => Ok(Client {
                ws,
                last_count: None,
                last_seq: 0,
                resume_token: None,
            }),
            Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
            Err(e) => panic!("handshake: {e}"),
        }
    }

    /// Sends `{"event": event, "data": data}`.
    pub fn send(&mut self, event: &str, data: Value) {
        self.send_text(&json!({"event": event, "data": data}).to_string());
    }

    /// Sends a raw text frame.
    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).unwrap();
    }

    /// The next event or close, failing after 5 s.
    pub fn next(&mut self) -> Got {
        self.next_within(WAIT)
            .unwrap_or_else(|| panic!("read failed: nothing within {WAIT:?}"))
    }

    /// The next event or close within `d`; None when nothing came.
    pub fn next_within(&mut self, d: Duration) -> Option<Got> {
        self.ws.get_mut().set_read_timeout(Some(d)).unwrap();
        let got = self.read_frame();
        self.ws.get_mut().set_read_timeout(Some(WAIT)).unwrap();
        got
    }

    /// The next event or close; None on a read timeout.
    fn read_frame(&mut self) -> Option<Got> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).expect("server sent JSON");
                    if std::env::var_os("DBG_FRAMES").is_some() {
                        eprintln!("<< {v}");
                    }
                    let obj = v.as_object().expect("envelope object");
                    let seq = obj.get("seq").map(|s| s.as_u64().expect("seq is a number"));
                    assert_eq!(
                        obj.len(),
                        2 + usize::from(seq.is_some()),
                        "envelope has event, data and maybe seq: {v}"
                    );
                    let ev = obj["event"].as_str().expect("event name").to_owned();
                    if let Some(seq) = seq {
                        assert_eq!(seq, self.last_seq + 1, "seq rises by one: {v}");
                        self.last_seq = seq;
                    }
                    if ev == "getAvailableAgents" {
                        self.last_count = obj["data"]["availableAgents"].as_u64();
                    }
                    if ev == "registered" {
                        if let Some(t) = obj["data"]["resumeToken"].as_str() {
                            self.resume_token = Some(t.to_owned());
                        }
                    }
                    return Some(Got::Event(ev, obj["data"].clone()));
                }
                Ok(Message::Close(f)) => return Some(Got::Close(f.map(|f| f.code))),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                    continue
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(tungstenite::Error::ConnectionClosed) => return Some(Got::Close(None)),
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// The next event, broadcasts included.
    pub fn next_event(&mut self) -> (String, Value) {
        match self.next() {
            Got::Event(e, d) => (e, d),
            Got::Close(c) => panic!("closed ({c:?}) while waiting for an event"),
        }
    }

    /// The next event that is not a getAvailableAgents broadcast.
    pub fn recv(&mut self) -> (String, Value) {
        loop {
            match self.next() {
                Got::Event(e, _) if e == "getAvailableAgents" => continue,
                Got::Event(e, d) => return (e, d),
                Got::Close(c) => panic!("closed ({c:?}) while waiting for an event"),
            }
        }
    }

    /// The next non-broadcast event, which must be `event`; returns its data.
    pub fn expect(&mut self, event: &str) -> Value {
        let (e, d) = self.recv();
        assert_eq!(e, event, "expected {event}, got {e} {d}");
        d
    }

    /// The next non-broadcast event must be an error with `code`.
    pub fn expect_error(&mut self, code: &str) -> Value {
        let d = self.expect("error");
        assert_eq!(d["code"], code, "{d}");
        assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
        d
    }

    /// Waits for a getAvailableAgents with this count.
    pub fn expect_count(&mut self, n: u64) {
        loop {
            let got = if self.last_count == Some(n) {
                match self.next_within(COUNT_SETTLE) {
                    Some(got) => got,
                    None => return,
                }
            } else {
                self.next()
            };
            match got {
                Got::Event(e, d) if e == "getAvailableAgents" => {
                    if d["availableAgents"] == n {
                        return;
                    }
                }
                Got::Event(e, d) => panic!("expected a count of {n}, got {e} {d}"),
                Got::Close(c) => panic!("closed ({c:?}) waiting for count {n}"),
            }
        }
    }

    /// Asserts nothing but count broadcasts arrives within `ms`.
    pub fn expect_quiet(&mut self, ms: u64) {
        self.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) if t.contains("\"getAvailableAgents\"") => continue,
                Ok(m) => panic!("expected silence, got {m:?}"),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => panic!("expected silence, got {e}"),
            }
        }
        self.ws.get_mut().set_read_timeout(Some(WAIT)).unwrap();
    }

    /// A new connection sending `connectUser {id, resumeToken, lastSeq}`: a user coming
    /// back after a drop, having seen events up to `seen` (its `registered` is not read).
    pub fn resume_user(d: &Daemon, id: &str, token: Option<String>, seen: u64) -> Client {
        let mut c = d.client();
        c.last_seq = seen;
        c.send(
            "connectUser",
            json!({"id": id, "resumeToken": token, "lastSeq": seen}),
        );
        c
    }

    /// Registers as a user with `id`.
    pub fn user(d: &Daemon, id: Value) -> Client {
        let mut c = d.client();
        c.send("connectUser", json!({ "id": id }));
        let r = c.expect("registered");
        assert_registered(&r, "user", &id);
        c
    }

    /// Registers as an agent with `id`.
    pub fn agent(d: &Daemon, id: Value) -> Client {
        let mut c = d.client();
        c.send("connectAgent", json!({ "id": id }));
        let r = c.expect("registered");
        assert_registered(&r, "agent", &id);
        c
    }
}

/// A fresh registration's data: `{role, id}` (an agent's with its `capacity`) plus, when
/// resumes are on, a resume token of 128 random bits (32 hex digits) and `resumed: false`.
pub fn assert_registered(r: &Value, role: &str, id: &Value) {
    assert_eq!(r["role"], json!(role), "{r}");
    assert_eq!(&r["id"], id, "{r}");
    // An agent is told its capacity (1 unless configured otherwise), a user none.
    let mut r = r.clone();
    let capacity = r.as_object_mut().and_then(|o| o.remove("capacity"));
    match role {
        "agent" => assert!(capacity.is_some_and(|c| c.as_u64() >= Some(1)), "{r}"),
        _ => assert_eq!(capacity, None, "{r}"),
    }
    let r = &r;
    match r.get("resumeToken") {
        None => assert_eq!(r, &json!({"role": role, "id": id})),
        Some(t) => {
            let t = t.as_str().expect("resumeToken is a string");
            assert_eq!(t.len(), 32, "{r}");
            assert!(t.bytes().all(|b| b.is_ascii_hexdigit()), "{r}");
            assert_eq!(r["resumed"], json!(false), "{r}");
            assert_eq!(r.as_object().map(|o| o.len()), Some(4), "{r}");
        }
    }
}

/// `data` (an object) as the agent (`agent: true`) or the user receives it in `callAgent` or
/// `callTransfer`: with the server's `polite` (the agent is the polite peer).
pub fn polite(data: &Value, agent: bool) -> Value {
    let mut d = data.clone();
    d["polite"] = Value::Bool(agent);
    d
}
