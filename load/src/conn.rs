//! The client connection: loopback-only target, WebSocket with native
//! (`{"event","data"}`) or Socket.IO v5 / Engine.IO v4 framing, and the
//! register / open / call-reply helpers every scenario shares.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, timeout_at};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::cli::{Kind, Proto};
use crate::ctx::{field_str, Ctx};
use crate::measure::Window;
use crate::target::Target;

pub type Ws = WebSocketStream<TcpStream>;

pub struct Conn {
    pub ws: Ws,
    pub proto: Proto,
}

pub struct Ev {
    pub name: String,
    pub data: String,
}

#[derive(Deserialize)]
struct NativeFrame<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct MsgData<'a> {
    #[serde(borrow, rename = "messageInput")]
    pub message_input: Cow<'a, str>,
}

fn ws_config() -> WebSocketConfig {
    // small buffers: 100k connections must fit in the generator
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024)
}

impl Conn {
    pub async fn open(t: &Target, src: Option<Ipv4Addr>, proto: Proto) -> Result<Conn, String> {
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

    pub fn encode(&self, name: &str, data: &str) -> String {
        match self.proto {
            Proto::Native => format!("{{\"event\":\"{name}\",\"data\":{data}}}"),
            Proto::Socketio => format!("42[\"{name}\",{data}]"),
            Proto::Echo => data.to_string(),
        }
    }

    pub async fn send_raw(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// Queue a frame without flushing (see `flush`).
    pub async fn feed_raw(&mut self, text: String) -> Result<(), String> {
        self.ws
            .feed(Message::Text(text.into()))
            .await
            .map_err(|e| format!("write: {e}"))
    }

    pub async fn flush(&mut self) -> Result<(), String> {
        self.ws.flush().await.map_err(|e| format!("write: {e}"))
    }

    /// The next event if one is already buffered or readable without waiting;
    /// otherwise flush queued frames and wait for one until `deadline`.
    /// Ok(None) means the deadline passed.
    pub async fn next_batched(&mut self, deadline: Instant) -> Result<Option<Ev>, String> {
        if let Some(r) = self.recv().now_or_never() {
            return r.map(Some);
        }
        self.flush().await?;
        match timeout_at(deadline.into(), self.recv()).await {
            Err(_) => Ok(None),
            Ok(r) => r.map(Some),
        }
    }

    pub async fn send(&mut self, name: &str, data: &str) -> Result<(), String> {
        let t = self.encode(name, data);
        self.send_raw(t).await
    }

    /// Next application event. Answers Engine.IO pings by itself.
    pub async fn recv(&mut self) -> Result<Ev, String> {
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

pub async fn register(ctx: &Ctx, c: &mut Conn, agent: bool, id: &str) -> Result<(), String> {
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

pub async fn open_registered(
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
pub async fn open_many(
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

pub async fn wait_call_reply(
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
