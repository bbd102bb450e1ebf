//! `POST /oauth/token`, `GET|POST /oauth/userinfo`, `POST /oauth/introspect`.
//!
//! Errors are RFC 6749 §5.2's `{"error": …}`: `invalid_request` (400: not a form, a missing or
//! repeated parameter), `invalid_client` (401, with `WWW-Authenticate: Basic` when the client tried
//! it), `invalid_grant` (400), `unauthorized_client` (400), `unsupported_grant_type` (400),
//! `temporarily_unavailable` (503, `Retry-After`), `server_error` (500).

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::server::{
    domain::{
        oidc::{Client, GrantError, Tokens},
        AuthError,
    },
    http::{
        api::{ApiError, DialectKind},
        extract::{self, form},
    },
    AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/oauth/introspect", post(introspect))
}

/// An RFC 6749 error answer.
fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error });
    if let Some(d) = description {
        body["error_description"] = json!(d);
    }
    (status, Json(body)).into_response()
}

fn failed(err: AuthError) -> Response {
    DialectKind::OAuth.render(ApiError::from(err))
}

fn grant_error(err: GrantError, basic: bool) -> Response {
    match err {
        GrantError::InvalidGrant => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None),
        GrantError::InvalidRequest(why) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_request", Some(why))
        }
        GrantError::UnauthorizedClient => {
            oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", None)
        }
        GrantError::InvalidClient => {
            let mut res = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
            if basic {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"signoff\""),
                );
            }
            res
        }
        GrantError::Failed(err) => failed(err),
    }
}

/// The client's credentials: HTTP Basic (`client_secret_basic`, each part form-encoded), or
/// `client_id` with `client_secret` in the body (`client_secret_post`) or without (`none`).
/// `Err` when both ways are used or the header is malformed. The bool: Basic was tried.
fn credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Option<String>, Option<String>, bool), &'static str> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let text = auth.to_str().map_err(|_| "malformed Authorization")?;
        let (scheme, rest) = text.split_once(' ').ok_or("malformed Authorization")?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("only Basic client authentication");
        }
        if form.contains_key("client_secret") {
            return Err("one client authentication method at a time");
        }
        let decoded = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or("malformed Basic credentials")?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or("malformed Basic credentials")?;
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (decode(id), decode(secret));
        if form.get("client_id").is_some_and(|f| *f != id) {
            return Err("client_id differs from the authenticated client");
        }
        return Ok((Some(id), Some(secret), true));
    }
    Ok((
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
        false,
    ))
}

/// The request's form and the client it authenticates as; `Err` says why not, and whether Basic
/// was tried.
async fn client(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    known: &[&str],
) -> Result<(HashMap<String, String>, Client), (GrantError, bool)> {
    let form = form(headers, body, known).ok_or((
        GrantError::InvalidRequest("a form body without repeated parameters"),
        false,
    ))?;
    let (id, secret, basic) =
        credentials(headers, &form).map_err(|why| (GrantError::InvalidRequest(why), false))?;
    let Some(id) = id else {
        return Err((GrantError::InvalidClient, basic));
    };
    let client = state
        .auth
        .authenticate_client(&id, secret.as_deref())
        .await
        .map_err(|e| (e, basic))?;
    Ok((form, client))
}

fn tokens_response(tokens: Tokens) -> Response {
    let mut body = json!({
        "access_token": tokens.access_token.expose_secret(),
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
    });
    if let Some(refresh) = &tokens.refresh_token {
        body["refresh_token"] = json!(refresh.expose_secret());
    }
    if let Some(id_token) = &tokens.id_token {
        body["id_token"] = json!(id_token);
    }
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `POST /oauth/token`.
async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    const KNOWN: &[&str] = &[
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "client_id",
        "client_secret",
    ];
    let (form, client) = match client(&state, &headers, &body, KNOWN).await {
        Ok(found) => found,
        Err((err, basic)) => return grant_error(err, basic),
    };
    let basic = headers.contains_key(header::AUTHORIZATION);
    let get = |k: &str| form.get(k).map(String::as_str);
    let result = match get("grant_type") {
        Some("authorization_code") => match get("code") {
            Some(code) => {
                state
                    .auth
                    .exchange_code(&client, code, get("redirect_uri"), get("code_verifier"))
                    .await
            }
            None => Err(GrantError::InvalidRequest("code is required")),
        },
        Some("refresh_token") => match get("refresh_token") {
            Some(token) => state.auth.refresh_grant(&client, token).await,
            None => Err(GrantError::InvalidRequest("refresh_token is required")),
        },
        Some("client_credentials") => state
            .auth
            .client_credentials(&client, get("scope").unwrap_or_default()),
        Some(_) => {
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", None);
        }
        None => Err(GrantError::InvalidRequest("grant_type is required")),
    };
    match result {
        Ok(tokens) => tokens_response(tokens),
        Err(err) => grant_error(err, basic),
    }
}

/// The bearer token of a userinfo request: the `Authorization` header, or (RFC 6750 §2.2) an
/// `access_token` form parameter of a POST.
fn bearer(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    match extract::bearer(headers) {
        Ok(Some(token)) => Some(token.to_owned()),
        Ok(None) => form(headers, body, &["access_token"])?.remove("access_token"),
        Err(_) => None,
    }
}

/// `GET|POST /oauth/userinfo`: 401 with `WWW-Authenticate: Bearer error="invalid_token"` for a
/// token that is missing, unknown, expired or whose sign-in ended.
async fn userinfo(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = bearer(&headers, &body) else {
        return failed(AuthError::InvalidToken);
    };
    match state.auth.userinfo(&token).await {
        Ok(info) => Json(info).into_response(),
        Err(err) => failed(err),
    }
}

/// `POST /oauth/introspect` (client-authenticated).
async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    const KNOWN: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];
    let (form, client) = match client(&state, &headers, &body, KNOWN).await {
        Ok(found) => found,
        Err((err, basic)) => return grant_error(err, basic),
    };
    // Public clients hold no secret: anyone could introspect as them.
    if client.public {
        return grant_error(GrantError::InvalidClient, false);
    }
    let Some(token) = form.get("token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("token is required"),
        );
    };
    match state.auth.introspect(token).await {
        Ok(answer) => Json(answer).into_response(),
        Err(err) => failed(err),
    }
}
