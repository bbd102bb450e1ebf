//! Seed 001: `POST /auth/logout`, authenticated by a bearer token or the browser session cookie,
//! with an optional body `{"scope":"local"|"others"|"global"}` or `{"session_id":"…"}`.
//! Errors are `{"message","description","code"}` with `code` a string such as `UNAUTHORIZED`.

use axum::{
    body::Bytes, extract::State, http::HeaderMap, response::IntoResponse, routing::post, Json,
    Router,
};
use serde_json::Value;
use tower_sessions::Session;

use super::{
    body,
    schemas::{DescribedError, Message},
    ApiError, Dialect, Reply,
};
use crate::server::{
    domain::{AuthError, Caller, Scope},
    http::{
        extract::bearer,
        guard::is_cross_site,
        session::{check, session_error},
    },
    AppState,
};

/// Seed 001's envelope.
pub struct AuthLogout;

impl Dialect for AuthLogout {
    fn error_body(err: &ApiError) -> Value {
        let (message, description, code) = match err {
            ApiError::BadRequest | ApiError::InvalidField { .. } => (
                "Invalid input data",
                "The request data did not pass validation",
                "INVALID_INPUT",
            ),
            ApiError::Unauthorized | ApiError::InvalidCredentials => (
                "Unauthorized",
                "Invalid, expired or missing bearer token",
                "UNAUTHORIZED",
            ),
            ApiError::Forbidden => (
                "Forbidden",
                "You don't have permission to access this resource",
                "FORBIDDEN",
            ),
            ApiError::NotFound => (
                "Resource not found",
                "The requested resource could not be found",
                "NOT_FOUND",
            ),
            ApiError::Conflict(_) => (
                "Resource conflict",
                "The resource already exists or is in an invalid state",
                "CONFLICT",
            ),
            ApiError::Validation(d) => ("Validation error", d.as_str(), "VALIDATION_ERROR"),
            ApiError::MethodNotAllowed => (
                "Method not allowed",
                "This endpoint does not support that HTTP method",
                "METHOD_NOT_ALLOWED",
            ),
            ApiError::UnsupportedMediaType => (
                "Unsupported media type",
                "Send application/json",
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            ApiError::TooManyRequests(_) => (
                "Too many requests",
                "Too many attempts; retry later",
                "TOO_MANY_REQUESTS",
            ),
            ApiError::PayloadTooLarge => (
                "Payload too large",
                "The request body is over 16 KiB",
                "PAYLOAD_TOO_LARGE",
            ),
            ApiError::Internal => (
                "Internal server error",
                "An unexpected error occurred",
                "INTERNAL_ERROR",
            ),
            ApiError::Unavailable => (
                "Service unavailable",
                "The service is temporarily unavailable; retry later",
                "SERVICE_UNAVAILABLE",
            ),
        };
        body(DescribedError {
            message: message.to_owned(),
            description: description.to_owned(),
            code: code.to_owned(),
        })
    }
}

/// Routes under `/auth`.
pub fn router() -> Router<AppState> {
    Router::new().route("/auth/logout", post(logout))
}
/// The errors every seed 001 endpoint may answer, each in the dialect's envelope: declared once for
/// the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Documents the answers; the envelope is written by [`super::EnvelopeLayer`].
enum AuthLogoutErrors {
    #[response(status = 405, description = "Wrong method (with `Allow`)")]
    MethodNotAllowed(super::schemas::DescribedError),
    #[response(status = 413, description = "Body over 16 KiB")]
    PayloadTooLarge(super::schemas::DescribedError),
    #[response(
        status = 415,
        description = "A body declared as another type than `application/json`"
    )]
    UnsupportedMediaType(super::schemas::DescribedError),
    #[response(status = 500, description = "Unexpected error")]
    Internal(super::schemas::DescribedError),
    #[response(
        status = 503,
        description = "Database unreachable (with `Retry-After`)"
    )]
    Unavailable(super::schemas::DescribedError),
}

/// `POST /auth/logout` → 200 `{"message":"Logged out successfully"}`.
#[utoipa::path(post, path = "/auth/logout", operation_id = "auth_logout", tag = "seed 001: auth",
    request_body(content = Option<super::schemas::LogoutRequest>, description = "Optional; `local` when absent"),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Logged out", body = super::schemas::Message),
        (status = 400, description = "Body is not a JSON object (`INVALID_INPUT`)", body = super::schemas::DescribedError),
        (status = 401, description = "Missing, malformed, unknown, expired or revoked credential", body = super::schemas::DescribedError),
        (status = 403, description = "Cookie-authenticated request from another site", body = super::schemas::DescribedError),
        (status = 404, description = "`session_id` is no sign-in of this user", body = super::schemas::DescribedError),
        (status = 409, description = "`session_id`'s sign-in has already ended", body = super::schemas::DescribedError),
        (status = 422, description = "Bad `scope`, bad `session_id`, or both", body = super::schemas::DescribedError),
        AuthLogoutErrors,
    ))]
async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<AuthLogout> {
    // The cookie's sign-in is read only when no bearer token is sent.
    let (caller, cookie_signin) = match bearer(&headers)? {
        Some(token) => (state.auth.caller_for_token(token)?, None),
        None => {
            let (_, signin) = check(&state, &session)
                .await?
                .signed_in()
                .ok_or(ApiError::Unauthorized)?;
            // A cookie travels with cross-site requests too: only this site may use it to log out.
            if is_cross_site(&headers) {
                return Err(ApiError::Forbidden.into());
            }
            (Caller::Signin(signin.id.clone()), Some(signin.id))
        }
    };
    let scope = parse_scope(&body)?;
    let ended = match state.auth.logout(caller.clone(), scope, "seed 001").await {
        Ok(ended) => ended,
        Err(AuthError::InvalidToken) => {
            // Why the credential no longer works, for the client libraries (`reason`), in a header:
            // the seed's body stays as published.
            let mut res =
                super::Failure::<AuthLogout>::from(ApiError::Unauthorized).into_response();
            if let Ok(Some(reason)) = state.auth.end_reason_of(&caller).await {
                res.headers_mut().insert(
                    super::REASON_HEADER,
                    http::HeaderValue::from_static(reason.as_str()),
                );
            }
            return Ok(res);
        }
        Err(err) => return Err(err.into()),
    };
    // A cookie whose own sign-in just ended is cleared as well.
    let own_ended = cookie_signin.is_some_and(|own| ended.signins.iter().any(|s| s.id == own));
    if own_ended {
        session.flush().await.map_err(session_error)?;
    }
    Ok(Json(Message {
        message: "Logged out successfully".to_owned(),
    })
    .into_response())
}

/// The body's scope: none (or an empty body) is `local`. Not a JSON object is 400; a bad `scope`,
/// a bad `session_id`, or both at once is 422.
fn parse_scope(body: &Bytes) -> Result<Scope, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Scope::Local);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::BadRequest)?;
    let Value::Object(fields) = value else {
        return Err(ApiError::BadRequest);
    };
    match (fields.get("scope"), fields.get("session_id")) {
        (Some(_), Some(_)) => Err(ApiError::Validation(
            "Send either scope or session_id, not both.".into(),
        )),
        (Some(scope), None) => match scope.as_str() {
            Some("local") => Ok(Scope::Local),
            Some("others") => Ok(Scope::Others),
            Some("global") => Ok(Scope::Global),
            _ => Err(ApiError::Validation(
                "scope must be one of \"local\", \"others\", \"global\".".into(),
            )),
        },
        (None, Some(id)) => match id.as_str() {
            Some(id) if !id.is_empty() && id.len() <= 100 => Ok(Scope::Signin(id.to_owned())),
            _ => Err(ApiError::Validation(
                "session_id must be a non-empty string.".into(),
            )),
        },
        (None, None) => Ok(Scope::Local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(body: &str) -> Result<Scope, ApiError> {
        parse_scope(&Bytes::from(body.to_owned()))
    }

    #[test]
    fn scopes_parse_and_bad_ones_are_refused() {
        assert_eq!(scope(""), Ok(Scope::Local));
        assert_eq!(scope("  "), Ok(Scope::Local));
        assert_eq!(scope("{}"), Ok(Scope::Local));
        assert_eq!(scope(r#"{"scope":"others"}"#), Ok(Scope::Others));
        assert_eq!(scope(r#"{"scope":"global"}"#), Ok(Scope::Global));
        assert_eq!(
            scope(r#"{"session_id":"abc"}"#),
            Ok(Scope::Signin("abc".into()))
        );
        assert_eq!(scope("[]"), Err(ApiError::BadRequest));
        assert_eq!(scope("{"), Err(ApiError::BadRequest));
        assert_eq!(scope("\"local\""), Err(ApiError::BadRequest));
        for bad in [
            r#"{"scope":"all"}"#,
            r#"{"scope":1}"#,
            r#"{"scope":"local","session_id":"x"}"#,
            r#"{"session_id":""}"#,
            r#"{"session_id":5}"#,
        ] {
            assert_eq!(
                scope(bad).unwrap_err().status(),
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
        }
    }
}
