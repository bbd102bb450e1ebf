//! The body limit of every route outside the JSON APIs: pages, server functions (`/_fn/*`),
//! `/events`, the probes, static files. [`api::BODY_LIMIT`] (16 KiB), as for the APIs, whose own
//! [`api::EnvelopeLayer`] limits their bodies and answers in each dialect's envelope: paths a
//! dialect owns pass through here untouched.
//!
//! A declared `Content-Length` over the limit is 413 before anything is read. A body of
//! undeclared length (chunked) is read here, at most the limit, before the route sees it: 413 as
//! soon as it passes the limit (a server function would otherwise turn a failed read into an
//! error of its own). A declared length within the limit is wrapped in a limit all the same.
//!
//! [`api::BODY_LIMIT`]: super::api::BODY_LIMIT
//! [`api::EnvelopeLayer`]: super::api::EnvelopeLayer

use axum::{
    body::{Body, HttpBody as _},
    extract::Request,
    response::{IntoResponse, Response},
};
use futures_util::future::{BoxFuture, Either, Ready};
use http::{header, StatusCode};

use super::api::{dialect_for, BODY_LIMIT};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct BodyLimitLayer;

impl<S> tower::Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        BodyLimit { inner }
    }
}

/// The service of [`BodyLimitLayer`].
#[derive(Clone, Debug)]
pub struct BodyLimit<S> {
    inner: S,
}

/// 413, as plain text (no page of the app: nothing of the body was looked at).
fn too_large() -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.").into_response()
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

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // Most requests come without a body (hyper knows it from the head), and the APIs limit
        // their own: nothing to do.
        if req.body().is_end_stream() || dialect_for(req.uri().path()).is_some() {
            return Either::Right(Either::Right(self.inner.call(req)));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()));
        match declared {
            Some(Some(n)) if n > BODY_LIMIT as u64 => {
                Either::Left(futures_util::future::ready(Ok(too_large())))
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
/// cannot be read), then calls `inner` with it.
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
        Err(err) if err.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
        Err(_) => return Ok((StatusCode::BAD_REQUEST, "Unreadable request body.").into_response()),
    };
    inner
        .call(Request::from_parts(parts, Body::from(body)))
        .await
}
