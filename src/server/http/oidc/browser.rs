//! The browser's side of the provider: `GET|POST /authorize` and `GET|POST /end-session`.
//!
//! A POST (form) to either is answered with a 303 to the same endpoint's GET with the same
//! parameters: the session cookie is `SameSite=Lax`, so a form posted from the client's site
//! arrives without it, and the GET that follows (a top-level navigation) carries it.

use axum::{
    body::{Body, Bytes},
    extract::{RawQuery, Request, State},
    http::{header, HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use leptos::{config::LeptosOptions, prelude::IntoView};

use crate::server::http::extract::{form, params};
use crate::server::{
    db::now,
    domain::{
        oidc::{granted_scope, AuthorizeRequest, Client},
        EndReason,
    },
    http::session::{self, Browser, Current, Unavailable},
    AppState,
};

/// The routes; `shell` is the app's HTML document, for the error page an authorization request
/// that cannot go back to its client gets (400, rendered in place: no redirect at all).
pub fn router<IV: IntoView + 'static>(shell: fn(LeptosOptions) -> IV) -> Router<AppState> {
    let handler = move |state: State<AppState>,
                        method: Method,
                        query: RawQuery,
                        headers: HeaderMap,
                        browser: Browser,
                        body: Bytes| async move {
        match authorize(state.clone(), method, query, headers, browser, body).await {
            Ok(res) => res,
            Err(Problem(code)) => error_page(shell, state, code).await,
        }
    };
    Router::new()
        .route("/authorize", get(handler).post(handler))
        .route("/end-session", get(end_session).post(end_session))
}

/// An authorization request that cannot go back to its client, by the code the error page shows.
struct Problem(&'static str);

/// `/authorize/error?error=<code>`, rendered here with status 400.
async fn error_page<IV: IntoView + 'static>(
    shell: fn(LeptosOptions) -> IV,
    state: State<AppState>,
    code: &'static str,
) -> Response {
    let Ok(uri) = format!("/authorize/error?error={code}").parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let req = Request::builder()
        .uri(uri.clone())
        .body(Body::empty())
        .unwrap_or_default();
    let mut res = leptos_axum::file_and_error_handler::<AppState, _>(shell)(uri, state, req).await;
    *res.status_mut() = StatusCode::BAD_REQUEST;
    res
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The request's parameters: the query of a GET, the form of a POST (answered with a 303 to the
/// GET). `Err`: where to send the browser instead (the GET of a POST; `error_page` for a repeated
/// parameter or a POST that is no form).
fn request_params(
    known: &[&str],
    path: &str,
    method: &Method,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
    error_page: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    if *method == Method::POST {
        return Err(match form(headers, body, known) {
            Some(_) => format!("{path}?{}", String::from_utf8_lossy(body)),
            None => error_page.to_owned(),
        });
    }
    params(query.unwrap_or_default().as_bytes(), known).ok_or_else(|| error_page.to_owned())
}

/// `uri` with `pairs` appended to its query (those that are `Some`); `uri` as it is when there are
/// none.
pub fn with_params(uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(uri) else {
        return uri.to_owned();
    };
    // Nothing to add: the URI exactly as registered (not with an empty `?`).
    if pairs.iter().all(|(_, v)| v.is_none()) {
        return uri.to_owned();
    }
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

/// The authorization request's parameters this endpoint reads or refuses (Core 3.1.2.1), and
/// `resume` (a request coming back from `/login`).
const AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "request",
    "request_uri",
    "max_age",
    "login_hint",
    "ui_locales",
    "response_mode",
    "display",
    "id_token_hint",
    "acr_values",
    "claims",
    "resume",
];

/// `GET|POST /authorize`: OpenID Connect Core 3.1.2, the code flow with PKCE.
async fn authorize(
    State(state): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    browser: Browser,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = match request_params(
        AUTHORIZE_PARAMS,
        "/authorize",
        &method,
        query,
        &headers,
        &body,
        "/authorize/error?error=invalid_request",
    ) {
        Ok(p) => p,
        Err(to) => return Ok(see_other(&to)),
    };
    // A request resumed after `/login` (see below).
    let p = match p.get("resume") {
        Some(resume) => match URL_SAFE_NO_PAD
            .decode(resume)
            .ok()
            .and_then(|b| params(&b, AUTHORIZE_PARAMS))
        {
            Some(resumed) => resumed,
            None => return Err(Problem("invalid_request")),
        },
        None => p,
    };
    let get = |k: &str| p.get(k).map(String::as_str);
    let client = match state
        .auth
        .oidc_client(get("client_id").unwrap_or_default())
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return Err(Problem("unknown_client")),
        Err(err) => return Ok(Unavailable(err).into_response()),
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|u| client.allows_redirect(u)) else {
        return Err(Problem("invalid_redirect_uri"));
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
        return Ok(back("request_not_supported", None));
    }
    if get("response_type") != Some("code") {
        return Ok(back(
            "unsupported_response_type",
            Some("only response_type=code"),
        ));
    }
    let scope = granted_scope(get("scope").unwrap_or_default());
    if scope.is_empty() {
        return Ok(back("invalid_scope", Some("ask for openid")));
    }
    let challenge = get("code_challenge");
    match (challenge, get("code_challenge_method")) {
        (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => {}
        (Some(_), Some("S256")) => {
            return Ok(back("invalid_request", Some("malformed code_challenge")))
        }
        (Some(_), _) | (None, Some(_)) => {
            return Ok(back(
                "invalid_request",
                Some("code_challenge_method must be S256"),
            ))
        }
        (None, None) if client.public => {
            return Ok(back(
                "invalid_request",
                Some("PKCE (S256) is required of public clients"),
            ))
        }
        (None, None) => {}
    }
    let prompts: Vec<&str> = get("prompt").unwrap_or_default().split(' ').collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Ok(back("invalid_request", Some("prompt=none stands alone")));
    }
    let max_age = match get("max_age").map(str::parse::<u32>) {
        None => None,
        Some(Ok(seconds)) => Some(i64::from(seconds)),
        Some(Err(_)) => {
            return Ok(back(
                "invalid_request",
                Some("max_age is a whole number of seconds"),
            ))
        }
    };
    let signed_in = match &browser.current {
        Current::SignedIn(_, signin) => Some(signin.clone()),
        _ => None,
    };
    // Back through `/login` as one `resume` parameter: the request's parameters, written again
    // and base64url-encoded, which no decoding on the way (the page's query, the form, the
    // redirect) can change.
    let through_login = |params: &[(&String, &String)], reauth: bool| {
        let again = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().copied())
            .finish();
        let resume = URL_SAFE_NO_PAD.encode(again);
        login_then(&format!("/authorize?resume={resume}"), reauth)
    };
    let signin = match signed_in {
        None if prompts.contains(&"none") => return Ok(back("login_required", None)),
        None => return Ok(through_login(&p.iter().collect::<Vec<_>>(), false)),
        Some(s) => {
            // Core 3.1.2.1: `prompt=login`, or an authentication older than `max_age`, asks the
            // person for their password again. Their sign-in stays (the other applications
            // signed in through it are not logged out); the ID token's `auth_time` moves on.
            let stale = match max_age {
                Some(max_age) => match state.auth.authenticated_at(&s.id).await {
                    Ok(Some(at)) => now() - at > max_age,
                    Ok(None) => true,
                    Err(err) => return Ok(Unavailable(err).into_response()),
                },
                None => false,
            };
            if prompts.contains(&"login") || stale {
                if prompts.contains(&"none") {
                    return Ok(back("login_required", None));
                }
                // Resumed without what asked for it: the password was just entered. (Whoever
                // skips the page gets their old `auth_time`, which the client checks.)
                let rest: Vec<_> = p
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "prompt" | "max_age"))
                    .collect();
                return Ok(through_login(&rest, true));
            }
            s
        }
    };
    let req = AuthorizeRequest {
        redirect_uri: redirect_uri.to_owned(),
        scope,
        nonce: get("nonce").map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
    };
    Ok(
        match state.auth.issue_code(&client, &signin.id, &req).await {
            Ok(code) => see_other(&with_params(
                redirect_uri,
                &[
                    ("code", Some(&code)),
                    ("state", get("state")),
                    ("iss", Some(&iss)),
                ],
            )),
            Err(err) => {
                tracing::error!(error = %err, "issuing an authorization code failed");
                back("temporarily_unavailable", None)
            }
        },
    )
}

/// To `/login`, coming back to `next` after signing in; `reauth`: the person is signed in, and
/// asked to confirm who they are.
fn login_then(next: &str, reauth: bool) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if reauth {
        query.append_pair("reauth", "1");
    }
    let query = query.append_pair("next", next).finish();
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
    let known = [
        "id_token_hint",
        "logout_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
        "ui_locales",
    ];
    let p = match request_params(
        &known,
        "/end-session",
        &method,
        query,
        &headers,
        &body,
        "/logout",
    ) {
        Ok(p) => p,
        Err(to) => return see_other(&to),
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
    // Ask. A return address travels to the page only when it is registered for the client the
    // request names and no hint says otherwise (a hint that is not this browser's sign-in, or is
    // unverifiable, sends the person to `/login` after the button).
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = &client {
        pairs.push(("client_id", &c.client_id));
        if let (Some(u), true, None) = (uri, registered, get("id_token_hint")) {
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
