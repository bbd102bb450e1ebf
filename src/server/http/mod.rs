//! The HTTP layer: the whole URL space is assembled in [`router`].
//!
//! | path | what |
//! | --- | --- |
//! | `/`, `/sessions`, `/tokens`, `/account/password`, `/docs/api`, `/login`, `/register` | Leptos pages (server-rendered; islands in the browser), served by [`crate::server::pages`]; who may see each is in [`crate::routes`] |
//! | `/_fn/*` | their server functions (`crate::pages::*`, bodies in `crate::server::pages::*`) |
//! | `/api/v1/account/*` | seed 000: register, login, me, logout (`GET ?token=`) |
//! | `/api/v1/logout` | seed 002: `DELETE`, 204 |
//! | `/auth/logout` | seed 001: bearer or cookie, scopes |
//! | `/api/auth/*` | seed 004: JWT login, refresh, logout |
//! | `/oauth/revoke` | RFC 7009 token revocation |
//! | `/.well-known/openid-configuration`, `/oauth/{jwks,token,userinfo,introspect}`, `/authorize`, `/end-session` | the OpenID Provider ([`oidc`]) |
//! | `/api/openapi.json` | the OpenAPI document of all of the above |
//! | `/healthz`, `/readyz` | liveness (no I/O) and readiness (database, denylist) probes |
//! | `/events` | live sign-out of open pages (server-sent events, session cookie) |
//! | `/clients/signoff.js`, `.d.ts` | the seed 003 JavaScript client |
//! | `/pkg/*` | the browser bundle, hashed names cached for a year, brotli or gzip ([`assets`]) |
//! | `/favicon.svg` | static files of `public/` |
//!
//! Every request body is limited to 16 KiB (413): the APIs' in their envelopes
//! ([`api::EnvelopeLayer`]), every other route's by [`limit`].
//!
//! Every other path is answered by [`fallback`]: a JSON 404 under an API prefix, else a static file
//! or the app's "Page not found".
//!
//! [`session`] is the browser's web session and [`extract`] what handlers read off a request; this
//! layer never imports the pages (they and their shell are passed to [`router`]).

pub mod api;
pub mod assets;
pub mod events;
pub mod extract;
pub mod guard;
pub mod health;
pub mod limit;
pub mod oidc;
pub mod session;

use axum::{
    body::Body, extract::State, http::Uri, middleware, response::Response, routing::get, Router,
};
use http::{header, HeaderValue, Request};
use leptos::{config::LeptosOptions, prelude::IntoView};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer, sensitive_headers::SetSensitiveHeadersLayer,
    set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use crate::server::{sessions::Sessions, AppState};

/// The application's router, with every layer applied. `pages` serves the Leptos pages and their
/// server functions (see [`crate::server::pages`]), and `shell` is the HTML document around them
/// (for [`fallback`]'s "Page not found"); they are passed in so that this layer never depends on the
/// app.
///
/// Two halves, so that each request pays only for the layers it uses:
/// - **stateless**: the token-authenticated APIs, the probes, the bundle and the JavaScript client,
///   without the browser's session (no cookie parsed, no session looked at);
/// - **browser**: the pages, their server functions, `/events`, seed 001 (it takes the session
///   cookie) and every unknown path, behind the session layer, the page guard and the cross-site
///   check.
pub fn router<IV: IntoView + 'static>(
    state: AppState,
    sessions: Sessions,
    pages: Router<AppState>,
    shell: fn(LeptosOptions) -> IV,
) -> Router {
    let session_layer = session::layer(&state, sessions);
    let no_store = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );

    // Each stack of layers is applied in one `Router::layer` call: axum wraps every route in each
    // call's layer and boxes it again, and every box is cloned on every request. One call per stack
    // is one clone per stack (the outermost layer comes first in a `ServiceBuilder`).
    let apis = Router::new()
        .merge(api::router())
        .merge(oidc::router())
        .layer(
            ServiceBuilder::new()
                .layer(no_store.clone())
                .layer(api::EnvelopeLayer),
        );
    let stateless = Router::new()
        .merge(health::router())
        .route(
            "/clients/signoff.js",
            get(|| async { (JS, include_str!("../../../clients/js/signoff.js")) }),
        )
        .route(
            "/clients/signoff.d.ts",
            get(|| async { (TS, include_str!("../../../clients/js/signoff.d.ts")) }),
        )
        .layer(no_store);
    // Open `/events` streams of this instance, per user and in all (429 past either cap).
    let streams = events::Streams::new(state.config.events_per_user, state.config.events_max);
    let browser = Router::new()
        .merge(api::browser_router())
        .merge(oidc::browser_router(shell))
        .route(
            "/events",
            get(move |state: State<AppState>, session| {
                events::events(state, session, streams.clone())
            }),
        )
        .merge(pages)
        .fallback(
            move |uri: Uri, state: State<AppState>, req: Request<Body>| {
                fallback(shell, uri, state, req)
            },
        )
        .layer(
            ServiceBuilder::new()
                .layer(session_layer)
                .layer(middleware::from_fn(guard::cross_site))
                .layer(middleware::from_fn(guard::server_fn_errors))
                .layer(middleware::from_fn_with_state(state.clone(), guard::pages))
                .layer(api::EnvelopeLayer),
        );

    Router::new()
        .merge(apis)
        .merge(stateless)
        .merge(assets::router(
            &state.leptos_options.site_root,
            &state.leptos_options.site_pkg_dir,
        ))
        .merge(browser)
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::new())
                .layer(SetSensitiveHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                    header::SET_COOKIE,
                ]))
                // A span per request: its method, route template and trace id only (a path or a
                // query string may hold a token: seed 000 sends one).
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(
                            |res: &http::Response<_>,
                             _: std::time::Duration,
                             span: &tracing::Span| {
                                span.record("http.response.status_code", res.status().as_u16());
                            },
                        ),
                )
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                // Every answer counted by its route template (a panic's 500 is not: it unwinds
                // through this layer); only when metrics are on.
                .option_layer(
                    state
                        .config
                        .metrics_addr
                        .map(|_| middleware::from_fn(crate::server::metrics::track)),
                )
                // Innermost: 16 KiB at most of any body outside the APIs (which limit their own).
                .layer(tower::layer::layer_fn(limit::BodyLimit::new)),
        )
        .with_state(state)
}

/// The span of one request. With traces on it continues the caller's trace (W3C `traceparent`)
/// and logs its own trace id; with them off the id is the caller's or a new one.
fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let route = crate::server::metrics::route(req);
    let method = req.method();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let given = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    crate::server::domain::trace::continue_from(&span, given);
    let trace_id = crate::server::domain::trace::trace_id(&span)
        .unwrap_or_else(|| extract::trace_id(req.headers()));
    span.record("trace_id", trace_id);
    span
}

/// Unknown paths: a JSON 404 in the owning dialect's envelope under an API prefix, else a static
/// file of the site or the app's "Page not found" (in `shell`).
pub async fn fallback<IV: IntoView + 'static>(
    shell: fn(LeptosOptions) -> IV,
    uri: Uri,
    state: State<AppState>,
    req: Request<Body>,
) -> Response {
    if let Some(dialect) = api::dialect_for(uri.path()) {
        return dialect.render(api::ApiError::NotFound);
    }
    leptos_axum::file_and_error_handler::<AppState, _>(shell)(uri, state, req).await
}

/// The seed 003 JavaScript client, served so that browser apps can `import` it from here.
const JS: [(header::HeaderName, &str); 1] =
    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")];
const TS: [(header::HeaderName, &str); 1] = [(
    header::CONTENT_TYPE,
    "application/typescript; charset=utf-8",
)];
