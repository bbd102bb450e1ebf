//! The JSON APIs. Each published logout API is a *dialect*: a small module that parses its requests
//! and shapes its answers, over the one domain in `server::domain`.
//!
//! Handlers return [`ApiError`]s; a dialect's [`Dialect::error_body`] turns one into that dialect's
//! envelope. Whatever axum or tower answers on their own (404, 405, 413, a panic's 500) is rewritten
//! into the same envelope by [`envelope`], so no client ever sees a plain-text or HTML error.

pub mod account;

use std::marker::PhantomData;

use axum::{
    body::Bytes,
    extract::Request,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use http::{header, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::server::{domain::AuthError, AppState};

/// The largest request body any JSON endpoint accepts.
pub const BODY_LIMIT: usize = 16 * 1024;

/// All JSON API routes.
pub fn router() -> Router<AppState> {
    Router::new().nest("/api/v1/account", account::router())
}

/// What went wrong, independent of any dialect. Each variant's doc says its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the body is not the JSON the endpoint takes.
    BadRequest,
    /// 401: credential missing, malformed, unknown, expired or revoked.
    Unauthorized,
    /// 401: wrong email or password at login (never says which).
    InvalidCredentials,
    /// 403: not allowed (a cross-site request with a cookie).
    Forbidden,
    /// 404: no such endpoint or resource.
    NotFound,
    /// 405: the path exists, the method does not (`Allow` is kept from axum's answer).
    MethodNotAllowed,
    /// 409: the resource exists already or is in the wrong state.
    Conflict(String),
    /// 413: the body is over [`BODY_LIMIT`].
    PayloadTooLarge,
    /// 422: the input is well-formed but invalid; the text says what to fix.
    Validation(String),
    /// 500: a bug; details are in the log, never in the answer.
    Internal,
    /// 503: the database cannot be reached (`Retry-After` is set).
    Unavailable,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The error a bare status (from axum or tower) stands for.
    fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::Validation("Failed validation.".into())
            }
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            _ => Self::Internal,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Input(e) => Self::Validation(e.to_string()),
            AuthError::EmailTaken => Self::Conflict(err.to_string()),
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable");
                Self::Unavailable
            }
            AuthError::Internal(e) => {
                tracing::error!(error = %e, "unexpected error");
                Self::Internal
            }
        }
    }
}

/// One published API's way of writing errors.
pub trait Dialect: Send + Sync + 'static {
    /// The JSON body for `err`.
    fn error_body(err: &ApiError) -> serde_json::Value;
}

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
        // serde names the field ("missing field `email`") and never echoes the input's value.
        let text = e.to_string();
        let what = text.split(" at line").next().unwrap_or("invalid input");
        ApiError::Validation(format!("Failed validation: {what}."))
    })
}

/// Wraps a dialect's router: limits bodies, catches panics, and rewrites any error that is not
/// already JSON (axum's 404, 405, 413 and rejections; a panic's 500) into dialect `D`'s envelope.
pub fn dialect<D: Dialect>(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(|| async { Failure::<D>::from(ApiError::NotFound) })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(middleware::from_fn(envelope::<D>))
}

async fn envelope<D: Dialect>(req: Request, next: Next) -> Response {
    // A declared length over the limit is refused before the body is read at all.
    let too_long = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > BODY_LIMIT);
    if too_long {
        return Failure::<D>::from(ApiError::PayloadTooLarge).into_response();
    }
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let mut fixed = Failure::<D>::from(ApiError::from_status(status)).into_response();
    if let Some(allow) = allow {
        fixed.headers_mut().insert(header::ALLOW, allow);
    }
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
