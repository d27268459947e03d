//! Signals as loop events: handlers set a flag and write a byte to a self-pipe that the
//! poll watches, so the loop learns of SIGTERM/SIGINT/SIGHUP without leaving the thread.
use mio::net::UnixStream;
use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the signals received since the last look ask for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub shutdown: bool,
    pub reload: bool,
}

/// The self-pipe's read end and the flags behind it.
pub struct Signals {
    wake: UnixStream,
    shutdown: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers and registers the pipe with `token`.
    pub fn install(registry: &Registry, token: Token) -> io::Result<Signals> {
        let (wake, notify) = std::os::unix::net::UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        notify.set_nonblocking(true)?;
        let mut wake = UnixStream::from_std(wake);
        let shutdown = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        for sig in [SIGTERM, SIGINT] {
            signal_hook::flag::register(sig, shutdown.clone())?;
        }
        signal_hook::flag::register(SIGHUP, reload.clone())?;
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal_hook::low_level::pipe::register(sig, notify.try_clone()?)?;
        }
        registry.register(&mut wake, token, Interest::READABLE)?;
        Ok(Signals {
            wake,
            shutdown,
            reload,
        })
    }

    /// Drains the pipe and takes the flags.
    pub fn take(&mut self) -> Pending {
        let mut buf = [0u8; 64];
        loop {
            match self.wake.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        Pending {
            shutdown: self.shutdown.swap(false, Ordering::SeqCst),
            reload: self.reload.swap(false, Ordering::SeqCst),
        }
    }
}
