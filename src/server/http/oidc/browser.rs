//! The browser's side of the provider: `GET|POST /authorize` and `GET|POST /end-session`.
//!
//! A POST (form) to either is answered with a 303 to the same endpoint's GET with the same
//! parameters: the session cookie is `SameSite=Lax`, so a form posted from the client's site
//! arrives without it, and the GET that follows (a top-level navigation) carries it.

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, HeaderMap, Method, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};

use super::token::{form, params};
use crate::server::{
    domain::{
        oidc::{granted_scope, AuthorizeRequest, Client},
        EndReason,
    },
    http::session::{self, Browser, Current, Unavailable},
    AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize).post(authorize))
        .route("/end-session", get(end_session).post(end_session))
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The request's parameters: the query of a GET, the form of a POST (answered with a 303 to the
/// GET). `Err`: the answer to give instead (a repeated parameter, a POST that is no form).
fn request_params(
    path: &str,
    method: &Method,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
    error_page: &str,
) -> Result<std::collections::HashMap<String, String>, Response> {
    if *method == Method::POST {
        return Err(match form(headers, body) {
            Some(_) => {
                let query = String::from_utf8_lossy(body);
                see_other(&format!("{path}?{query}"))
            }
            None => see_other(error_page),
        });
    }
    params(query.unwrap_or_default().as_bytes()).ok_or_else(|| see_other(error_page))
}

/// `uri` with `pairs` appended to its query.
fn with_params(uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(uri) else {
        return uri.to_owned();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    url.into()
}

/// Where an authorization request that cannot go back to its client ends: a page of Signoff's.
fn problem(code: &str) -> Response {
    see_other(&format!("/authorize/error?error={code}"))
}

/// `GET|POST /authorize`: OpenID Connect Core 3.1.2, the code flow with PKCE.
async fn authorize(
    State(state): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    browser: Browser,
    body: Bytes,
) -> Response {
    let p = match request_params(
        "/authorize",
        &method,
        query.clone(),
        &headers,
        &body,
        "/authorize/error?error=invalid_request",
    ) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let get = |k: &str| p.get(k).map(String::as_str);
    let client = match state.auth.oidc_client(get("client_id").unwrap_or_default()).await {
        Ok(Some(c)) => c,
        Ok(None) => return problem("unknown_client"),
        Err(err) => return Unavailable(err).into_response(),
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|u| client.allows_redirect(u)) else {
        return problem("invalid_redirect_uri");
    };
    // From here on, errors go back to the client.
    let iss = state.auth.oidc_provider().issuer.clone();
    let back = |error: &str, description: Option<&str>| {
        see_other(&with_params(
            redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", description),
                ("state", get("state")),
                ("iss", Some(&iss)),
            ],
        ))
    };
    if get("request").is_some() || get("request_uri").is_some() {
        return back("request_not_supported", None);
    }
    if get("response_type") != Some("code") {
        return back("unsupported_response_type", Some("only response_type=code"));
    }
    let scope = granted_scope(get("scope").unwrap_or_default());
    if scope.is_empty() {
        return back("invalid_scope", Some("ask for openid"));
    }
    let challenge = get("code_challenge");
    match (challenge, get("code_challenge_method")) {
        (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => {}
        (Some(_), Some("S256")) => return back("invalid_request", Some("malformed code_challenge")),
        (Some(_), _) | (None, Some(_)) => {
            return back("invalid_request", Some("code_challenge_method must be S256"))
        }
        (None, None) if client.public => {
            return back("invalid_request", Some("PKCE (S256) is required of public clients"))
        }
        (None, None) => {}
    }
    let prompts: Vec<&str> = get("prompt").unwrap_or_default().split(' ').collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return back("invalid_request", Some("prompt=none stands alone"));
    }
    let signed_in = match &browser.current {
        Current::SignedIn(_, signin) => Some(signin.clone()),
        _ => None,
    };
    let signin = match signed_in {
        // Signoff cannot ask a signed-in person to sign in again without ending the sign-in
        // every other application uses: Core 3.1.2.6's error for that.
        Some(_) if prompts.contains(&"login") => return back("login_required", None),
        Some(s) => s,
        None if prompts.contains(&"none") => return back("login_required", None),
        None => return login_then(&format!("/authorize?{}", query.unwrap_or_default())),
    };
    let req = AuthorizeRequest {
        redirect_uri: redirect_uri.to_owned(),
        scope,
        nonce: get("nonce").map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
    };
    match state.auth.issue_code(&client, &signin.id, &req).await {
        Ok(code) => see_other(&with_params(
            redirect_uri,
            &[("code", Some(&code)), ("state", get("state")), ("iss", Some(&iss))],
        )),
        Err(err) => {
            tracing::error!(error = %err, "issuing an authorization code failed");
            back("temporarily_unavailable", None)
        }
    }
}

/// To `/login`, coming back to `next` after signing in.
fn login_then(next: &str) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    see_other(&format!("/login?{query}"))
}

/// `GET|POST /end-session`: RP-Initiated Logout 1.0. A valid `id_token_hint` naming this
/// browser's current sign-in (with no return address, or a registered one) ends it at once and
/// goes back to the client; anything less asks on the `/logout` page.
async fn end_session(
    State(state): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    browser: Browser,
    body: Bytes,
) -> Response {
    let p = match request_params(
        "/end-session",
        &method,
        query,
        &headers,
        &body,
        "/logout",
    ) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let get = |k: &str| p.get(k).map(String::as_str);
    let hint = get("id_token_hint").and_then(|h| state.auth.logout_hint(h));
    // The hint's client and `client_id`, when both are given, must agree.
    let consistent = match (&hint, get("client_id")) {
        (Some(h), Some(id)) => h.client_id == id,
        _ => true,
    };
    let client_id = hint
        .as_ref()
        .map(|h| h.client_id.as_str())
        .or(get("client_id"))
        .filter(|_| consistent);
    let client: Option<Client> = match client_id {
        Some(id) => match state.auth.oidc_client(id).await {
            Ok(c) => c,
            Err(err) => return Unavailable(err).into_response(),
        },
        None => None,
    };
    let uri = get("post_logout_redirect_uri");
    let registered = match (uri, &client) {
        (Some(u), Some(c)) => c.allows_post_logout(u),
        _ => false,
    };
    let current = match &browser.current {
        Current::SignedIn(_, signin) => Some(signin.id.as_str()),
        _ => None,
    };
    let this_signin = matches!((&hint, current), (Some(h), Some(c)) if h.sid == c);
    if this_signin && consistent && (uri.is_none() || registered) {
        let sid = current.unwrap_or_default().to_owned();
        if let Err(err) = state
            .auth
            .end_signin(&sid, EndReason::RpLogout, "RP-initiated logout")
            .await
        {
            return Unavailable(err).into_response();
        }
        if let Err(err) = session::end(&browser.session).await {
            return Unavailable(err).into_response();
        }
        let to = match uri {
            Some(u) => with_params(u, &[("state", get("state"))]),
            None => "/login?logged_out=1".to_owned(),
        };
        let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        for (name, value) in session::ending_headers(state.config.secure_cookies) {
            res.headers_mut().append(name, value);
        }
        return res;
    }
    // Ask. Only a registered return address travels to the page.
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = &client {
        pairs.push(("client_id", &c.client_id));
        if let (Some(u), true) = (uri, registered) {
            pairs.push(("post_logout_redirect_uri", u));
            if let Some(s) = get("state") {
                pairs.push(("state", s));
            }
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if query.is_empty() {
        see_other("/logout")
    } else {
        see_other(&format!("/logout?{query}"))
    }
}
