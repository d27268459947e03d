//! A Socket.IO client over a raw WebSocket: Engine.IO/Socket.IO packets written by hand, for
//! tests that check the wire exactly.
use super::{Client, Daemon};
use serde_json::{json, Value};
use std::net::TcpStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// A Socket.IO client over a raw WebSocket.
pub struct Sio {
    pub ws: WebSocket<TcpStream>,
}

impl Sio {
    /// Opens `/socket.io/?EIO=4&transport=websocket` and reads the open packet.
    pub fn open(d: &Daemon) -> (Sio, Value) {
        Sio::open_from(d, None)
    }

    /// The same, sending `origin` as the Origin header (a browser on that page).
    pub fn open_from(d: &Daemon, origin: Option<&str>) -> (Sio, Value) {
        let c = Client::connect(d.addr, "/socket.io/?EIO=4&transport=websocket", origin)
            .expect("upgrade");
        let mut s = Sio { ws: c.ws };
        let open = s.recv();
        let v: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
        (s, v)
    }

    /// Opens and CONNECTs to "/".
    pub fn connect(d: &Daemon) -> Sio {
        Sio::connect_from(d, None)
    }

    /// Opens from `origin` and CONNECTs to "/".
    pub fn connect_from(d: &Daemon, origin: Option<&str>) -> Sio {
        let (mut s, _) = Sio::open_from(d, origin);
        s.send("40");
        let r = s.recv();
        assert!(r.starts_with("40{\"sid\":"), "{r}");
        s
    }

    pub fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).unwrap();
    }

    pub fn emit(&mut self, event: &str, data: Value) {
        self.send(&format!("42{}", json!([event, data])));
    }

    /// The next text frame (answering pings), or "CLOSED".
    pub fn recv(&mut self) -> String {
        self.recv_or_close().unwrap_or_else(|_| "CLOSED".into())
    }

    /// The next text frame (answering pings); at the end, Err(the close code, if one came).
    pub fn recv_or_close(&mut self) -> Result<String, Option<CloseCode>> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) if t.as_str() == "2" => self.send("3"),
                Ok(Message::Text(t)) => return Ok(t.to_string()),
                Ok(Message::Close(f)) => return Err(f.map(|f| f.code)),
                Err(_) => return Err(None),
                Ok(_) => continue,
            }
        }
    }

    /// The next text frame that is not a count broadcast.
    pub fn recv_skipping_counts(&mut self) -> String {
        loop {
            let t = self.recv();
            if !t.contains("\"getAvailableAgents\"") {
                return t;
            }
        }
    }

    /// Reads until the server closes, allowing only count broadcasts before it.
    pub fn expect_closed(&mut self) {
        loop {
            let t = self.recv();
            if t == "CLOSED" {
                return;
            }
            assert!(
                t.contains("\"getAvailableAgents\""),
                "expected a close, got {t}"
            );
        }
    }

    /// The next event that is not a count broadcast, which must be `name`: its data.
    pub fn expect(&mut self, name: &str) -> Value {
        let (got, data) = self.event();
        assert_eq!(got, name, "{data}");
        data
    }

    /// The next event that is not a count broadcast: (name, data).
    pub fn event(&mut self) -> (String, Value) {
        loop {
            let t = self.recv();
            let body = t
                .strip_prefix("42")
                .unwrap_or_else(|| panic!("not an event: {t}"));
            let v: Value = serde_json::from_str(body).unwrap();
            if v[0] == "getAvailableAgents" {
                continue;
            }
            return (v[0].as_str().unwrap().to_owned(), v[1].clone());
        }
    }
}
