//! Seed 001: `POST /auth/logout`, authenticated by a bearer token or the browser session cookie,
//! with an optional body `{"scope":"local"|"others"|"global"}` or `{"session_id":"…"}`.
//! Errors are `{"message","description","code"}` with `code` a string such as `UNAUTHORIZED`.

use axum::{
    body::Bytes,
    extract::{FromRequestParts, OptionalFromRequestParts, State},
    response::IntoResponse,
    routing::post,
    Json, Router,
};
use http::{request::Parts, HeaderValue};
use serde_json::Value;
use tower_sessions::Session;

use super::{
    bearer::Bearer,
    body,
    schemas::{DescribedError, Message},
    ApiError, Dialect, Failure, Reply, REASON_HEADER,
};
use crate::server::{
    domain::{AuthError, Caller, Scope},
    http::{
        guard::is_cross_site,
        session::{self, Browser, Current, Unavailable},
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

super::shared_errors!(AuthLogoutErrors, DescribedError);

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
    credential: Credential,
    body: Bytes,
) -> Reply<AuthLogout> {
    let (caller, cookie) = match credential {
        Credential::Token(caller) => (caller, None),
        Credential::Cookie { session, signin } => {
            (Caller::Signin(signin.clone()), Some((session, signin)))
        }
    };
    let scope = parse_scope(&body)?;
    let ended = match state.auth.logout(caller.clone(), scope, "seed 001").await {
        Ok(ended) => ended,
        Err(AuthError::InvalidToken) => {
            // Why the credential no longer works, for the client libraries (`reason`), in a header:
            // the seed's body stays as published.
            let mut res = Failure::<AuthLogout>::from(ApiError::Unauthorized).into_response();
            if let Ok(Some(reason)) = state.auth.end_reason_of(&caller).await {
                res.headers_mut()
                    .insert(REASON_HEADER, HeaderValue::from_static(reason.as_str()));
            }
            return Ok(res);
        }
        Err(err) => return Err(err.into()),
    };
    // A cookie whose own sign-in just ended is cleared as well.
    if let Some((session, own)) = cookie {
        if ended.signins.iter().any(|s| s.id == own) {
            session::end(&session).await?;
        }
    }
    Ok(Json(Message {
        message: "Logged out successfully".to_owned(),
    })
    .into_response())
}

/// Who asks seed 001 to log out: a bearer token, or, when no `Authorization` header is sent (then
/// only), the browser's sign-in ([`Browser`]), which only this site may use.
enum Credential {
    /// A bearer token's caller.
    Token(Caller),
    /// The browser's session and its (active) sign-in.
    Cookie { session: Session, signin: String },
}

impl FromRequestParts<AppState> for Credential {
    type Rejection = Failure<AuthLogout>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token =
            <Bearer<AuthLogout, Caller> as OptionalFromRequestParts<_>>::from_request_parts(
                parts, state,
            )
            .await?;
        if let Some(Bearer { who, .. }) = token {
            return Ok(Self::Token(who));
        }
        let browser = Browser::from_request_parts(parts, state)
            .await
            .map_err(|Unavailable(err)| Failure::from(err))?;
        let Current::SignedIn(_, signin) = browser.current else {
            return Err(ApiError::Unauthorized.into());
        };
        // A cookie travels with cross-site requests too: only this site may use it to log out.
        if is_cross_site(&parts.headers) {
            return Err(ApiError::Forbidden.into());
        }
        Ok(Self::Cookie {
            session: browser.session,
            signin: signin.id,
        })
    }
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
