//! The JSON APIs. Each published logout API is a *dialect*: a small module that parses its requests
//! and shapes its answers, over the one domain in `server::domain`.
//!
//! Handlers return [`ApiError`]s; a dialect's [`Dialect::error_body`] turns one into that dialect's
//! envelope. Whatever axum or tower answers on their own (404, 405, 413, a panic's 500) is rewritten
//! into the same envelope by [`EnvelopeLayer`], so no client ever sees a plain-text or HTML error.

pub mod account;
pub mod auth_logout;
pub mod bearer;
pub mod error;
pub mod jwt;
pub mod oauth;
pub mod openapi;
pub mod schemas;
pub mod v1_logout;

use std::{borrow::Cow, marker::PhantomData};

use axum::{
    body::Bytes,
    extract::Request,
    response::{IntoResponse, Response},
    Json, Router,
};
use http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use super::extract;
use crate::server::{domain::AuthError, AppState};

/// On a 401 for a credential whose sign-in ended: why (`logout_global`, `idle`, …).
pub const REASON_HEADER: &str = "signoff-ended-reason";

pub use error::ApiError;

/// The largest request body any JSON endpoint accepts.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The JSON API routes authenticated by tokens alone, each dialect's under its own prefix (see
/// [`dialect_for`]), without layers: [`super::router`] puts the envelope (which also limits bodies
/// to [`BODY_LIMIT`]) around them together with its own. Seed 001 also reads the browser's cookie: it is
/// [`browser_router`].
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(v1_logout::router())
        .merge(account::router())
        .merge(jwt::router())
        .merge(oauth::router())
        .merge(openapi::router())
}

/// Seed 001 (`/auth/logout`), which takes a bearer token or the browser's session cookie: served
/// behind the session layer (whose [`EnvelopeLayer`] limits its bodies, as for every dialect).
pub fn browser_router() -> Router<AppState> {
    auth_logout::router()
}

/// The dialects, by the path prefix they own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialectKind {
    /// Seed 000, `/api/v1/account/…`.
    Account,
    /// Seed 002, the rest of `/api/v1/…`.
    V1Logout,
    /// Seed 004, `/api/auth/…`.
    Jwt,
    /// Seed 001, `/auth/…`.
    AuthLogout,
    /// RFC 7009, `/oauth/…` (RFC 6749's error envelope).
    OAuth,
}

/// Which dialect answers for `path`, if any. Unknown paths under a prefix get that dialect's 404.
pub fn dialect_for(path: &str) -> Option<DialectKind> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/api/v1/account") {
        Some(DialectKind::Account)
    } else if under("/api/v1") {
        Some(DialectKind::V1Logout)
    } else if under("/api/auth") {
        Some(DialectKind::Jwt)
    } else if under("/auth") {
        Some(DialectKind::AuthLogout)
    } else if under("/oauth") {
        Some(DialectKind::OAuth)
    } else {
        None
    }
}

impl DialectKind {
    /// `err` in this dialect's envelope.
    pub fn render(self, err: ApiError) -> Response {
        match self {
            Self::Account => Failure::<account::Account>::from(err).into_response(),
            Self::V1Logout => Failure::<v1_logout::V1>::from(err).into_response(),
            Self::Jwt => Failure::<jwt::Jwt>::from(err).into_response(),
            Self::AuthLogout => Failure::<auth_logout::AuthLogout>::from(err).into_response(),
            Self::OAuth => Failure::<oauth::OAuth>::from(err).into_response(),
        }
    }
}

/// A body of [`schemas`] as the JSON value a dialect's envelope is.
pub fn body(body: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(body).expect("the schema types serialize to JSON")
}

/// One published API's way of writing errors, and of sending a bearer token.
pub trait Dialect: Send + Sync + 'static {
    /// The JSON body for `err`.
    fn error_body(err: &ApiError) -> serde_json::Value;

    /// The request's bearer token, if it sent one (read by [`bearer::Bearer`]); one sent malformed
    /// is 401. By default `Authorization: Bearer`, its characters checked ([`extract::bearer`]).
    fn token(parts: &Parts) -> Result<Option<Cow<'_, str>>, ApiError> {
        Ok(extract::bearer(&parts.headers)?.map(Cow::Borrowed))
    }
}

/// Declares the enum `$name`: the errors every endpoint of a dialect may answer, each in the
/// dialect's envelope, whose schema is `$body` (a type of [`schemas`]). Declared once per dialect
/// for the OpenAPI document, named in each operation's `responses(…)`; the envelope itself is
/// written by [`EnvelopeLayer`].
macro_rules! shared_errors {
    ($name:ident, $body:ident) => {
        /// The errors every endpoint of this dialect may answer, each in the dialect's envelope:
        /// declared once for the OpenAPI document.
        #[derive(utoipa::IntoResponses)]
        #[allow(dead_code)] // Documents the answers; the envelope is written by `EnvelopeLayer`.
        enum $name {
            #[response(status = 405, description = "Wrong method (with `Allow`)")]
            MethodNotAllowed(super::schemas::$body),
            #[response(status = 413, description = "Body over 16 KiB")]
            PayloadTooLarge(super::schemas::$body),
            #[response(
                status = 415,
                description = "A body declared as another type than `application/json`"
            )]
            UnsupportedMediaType(super::schemas::$body),
            #[response(status = 500, description = "Unexpected error")]
            Internal(super::schemas::$body),
            #[response(
                status = 503,
                description = "Database unreachable (with `Retry-After`)"
            )]
            Unavailable(super::schemas::$body),
        }
    };
}
pub(crate) use shared_errors;

/// An [`ApiError`] on its way out in dialect `D`'s envelope.
pub struct Failure<D: Dialect>(pub ApiError, PhantomData<D>);

impl<D: Dialect> From<ApiError> for Failure<D> {
    fn from(err: ApiError) -> Self {
        Self(err, PhantomData)
    }
}

impl<D: Dialect> From<AuthError> for Failure<D> {
    fn from(err: AuthError) -> Self {
        Self(err.into(), PhantomData)
    }
}

impl<D: Dialect> IntoResponse for Failure<D> {
    fn into_response(self) -> Response {
        let mut res = (self.0.status(), Json(D::error_body(&self.0))).into_response();
        decorate(&self.0, &mut res);
        res
    }
}

/// Headers every dialect's error carries: RFC 6750's challenge on 401, a retry hint on 503.
fn decorate(err: &ApiError, res: &mut Response) {
    let headers = res.headers_mut();
    match err.status() {
        StatusCode::UNAUTHORIZED => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        StatusCode::TOO_MANY_REQUESTS => {
            let secs = match err {
                ApiError::TooManyRequests(s) => (*s).max(1),
                _ => 1,
            };
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
        }
        _ => {}
    }
}

/// A handler's result in dialect `D`.
pub type Reply<D> = Result<Response, Failure<D>>;

/// Parses a JSON body: anything but a JSON object is 400; an object of the wrong shape (missing
/// field, wrong type) is 422.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::BadRequest)?;
    if !value.is_object() {
        return Err(ApiError::BadRequest);
    }
    serde_json::from_value(value).map_err(|e| {
        // A missing field is named; any other message of serde's ("invalid type: integer `5`")
        // would repeat the submitted value, which no error body does.
        let text = e.to_string();
        let what = text.split(" at line").next().unwrap_or_default();
        if what.starts_with("missing field `") {
            ApiError::Validation(format!("Failed validation: {what}."))
        } else {
            ApiError::Validation("Failed validation: a field is not a string.".into())
        }
    })
}

/// Rewrites any error that is not already JSON (axum's 405 and rejections, a panic's 500) into the
/// envelope of the dialect owning the path, keeping `Allow`; refuses a body of a type other than
/// JSON before it is read. Its size was limited before it got here (`http::limit`, 413 in the
/// dialect's envelope).
///
/// A tower layer rather than `middleware::from_fn`: that boxes a clone of the inner route for
/// every request, which showed in the profile of the API's most frequent call (`me`).
#[derive(Clone, Copy, Debug, Default)]
pub struct EnvelopeLayer;

impl<S> tower::Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope { inner }
    }
}

/// The service of [`EnvelopeLayer`].
#[derive(Clone, Debug)]
pub struct Envelope<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Envelope<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = EnvelopeFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use axum::body::HttpBody as _;
        let dialect = dialect_for(req.uri().path());
        // Most API calls (`me`, the GET and DELETE logouts) come without a body (hyper knows it
        // from the request's head): nothing to refuse or limit, and no header looked at.
        let req = match dialect {
            // Its size was checked already (`http::limit`, 413 in this dialect's envelope).
            Some(d) if !req.body().is_end_stream() => {
                if let Some(refused) = refuse(d, &req) {
                    return EnvelopeFuture::Refused {
                        answer: Some(refused),
                    };
                }
                req
            }
            _ => req,
        };
        EnvelopeFuture::Inner {
            answer: self.inner.call(req),
            dialect,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Envelope`]: a refusal at once, or the inner service's answer in the
    /// dialect's envelope. A type of its own rather than a boxed future: no allocation per request.
    #[project = EnvelopeFutureProj]
    pub enum EnvelopeFuture<F> {
        /// Refused before the inner service was called.
        Refused { answer: Option<Response> },
        /// The inner service's answer, on its way.
        Inner {
            #[pin]
            answer: F,
            dialect: Option<DialectKind>,
        },
    }
}

impl<F> std::future::Future for EnvelopeFuture<F>
where
    F: std::future::Future<Output = Result<Response, std::convert::Infallible>>,
{
    type Output = Result<Response, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            EnvelopeFutureProj::Refused { answer } => std::task::Poll::Ready(Ok(answer
                .take()
                .expect("an envelope future is not polled after it is ready"))),
            EnvelopeFutureProj::Inner { answer, dialect } => {
                let res = std::task::ready!(answer.poll(cx))?;
                std::task::Poll::Ready(Ok(match *dialect {
                    Some(dialect) => in_envelope(dialect, res),
                    None => res,
                }))
            }
        }
    }
}

/// The answer to a request with a body refused before the body is read, if it is.
fn refuse(dialect: DialectKind, req: &Request) -> Option<Response> {
    // A JSON API takes JSON: a body declared as any other type (what a cross-site HTML form or a
    // no-CORS fetch can send: a form, multipart, text/plain) is 415. A body with no declared type
    // is parsed as JSON (400 when it is not), as the seeds' own clients send it.
    let declared = req.headers().contains_key(header::CONTENT_TYPE);
    if dialect != DialectKind::OAuth && declared && !is_json(req.headers()) {
        return Some(dialect.render(ApiError::UnsupportedMediaType));
    }
    None
}

/// `res` with any error that is not JSON rewritten into `dialect`'s envelope.
fn in_envelope(dialect: DialectKind, mut res: Response) -> Response {
    if dialect == DialectKind::Account {
        // Seed 000 carries tokens in the query string: keep its answers out of caches and referrers.
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res.headers_mut().insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let mut fixed = dialect.render(ApiError::from_status(status));
    for name in [
        header::ALLOW,
        header::CACHE_CONTROL,
        header::REFERRER_POLICY,
    ] {
        if let Some(value) = res.headers().get(&name) {
            fixed.headers_mut().insert(name, value.clone());
        }
    }
    fixed
}

/// True when `Content-Type` is `application/json` or a `+json` type (parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_prefix_has_its_dialect() {
        assert_eq!(
            dialect_for("/api/v1/account/logout"),
            Some(DialectKind::Account)
        );
        assert_eq!(dialect_for("/api/v1/logout"), Some(DialectKind::V1Logout));
        assert_eq!(dialect_for("/api/v1/accounts"), Some(DialectKind::V1Logout));
        assert_eq!(dialect_for("/api/auth/refresh"), Some(DialectKind::Jwt));
        assert_eq!(dialect_for("/auth/logout"), Some(DialectKind::AuthLogout));
        assert_eq!(dialect_for("/authors"), None);
        assert_eq!(dialect_for("/login"), None);
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Creds {
        email: String,
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_are_422() {
        assert_eq!(
            parse_json::<Creds>(&Bytes::from_static(b"{")).unwrap_err(),
            ApiError::BadRequest
        );
        assert_eq!(
            parse_json::<Creds>(&Bytes::from_static(b"")).unwrap_err(),
            ApiError::BadRequest
        );
        assert_eq!(
            parse_json::<Creds>(&Bytes::from_static(b"[1,2]")).unwrap_err(),
            ApiError::BadRequest
        );
        let missing = parse_json::<Creds>(&Bytes::from_static(b"{}")).unwrap_err();
        assert_eq!(
            missing,
            ApiError::Validation("Failed validation: missing field `email`.".into())
        );
        let wrong = parse_json::<Creds>(&Bytes::from_static(b"{\"email\":5}")).unwrap_err();
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    /// The second round's rows of the contract, for every dialect (seeds 001 and 002 have no
    /// password check, so no request of theirs is throttled; their bodies are checked here).
    #[tokio::test]
    async fn every_dialect_has_its_429_and_415() {
        let cases = [
            (
                DialectKind::Account,
                r#"{"error":{"code":429,"message":"Too many attempts."}}"#,
                r#"{"error":{"code":415,"message":"Unsupported media type."}}"#,
            ),
            (
                DialectKind::AuthLogout,
                r#"{"code":"TOO_MANY_REQUESTS","description":"Too many attempts; retry later","message":"Too many requests"}"#,
                r#"{"code":"UNSUPPORTED_MEDIA_TYPE","description":"Send application/json","message":"Unsupported media type"}"#,
            ),
            (
                DialectKind::V1Logout,
                r#"{"message":"Too Many Attempts."}"#,
                r#"{"message":"Unsupported Media Type."}"#,
            ),
            (
                DialectKind::Jwt,
                r#"{"code":429,"data":{},"message":"too many requests"}"#,
                r#"{"code":415,"data":{},"message":"unsupported media type"}"#,
            ),
        ];
        for (dialect, throttled, unsupported) in cases {
            let res = dialect.render(ApiError::TooManyRequests(7));
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(res.headers()[header::RETRY_AFTER], "7");
            assert_eq!(json(res).await, json_of(throttled), "{dialect:?}");
            let res = dialect.render(ApiError::UnsupportedMediaType);
            assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(json(res).await, json_of(unsupported), "{dialect:?}");
        }
    }

    async fn json(res: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn json_of(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }
}
