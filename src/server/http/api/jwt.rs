//! Seed 004, the JWT API: `POST /api/auth/login`, `/api/auth/refresh` and `/api/auth/logout`.
//! Every answer is `{"code","message","data"}`; a body field that is missing, not a string or empty
//! is 400 with `{"type":"validation_error","errors":[{"key","message":"required","value"}]}`.

use axum::{
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};

use super::{
    bearer::{Bearer, FromToken},
    body,
    schemas::{self, Empty, FieldError, JwtPlain, JwtValidation, PairData, ValidationData},
    ApiError, Dialect, Reply,
};
use crate::server::{
    domain::{self, AuthError, Caller, ClientMeta},
    AppState,
};

/// Seed 004's envelope.
pub struct Jwt;

impl Dialect for Jwt {
    fn error_body(err: &ApiError) -> Value {
        let code = err.status().as_u16();
        // `value` stays in the seed's shape but is always null: no error repeats what was sent.
        let invalid = |key: &str, message: &str| {
            body(JwtValidation {
                code,
                message: "validation failed".to_owned(),
                data: ValidationData {
                    kind: "validation_error".to_owned(),
                    errors: vec![FieldError {
                        key: key.to_owned(),
                        message: message.to_owned(),
                        value: Value::Null,
                    }],
                },
            })
        };
        let message = match err {
            ApiError::InvalidField { key, .. } => return invalid(key, "required"),
            ApiError::BadRequest => return invalid("body", "must be a JSON object"),
            ApiError::Unauthorized => "invalid token",
            ApiError::InvalidCredentials => "invalid credentials",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not found",
            ApiError::MethodNotAllowed => "method not allowed",
            ApiError::Conflict(m) | ApiError::Validation(m) => m.as_str(),
            ApiError::PayloadTooLarge => "request body too large",
            ApiError::UnsupportedMediaType => "unsupported media type",
            ApiError::TooManyRequests(_) => "too many requests",
            ApiError::Internal => "internal server error",
            ApiError::Unavailable => "service unavailable",
        };
        body(JwtPlain {
            code,
            message: message.to_owned(),
            data: Empty {},
        })
    }
}

/// Routes under `/api/auth`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
}

/// Seed 004's 200 with a pair.
fn pair(message: &str, p: &domain::JwtPair) -> Response {
    Json(schemas::JwtPair {
        code: 200,
        message: message.to_owned(),
        data: PairData {
            access_token: p.access_token.expose_secret().to_owned(),
            refresh_token: p.refresh_token.expose_secret().to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: p.expires_in,
        },
    })
    .into_response()
}

fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(ApiError::BadRequest),
    }
}

/// A required, non-empty string field. What was sent in its place is echoed back unless it was a
/// string (which may be a secret): `null` when missing, `""` when empty.
fn required(fields: &Map<String, Value>, key: &'static str) -> Result<String, ApiError> {
    match fields.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ApiError::InvalidField {
            key,
            value: json!(""),
        }),
        Some(other) => Err(ApiError::InvalidField {
            key,
            value: other.clone(),
        }),
        None => Err(ApiError::InvalidField {
            key,
            value: Value::Null,
        }),
    }
}

super::shared_errors!(JwtErrors, JwtPlain);

/// `POST /api/auth/login` `{"email","password"}` → a JWT pair for a new sign-in.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "jwt_login", tag = "seed 004: jwt",
    request_body = super::schemas::Credentials,
    responses(
        (status = 200, description = "A new sign-in with a JWT pair", body = super::schemas::JwtPair),
        (status = 400, description = "A field missing, not a string or empty", body = super::schemas::JwtValidation),
        (status = 401, description = "Wrong email or password", body = super::schemas::JwtPlain),
        (status = 429, description = "Too many failed attempts for this account or address, or too many password checks waiting (with `Retry-After`)", body = super::schemas::JwtPlain),
        JwtErrors,
    ))]
async fn login(State(state): State<AppState>, meta: ClientMeta, body: Bytes) -> Reply<Jwt> {
    let fields = object(&body)?;
    let email = required(&fields, "email")?;
    let password = required(&fields, "password")?;
    let verified = state
        .auth
        .check_password(
            &email,
            SecretString::from(password),
            &meta,
            "seed 004 login",
        )
        .await?;
    let meta = meta.authorised_by(verified.authority);
    let issued = state.auth.issue_jwt_pair(&verified.user, &meta).await?;
    Ok(pair("login successful", &issued))
}

/// `POST /api/auth/refresh` `{"refresh_token"}` → a new pair; the old refresh token is used up.
#[utoipa::path(post, path = "/api/auth/refresh", operation_id = "jwt_refresh", tag = "seed 004: jwt",
    request_body = super::schemas::RefreshRequest,
    responses(
        (status = 200, description = "A new pair; the old refresh and access tokens stop working", body = super::schemas::JwtPair),
        (status = 400, description = "`refresh_token` missing, not a string or empty", body = super::schemas::JwtValidation),
        (status = 401, description = "Invalid, expired or revoked; an already-rotated token ends the whole sign-in", body = super::schemas::JwtPlain),
        JwtErrors,
    ))]
async fn refresh(State(state): State<AppState>, body: Bytes) -> Reply<Jwt> {
    let fields = object(&body)?;
    let token = required(&fields, "refresh_token")?;
    let issued = state.auth.refresh(&token).await?;
    Ok(pair("refresh successful", &issued))
}

/// `POST /api/auth/logout`, bearer access token, `{"refresh_token"}` → both are refused from then on.
/// A refresh token of another sign-in is 401 and revokes nothing. A *rotated* pair (both tokens
/// replaced by a refresh since) ends the sign-in too, and with it whoever holds the successor pair:
/// the client believes it is signed out, so it must be.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "jwt_logout", tag = "seed 004: jwt",
    request_body = super::schemas::RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Both tokens are refused from now on; with a rotated pair, the whole sign-in (and its newer pair) ended", body = super::schemas::JwtPlain),
        (status = 400, description = "`refresh_token` missing, not a string or empty", body = super::schemas::JwtValidation),
        (status = 401, description = "Bad access token, or a refresh token of another sign-in (nothing revoked)", body = super::schemas::JwtPlain),
        JwtErrors,
    ))]
async fn logout(
    State(state): State<AppState>,
    Bearer { who, .. }: Bearer<Jwt, PairCaller>,
    body: Bytes,
) -> Reply<Jwt> {
    let fields = object(&body)?;
    let token = required(&fields, "refresh_token")?;
    let PairCaller::Jwt(caller) = who else {
        return Err(ApiError::Unauthorized.into());
    };
    state
        .auth
        .logout_jwt_pair(&caller, &token, "seed 004")
        .await?;
    Ok(Json(JwtPlain {
        code: 200,
        message: "logout successful".to_owned(),
        data: Empty {},
    })
    .into_response())
}

/// The caller of seed 004's logout. An opaque token's sign-in has no refresh token, so no pair can
/// match it: the token is checked all the same (a 503 or 500 when storage fails, as elsewhere),
/// then the body, and the answer is 401.
enum PairCaller {
    /// A JWT access token's.
    Jwt(Caller),
    /// A valid opaque token's.
    Opaque,
}

impl FromToken for PairCaller {
    async fn from_token(state: &AppState, token: &str) -> Result<Self, AuthError> {
        match state.auth.caller_for_token(token)? {
            Caller::Opaque(_) => {
                state.auth.resolve_for_logout(token).await?;
                Ok(Self::Opaque)
            }
            caller => Ok(Self::Jwt(caller)),
        }
    }
}
