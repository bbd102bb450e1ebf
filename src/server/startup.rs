//! Building and running the server. `main` and the integration tests both go through
//! [`Application::build`], so the tests exercise exactly what production runs.

use std::net::SocketAddr;
use std::sync::Arc;

use ::http::Request;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::server::{
    config::Config,
    db::Db,
    domain::Auth,
    http, pages,
    sessions::Sessions,
    state::{AppState, State},
};

/// Start-up failed: the database could not be opened or migrated, or the port is taken.
pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    /// Where the metrics listener was bound, when metrics are on.
    metrics: Option<SocketAddr>,
    router: axum::Router,
    state: AppState,
}

impl Application {
    /// Opens and migrates the database, builds the router and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = Db::connect_with(&config.database_url, config.durability).await?;
        db.migrate().await?;
        let sessions = Sessions::new(&db).await?;
        let listener = TcpListener::bind(config.addr).await?;
        tracing::info!(engine = db.engine(), addr = %listener.local_addr()?, "Signoff is listening");
        let mut options = config.auth_options();
        if config.public_url.is_none() {
            // The issuer is where this server is reached: the bound address (port 0 in tests).
            options.oidc_issuer = format!("http://{}", listener.local_addr()?);
        }
        let auth = Auth::init(db, options).await?;
        auth.oidc_provider().spawn_key_reload();
        auth.prune_sessions_with(Arc::new(sessions.clone()));
        http::assets::prepare(&config.leptos.site_root, &config.leptos.site_pkg_dir).await;
        // Expired sessions, spent tokens and old sign-ins go in small batches, in the background.
        crate::server::domain::prune::spawn(
            auth.clone(),
            config.prune_every,
            config.session_idle,
            config.retention,
        );
        // Sign-ins past their idle or absolute lifetime end on time, used again or not.
        crate::server::domain::prune::spawn_sweeper(auth.clone(), config.sweep_every);
        // Logout events for other services, from the outbox the logout engine writes.
        crate::server::webhooks::spawn(
            auth.db().clone(),
            auth.outbox().clone(),
            config.webhook_secret.clone(),
            auth.oidc_provider().clone(),
        );
        let state = AppState(Arc::new(State {
            leptos_options: config.leptos.clone(),
            auth,
            config: Arc::new(config),
            reveal: Default::default(),
        }));
        let router = http::router(
            state.clone(),
            sessions,
            pages::router(&state),
            crate::pages::shell,
        );
        let metrics = match state.config.metrics_addr {
            Some(addr) => Some(crate::server::metrics::serve(addr, state.clone()).await?),
            None => None,
        };
        Ok(Self {
            listener,
            metrics,
            router,
            state,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The address of the metrics listener, when metrics are on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// The shared state, for tests that look behind the HTTP interface.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.serve(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then stops accepting and finishes the connections in
    /// flight (each told to close once its current request is answered).
    ///
    /// The accept loop is ours rather than `axum::serve`'s: axum 0.8 exposes neither hyper's
    /// header-read timeout nor a bound on connections. hyper's HTTP/1 connection (what
    /// `axum::serve` ran here: axum is built without HTTP/2) is given hyper's own header-read
    /// timeout, and hyper-util (the crate `axum::serve` itself is built on) shuts the connections
    /// down gracefully ([`GracefulShutdown`]); a [`Semaphore`] bounds the open connections (past
    /// `SIGNOFF_MAX_CONNECTIONS`, new ones wait in the kernel's backlog, not in memory).
    /// `tower::limit::ConcurrencyLimit` would bound requests, not the idle or slow sockets a
    /// slow-client attack holds.
    ///
    /// [`GracefulShutdown`]: hyper_util::server::graceful::GracefulShutdown
    /// [`Semaphore`]: tokio::sync::Semaphore
    pub async fn serve(self, signal: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        use hyper_util::{
            rt::{TokioIo, TokioTimer},
            server::graceful::GracefulShutdown,
            service::TowerToHyperService,
        };
        use tower::ServiceExt as _;

        let config = self.state.config.clone();
        let header_timeout = config.header_timeout;
        let mut builder = hyper::server::conn::http1::Builder::new();
        // hyper's own slow-header defence: a request's whole head within the time, from the
        // connection's start or the end of the previous answer, or the connection is closed (so
        // it also bounds how long a silent or idle keep-alive connection is kept).
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let builder = Arc::new(builder);
        let trusted = (!config.trusted_proxies.is_empty())
            .then(|| http::extract::TrustedProxies(config.trusted_proxies.clone().into()));
        let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
        let graceful = GracefulShutdown::new();
        let listener = self.listener;
        let router = self.router;
        tokio::pin!(signal);

        loop {
            let accepted = tokio::select! {
                biased;
                _ = &mut signal => break,
                accepted = async {
                    let permit = permits.clone().acquire_owned().await.expect("never closed");
                    (permit, listener.accept().await)
                } => accepted,
            };
            let (permit, (tcp, peer)) = match accepted {
                (permit, Ok(conn)) => (permit, conn),
                (_, Err(err)) => {
                    // Per connection (reset before accept): go on; otherwise (out of file
                    // descriptors) wait a little, as `axum::serve` does.
                    if !matches!(
                        err.kind(),
                        std::io::ErrorKind::ConnectionRefused
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                    ) {
                        tracing::error!(error = %err, "accepting a connection failed");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    continue;
                }
            };
            // No Nagle delay: a response written in parts (headers, then a file or a streamed
            // page) would otherwise wait for the client's delayed ACK, 40 ms on Linux.
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "TCP_NODELAY not set");
            }
            let trusted = trusted.clone();
            let service = router
                .clone()
                .map_request(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    if let Some(trusted) = &trusted {
                        req.extensions_mut().insert(trusted.clone());
                    }
                    req.map(axum::body::Body::new)
                });
            let builder = builder.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let conn =
                    builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
                if let Err(err) = watcher.watch(conn).await {
                    tracing::trace!(error = %err, "connection ended");
                }
                drop(permit);
            });
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}
