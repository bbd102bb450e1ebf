//! Seed 000, the account API: `/api/v1/account/*`. Success is `{"data":…}`; failure is
//! `{"error":{"message","code"}}` with `code` the HTTP status as an integer. A token may come as
//! `?token=` (the seed's way) or as a bearer header; either way it never reaches a log.

use std::{borrow::Cow, sync::Arc};

use axum::{
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{
    bearer::Bearer,
    body, parse_json,
    schemas::{
        AccountError, AccountErrorBody, AccountMessage, AccountToken, AccountUser, MessageData,
        TokenData, UserData, UserObject,
    },
    ApiError, Dialect, Failure, Reply,
};
use crate::server::{
    db::rfc3339,
    domain::{Caller, ClientMeta, Principal, Scope},
    http::extract::bearer_unchecked,
    AppState,
};

/// Seed 000's error envelope.
pub struct Account;

impl Dialect for Account {
    fn error_body(err: &ApiError) -> serde_json::Value {
        let message = match err {
            ApiError::BadRequest | ApiError::InvalidField { .. } => {
                "Invalid parameter value in the request."
            }
            ApiError::Unauthorized => "Token invalid.",
            ApiError::InvalidCredentials => "Invalid credentials.",
            ApiError::Forbidden => "Forbidden.",
            ApiError::NotFound => "The request URL is invalid.",
            ApiError::MethodNotAllowed => "Method not allowed.",
            ApiError::Conflict(m) | ApiError::Validation(m) => m.as_str(),
            ApiError::PayloadTooLarge => "The request body is too large.",
            ApiError::UnsupportedMediaType => "Unsupported media type.",
            ApiError::TooManyRequests(_) => "Too many attempts.",
            ApiError::Internal => "Internal error.",
            ApiError::Unavailable => "The service is temporarily unavailable.",
        };
        body(AccountError {
            error: AccountErrorBody {
                message: message.to_owned(),
                code: err.status().as_u16(),
            },
        })
    }

    /// The `token` query parameter, else the bearer header, its characters unchecked ([`token`]).
    fn token(parts: &Parts) -> Result<Option<Cow<'_, str>>, ApiError> {
        token(parts.uri.query(), &parts.headers)
    }
}

/// Routes under `/api/v1/account`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account/register", post(register))
        .route("/api/v1/account/login", post(login))
        .route("/api/v1/account/me", get(me))
        // GET only: a HEAD (a link prefetcher, a monitoring probe) must never end a sign-in, so it
        // gets 405 like any other method, and `Allow` says GET.
        .route(
            "/api/v1/account/logout",
            get(logout).head(get_only).fallback(get_only),
        )
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

super::shared_errors!(AccountErrors, AccountError);

/// `POST /api/v1/account/register` → 201 `{"data":{"user":{"id","email"}}}`; 422 bad input; 409 taken.
#[utoipa::path(post, path = "/api/v1/account/register", operation_id = "account_register", tag = "seed 000: account",
    request_body = super::schemas::Registration,
    responses(
        (status = 201, description = "Account created", body = super::schemas::AccountUser),
        (status = 400, description = "Body is not a JSON object", body = super::schemas::AccountError),
        (status = 409, description = "Email already taken", body = super::schemas::AccountError),
        (status = 422, description = "Bad email, or password under 8 characters", body = super::schemas::AccountError),
        (status = 429, description = "Too many registrations from this address, or too many password hashes waiting (with `Retry-After`)", body = super::schemas::AccountError),
        AccountErrors,
    ))]
async fn register(State(state): State<AppState>, meta: ClientMeta, body: Bytes) -> Reply<Account> {
    let input: Credentials = parse_json(&body)?;
    let user = state
        .auth
        .register_from(&input.email, SecretString::from(input.password), &meta)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountUser {
            data: UserData {
                user: UserObject::from(&user),
            },
        }),
    )
        .into_response())
}

/// `POST /api/v1/account/login` → 200 with an opaque token for a new sign-in; 401 on a wrong email
/// or password (one answer for both).
#[utoipa::path(post, path = "/api/v1/account/login", operation_id = "account_login", tag = "seed 000: account",
    request_body = super::schemas::Credentials,
    responses(
        (status = 200, description = "A new sign-in with an opaque token", body = super::schemas::AccountToken),
        (status = 400, description = "Body is not a JSON object", body = super::schemas::AccountError),
        (status = 401, description = "Wrong email or password (one answer for both)", body = super::schemas::AccountError),
        (status = 422, description = "A field is missing or not a string", body = super::schemas::AccountError),
        (status = 429, description = "Too many failed attempts for this account or address, or too many password checks waiting (with `Retry-After`)", body = super::schemas::AccountError),
        AccountErrors,
    ))]
async fn login(State(state): State<AppState>, meta: ClientMeta, body: Bytes) -> Reply<Account> {
    let input: Credentials = parse_json(&body)?;
    let verified = state
        .auth
        .check_password(
            &input.email,
            SecretString::from(input.password),
            &meta,
            "seed 000 login",
        )
        .await?;
    let (user, meta) = (verified.user, meta.authorised_by(verified.authority));
    let issued = state.auth.issue_opaque(&user, &meta).await?;
    Ok(Json(AccountToken {
        data: TokenData {
            token: issued.token.expose_secret().to_owned(),
            token_type: "Bearer".to_owned(),
            // Login tokens always expire (`OPAQUE_TTL`).
            expires_at: issued.expires_at.map(rfc3339).unwrap_or_default(),
            user: UserObject::from(&user),
        },
    })
    .into_response())
}

/// `GET /api/v1/account/me` → the token's user.
#[utoipa::path(get, path = "/api/v1/account/me", operation_id = "account_me", tag = "seed 000: account",
    security(("bearer" = []), ("token" = [])),
    responses(
        (status = 200, description = "The token's user", body = super::schemas::AccountUser),
        (status = 401, description = "Missing, malformed, unknown, expired or revoked token", body = super::schemas::AccountError),
        AccountErrors,
    ))]
async fn me(Bearer { who, .. }: Bearer<Account, Arc<Principal>>) -> Reply<Account> {
    // The token is borrowed from the request's query or header (not copied, as the `RawQuery` and
    // `HeaderMap` extractors would, on the API's most frequent call), and the principal is shared.
    Ok(Json(AccountUser {
        data: UserData {
            user: UserObject::from(&who.user),
        },
    })
    .into_response())
}

/// `GET /api/v1/account/logout?token=T` (or a bearer header) → ends the token's sign-in.
/// No token at all is 422 ("Failed validation."), as the seed documents.
#[utoipa::path(get, path = "/api/v1/account/logout", operation_id = "account_logout", tag = "seed 000: account",
    security(("bearer" = []), ("token" = [])),
    responses(
        (status = 200, description = "Logged out: the token's sign-in has ended", body = super::schemas::AccountMessage),
        (status = 401, description = "Unknown, expired or already revoked token", body = super::schemas::AccountError),
        (status = 422, description = "No token at all (`Failed validation.`)", body = super::schemas::AccountError),
        AccountErrors,
    ))]
async fn logout(
    State(state): State<AppState>,
    caller: Option<Bearer<Account, Caller>>,
) -> Reply<Account> {
    let Some(Bearer { who: caller, .. }) = caller else {
        return Err(ApiError::Validation("Failed validation.".into()).into());
    };
    state.auth.logout(caller, Scope::Local, "seed 000").await?;
    Ok(Json(AccountMessage {
        data: MessageData {
            message: "You have logged out.".to_owned(),
        },
    })
    .into_response())
}

/// 405 with `Allow: GET` (the logout's HEAD and every other method but GET).
async fn get_only() -> Response {
    let mut res = Failure::<Account>::from(ApiError::MethodNotAllowed).into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    res
}

/// The `token` query parameter if present and non-empty, else the bearer header (borrowed, as a
/// query parameter is too when it needs no decoding). Neither has its characters checked here (see
/// [`bearer_unchecked`]): a token that is not one this server issued is 401 either way.
fn token<'a>(
    query: Option<&'a str>,
    headers: &'a HeaderMap,
) -> Result<Option<Cow<'a, str>>, ApiError> {
    let from_query = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    });
    match from_query {
        Some(t) => Ok(Some(t)),
        None => Ok(bearer_unchecked(headers)?.map(Cow::Borrowed)),
    }
}
