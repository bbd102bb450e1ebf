//! Seed 002: `DELETE /api/v1/logout` with a bearer token → 204, empty body. Errors are
//! `{"message": …}`, 401 being exactly `{"message":"Unauthenticated."}`.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::delete,
    Router,
};

use super::{body, schemas::Message, ApiError, Dialect, Reply};
use crate::server::http::extract::{bearer, logout_caller};
use crate::server::{domain::Scope, AppState};

/// Seed 002's envelope.
pub struct V1;

impl Dialect for V1 {
    fn error_body(err: &ApiError) -> serde_json::Value {
        let message = match err {
            ApiError::BadRequest | ApiError::InvalidField { .. } => "Bad request.",
            ApiError::Unauthorized | ApiError::InvalidCredentials => "Unauthenticated.",
            ApiError::Forbidden => "This action is unauthorized.",
            ApiError::NotFound => "Not Found.",
            ApiError::MethodNotAllowed => "Method not allowed.",
            ApiError::Conflict(m) | ApiError::Validation(m) => m.as_str(),
            ApiError::PayloadTooLarge => "Payload too large.",
            ApiError::UnsupportedMediaType => "Unsupported Media Type.",
            ApiError::TooManyRequests(_) => "Too Many Attempts.",
            ApiError::Internal => "Server Error.",
            ApiError::Unavailable => "Service Unavailable.",
        };
        body(Message {
            message: message.to_owned(),
        })
    }
}

/// Routes under `/api/v1` other than the account API.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/logout", delete(logout))
}
/// The errors every seed 002 endpoint may answer, each in the dialect's envelope: declared once for
/// the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Documents the answers; the envelope is written by [`super::EnvelopeLayer`].
enum V1LogoutErrors {
    #[response(status = 405, description = "Wrong method (with `Allow`)")]
    MethodNotAllowed(super::schemas::Message),
    #[response(status = 413, description = "Body over 16 KiB")]
    PayloadTooLarge(super::schemas::Message),
    #[response(
        status = 415,
        description = "A body declared as another type than `application/json`"
    )]
    UnsupportedMediaType(super::schemas::Message),
    #[response(status = 500, description = "Unexpected error")]
    Internal(super::schemas::Message),
    #[response(
        status = 503,
        description = "Database unreachable (with `Retry-After`)"
    )]
    Unavailable(super::schemas::Message),
}

/// `DELETE /api/v1/logout` → 204: the token's sign-in is over.
#[utoipa::path(delete, path = "/api/v1/logout", operation_id = "v1_logout", tag = "seed 002: v1",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out; empty body"),
        (status = 401, description = "`{\"message\":\"Unauthenticated.\"}`", body = super::schemas::Message),
        V1LogoutErrors,
    ))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Reply<V1> {
    let caller = logout_caller(&state, bearer(&headers)?)?;
    state.auth.logout(caller, Scope::Local, "seed 002").await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
