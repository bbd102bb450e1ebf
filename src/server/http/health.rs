//! Probes for load balancers and orchestrators. `GET /healthz`: the process is up (no I/O, the
//! cheapest answer the server gives). `GET /readyz`: this instance can serve, meaning the database
//! answers and the JWT denylist is complete; otherwise 503 with `Retry-After` and which part failed.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

use crate::server::AppState;

/// `/healthz` and `/readyz`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let found = state.auth.readiness().await;
    let body = json!({
        "status": if found.ready() { "ready" } else { "unavailable" },
        "database": found.database,
        "denylist": found.denylist,
    });
    if found.ready() {
        return Json(body).into_response();
    }
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}
