//! Middleware that guards pages and state-changing requests.

use axum::extract::FromRequestParts;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use super::session::{Browser, Current};
use crate::server::AppState;

use crate::routes::{self, Access};

/// Signed-out visitors of private pages are sent to `/login`; signed-in visitors of `/login` go home
/// (unless an application asks them to confirm who they are: `/login?reauth=1`, from OpenID's
/// `prompt=login` or `max_age`).
/// Every response that is not a static asset is `Cache-Control: no-store`, so that after a logout
/// Back shows nothing private. Checking the session store (and the sign-in) on every page request
/// means a sign-in ended anywhere is signed out here at once.
pub async fn pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let is_page_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let access = routes::access(&path).filter(|_| is_page_get);
    let private = access == Some(Access::SignedIn);
    let reauth = req
        .uri()
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "reauth"));
    let signed_out_only = access == Some(Access::SignedOut) && !reauth;
    let mut req = req;
    if private || signed_out_only {
        let (mut parts, body) = req.into_parts();
        let browser = Browser::from_request_parts(&mut parts, &state).await;
        req = Request::from_parts(parts, body);
        match browser.map(|b| b.current) {
            Ok(Current::SignedOut) if private => {
                return no_store(Redirect::to("/login").into_response())
            }
            // Signed out by the server (another device, a password change, idle, …): say why.
            Ok(Current::Ended(reason)) if private => {
                let to = match reason {
                    Some(reason) => crate::reasons::EndReason::login_after(reason.as_str()),
                    None => "/login".to_owned(),
                };
                return no_store(Redirect::to(&to).into_response());
            }
            Ok(Current::SignedIn(..)) if signed_out_only => {
                return no_store(Redirect::to("/").into_response())
            }
            Ok(_) => {}
            Err(unavailable) => return unavailable.into_response(),
        }
    }
    let res = next.run(req).await;
    if path.starts_with("/pkg/") || path == "/favicon.svg" {
        res
    } else {
        no_store(res)
    }
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A plain form post (JavaScript off) to a server function that fails is, by leptos_axum's
/// default, redirected to its `Referer`, whatever site that names, with the error's text in the
/// body. Here such an answer becomes a 303 to the page it came from when that page is on this
/// site (else to `/`), with only a code (`?error=internal` or `unavailable`), and no body.
pub async fn server_fn_errors(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/_fn/") {
        return next.run(req).await;
    }
    let plain_form = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let back = same_site_path(req.headers());
    let res = next.run(req).await;
    let status = res.status();
    let failed =
        status == StatusCode::FOUND || status.is_client_error() || status.is_server_error();
    if !plain_form || !failed {
        return res;
    }
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        "unavailable"
    } else {
        "internal"
    };
    let page = back.unwrap_or_else(|| "/".to_owned());
    let mut out = Redirect::to(&format!("{page}?error={code}")).into_response();
    *out.status_mut() = StatusCode::SEE_OTHER;
    out
}

/// The path of `Referer` when it names a page of this site (same host), without its query.
fn same_site_path(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let (_, rest) = referer.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !authority.eq_ignore_ascii_case(host) {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = format!("/{path}");
    let safe = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
        && !path.starts_with("//");
    safe.then_some(path)
}

/// Refuses server-function calls (login, logout, …) sent from another site: a cross-site POST must
/// change nothing. Browsers say where a request comes from in `Sec-Fetch-Site` and `Origin`.
pub async fn cross_site(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_fn/") && is_cross_site(req.headers()) {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(req).await
}

/// True when the browser says the request comes from another origin. Requests that carry neither
/// header (non-browser clients, old browsers) pass: the `SameSite=Lax` cookie covers them.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match headers.get(header::ORIGIN) {
        None => false,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, rest)| rest.trim_end_matches('/'));
            match (origin_host, host) {
                (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
                _ => true, // "null" or garbage: an opaque origin is another site.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn fetch_metadata_decides_first() {
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(is_cross_site(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://a.test"),
            ("host", "a.test")
        ])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "same-site")])));
    }

    #[test]
    fn origin_must_match_host() {
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "http://evil.test"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "null"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_cross_site(&headers(&[("host", "127.0.0.1:3000")])));
    }
}
