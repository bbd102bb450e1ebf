//! RFC 7009 token revocation: `POST /oauth/revoke`, form-encoded `token` and optional
//! `token_type_hint` (`access_token` | `refresh_token`), no client authentication (public clients).
//!
//! `200` with an empty body for a valid, unknown, expired or already revoked token alike (the RFC
//! requires it: the answer must not tell whether a token existed). Any token of a sign-in (opaque,
//! JWT access or refresh) ends that whole sign-in, reason `revoked`: a sign-in is one grant, and
//! RFC 7009 §2.1 has a refresh token's revocation take its access tokens along. Errors are RFC 6749's
//! `{"error": …}`: `invalid_request` (400: no `token`, a repeated parameter, a body that is not a
//! form), `server_error` (500), `temporarily_unavailable` (503, with `Retry-After`).

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
    Router,
};

use super::{body, schemas::OAuthError, ApiError, Dialect, Reply};
use crate::server::AppState;

/// RFC 6749's error envelope.
pub struct OAuth;

impl Dialect for OAuth {
    fn error_body(err: &ApiError) -> serde_json::Value {
        let error = match err {
            ApiError::Internal => "server_error",
            ApiError::Unavailable => "temporarily_unavailable",
            _ => "invalid_request",
        };
        body(OAuthError {
            error: error.to_owned(),
        })
    }
}

/// Routes under `/oauth`.
pub fn router() -> Router<AppState> {
    Router::new().route("/oauth/revoke", post(revoke))
}

/// The form of a revocation request.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Documents the form for OpenAPI; the handler parses the body itself.
pub struct RevokeForm {
    /// The token to revoke: opaque, JWT access or JWT refresh token.
    #[schema(min_length = 1)]
    token: String,
    /// Which kind it is, as a hint (`access_token` or `refresh_token`). RFC 7009 lets a server
    /// ignore a hint it does not understand, and this one does: every kind is looked up anyway.
    #[schema(nullable = false)]
    token_type_hint: Option<String>,
}

/// `POST /oauth/revoke` → 200, empty body.
#[utoipa::path(post, path = "/oauth/revoke", operation_id = "oauth_revoke", tag = "RFC 7009",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or there was nothing to revoke (the same answer); empty body"),
        (status = 400, description = "`{\"error\":\"invalid_request\"}`: no `token`, a repeated parameter, or not a form", body = super::schemas::OAuthError),
        (status = 405, description = "Wrong method (with `Allow`)", body = super::schemas::OAuthError),
        (status = 413, description = "Body over 16 KiB", body = super::schemas::OAuthError),
        (status = 500, description = "`{\"error\":\"server_error\"}`", body = super::schemas::OAuthError),
        (status = 503, description = "`{\"error\":\"temporarily_unavailable\"}` (with `Retry-After`)", body = super::schemas::OAuthError),
    ))]
async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Reply<OAuth> {
    // RFC 6749 §3.2: a form, each parameter at most once.
    let mut form =
        crate::server::http::extract::form(&headers, &body, &["token", "token_type_hint"])
            .ok_or(ApiError::BadRequest)?;
    let hint = form.remove("token_type_hint");
    let token = form.remove("token").ok_or(ApiError::BadRequest)?;
    state
        .auth
        .revoke_token(token.trim(), hint.as_deref())
        .await?;
    Ok(StatusCode::OK.into_response())
}
