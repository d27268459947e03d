//! Commands from side threads (the metrics thread, tests, later the scale-out bridge) to
//! the loop: a channel plus a `mio::Waker`, so the loop sleeps in one poll and still hears
//! them at once. Invariant: every command sent before a wake is seen by the turn it wakes.
use mio::{Registry, Token, Waker};
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// What a side thread may ask of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Re-read the config file, as on SIGHUP.
    Reload,
    /// Stop gracefully, as on SIGTERM.
    Shutdown,
}

/// The loop's end: drained once per wake-up.
pub struct Inbox {
    rx: Receiver<Command>,
    tx: Sender<Command>,
    waker: Arc<Waker>,
}

/// A side thread's end: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct InboxSender {
    tx: Sender<Command>,
    waker: Arc<Waker>,
}

impl Inbox {
    /// Creates the inbox and registers its waker with `token`.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Inbox> {
        let waker = Arc::new(Waker::new(registry, token)?);
        let (tx, rx) = mpsc::channel();
        Ok(Inbox { rx, tx, waker })
    }

    /// A sender for another thread.
    pub fn sender(&self) -> InboxSender {
        InboxSender {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }

    /// The next command waiting, if any.
    pub fn next(&mut self) -> Option<Command> {
        self.rx.try_recv().ok()
    }
}

impl InboxSender {
    /// Hands a command to the loop and wakes it; Err once the loop is gone.
    pub fn send(&self, command: Command) -> io::Result<()> {
        self.tx
            .send(command)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "event loop stopped"))?;
        self.waker.wake()
    }
}
