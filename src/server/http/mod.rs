//! The HTTP layer: the whole URL space is assembled in [`router`].
//!
//! | path | what |
//! | --- | --- |
//! | `/`, `/login`, `/register` | Leptos pages (server-rendered, hydrated) |
//! | `/_fn/*` | Leptos server functions (login, register, logout, whoami) |
//! | `/api/v1/account/*` | seed 000: register, login, me, logout (`GET ?token=`) |
//! | `/api/v1/logout` | seed 002: `DELETE`, 204 |
//! | `/auth/logout` | seed 001: bearer or cookie, scopes |
//! | `/api/auth/*` | seed 004: JWT login, refresh, logout |
//! | `/oauth/revoke` | RFC 7009 token revocation |
//! | `/events` | live sign-out of open pages (server-sent events, session cookie) |
//! | `/clients/signoff.js`, `.d.ts` | the seed 003 JavaScript client |
//! | `/pkg/*`, `/favicon.svg` | static assets |

pub mod api;
pub mod events;
pub mod guard;

use std::net::SocketAddr;

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, State},
    http::{request::Parts, Uri},
    middleware,
    response::Response,
    routing::get,
    Router,
};
use http::{header, HeaderValue, Request};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{
    catch_panic::CatchPanicLayer, sensitive_headers::SetSensitiveHeadersLayer,
    set_header::SetResponseHeaderLayer, trace::TraceLayer,
};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};

use crate::{
    app::{shell, App},
    server::{browser::cookie_name, domain::ClientMeta, sessions::Sessions, AppState},
};

/// The application's router, with every layer applied.
pub fn router(state: AppState, sessions: Sessions) -> Router {
    // Generated once per process. Generating runs the app with resource loading suppressed by a
    // process-wide flag; a resource first polled by a request served meanwhile (another server in
    // the same process, as in the integration tests) would never resolve (leptos issue #4773).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let context_state = state.clone();
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(fallback);

    let idle = crate::server::browser::store_idle(&state);
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(cookie_name(state.config.secure_cookies))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle));

    Router::new()
        .merge(api::router())
        .route("/events", get(events::events))
        .route("/clients/signoff.js", get(|| async { (JS, include_str!("../../../clients/js/signoff.js")) }))
        .route("/clients/signoff.d.ts", get(|| async { (TS, include_str!("../../../clients/js/signoff.d.ts")) }))
        .merge(pages)
        .layer(middleware::from_fn(api::envelope))
        .layer(middleware::from_fn_with_state(state.clone(), guard::pages))
        .layer(middleware::from_fn(guard::server_fn_errors))
        .layer(middleware::from_fn(guard::cross_site))
        .layer(session_layer)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(
            // Spans carry the method and the path only: a query string may hold a token (seed 000).
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(SetSensitiveHeadersLayer::new([header::AUTHORIZATION, header::COOKIE, header::SET_COOKIE]))
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// The seed 003 JavaScript client, served so that browser apps can `import` it from here.
const JS: [(header::HeaderName, &str); 1] =
    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")];
const TS: [(header::HeaderName, &str); 1] = [(
    header::CONTENT_TYPE,
    "application/typescript; charset=utf-8",
)];

/// Unknown paths: a JSON 404 in the owning dialect's envelope under an API prefix, else a static
/// file or the app's "Page not found".
async fn fallback(uri: Uri, state: State<AppState>, req: Request<Body>) -> Response {
    if let Some(dialect) = api::dialect_for(uri.path()) {
        return dialect.render(api::ApiError::NotFound);
    }
    leptos_axum::file_and_error_handler::<AppState, _>(shell)(uri, state, req).await
}

/// Where a request comes from, for the sign-in it may start: its `User-Agent` and peer address.
impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(client_meta(parts))
    }
}

/// [`ClientMeta`] of a request.
pub fn client_meta(parts: &Parts) -> ClientMeta {
    ClientMeta {
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
    }
}
