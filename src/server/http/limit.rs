//! The body limit of every route: the JSON APIs (413 in the envelope of the dialect owning the
//! path), pages, server functions (`/_fn/*`), `/events`, the probes, static files (413 as plain
//! text). [`api::BODY_LIMIT`], 16 KiB.
//!
//! A declared `Content-Length` over the limit is 413 before anything is read. A body of
//! undeclared length (chunked) is read here, at most the limit, before the route sees it: 413 as
//! soon as it passes the limit (a server function would otherwise turn a failed read into an
//! error of its own). A declared length within the limit is wrapped in a limit all the same.
//!
//! [`api::BODY_LIMIT`]: super::api::BODY_LIMIT
//! [`api::EnvelopeLayer`]: super::api::EnvelopeLayer

use std::task::{Context, Poll};

use axum::{
    body::{Body, HttpBody as _},
    extract::Request,
    response::{IntoResponse, Response},
};
use futures_util::future::{BoxFuture, Either, Ready};
use http::{header, HeaderValue, StatusCode};

use super::api::{dialect_for, error::ApiError, BODY_LIMIT};

/// See the module docs; a layer of it is `tower::layer::layer_fn(BodyLimit::new)`.
#[derive(Clone, Debug)]
pub struct BodyLimit<S> {
    inner: S,
}

impl<S> BodyLimit<S> {
    /// `inner`, behind the limit.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

/// 413 for a request to `path`: in the envelope of the API dialect owning it, else as plain text
/// (no page of the app: nothing of the body was looked at).
fn too_large(path: &str) -> Response {
    let mut res = match dialect_for(path) {
        Some(dialect) => dialect.render(ApiError::PayloadTooLarge),
        None => (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.").into_response(),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl<S> tower::Service<Request> for BodyLimit<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Either<
        Ready<Result<Response, std::convert::Infallible>>,
        Either<BoxFuture<'static, Result<Response, std::convert::Infallible>>, S::Future>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // Most requests come without a body (hyper knows it from the head): nothing to do.
        if req.body().is_end_stream() {
            return Either::Right(Either::Right(self.inner.call(req)));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()));
        match declared {
            Some(Some(n)) if n > BODY_LIMIT as u64 => {
                Either::Left(futures_util::future::ready(Ok(too_large(req.uri().path()))))
            }
            // Within the limit: hyper reads no more than declared; limited all the same.
            Some(_) => {
                Either::Right(Either::Right(self.inner.call(req.map(|body| {
                    Body::new(http_body_util::Limited::new(body, BODY_LIMIT))
                }))))
            }
            None => {
                // The service that was made ready goes into the future; a clone stays.
                let inner = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, inner);
                Either::Right(Either::Left(Box::pin(read_then_call(inner, req))))
            }
        }
    }
}

/// Reads a body of undeclared length, at most [`BODY_LIMIT`] of it (413 past it, 400 when it
/// cannot be read), then calls `inner` with it: before any extractor looks at a credential, so
/// that 413 comes first whoever sends it.
async fn read_then_call<S>(mut inner: S, req: Request) -> Result<Response, std::convert::Infallible>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    use http_body_util::BodyExt as _;
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, BODY_LIMIT)
        .collect()
        .await
    {
        Ok(read) => read.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Ok(too_large(parts.uri.path()))
        }
        Err(_) => {
            let res = match dialect_for(parts.uri.path()) {
                Some(dialect) => dialect.render(ApiError::BadRequest),
                None => (StatusCode::BAD_REQUEST, "Unreadable request body.").into_response(),
            };
            return Ok(res);
        }
    };
    inner
        .call(Request::from_parts(parts, Body::from(body)))
        .await
}
