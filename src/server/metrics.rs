//! What operators see: Prometheus metrics on a second listener, `SIGNOFF_METRICS_ADDR` (off when
//! unset; nothing of it on the public port).
//!
//! The series are recorded where things happen, through the `metrics` facade (a no-op until a
//! recorder is installed): endings by reason in the logout engine, the cross-instance lag in the
//! revocation listener, webhook deliveries in their worker, and every HTTP request here
//! ([`track`], installed only when metrics are on). What is a level rather than an event (active
//! sign-ins, the denylist, the outbox backlog, open event streams) is read when Prometheus scrapes.
//!
//! `metrics-exporter-prometheus` renders them (with its HTTP listener turned off: the listener is an
//! axum router of ours, so that it shares the runtime, the shutdown and the tests' port 0).
//! Labels are bounded by construction: a reason, a dialect, a route *template*, a method from a
//! fixed list, a status code. Never a token, an email or a raw path.

use std::{net::SocketAddr, sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{
    server::{domain::Auth, state::AppState},
    with_pool,
};

/// Latency buckets (seconds) of every `*_seconds` histogram: from a cached read to a slow delivery.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// The process's recorder: one per process (the `metrics` facade has one global recorder), shared
/// by every server the process starts (the integration tests start many).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "signoff_signins_ended_total",
        "Sign-ins ended, by why (the end reasons of src/reasons.rs)."
    );
    describe_histogram!(
        "signoff_logout_duration_seconds",
        Unit::Seconds,
        "Logout requests, from arrival to answer, by dialect."
    );
    describe_gauge!("signoff_signins_active", "Sign-ins not ended.");
    describe_counter!(
        "signoff_logout_retries_total",
        "Groups of endings PostgreSQL aborted (deadlock, serialization failure) and that ran again."
    );
    describe_gauge!(
        "signoff_denylist_entries",
        "Revoked sign-ins and JWT ids this instance holds in memory."
    );
    describe_gauge!(
        "signoff_outbox_pending",
        "Outbox rows not yet delivered nor given up, by kind."
    );
    describe_histogram!(
        "signoff_outbox_delivery_seconds",
        Unit::Seconds,
        "From the ending's commit (whole seconds) to the receiver's 2xx, by kind."
    );
    describe_counter!(
        "signoff_outbox_failures_total",
        "Failed delivery attempts (timeouts, connection errors, non-2xx), by kind."
    );
    describe_gauge!(
        "signoff_event_streams",
        "Open /events streams on this instance."
    );
    describe_histogram!(
        "signoff_revocation_lag_seconds",
        Unit::Seconds,
        "From a revocation's transaction to this instance applying its notification (PostgreSQL)."
    );
    describe_counter!(
        "signoff_throttled_total",
        "Requests refused with 429 (failed-password throttling, busy password hasher, stream caps)."
    );
    describe_counter!(
        "signoff_http_requests_total",
        "HTTP requests, by route template, method and status."
    );
    describe_histogram!(
        "signoff_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP requests, from arrival to the answer's head, by route template."
    );
}

/// Seconds since `at` (Unix seconds), for durations measured from a stored time.
pub fn since_unix(at: i64) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (now - at as f64).max(0.0)
}

/// Binds the metrics listener on `addr` and serves `GET /metrics` there until the process ends;
/// returns the address bound (port 0 picks one).
pub async fn serve(addr: SocketAddr, state: AppState) -> std::io::Result<SocketAddr> {
    let handle = handle();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state((state, handle));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    });
    tracing::info!(addr = %bound, "metrics at /metrics");
    Ok(bound)
}

async fn scrape(State((state, handle)): State<(AppState, &'static PrometheusHandle)>) -> Response {
    levels(&state.auth).await;
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Sets the gauges that are levels, read now.
async fn levels(auth: &Auth) {
    let db = auth.db();
    let active: Result<i64, _> = with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM signins WHERE ended_at IS NULL").fetch_one(p).await);
    let pending: Result<Vec<(String, i64)>, _> = with_pool!(db, p => sqlx::query_as(
        "SELECT kind, COUNT(*) FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL \
         GROUP BY kind")
        .fetch_all(p).await);
    // A database that does not answer leaves the last values (and `/readyz` says why).
    if let Ok(active) = active {
        metrics::gauge!("signoff_signins_active").set(active as f64);
    }
    if let Ok(pending) = pending {
        // Both kinds always, zero included: a drained outbox reads 0, not its last backlog.
        for kind in ["webhook", "backchannel"] {
            let n = pending
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("signoff_outbox_pending", "kind" => kind).set(n as f64);
        }
    }
    let revocations = auth.revocations();
    metrics::gauge!("signoff_denylist_entries").set(revocations.len() as f64);
    metrics::gauge!("signoff_event_streams").set(revocations.streams() as f64);
}

/// The logout endpoints, by route template, and the dialect each speaks.
const LOGOUTS: &[(&str, &str)] = &[
    ("/api/v1/account/logout", "000"),
    ("/auth/logout", "001"),
    ("/api/v1/logout", "002"),
    ("/api/auth/logout", "004"),
    ("/oauth/revoke", "rfc7009"),
    ("/_fn/logout", "browser"),
    ("/_fn/logout_others", "browser"),
    ("/_fn/logout_everywhere", "browser"),
    ("/_fn/end_session", "browser"),
    ("/end-session", "oidc"),
    ("/_fn/confirm_logout", "oidc"),
];

/// The server functions of `crate::pages` (`#[server(prefix = "/_fn", endpoint = …)]`). One added
/// there and not here is counted as `/_fn/{unknown}`.
const SERVER_FNS: &[&str] = &[
    "whoami",
    "session_clock",
    "stay_signed_in",
    "change_password",
    "api_reference",
    "sessions_page",
    "end_session",
    "logout_others",
    "logout_everywhere",
    "forget_browser",
    "register",
    "login",
    "logout",
    "tokens_page",
    "create_token",
    "revoke_token",
    "confirm_logout",
];

/// A request's route template: what metrics label and spans name it by (never its raw path).
pub fn route<B>(req: &http::Request<B>) -> &str {
    let path = req.uri().path();
    match path.strip_prefix("/_fn/") {
        // Server functions share one route: each of ours is a template of its own, and any other
        // name one label, so that no client can mint label values.
        Some(name) if SERVER_FNS.contains(&name) => path,
        Some(_) => "/_fn/{unknown}",
        None => match req.extensions().get::<MatchedPath>() {
            Some(template) => template.as_str(),
            None => "unmatched",
        },
    }
}

/// Middleware (installed when metrics are on): counts and times every request by its route
/// template, and every logout by its dialect.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route(&req).to_owned();
    let method = match *req.method() {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let res = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = res.status();
    if let Some((_, dialect)) = LOGOUTS.iter().find(|(path, _)| *path == route) {
        metrics::histogram!("signoff_logout_duration_seconds", "dialect" => *dialect)
            .record(seconds);
    }
    if status == http::StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!("signoff_throttled_total").increment(1);
    }
    metrics::counter!(
        "signoff_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("signoff_http_request_duration_seconds", "route" => route).record(seconds);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `#[server(prefix = "/_fn", endpoint = …)]` of the pages is a route label of its own.
    #[test]
    fn every_server_function_is_known_by_name() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/pages");
        let mut declared = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for (_, rest) in text
                .match_indices("endpoint = \"")
                .map(|(i, _)| text.split_at(i + 12))
            {
                declared.push(rest.split('"').next().unwrap().to_owned());
            }
        }
        declared.sort();
        let mut known: Vec<String> = SERVER_FNS.iter().map(|s| s.to_string()).collect();
        known.sort();
        assert_eq!(declared, known);
    }

    #[test]
    fn every_logout_endpoint_names_a_dialect_of_the_contract() {
        for (route, dialect) in LOGOUTS {
            assert!(route.starts_with('/'));
            assert!(["000", "001", "002", "004", "browser", "rfc7009", "oidc"].contains(dialect));
            if let Some(name) = route.strip_prefix("/_fn/") {
                assert!(SERVER_FNS.contains(&name), "{route}");
            }
        }
    }
}
