//! Seed 002: `DELETE /api/v1/logout` with a bearer token → 204, empty body. Errors are
//! `{"message": …}`, 401 being exactly `{"message":"Unauthenticated."}`.

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::delete, Router};

use super::{bearer::Bearer, body, schemas::Message, ApiError, Dialect, Reply};
use crate::server::{
    domain::{Caller, Scope},
    AppState,
};

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

super::shared_errors!(V1LogoutErrors, Message);

/// `DELETE /api/v1/logout` → 204: the token's sign-in is over.
#[utoipa::path(delete, path = "/api/v1/logout", operation_id = "v1_logout", tag = "seed 002: v1",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out; empty body"),
        (status = 401, description = "`{\"message\":\"Unauthenticated.\"}`", body = super::schemas::Message),
        V1LogoutErrors,
    ))]
async fn logout(
    State(state): State<AppState>,
    Bearer { who: caller, .. }: Bearer<V1, Caller>,
) -> Reply<V1> {
    state.auth.logout(caller, Scope::Local, "seed 002").await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
