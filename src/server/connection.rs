//! The connection layer: admission and deadlines. Each TCP peer is judged the moment it connects,
//! before a byte is read: the allow-list and the trusted proxies take one of `max_connections`
//! slots; anyone else shares the small outsiders' quota from their first moment, so silent sockets
//! can never starve Apple's deliveries. Then every stage has a bound (PROXY header, TLS handshake,
//! first request, idle time, connection age), so that no peer can hold a slot for ever.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::routes::{self, ClientAddr};
use super::{AppState, proxy, stopped};

#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    /// After the handshake, the first request must start within this.
    pub header_timeout: Duration,
    /// No request in flight for this long closes the connection.
    pub idle_timeout: Duration,
    pub max_connection_age: Duration,
    pub shutdown_grace: Duration,
    /// `Some(deadline)` when trusted proxies send a PROXY protocol header.
    pub proxy_header: Option<Duration>,
}

/// Who may hold what: the networks that get a connection slot, and the quotas.
struct Admission {
    allow: Vec<IpNet>,
    trusted: Vec<IpNet>,
    /// Connections from outside the allow-list and the trusted proxies can only ever get a 403
    /// or a health answer; they share this small quota.
    outsiders: Arc<Semaphore>,
}

impl Admission {
    fn is_known(&self, ip: &IpAddr) -> bool {
        self.allow
            .iter()
            .chain(self.trusted.iter())
            .any(|net| net.contains(ip))
    }

    fn is_trusted(&self, ip: &IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// A place in the outsiders' quota, or `None` when it is full (the connection is closed).
    fn outsider(&self) -> Option<OwnedSemaphorePermit> {
        self.outsiders.clone().try_acquire_owned().ok()
    }
}

/// What a connection holds while it lives: a connection slot and/or a place in the outsiders'
/// quota. Dropped with the connection.
struct Held {
    _slot: Option<OwnedSemaphorePermit>,
    _outsider: Option<OwnedSemaphorePermit>,
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    state: Arc<AppState>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = Arc::new(Admission {
        allow: state.allow.clone(),
        trusted: state.trusted_proxies.clone(),
        outsiders: Arc::new(Semaphore::new((limits.max_connections / 16).max(16))),
    });
    let router = routes::router(state);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        // At the connection bound, stop accepting until a connection ends.
        let slot = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped(&mut shutdown) => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = tcp.set_nodelay(true);
        // Judged by the TCP peer alone, before anything is read.
        let peer_ip = peer.ip().to_canonical();
        let held = if admission.is_known(&peer_ip) {
            Held {
                _slot: Some(slot),
                _outsider: None,
            }
        } else {
            drop(slot);
            match admission.outsider() {
                Some(outsider) => Held {
                    _slot: None,
                    _outsider: Some(outsider),
                },
                None => {
                    tracing::debug!(%peer, "outsider quota full: connection closed");
                    continue;
                }
            }
        };
        let connection = Connection {
            tcp,
            peer,
            held,
            acceptor: acceptor.clone(),
            router: router.clone(),
            admission: admission.clone(),
            limits,
            shutdown: shutdown.clone(),
        };
        // Counted by the graceful shutdown for as long as the connection lives.
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            connection.serve().await;
            drop(watcher);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over: closing the remaining connections");
    }
}

/// Any stream HTTP is served over: TLS, or plain TCP behind a TLS-terminating balancer.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One accepted connection, until it is served.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    held: Held,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
    admission: Arc<Admission>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(self) {
        let Connection {
            mut tcp,
            peer,
            mut held,
            acceptor,
            router,
            admission,
            limits,
            shutdown,
        } = self;
        let accepted = Instant::now();
        let peer_ip = peer.ip().to_canonical();
        let client = match limits.proxy_header {
            Some(deadline) => {
                match proxy::client_of(&mut tcp, peer_ip, &admission.trusted, deadline).await {
                    Ok(proxy::Client::Address(ip)) => ClientAddr {
                        ip,
                        balancer_only: false,
                    },
                    Ok(proxy::Client::Balancer(ip)) => ClientAddr {
                        ip,
                        balancer_only: true,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "connection refused");
                        return;
                    }
                }
            }
            None => ClientAddr {
                ip: peer_ip,
                balancer_only: false,
            },
        };
        // A trusted proxy speaking for an outsider: that connection counts as an outsider's too.
        if admission.is_trusted(&peer_ip)
            && !client.balancer_only
            && !admission.is_known(&client.ip)
        {
            match admission.outsider() {
                Some(outsider) => held._outsider = Some(outsider),
                None => {
                    tracing::debug!(client = %client.ip, "outsider quota full: connection closed");
                    return;
                }
            }
        }
        let stream: Box<dyn Stream> = match acceptor {
            Some(acceptor) => {
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => Box::new(tls),
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
            None => Box::new(tcp),
        };
        serve_http(stream, client, router, limits, accepted, shutdown).await;
        drop(held);
    }
}

/// Requests in flight on one connection, and since when that count last changed.
#[derive(Debug, Clone, Copy)]
struct Activity {
    in_flight: usize,
    since: Instant,
    /// Whether any request has started yet.
    started: bool,
}

/// Counts a request in flight until dropped (also when the peer abandons it).
struct InFlight(Arc<watch::Sender<Activity>>);

impl InFlight {
    fn begin(activity: &Arc<watch::Sender<Activity>>) -> InFlight {
        activity.send_modify(|a| {
            a.in_flight += 1;
            a.since = Instant::now();
            a.started = true;
        });
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|a| {
            a.in_flight -= 1;
            a.since = Instant::now();
        });
    }
}

/// Resolves once the connection has had no request in flight for its allowance: `first` before
/// its first request, `idle` after one.
async fn idle(mut activity: watch::Receiver<Activity>, first: Duration, idle: Duration) {
    loop {
        let now = *activity.borrow_and_update();
        if now.in_flight > 0 {
            if activity.changed().await.is_err() {
                return std::future::pending().await;
            }
            continue;
        }
        let deadline = now.since + if now.started { idle } else { first };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            changed = activity.changed() => if changed.is_err() {
                return std::future::pending().await;
            },
        }
    }
}

/// Serves HTTP/1.1 or HTTP/2 on `stream` until the peer leaves, or a deadline or the server's
/// shutdown closes it: gracefully first (requests in flight finish), then within
/// `shutdown_grace` for certain.
async fn serve_http(
    stream: Box<dyn Stream>,
    client: ClientAddr,
    router: axum::Router,
    limits: Limits,
    accepted: Instant,
    mut shutdown: watch::Receiver<bool>,
) {
    let activity = Arc::new(watch::Sender::new(Activity {
        in_flight: 0,
        since: Instant::now(),
        started: false,
    }));
    let quiet = idle(
        activity.subscribe(),
        limits.header_timeout,
        limits.idle_timeout,
    );
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(client);
            let in_flight = InFlight::begin(&activity);
            let response = router.clone().oneshot(req.map(routes::HttpBody::new));
            async move {
                let response = response.await;
                drop(in_flight);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // HTTP/2: drop peers that stop answering pings, and bound the streams of one connection.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_concurrent_streams(64);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn, quiet);
    let too_old = tokio::time::sleep_until(accepted + limits.max_connection_age);
    tokio::pin!(too_old);
    let why = tokio::select! {
        _ = conn.as_mut() => return,
        _ = &mut quiet => "idle",
        _ = &mut too_old => "max_connection_age reached",
        _ = stopped(&mut shutdown) => "shutting down",
    };
    tracing::debug!(client = %client.ip, why, "closing the connection");
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.shutdown_grace, conn).await;
}
