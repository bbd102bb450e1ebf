//! Building and running the server. `main` and the integration tests both go through
//! [`Application::build`], so the tests exercise exactly what production runs.

use std::{net::SocketAddr, sync::Arc};

use axum::serve::ListenerExt;
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
        let auth = Auth::init(db, config.auth_options()).await?;
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
        // No Nagle delay: a response written in parts (headers, then a file or a streamed page)
        // would otherwise wait for the client's delayed ACK, 40 ms on Linux.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "TCP_NODELAY not set");
            }
        });
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
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
