//! The public face of the server: [`Server`] binds at construction (so a bad address fails at
//! startup, before anything else runs), [`Server::run`] starts the workers and the loop and
//! shuts them down, and a [`Stopper`] asks for that from any thread.

use super::config::Config;
use super::event_loop::{EventLoop, FIRST_LISTENER, SIGNALS, WAKE};
use super::worker::{self, Shared};
use super::{listen, Handler};
use mio::net::TcpListener;
use mio::{Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// An HTTP/1.1 server answering with a [`Handler`]; see the [module docs](super).
pub struct Server<H: Handler> {
    cfg: Config,
    handler: Arc<H>,
    poll: Poll,
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
}

impl<H: Handler> fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addrs", &self.addrs).field("cfg", &self.cfg).finish()
    }
}

impl<H: Handler> Server<H> {
    /// Binds every listen address in `cfg` now, so that bind errors surface at startup.
    ///
    /// # Errors
    /// No listen address, or a socket that could not be bound (the message names its
    /// address), or the poll or waker could not be created.
    pub fn bind(cfg: Config, handler: Arc<H>) -> io::Result<Server<H>> {
        if cfg.listen.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no listen address"));
        }
        let poll = Poll::new()?;
        let mut listeners = Vec::with_capacity(cfg.listen.len());
        let mut addrs = Vec::with_capacity(cfg.listen.len());
        for (i, &addr) in cfg.listen.iter().enumerate() {
            let mut listener = TcpListener::from_std(listen::bind(addr)?);
            poll.registry().register(
                &mut listener,
                Token(FIRST_LISTENER + i),
                Interest::READABLE,
            )?;
            addrs.push(listener.local_addr()?);
            listeners.push(listener);
        }
        let waker = Waker::new(poll.registry(), WAKE)?;
        let shared = Arc::new(Shared::new(waker, cfg.max_connections));
        Ok(Server { cfg, handler, poll, listeners, addrs, shared })
    }

    /// The bound addresses, in `cfg.listen`'s order (with ports chosen for port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A handle that stops this server from any thread.
    pub fn stopper(&self) -> Stopper {
        Stopper { shared: Arc::clone(&self.shared) }
    }

    /// Serves until stopped (by a [`Stopper`], or SIGTERM/SIGINT if `handle_signals`). Then
    /// shuts down gracefully: stops accepting, closes idle connections, answers the requests
    /// already received, joins the workers, and returns; after 10 s it returns regardless,
    /// leaving busy workers detached.
    ///
    /// # Errors
    /// The signal handlers or worker threads could not be set up, or polling failed.
    pub fn run(self) -> io::Result<()> {
        let Server { cfg, handler, poll, listeners, addrs, shared } = self;
        let signals = match cfg.handle_signals {
            true => {
                let mut signals = Signals::new([SIGTERM, SIGINT])?;
                poll.registry().register(&mut signals, SIGNALS, Interest::READABLE)?;
                Some(signals)
            }
            false => None,
        };
        let n = cfg.workers.max(1);
        let mut event_loop = EventLoop::new(
            poll,
            listeners,
            signals,
            cfg,
            Arc::clone(&handler),
            Arc::clone(&shared),
        )?;
        let workers = worker::spawn(n, &handler, &shared)?;
        for addr in &addrs {
            log::info!(address:% = addr; "Listening on");
        }
        let served = event_loop.run();
        shared.close();
        let joined = event_loop.await_workers();
        match joined {
            Ok(true) => workers.into_iter().for_each(|w| {
                if w.join().is_err() {
                    log::error!("A worker thread panicked outside a request");
                }
            }),
            // Busy past the grace period: the threads are left to finish on their own.
            Ok(false) | Err(_) => log::warn!("Stopped without waiting for busy workers"),
        }
        log::info!("Stopped");
        served.and(joined.map(drop))
    }
}

/// Stops a [`Server`] gracefully from any thread; see [`Server::run`].
#[derive(Clone, Debug)]
pub struct Stopper {
    shared: Arc<Shared>,
}

impl Stopper {
    /// Begins the graceful shutdown; returns at once. Stopping twice is stopping once.
    pub fn stop(&self) {
        self.shared.request_stop();
    }
}
