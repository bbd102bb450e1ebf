//! The OpenID Provider's HTTP face. Clients find every endpoint through discovery:
//!
//! | path | what |
//! | --- | --- |
//! | `/.well-known/openid-configuration` | Discovery 1.0 |
//! | `/oauth/jwks` | the RS256 public keys (RFC 7517) |
//! | `/oauth/token` | code, refresh and client-credentials grants ([`token`]) |
//! | `/oauth/userinfo` | the user's claims, for an access token ([`token`]) |
//! | `/oauth/introspect` | RFC 7662 ([`token`]) |
//! | `/oauth/revoke` | RFC 7009 (`http::api::oauth`) |
//! | `/authorize` | the authorization endpoint, through `/login` ([`browser`]) |
//! | `/end-session` | RP-Initiated Logout; asks on the `/logout` page when it must ([`browser`]) |
//!
//! The `/oauth/…` endpoints answer errors in RFC 6749's envelope and take no cookie (the
//! stateless half of the router); `/authorize` and `/end-session` are the browser's (the session
//! layer).

pub mod browser;
pub mod token;

use axum::{extract::State, response::IntoResponse, routing::get, Json, Router};
use serde_json::json;

use crate::server::AppState;

/// The stateless endpoints: discovery, JWKS, token, userinfo, introspection.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/jwks", get(jwks))
        .merge(token::router())
}

/// The browser's endpoints: authorization and end-session (`shell`: the app's HTML document, for
/// the authorization's error page).
pub fn browser_router<IV: leptos::prelude::IntoView + 'static>(
    shell: fn(leptos::config::LeptosOptions) -> IV,
) -> Router<AppState> {
    browser::router(shell)
}

/// `GET /.well-known/openid-configuration`.
async fn discovery(State(state): State<AppState>) -> impl IntoResponse {
    let iss = &state.auth.oidc_provider().issuer;
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
        "jwks_uri": format!("{iss}/oauth/jwks"),
        "end_session_endpoint": format!("{iss}/end-session"),
        "introspection_endpoint": format!("{iss}/oauth/introspect"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": crate::server::domain::oidc::SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "email_verified"],
        "prompt_values_supported": ["none", "login"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
}

/// `GET /oauth/jwks`: the public keys, newest first.
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let keys = state.auth.oidc_provider().keys.current().jwks();
    Json(json!({ "keys": keys }))
}
