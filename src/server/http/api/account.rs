//! The account API: `/api/v1/account/*`, in seed 000's envelope
//! (`{"data":…}` on success, `{"error":{"message","code"}}` on failure, `code` = the HTTP status).

use axum::{body::Bytes, extract::State, response::IntoResponse, routing::post, Json, Router};
use http::{header, HeaderValue, StatusCode};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;

use super::{dialect, parse_json, ApiError, Dialect, Reply};
use crate::server::AppState;

/// Seed 000's error envelope.
pub struct Account;

impl Dialect for Account {
    fn error_body(err: &ApiError) -> serde_json::Value {
        let message = match err {
            ApiError::BadRequest => "Invalid parameter value in the request.",
            ApiError::Unauthorized => "Token invalid.",
            ApiError::InvalidCredentials => "Invalid credentials.",
            ApiError::Forbidden => "Forbidden.",
            ApiError::NotFound => "The request URL is invalid.",
            ApiError::MethodNotAllowed => "Method not allowed.",
            ApiError::Conflict(m) | ApiError::Validation(m) => m.as_str(),
            ApiError::PayloadTooLarge => "The request body is too large.",
            ApiError::Internal => "Internal error.",
            ApiError::Unavailable => "The service is temporarily unavailable.",
        };
        json!({ "error": { "message": message, "code": err.status().as_u16() } })
    }
}

/// Routes under `/api/v1/account`.
pub fn router() -> Router<AppState> {
    dialect::<Account>(Router::new().route("/register", post(register)))
        // Seed 000 carries tokens in the query string: keep its answers out of caches and referrers.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// `POST /api/v1/account/register` → 201 `{"data":{"user":{"id","email"}}}`; 422 bad input; 409 taken.
async fn register(State(state): State<AppState>, body: Bytes) -> Reply<Account> {
    let input: Credentials = parse_json(&body)?;
    let user = state
        .auth
        .register(&input.email, SecretString::from(input.password))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "data": { "user": user } })),
    )
        .into_response())
}
