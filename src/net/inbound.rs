//! Where a WebSocket's input stands between frames, followed as its bytes pass to
//! tungstenite: whether a message is partway in, and how many of its bytes are held.
//!
//! Why: tungstenite keeps a partial frame and the fragments of an unfinished message in
//! buffers of its own and says nothing about them, so a client that starts a message and
//! stalls would pin that memory for as long as its socket stays open. Following the frame
//! headers (parsed by tungstenite's own `FrameHeader::parse`) tells the loop when a message
//! is pending, for `limits.message_timeout_ms`, and how much it holds, for
//! `limits.max_inbound_buffer_bytes`.
//!
//! Invariant: after `feed` has seen every byte given to tungstenite, `pending()` is true
//! exactly when tungstenite holds part of a frame or of a fragmented message, and `held()`
//! counts the bytes of that message (and of the frame header) received so far. Bytes that do
//! not parse as a frame stop the tracking (`pending()` false): tungstenite fails the
//! connection on them.
use std::io::Cursor;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// The longest frame header (a masked frame with a 64-bit length).
const MAX_HEADER: usize = 14;

/// One WebSocket's input position.
#[derive(Debug, Default)]
pub struct Inbound {
    /// The bytes of a header not yet complete.
    header: [u8; MAX_HEADER],
    have: u8,
    /// Payload bytes of the current frame still to come.
    left: u64,
    /// The current frame is a data frame (its payload is part of a message).
    data: bool,
    /// The current data frame is its message's last.
    last: bool,
    /// A data frame without FIN was seen and its message's last fragment has not ended.
    open: bool,
    /// Bytes (data frame headers and payload) of the unfinished message so far.
    held: u64,
    /// Messages (data frames with FIN) completed so far.
    completed: u64,
    /// The longest frame payload since `take_grown` last asked.
    largest: u64,
    /// Input that is not framing: nothing more is tracked.
    broken: bool,
}

impl Inbound {
    /// Follows `bytes`, the next input tungstenite is given.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.broken {
            if self.left > 0 {
                let n = self.left.min(bytes.len() as u64);
                self.left -= n;
                if self.data {
                    self.held += n;
                }
                bytes = &bytes[n as usize..];
                if self.left == 0 {
                    self.frame_ended();
                }
                continue;
            }
            let have = self.have as usize;
            let take = (MAX_HEADER - have).min(bytes.len());
            self.header[have..have + take].copy_from_slice(&bytes[..take]);
            let mut cursor = Cursor::new(&self.header[..have + take]);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some((header, len))) => {
                    // The header ends inside what was just copied (it was not complete before).
                    let header_len = cursor.position();
                    let used = (header_len as usize).saturating_sub(have);
                    bytes = &bytes[used.min(bytes.len())..];
                    self.have = 0;
                    self.frame_started(&header, header_len, len);
                }
                Ok(None) if have + take < MAX_HEADER => {
                    self.have = (have + take) as u8;
                    bytes = &bytes[take..];
                }
                Ok(None) | Err(_) => self.broken = true,
            }
        }
    }

    fn frame_started(&mut self, header: &FrameHeader, header_len: u64, len: u64) {
        self.data = matches!(header.opcode, OpCode::Data(_));
        if self.data {
            if !matches!(header.opcode, OpCode::Data(Data::Continue)) {
                // A new message (a client that starts one inside another is failed by
                // tungstenite; counting it afresh is then harmless).
                self.held = 0;
            }
            self.held += header_len;
            self.open = !header.is_final;
            self.last = header.is_final;
        }
        self.left = len;
        self.largest = self.largest.max(len);
        if len == 0 {
            self.frame_ended();
        }
    }

    fn frame_ended(&mut self) {
        if self.data && self.last {
            self.held = 0;
            self.completed += 1;
        }
        self.data = false;
    }

    /// Whether part of a frame or of a message has been received and not its end.
    pub fn pending(&self) -> bool {
        !self.broken && (self.have > 0 || self.left > 0 || self.open)
    }

    /// Bytes of the unfinished message (and header) received so far.
    pub fn held(&self) -> u64 {
        if self.pending() {
            self.held + u64::from(self.have)
        } else {
            0
        }
    }

    /// Whether a frame longer than `over` bytes came since the last call (tungstenite's read
    /// buffer then grew to hold it, and keeps that size).
    pub fn take_grown(&mut self, over: usize) -> bool {
        let grown = self.largest > over as u64;
        if grown {
            self.largest = 0;
        }
        grown
    }

    /// Asks `take_grown` to say yes again (the renewal it answered could not be done).
    pub fn grown_again(&mut self) {
        self.largest = u64::MAX;
    }

    /// Messages completed so far (a change says a new message may have begun).
    pub fn completed(&self) -> u64 {
        self.completed
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
