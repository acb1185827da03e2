//! The daemon: the listener (its connection layer is in `connection`), HTTP/1.1 and HTTP/2,
//! graceful shutdown (drain, finish in-flight requests within a bound, close the pool) and
//! certificate reload. Handlers live in `routes`; they call `ingest` and never touch SQL.

pub mod client_ip;
mod connection;
pub mod metrics;
pub mod proxy;
pub mod reply;
pub mod routes;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::appstore_api::{ReconcileStats, Reconciler};
use crate::config::{Config, ConfigError, Validated};
use crate::delivery::{DeliveryStats, Dispatcher};
use crate::ingest::Pipeline;
use crate::pipeline::RootsError;
use crate::store::{self, Store, StoreError, StoreOptions};
use connection::{Limits, accept_loop};
use tls::CertReloader;

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub pipeline: Pipeline,
    pub allow: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
    pub forwarded_header: client_ip::ForwardedHeader,
    /// PROXY protocol mode: the client comes from the PROXY header and forwarding headers are
    /// never read.
    pub proxy_protocol: bool,
    pub path: String,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    pub handler_timeout: Duration,
    /// Set when shutdown begins: `/readyz` answers 503 so balancers stop sending.
    pub draining: AtomicBool,
    pub metrics: metrics::Metrics,
    /// The last `/readyz` verdict and when it was taken.
    pub readiness: std::sync::Mutex<Option<(std::time::Instant, Result<(), &'static str>)>>,
    /// `[reconcile]` counts, exported with the metrics (all zero while it is off).
    pub reconcile: Arc<ReconcileStats>,
    /// Delivery attempts by destination and result, exported with the metrics.
    pub deliveries: Arc<DeliveryStats>,
    /// The certificate served (when TLS is on), for its expiry metric.
    pub tls: Option<Arc<CertReloader>>,
    /// The console's settings when `[admin] console = true`.
    pub console: Option<crate::console::ConsoleAuth>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error(transparent)]
    Roots(#[from] RootsError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("{0}")]
    Delivery(String),
}

/// A running daemon.
pub struct Server {
    local_addr: SocketAddr,
    state: Arc<AppState>,
    certs: Option<Arc<CertReloader>>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    admin: Option<(SocketAddr, JoinHandle<()>)>,
    drain_delay: Duration,
    /// `[reconcile]`: the task when enabled, and its counts (zero when not).
    reconcile: Option<JoinHandle<()>>,
    reconcile_stats: Arc<ReconcileStats>,
    /// The delivery workers, when destinations are configured.
    delivery: Option<JoinHandle<()>>,
}

/// Opens the configured database, applying migrations unless turned off.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServerError> {
    let options = StoreOptions {
        max_connections: config.database.max_connections,
        acquire_timeout: config.database.timeout(),
    };
    let store = store::connect(config.database.url.expose(), &options).await?;
    if config.database.migrate_on_start {
        store.migrate().await?;
    }
    Ok(store)
}

impl Server {
    /// Validates the configuration, opens the store and serves on `listener`.
    pub async fn start(config: &Config, listener: TcpListener) -> Result<Server, ServerError> {
        let validated = config.validate()?;
        Server::start_validated(config, validated, listener).await
    }

    /// Like [`Server::start`] for a configuration already validated: uses what validation read
    /// (the certificate) instead of reading it again.
    pub async fn start_validated(
        config: &Config,
        validated: Validated,
        listener: TcpListener,
    ) -> Result<Server, ServerError> {
        let store = open_store(config).await?;
        Server::launch(config, validated, listener, store).await
    }

    pub async fn start_with_store(
        config: &Config,
        listener: TcpListener,
        store: Arc<dyn Store>,
    ) -> Result<Server, ServerError> {
        Server::launch(config, Validated::default(), listener, store).await
    }

    async fn launch(
        config: &Config,
        validated: Validated,
        listener: TcpListener,
        store: Arc<dyn Store>,
    ) -> Result<Server, ServerError> {
        let pipeline = match validated.roots {
            Some(roots) => Pipeline::with_roots(config, roots, store),
            None => Pipeline::from_config(config, store)?,
        };
        let certs = if config.server.tls {
            let (cert, key) = (
                config.server.tls_cert.clone(),
                config.server.tls_key.clone(),
            );
            Some(Arc::new(match validated.tls {
                Some(loaded) => CertReloader::new(cert, key, loaded),
                None => CertReloader::load(cert, key)?,
            }))
        } else {
            tracing::warn!(
                "server.tls = false: serving plain HTTP; only do this behind a TLS-terminating balancer"
            );
            None
        };
        let state = Arc::new(AppState {
            pipeline,
            allow: config.sources.allow.clone(),
            trusted_proxies: config.sources.trusted_proxies.clone(),
            forwarded_header: config.sources.forwarded_header,
            proxy_protocol: config.server.proxy_protocol,
            path: config.server.path.clone(),
            max_body_bytes: config.server.max_body_bytes,
            body_timeout: config.server.body_timeout(),
            handler_timeout: config.server.handler_timeout(),
            draining: AtomicBool::new(false),
            metrics: metrics::Metrics::new(),
            readiness: std::sync::Mutex::new(None),
            reconcile: Arc::new(ReconcileStats::default()),
            deliveries: Arc::new(DeliveryStats::default()),
            tls: certs.clone(),
            console: crate::console::ConsoleAuth::from_config(&config.admin),
        });
        let acceptor = match &certs {
            Some(c) => Some(TlsAcceptor::from(tls::server_config(c.clone())?)),
            None => None,
        };
        let local_addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let limits = Limits {
            max_connections: config.server.max_connections,
            handshake_timeout: config.server.handshake_timeout(),
            header_timeout: config.server.header_timeout(),
            idle_timeout: config.server.idle_timeout,
            max_connection_age: config.server.max_connection_age,
            shutdown_grace: config.server.shutdown_grace(),
            proxy_header: config
                .server
                .proxy_protocol
                .then_some(config.server.proxy_header_timeout),
        };
        let admin = match config.admin.listen {
            Some(addr) => Some(start_admin(addr, state.clone(), shutdown_rx.clone()).await?),
            None => None,
        };
        let reconcile_stats = state.reconcile.clone();
        let reconcile = start_reconcile(
            config,
            &state.pipeline,
            &reconcile_stats,
            shutdown_rx.clone(),
        )?;
        let delivery = Dispatcher::new(
            config,
            state.pipeline.store.clone(),
            state.pipeline.events.clone(),
            state.deliveries.clone(),
        )
        .map_err(ServerError::Delivery)?
        .map(|dispatcher| tokio::spawn(dispatcher.run(shutdown_rx.clone())));
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            state.clone(),
            limits,
            shutdown_rx,
        ));
        Ok(Server {
            local_addr,
            state,
            certs,
            shutdown,
            task,
            admin,
            drain_delay: config.server.drain_delay,
            reconcile,
            reconcile_stats,
            delivery,
        })
    }

    /// The counts of `[reconcile]` (all zero while it is off), for metrics.
    pub fn reconcile_stats(&self) -> Arc<ReconcileStats> {
        self.reconcile_stats.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the admin listener (metrics, health) serves, when configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(addr, _)| *addr)
    }

    /// Reads the certificate and key files again (what SIGHUP does).
    pub fn reload_tls(&self) -> Result<(), ConfigError> {
        match &self.certs {
            Some(c) => c.reload(),
            None => Ok(()),
        }
    }

    /// Marks the server as draining (readiness turns 503) without stopping it yet.
    pub fn start_draining(&self) {
        self.state.draining.store(true, Ordering::SeqCst);
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, closes the pool.
    pub async fn shutdown(self) {
        self.start_draining();
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        if let Some((_, admin)) = self.admin {
            let _ = admin.await;
        }
        if let Some(reconcile) = self.reconcile {
            let _ = reconcile.await;
        }
        if let Some(delivery) = self.delivery {
            let _ = delivery.await;
        }
        self.state.pipeline.store.close().await;
    }

    /// What a signal starts: `/readyz` turns 503 at once, requests are still served for
    /// `server.drain_delay` so that balancers notice, then the shutdown proper.
    pub async fn drain_and_shutdown(self) {
        self.start_draining();
        tokio::time::sleep(self.drain_delay).await;
        self.shutdown().await;
    }

    /// Serves until SIGTERM or SIGINT; reloads the certificate on SIGHUP.
    pub async fn run_until_signalled(self, signals: Signals) -> std::io::Result<()> {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = signals;
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
                _ = hup.recv() => match self.reload_tls() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: TLS reload failed; the old certificate stays in use"),
                },
            }
        }
        self.drain_and_shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The signals `serve` reacts to. Installed before asnd says it is serving, so that a SIGTERM that
/// follows at once still shuts down gracefully instead of killing the process.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

/// The admin listener (plain HTTP): metrics and health, stopped with the server.
async fn start_admin(
    addr: SocketAddr,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = routes::admin_router(state);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stopped(&mut stop).await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    Ok((bound, task))
}

/// Starts `[reconcile]` when enabled: the same pipeline as live traffic, stopped by `shutdown`.
fn start_reconcile(
    config: &Config,
    pipeline: &Pipeline,
    stats: &Arc<ReconcileStats>,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>, ServerError> {
    if !config.reconcile.enabled {
        return Ok(None);
    }
    let reconciler =
        Reconciler::from_config(config, pipeline.clone(), stats.clone()).map_err(|e| {
            ConfigError::Invalid {
                key: "reconcile".into(),
                message: e.to_string(),
            }
        })?;
    tracing::info!(
        interval = ?config.reconcile.interval,
        lookback = ?config.reconcile.lookback,
        "reconciliation with Apple's notification history enabled"
    );
    Ok(Some(reconciler.spawn(config.reconcile.interval, shutdown)))
}

/// Resolves once shutdown is requested (at once if it already was).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
